"""`photoseek serve` stops cleanly on Ctrl+C, and what it was sent is there after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from serve_process import STOP_SECONDS, _wait_healthy, _wait_listening, running_serve

from app.paths import repo_root

from .conftest import API_KEY, Server, vector_doc, vector_schema


def test_ctrl_c_stops_the_server_and_keeps_the_library(tmp_path: Path) -> None:
    data_dir = tmp_path / "library"
    env = {**os.environ, "PHOTOSEEK_API_KEY": API_KEY, "PHOTOSEEK_DATA_DIR": str(data_dir),
           "PHOTOSEEK_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "stderr.log"
    with open(log, "wb") as stderr:
        command = [sys.executable, "-m", "app", "serve", "--data-dir", str(data_dir), "--port", "0"]
        proc = subprocess.Popen(command, cwd=repo_root(), env=env, stdout=subprocess.PIPE, stderr=stderr)
        try:
            port = _wait_listening(proc, log)
            _wait_healthy(proc, port, log)
            client = Server(port, data_dir).client()
            client.collections.create(vector_schema("kept"))
            client.collections["kept"].documents.import_([vector_doc(i) for i in range(20)])
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=STOP_SECONDS)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, log.read_text()
    assert b"stopped; the library is saved" in out
    with running_serve(data_dir, API_KEY) as port:
        docs = Server(port, data_dir).client().collections["kept"].documents
        assert docs.search({"q": "*", "per_page": 1})["found"] == 20
        assert docs["7"].retrieve()["rank"] == 7


def test_a_library_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    done = subprocess.run([sys.executable, "-m", "app", "serve", "--data-dir", str(not_a_folder)],
                          cwd=repo_root(), env={**os.environ, "PHOTOSEEK_API_KEY": API_KEY},
                          capture_output=True, text=True, timeout=STOP_SECONDS)
    assert done.returncode == 2 and "is a file, not a folder" in done.stderr
