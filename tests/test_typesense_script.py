"""The README's promise: an ordinary typesense-python script runs unchanged against Photoseek's engine and
against `photoseek serve`, and prints what it prints against a real Typesense server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from serve_process import running_serve
from typesense_server import ServerUnavailable, running_typesense, server_binary, skip_without_server

SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "examples" / "typesense_script.py"
KEY = "script-test-key"


def run_script(*args: str, api_key: str | None = None) -> str:
    env = dict(os.environ)
    env.pop("TYPESENSE_API_KEY", None)
    if api_key is not None:
        env["TYPESENSE_API_KEY"] = api_key
    done = subprocess.run([sys.executable, str(SCRIPT), *args], env=env, cwd=SCRIPT.parents[2],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def typesense_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    try:
        server_binary()
    except ServerUnavailable as exc:
        skip_without_server(f"no Typesense server to compare with: {exc}")
    with running_typesense(tmp_path_factory.mktemp("typesense"), api_key=KEY) as server:
        return run_script("--server", server.config.url, api_key=KEY)


def test_the_script_prints_the_same_on_typesense_and_on_the_engine(typesense_output: str, tmp_path: Path):
    assert "deleted by filter: 2" in typesense_output  # the script did its whole work on Typesense
    assert run_script("--engine", str(tmp_path / "library")) == typesense_output


def test_the_script_prints_the_same_on_photoseek_serve(typesense_output: str, tmp_path: Path):
    with running_serve(tmp_path / "library", KEY) as port:
        assert run_script("--server", f"http://127.0.0.1:{port}", api_key=KEY) == typesense_output


def test_the_script_drops_a_books_collection_it_finds(typesense_output: str, tmp_path: Path):
    """Its first call deletes "books" where it exists: the other branch of the `except ObjectNotFound`."""
    from app.engine import Engine

    with Engine(tmp_path / "library") as engine:
        engine.collections.create({"name": "books", "fields": [{"name": "other", "type": "string"}]})
        engine.collections["books"].documents.create({"id": "9", "other": "left over"})
    assert run_script("--engine", str(tmp_path / "library")) == typesense_output
