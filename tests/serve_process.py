"""``photoseek serve`` as a subprocess on a free loopback port, for tests and benchmarks.

The port is the one the server reports having bound (``--port 0``), so two runs never race for a port.
The key reaches it through $PHOTOSEEK_API_KEY, never the command line; its data and cache folders are
temporary (never the real home). Stopped by its PID: SIGTERM, which closes the library cleanly.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

STARTUP_SECONDS = 120.0  # a loaded 2-core machine importing numpy/hnswlib/aiohttp
STOP_SECONDS = 60.0
_LISTENING = re.compile(r"listening on http://[^\s:]+:(\d+)")
_REPO = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running_serve(data_dir: Path, api_key: str, *, extra_args: Sequence[str] = ()) -> Iterator[int]:
    """Start ``python -m app serve`` over ``data_dir`` with ``api_key``; yield its port; stop it by PID."""
    with tempfile.TemporaryDirectory(prefix="photoseek-serve-") as scratch:
        env = dict(os.environ)
        env.update(PHOTOSEEK_API_KEY=api_key, PHOTOSEEK_DATA_DIR=str(Path(scratch) / "data"),
                   PYTHONUNBUFFERED="1")
        env.setdefault("PHOTOSEEK_CACHE_DIR", str(Path(scratch) / "cache"))
        env.setdefault("PHOTOSEEK_DEVICE", "cpu:fp32")
        command = [sys.executable, "-m", "app", "serve", "--data-dir", str(data_dir), "--port", "0",
                   *extra_args]
        log_path = Path(scratch) / "stderr.log"
        with open(log_path, "wb") as stderr:
            proc = subprocess.Popen(command, cwd=_REPO, env=env, stdout=subprocess.PIPE, stderr=stderr)
            try:
                port = _wait_listening(proc, log_path)
                _wait_healthy(proc, port, log_path)
                yield port
            finally:
                _stop(proc)


def _wait_listening(proc: subprocess.Popen, log_path: Path) -> int:
    assert proc.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5):
                line = proc.stdout.readline()
                if not line:
                    break  # it exited
                seen += line
                found = _LISTENING.search(line.decode("utf-8", "replace"))
                if found:
                    return int(found.group(1))
            elif proc.poll() is not None:
                break
    raise RuntimeError(f"photoseek serve did not start (exit {proc.poll()}): {seen.decode(errors='replace')}"
                       f"{log_path.read_text(errors='replace')}")


def _wait_healthy(proc: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"photoseek serve never answered /health: {log_path.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
