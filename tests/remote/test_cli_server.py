"""`photoseek ... --server URL`: the command line on a library kept on a real Typesense server (its own
server here, not the module's shared one, since it indexes), the key from the environment only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli, table_rows
from typesense_server import DEFAULT_API_KEY, ServerUnavailable, running_typesense, skip_without_server

from app import cli
from app.cli_server import API_KEY_ENV
from app.shapes import write_shape_folder

TINY = "photoseek/tiny-shapes"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory):
    try:
        with running_typesense(tmp_path_factory.mktemp("cli-server")) as server:
            yield server.config.url
    except ServerUnavailable as exc:
        skip_without_server(f"Typesense cannot run here: {exc}")


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(API_KEY_ENV, DEFAULT_API_KEY)
    return DEFAULT_API_KEY


def test_index_search_and_similar_work_on_a_server_library(server_url: str, key: str, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_shape_folder(photos, per_class=2, size=64, colours=("red", "blue"), shapes=("circle", "square"))
    code, out, err = run_cli("index", str(photos), "--server", server_url, "--model", TINY)
    assert code == cli.EXIT_OK, err
    assert "Indexed 8 photos" in out

    code, out, err = run_cli("search", "a red circle", "--server", server_url)
    assert code == cli.EXIT_OK, err
    assert "red_circle" in table_rows(out)[0][-1]

    first = sorted(photos.glob("blue_square*"))[0]
    code, out, err = run_cli("similar", str(first), "--server", server_url)
    assert code == cli.EXIT_OK, err
    names = [row[-1] for row in table_rows(out)]
    assert first.name not in " ".join(names)  # the photo itself is not its own look-alike
    assert "blue_square" in names[0]

    code, out, _ = run_cli("collections", "--server", server_url, "--json")
    assert code == cli.EXIT_OK
    (photos_collection,) = [c for c in json.loads(out) if c["name"] == "Photos"]
    assert photos_collection["num_documents"] == 8
    assert not any(f["type"] == "image" and f.get("store", True) for f in photos_collection["fields"])


def test_local_only_commands_and_mixed_places_say_so(server_url: str, key: str, tmp_path: Path) -> None:
    code, _, err = run_cli("folders", "--server", server_url)
    assert code == cli.EXIT_USAGE and "works on a local library only" in err
    code, _, err = run_cli("collections", "--server", server_url, "--data-dir", str(tmp_path))
    assert code == cli.EXIT_USAGE and "not both" in err


def test_the_key_comes_from_the_environment_and_never_shows(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    code, _, err = run_cli("collections", "--server", server_url)
    assert code == cli.EXIT_USAGE and API_KEY_ENV in err and "never on the command line" in err
    monkeypatch.setenv(API_KEY_ENV, "a-wrong-secret-key")
    code, _, err = run_cli("collections", "--server", server_url)
    assert code != cli.EXIT_OK and server_url in err and "a-wrong-secret-key" not in err
