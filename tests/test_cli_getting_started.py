"""What a newcomer meets on the command line: JSONL shaped like Typesense's image search, errors that say
what to do next (as JSON too), the model's offline route, and a clear word on a machine with no display.

Real parts: the tiny CLIP model, SQLite, hnswlib; the no-display checks start real processes and load
Qt's real xcb plugin.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli, table_rows

from app import cli
from app.display_check import display_problem, xcb_plugin_problem
from app.shapes import draw_shape, encode_image, write_shape_folder

REPO_ROOT = Path(__file__).resolve().parent.parent


def typesense_line(name: str, colour: str, shape: str) -> str:
    """A document as Typesense's image-search guide writes them: a name and a base64 image, nothing else."""
    image = base64.b64encode(encode_image(draw_shape(colour, shape, seed=5), "JPEG")).decode("ascii")
    return json.dumps({"name": name, "image": image})


def last_json_line(stderr: str) -> dict:
    return json.loads(stderr.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- import


def test_import_of_typesense_shaped_documents_creates_a_collection_they_fit(tmp_path: Path) -> None:
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(typesense_line("dog", "red", "circle") + "\n" + typesense_line("cat", "blue", "square"))
    data = str(tmp_path / "d")
    code, out, err = run_cli("import", str(jsonl), "--collection", "images", "--data-dir", data)
    assert (code, out.strip()) == (0, "Imported 2 documents (0 failed)"), err
    code, out, _ = run_cli("search", "a red circle", "-c", "images", "--json", "--data-dir", data)
    assert json.loads(out)["hits"][0]["document"]["name"] == "dog"
    _, listing, _ = run_cli("collections", "--json", "--data-dir", data)
    fields = {f["name"]: f for f in json.loads(listing)[0]["fields"]}
    assert fields["path"].get("optional") and fields["name"].get("optional")
    assert fields["image"]["store"] is False


def test_an_import_that_stores_nothing_leaves_no_new_collection(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"name": "x", "image": "bm90IGFuIGltYWdl"}) + "\n")
    code, out, err = run_cli("import", str(bad), "-c", "images", "--data-dir", data)
    assert code == cli.EXIT_SOME_FAILED and "line 1:" in out
    assert "the new collection `images` was removed again" in err
    assert json.loads(run_cli("collections", "--json", "--data-dir", data)[1]) == []

    # A collection that existed before is the user's: a failed import never removes it.
    good = tmp_path / "good.jsonl"
    good.write_text(typesense_line("dog", "red", "circle") + "\n")
    assert run_cli("import", str(good), "-c", "images", "--data-dir", data)[0] == 0
    assert run_cli("import", str(bad), "-c", "images", "--data-dir", data)[0] == cli.EXIT_SOME_FAILED
    (kept,) = json.loads(run_cli("collections", "--json", "--data-dir", data)[1])
    assert (kept["name"], kept["num_documents"]) == ("images", 1)


