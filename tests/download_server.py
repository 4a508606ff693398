"""A real HTTP server on 127.0.0.1 for download tests: byte ranges, dropped connections, a paused body."""

from __future__ import annotations

import http.server
import threading
import time


class RangeServer:
    """Serves ``body`` at any path. ``ranges``: answer ``Range: bytes=N-`` with a 206; ``cut_after``: send
    the full Content-Length but only this many bytes, then close the connection (a dropped line)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.ranges = True
        self.cut_after: int | None = None
        self.range_headers: list[str | None] = []
        self.gate_after: int | None = None  # with ``gate``: send this many bytes, then wait for the gate
        self.gate = threading.Event()
        self.pace_s = 0.0  # a pause after each 500 kB of a first request's body: a slow line
        self.statuses: list[int] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                asked = self.headers.get("Range")
                server.range_headers.append(asked)
                body, start = server.body, 0
                if asked and server.ranges and asked.startswith("bytes=") and asked.endswith("-"):
                    start = int(asked[len("bytes=") : -1])
                status = 206 if start else 200
                server.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                sent = body[start:] if server.cut_after is None else body[start : start + server.cut_after]
                if server.gate_after is not None and not start:
                    self.wfile.write(sent[: server.gate_after])
                    self.wfile.flush()
                    server.gate.wait(60)
                    sent = sent[server.gate_after :]
                step = 500_000 if server.pace_s and not start else len(sent) or 1
                for offset in range(0, len(sent), step):
                    self.wfile.write(sent[offset : offset + step])
                    self.wfile.flush()
                    if server.pace_s and offset + step < len(sent):
                        time.sleep(server.pace_s)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
