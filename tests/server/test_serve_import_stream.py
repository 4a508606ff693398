"""An import is streamed: searches are answered while it runs, and the first lines are searchable before
the last ones have even been sent."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import requests

from app.server.importing import CHUNK_LINES

from .conftest import API_KEY, Server, vector_doc, vector_schema

WAIT_SECONDS = 120.0


def _wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_searches_are_answered_while_an_import_is_still_arriving(server: Server) -> None:
    client = server.client()
    client.collections.create(vector_schema("stream"))
    first_sent, release = threading.Event(), threading.Event()
    total = CHUNK_LINES * 5

    def body() -> Iterator[bytes]:
        lines = [(json.dumps(vector_doc(i)) + "\n").encode() for i in range(total)]
        yield b"".join(lines[:CHUNK_LINES])
        first_sent.set()
        # The rest waits until the test has searched: the import is still running on the server then.
        release.wait(WAIT_SECONDS)
        yield b"".join(lines[CHUNK_LINES:])

    outcome: dict[str, requests.Response] = {}

    def run_import() -> None:
        outcome["import"] = requests.post(
            f"{server.url}/collections/stream/documents/import?action=create",
            headers={"X-TYPESENSE-API-KEY": API_KEY}, data=body(), timeout=WAIT_SECONDS * 2)

    importer = threading.Thread(target=run_import, name="importer")
    importer.start()
    try:
        assert first_sent.wait(WAIT_SECONDS)
        docs = client.collections["stream"].documents

        def first_chunk_searchable() -> bool:
            return docs.search({"q": "*", "per_page": 1})["found"] == CHUNK_LINES

        _wait_until(first_chunk_searchable, "the first chunk to be searchable")
        found = docs.search({"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0], k: 5)"})
        assert found["hits"][0]["document"]["vec"] == [1.0, 0.0, 0.0, 0.0]  # "0" or "28" or "56": equal
        assert "import" not in outcome and importer.is_alive()  # the answers came during the import
    finally:
        release.set()
        importer.join(WAIT_SECONDS * 2)
    response = outcome["import"]
    assert response.status_code == 200
    assert [json.loads(line) for line in response.text.split("\n")] == [{"success": True}] * total
    assert docs.search({"q": "*", "per_page": 1})["found"] == total


def test_a_client_that_leaves_mid_import_keeps_what_was_imported(server: Server) -> None:
    client = server.client()
    client.collections.create(vector_schema("left"))
    lines = b"".join((json.dumps(vector_doc(i)) + "\n").encode() for i in range(CHUNK_LINES * 2))
    head = (f"POST /collections/left/documents/import HTTP/1.1\r\nHost: x\r\nX-TYPESENSE-API-KEY: {API_KEY}"
            "\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    first = lines[: lines.index(b"\n", len(lines) // 2) + 1]  # exactly the first CHUNK_LINES lines
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_SECONDS) as sock:
        sock.sendall(head + f"{len(first):x}\r\n".encode() + first + b"\r\n")
        sock.sendall(b"4000\r\n" + lines[len(first):len(first) + 100])  # a chunk cut short
        # The first chunk's results arrive once it is imported; then the client goes away.
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    docs = client.collections["left"].documents
    _wait_until(lambda: docs.search({"q": "*", "per_page": 1})["found"] == CHUNK_LINES, "the first chunk")
    assert docs.import_([vector_doc(CHUNK_LINES * 3)]) == [{"success": True}]
    assert server.get("/health").json() == {"ok": True}