def test_import_with_a_schema_file(tmp_path: Path) -> None:
    schema = {
        "name": "ignored: --collection names it",
        "fields": [
            {"name": "title", "type": "string"},
            {"name": "image", "type": "image", "store": False},
            {"name": "embedding", "type": "float[]",
             "embed": {"from": ["image"], "model_config": {"model_name": "photoseek/tiny-shapes"}}},
        ],
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    image = base64.b64encode(encode_image(draw_shape("green", "ring"), "PNG")).decode("ascii")
    (tmp_path / "docs.jsonl").write_text(json.dumps({"title": "a ring", "image": image}) + "\n")
    data = str(tmp_path / "d")
    code, _, err = run_cli("import", str(tmp_path / "docs.jsonl"), "-c", "rings",
                           "--schema", str(tmp_path / "schema.json"), "--data-dir", data)
    assert code == 0, err
    (made,) = json.loads(run_cli("collections", "--json", "--data-dir", data)[1])
    assert made["name"] == "rings" and made["fields"][0]["name"] == "title"

    # --schema shapes a new collection only: given for one that exists, it is refused, not ignored.
    code, _, err = run_cli("import", str(tmp_path / "docs.jsonl"), "-c", "rings",
                           "--schema", str(tmp_path / "schema.json"), "--data-dir", data)
    assert code == cli.EXIT_USAGE and "collection `rings` exists already" in err

    # A schema the engine cannot take is the engine's clear error, not a traceback.
    (tmp_path / "odd.json").write_text(json.dumps({"fields": 3}))
    code, _, err = run_cli("import", str(tmp_path / "docs.jsonl"), "-c", "odd",
                           "--schema", str(tmp_path / "odd.json"), "--data-dir", data)
    assert code == cli.EXIT_USAGE and "Traceback" not in err and err.startswith("photoseek: error: ")

    (tmp_path / "broken.json").write_text("{not json")
    code, _, err = run_cli("import", str(tmp_path / "docs.jsonl"), "-c", "other",
                           "--schema", str(tmp_path / "broken.json"), "--data-dir", data)
    assert code == cli.EXIT_USAGE and "broken.json is not a JSON schema" in err


# --------------------------------------------------------------------------------------------- search


@pytest.fixture
def indexed(tmp_path: Path) -> dict:
    photos = tmp_path / "Pictures"
    write_shape_folder(photos, colours=("red", "blue"), shapes=("circle", "square"), per_class=2, fmt="JPEG")
    data = str(tmp_path / "d")
    code, _, err = run_cli("index", str(photos), "--data-dir", data)
    assert code == 0, err
    return {"photos": photos, "data": data}


def test_search_on_an_empty_library_says_how_to_fill_it(tmp_path: Path) -> None:
    code, out, err = run_cli("search", "a dog", "--data-dir", str(tmp_path / "new"))
    assert code == cli.EXIT_USAGE and out == ""
    assert err == "photoseek: error: the library has no photos yet: add some with photoseek index FOLDER\n"
    code, _, err = run_cli("similar", "abc", "--data-dir", str(tmp_path / "new"))
    assert code == cli.EXIT_USAGE and "photoseek index FOLDER" in err


def test_similar_takes_a_photo_path_and_names_an_unknown_id(indexed: dict, tmp_path: Path) -> None:
    start = sorted(indexed["photos"].glob("red_circle*"))[0]
    code, out, err = run_cli("similar", str(start), "--data-dir", indexed["data"])
    assert code == 0, err
    photos = [row[3] for row in table_rows(out)]
    assert str(start) not in photos  # the photo itself is left out, as with an id
    assert "red_circle" in Path(photos[0]).name

    code, _, err = run_cli("similar", "no-such-id", "--data-dir", indexed["data"])
    assert code == cli.EXIT_USAGE and "no photo with the id `no-such-id` in collection `Photos`" in err

    # A photo whose file has gone since it was indexed is still found by its path.
    moved = sorted(indexed["photos"].glob("blue_square*"))[0]
    moved.rename(tmp_path / "moved away.jpg")
    code, out, err = run_cli("similar", str(moved), "--data-dir", indexed["data"])
    assert code == 0, err
    assert "blue_square" in Path(table_rows(out)[0][3]).name

    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(encode_image(draw_shape("red", "circle"), "PNG"))
    code, _, err = run_cli("similar", str(elsewhere), "--data-dir", indexed["data"])
    assert code == cli.EXIT_USAGE
    assert f"{elsewhere} is not in collection `Photos`" in err and "search --image" in err


# --------------------------------------------------------------------------------------------- --json errors


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (["search", "x", "-n", "0"], cli.EXIT_USAGE, "argument -n/--limit: must be at least 1, got 0"),
        (["similar", "nope"], cli.EXIT_USAGE, "no photo with the id `nope` in collection `Photos`"),
        (["search", "x", "-c", "nope"], cli.EXIT_USAGE, "Collection `nope` not found."),
        (["index", "/no/such/folder"], cli.EXIT_USAGE, "no such file or folder: /no/such/folder"),
        (["search", "--bogus"], cli.EXIT_USAGE, "unrecognized arguments: --bogus"),
    ],
)
def test_json_errors_are_typesense_shaped_on_stderr_with_the_same_exit_codes(
    indexed: dict, argv: list[str], exit_code: int, message: str
) -> None:
    code, out, err = run_cli(*argv, "--json", "--data-dir", indexed["data"])
    assert (code, out) == (exit_code, "")
    error = last_json_line(err)
    assert list(error) == ["message"] and error["message"].startswith(message)
    plain_code, _, plain_err = run_cli(*argv, "--data-dir", indexed["data"])
    assert plain_code == exit_code and f"error: {message}" in plain_err


# --------------------------------------------------------------------------------------------- model


def test_model_status_and_the_offline_route(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    code, out, _ = run_cli("model", "--data-dir", data)
    assert code == 0 and out.startswith("Model photoseek/tiny-shapes: ready")

    code, out, _ = run_cli("model", "--model", "ts/clip-vit-b-p32", "--data-dir", data)
    assert code == cli.EXIT_MODEL
    assert "its weights are not on this computer yet" in out
    # Chosen with --model, so the install line names it too (without, install takes the library's model).
    assert "photoseek model install --model ts/clip-vit-b-p32 open_clip_model.safetensors" in out
    status = json.loads(run_cli("model", "--model", "ts/clip-vit-b-p32", "--json", "--data-dir", data)[1])
    assert status["ready"] is False and status["download_url"].endswith("/open_clip_model.safetensors")

    # A file that is not the model's weights is refused, named as the user gave it, and nothing is kept.
    junk = tmp_path / "open_clip_model.safetensors"
    junk.write_bytes(b"not weights at all")
    code, _, err = run_cli("model", "install", str(junk), "--model", "ts/clip-vit-b-p32", "--data-dir", data)
    assert code == cli.EXIT_MODEL and f"`{junk}`" in err and ".copying" not in err
    assert not Path(status["weights"]).exists()
    assert run_cli("model", "install", "--data-dir", data)[0] == cli.EXIT_USAGE
    code, _, err = run_cli("model", "install", str(tmp_path), "--data-dir", data)
    assert code == cli.EXIT_USAGE and "is a folder: give the weights file itself" in err


def test_an_abbreviated_json_flag_still_gets_json_errors(tmp_path: Path) -> None:
    code, _, err = run_cli("search", "--js", "--bogus", "--data-dir", str(tmp_path / "d"))
    assert code == cli.EXIT_USAGE and last_json_line(err) == {"message": "unrecognized arguments: --bogus"}


# --------------------------------------------------------------------------------------------- no display


def photoseek_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, env=env, timeout=120)


def without_display() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb route is Linux's")
def test_the_window_without_a_display_says_so_and_exits_4() -> None:
    proc = photoseek_process(without_display())
    assert proc.returncode == cli.EXIT_NO_DISPLAY == 4  # not 134, Qt's abort
    assert proc.stderr.strip() == ("photoseek: error: no display found (DISPLAY is not set), so the window "
                                   "cannot open; the command line works without one: photoseek --help")

    # A display that is named but not there (an SSH session's stale DISPLAY): said too, not aborted.
    proc = photoseek_process({**without_display(), "DISPLAY": ":4093"})
    assert proc.returncode == 4 and "cannot connect to the display :4093" in proc.stderr


def test_the_routes_qt_takes_are_checked_in_its_order(tmp_path: Path) -> None:
    assert display_problem({}, "linux") is not None
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None

    # A Wayland name left over from another session (or carried through sudo): nobody listens there, so
    # Qt would fall back to X, and without a DISPLAY abort. Said instead.
    stale = {"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert "DISPLAY is not set" in (display_problem(stale, "linux") or "")
    only_wayland = {**stale, "QT_QPA_PLATFORM": "wayland"}
    assert "cannot connect to the Wayland display wayland-9" in (display_problem(only_wayland, "linux") or "")

    # A compositor that answers: the window can open.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as compositor:
        compositor.bind(str(tmp_path / "wayland-9"))
        compositor.listen(1)
        assert display_problem(stale, "linux") is None
        assert display_problem({**stale, "QT_QPA_PLATFORM": "wayland;xcb"}, "linux") is None


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to build a plugin stand-in")
def test_a_missing_system_library_is_named(tmp_path: Path) -> None:
    # A shared library linked against one that is then removed: what the xcb plugin meets on a minimal
    # system without libxcb-icccm4. The dynamic linker's answer must reach the user as a sentence.
    (tmp_path / "dep.c").write_text("int photoseek_dep(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int photoseek_dep(void);\nint f(void) { return photoseek_dep(); }")
    build = ["cc", "-shared", "-fPIC", "-o"]
    subprocess.run([*build, str(tmp_path / "libphotoseekdep.so.1"), str(tmp_path / "dep.c"),
                    "-Wl,-soname,libphotoseekdep.so.1"], check=True)
    subprocess.run([*build, str(tmp_path / "libplugin.so"), str(tmp_path / "plugin.c"),
                    str(tmp_path / "libphotoseekdep.so.1")], check=True)
    (tmp_path / "libphotoseekdep.so.1").unlink()
    problem = xcb_plugin_problem(tmp_path / "libplugin.so")
    assert problem is not None and "the system library libphotoseekdep.so.1 is missing" in problem
    assert "sudo apt install" in problem and "photoseek --help" in problem


def test_the_window_keeps_other_libraries_quiet_on_the_terminal() -> None:
    from app.gui.app import configure_logging

    root = logging.getLogger()
    saved = root.level, logging.getLogger("app").level
    try:
        configure_logging()
        # open_clip announces each model it loads at INFO: not for the terminal the user started us from.
        assert not logging.getLogger("open_clip").isEnabledFor(logging.INFO)
        assert logging.getLogger("app.gui").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(saved[0])
        logging.getLogger("app").setLevel(saved[1])
