"""The ``photoseek`` command line: run in-process through ``app.cli.main`` and, twice, as a real subprocess.

Everything is real: the tiny CLIP model from tests/models/tiny-shapes, SQLite, hnswlib. One library is
indexed once for the module (tests that read it must not write to it); tests that write use ``tmp_path``.
tests/conftest.py points the data and cache folders at each test's tmp dir and makes the tiny model the
default.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli, table_rows

from app import __version__, cli, cli_output
from app.shapes import draw_shape, encode_image, write_shape_folder

TINY = "photoseek/tiny-shapes"
REPO_ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL_PHOTOS = 48  # one PNG of each colour x shape
NESTED_PHOTOS = 12  # one JPEG of each red and blue shape, two folders down
LIBRARY_PHOTOS = TOP_LEVEL_PHOTOS + NESTED_PHOTOS


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A folder of generated photos (plus a text file and a broken JPEG), indexed once with the CLI."""
    root = tmp_path_factory.mktemp("cli-library")
    photos = root / "photos"
    write_shape_folder(photos, per_class=1, fmt="PNG")
    write_shape_folder(photos / "nested" / "deeper", per_class=1, colours=("red", "blue"), fmt="JPEG", seed=7)
    (photos / "notes.txt").write_text("not a picture")
    (photos / "broken.jpg").write_bytes(encode_image(draw_shape("green", "star"), "JPEG")[:300])
    data = root / "data"
    # conftest's per-test directories are not set up yet for a module fixture: keep the home dir safe here.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOSEEK_DATA_DIR", str(root / "default-data"))
        mp.setenv("PHOTOSEEK_CACHE_DIR", str(root / "cache"))
        code, out, err = run_cli("index", str(photos), "--data-dir", str(data), "--model", TINY)
    return {"photos": photos, "data": str(data), "code": code, "out": out, "err": err}


# --------------------------------------------------------------------------------------------- index


def test_index_counts_photos_lists_failures_and_counts_non_images(library: dict) -> None:
    out, err = library["out"], library["err"]
    assert f"Indexed {LIBRARY_PHOTOS} photos (0 unchanged, 1 skipped: not images, 1 failed)" in out
    # The broken JPEG is named with a reason; the text file is only counted.
    failed_lines = [line for line in out.splitlines() if "broken.jpg" in line]
    assert len(failed_lines) == 1 and "image" in failed_lines[0].lower()
    assert "notes.txt" not in out
    assert library["code"] == cli.EXIT_SOME_FAILED
    assert f"Created collection `Photos` (model {TINY})" in err  # the desktop app's default too
    # Not a terminal: plain progress lines, the last one complete.
    assert f"Indexing: {LIBRARY_PHOTOS + 2}/{LIBRARY_PHOTOS + 2} photos" in err.splitlines()[-1]
    assert "Traceback" not in out + err


def test_reindex_reports_unchanged_and_verbose_lists_skipped(library: dict) -> None:
    code, out, _ = run_cli("index", str(library["photos"]), "--data-dir", library["data"], "-v")
    assert f"Indexed 0 photos ({LIBRARY_PHOTOS} unchanged, 1 skipped: not images, 1 failed)" in out
    assert "Skipped (not images):" in out and "notes.txt" in out
    assert code == cli.EXIT_SOME_FAILED  # broken.jpg still fails


def test_index_json_summary_parses(tmp_path: Path) -> None:
    photos = tmp_path / "few"
    write_shape_folder(photos, colours=("yellow",), shapes=("star", "ring"))
    code, out, _ = run_cli("--json", "index", str(photos), "--data-dir", str(tmp_path / "d"))
    summary = json.loads(out)
    assert code == 0
    counts = (summary["imported"], summary["unchanged"], summary["failed"], summary["cancelled"])
    assert counts == (2, 0, 0, False)
    names = sorted(Path(r["path"]).name for r in summary["results"])
    assert names == ["yellow_ring_000.png", "yellow_star_000.png"]


def test_a_library_made_by_an_older_cli_keeps_its_default_collection(tmp_path: Path) -> None:
    from app.engine import Engine
    from app.library import photo_schema

    photos = tmp_path / "few"
    write_shape_folder(photos, colours=("yellow",), shapes=("star",))
    with Engine(tmp_path / "d") as engine:
        engine.collections.create(photo_schema("photos", TINY))  # the CLI's default name until now
    code, _, err = run_cli("index", str(photos), "--data-dir", str(tmp_path / "d"))
    assert code == 0 and "Created collection" not in err
    with Engine(tmp_path / "d") as engine:
        assert [c["name"] for c in engine.collections.retrieve()] == ["photos"]
        assert engine.collections["photos"].retrieve()["num_documents"] == 1


def test_index_missing_path_is_a_clean_usage_error(tmp_path: Path) -> None:
    code, _, err = run_cli("index", str(tmp_path / "nowhere"), "--data-dir", str(tmp_path / "d"))
    assert code == cli.EXIT_USAGE
    assert err.startswith("photoseek: error: no such file or folder") and "Traceback" not in err


def test_ctrl_c_stops_after_a_batch_and_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = tmp_path / "photos"
    write_shape_folder(photos, per_class=1)
    data = str(tmp_path / "d")
    original = cli_output.ProgressReporter.__call__
    pressed = []

    def press_ctrl_c_after_first_commit(self, done: int, total: int | None) -> None:
        original(self, done, total)
        if done > 0 and not pressed:
            pressed.append(done)
            os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends for Ctrl+C

    monkeypatch.setattr(cli_output.ProgressReporter, "__call__", press_ctrl_c_after_first_commit)
    code, out, err = run_cli("index", str(photos), "--data-dir", data)
    kept = pressed[0]
    assert code == cli.EXIT_INTERRUPTED
    assert 0 < kept < TOP_LEVEL_PHOTOS
    assert "Stopping after the current batch" in err
    left = TOP_LEVEL_PHOTOS - kept
    assert f"Cancelled: {kept} photos were imported and are kept; {left} not reached" in out

    monkeypatch.setattr(cli_output.ProgressReporter, "__call__", original)
    _, listing, _ = run_cli("collections", "--json", "--data-dir", data)
    assert json.loads(listing)[0]["num_documents"] == kept
    code, out, _ = run_cli("index", str(photos), "--data-dir", data)
    assert code == 0
    assert f"Indexed {left} photos ({kept} unchanged, 0 skipped: not images, 0 failed)" in out


def test_missing_model_weights_exit_3_with_offline_instructions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mirror that refuses connections at once: the download fails without waiting on the network.
    monkeypatch.setenv("PHOTOSEEK_MODEL_BASE_URL", "http://127.0.0.1:9")
    photos = tmp_path / "photos"
    write_shape_folder(photos, colours=("red",), shapes=("circle",))
    data = str(tmp_path / "d")
    code, _, err = run_cli("index", str(photos), "--data-dir", data, "--model", "ts/clip-vit-b-p32")
    assert code == cli.EXIT_MODEL
    assert "photoseek: error: cannot download the weights of `ts/clip-vit-b-p32`" in err
    # The offline route: one address to fetch elsewhere, and the command that installs the file here.
    assert "http://127.0.0.1:9/timm/" in err
    # Not the default model here (the tests' default is the tiny one), so the line names it.
    assert "photoseek model install --model ts/clip-vit-b-p32 open_clip_model.safetensors" in err
    assert "Traceback" not in err
    # Nothing half-made is left behind.
    _, listing, _ = run_cli("collections", "--json", "--data-dir", data)
    assert json.loads(listing) == []


# --------------------------------------------------------------------------------------------- search


def test_text_search_ranks_red_circles_first(library: dict) -> None:
    code, out, _ = run_cli("search", "a red circle", "--data-dir", library["data"], "-n", "5")
    rows = table_rows(out)
    assert code == 0 and len(rows) == 5
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]
    # The library holds exactly two red circles (a PNG and a nested JPEG): they come first.
    assert [Path(r[3]).stem.rsplit("_", 1)[0] for r in rows[:2]] == ["red_circle", "red_circle"]
    scores = [float(r[1]) for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_search_json_is_the_typesense_result(library: dict) -> None:
    code, out, _ = run_cli("--json", "search", "a blue square", "--data-dir", library["data"], "--limit", "3")
    result = json.loads(out)
    assert code == 0
    assert result["request_params"]["q"] == "a blue square"
    assert result["out_of"] == LIBRARY_PHOTOS
    assert len(result["hits"]) == 3
    distances = [h["vector_distance"] for h in result["hits"]]
    assert distances == sorted(distances)
    assert result["hits"][0]["document"]["name"].startswith("blue_square")
    assert all("embedding" not in h["document"] for h in result["hits"])


def test_similar_finds_the_other_red_circle_and_leaves_out_the_query(library: dict) -> None:
    _, out, _ = run_cli("--json", "search", "a red circle", "--data-dir", library["data"], "-n", "1")
    query = json.loads(out)["hits"][0]["document"]
    code, out, _ = run_cli("similar", query["id"], "--data-dir", library["data"], "-n", "4")
    rows = table_rows(out)
    assert code == 0 and len(rows) == 4
    assert query["id"] not in [r[2] for r in rows]
    assert Path(rows[0][3]).stem.startswith("red_circle")
    assert Path(rows[0][3]) != Path(query["path"])


def test_search_by_image_file(library: dict, tmp_path: Path) -> None:
    picture = tmp_path / "query.png"
    picture.write_bytes(encode_image(draw_shape("red", "circle", seed=4242), "PNG"))
    code, out, _ = run_cli("search", "--image", str(picture), "--data-dir", library["data"], "-n", "3")
    rows = table_rows(out)
    assert code == 0
    assert Path(rows[0][3]).stem.startswith("red_circle")


def test_threshold_drops_distant_photos(library: dict) -> None:
    stored = library["photos"] / "green_triangle_000.png"
    code, out, _ = run_cli("--json", "search", "--image", str(stored), "--data-dir", library["data"],
                           "--threshold", "0.01", "-n", "50")
    hits = json.loads(out)["hits"]
    assert code == 0
    assert hits[0]["document"]["path"] == str(stored)
    assert all(h["vector_distance"] <= 0.01 for h in hits)
    assert len(hits) < LIBRARY_PHOTOS


def test_search_by_broken_image_is_a_clean_error(library: dict) -> None:
    code, _, err = run_cli("search", "--image", str(library["photos"] / "broken.jpg"), "--data-dir",
                           library["data"])
    assert code == cli.EXIT_USAGE
    assert err.startswith("photoseek: error: Error while processing image") and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "cats", "-c", "nope"], "Collection `nope` not found."),
        (["similar", "no-such-id"], "no photo with the id `no-such-id` in collection `Photos`"),
        (["search"], "give either search text or --image FILE"),
        (["search", "   "], "the search text is empty"),
        (["search", "--image", "/no/such/picture.png"], "/no/such/picture.png"),
    ],
)
def test_bad_requests_exit_2_without_traceback(library: dict, argv: list[str], message: str) -> None:
    code, out, err = run_cli(*argv, "--data-dir", library["data"])
    assert code == cli.EXIT_USAGE
    assert err.startswith("photoseek: error: ") and message in err
    assert out == "" and "Traceback" not in err


def test_library_folder_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "library"
    not_a_folder.write_text("")
    code, _, err = run_cli("collections", "--data-dir", str(not_a_folder))
    assert code == cli.EXIT_USAGE
    assert err == f"photoseek: error: the library folder {not_a_folder} is a file, not a folder\n"


def test_argument_errors_exit_2(library: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["search", "x", "--threshold", "3", "--data-dir", library["data"]]) == cli.EXIT_USAGE
    assert "a cosine distance is between 0 and 2" in capsys.readouterr().err
    assert cli.main(["search", "x", "-n", "0"]) == cli.EXIT_USAGE


# --------------------------------------------------------------------------------------------- collections


def test_collections_lists_name_size_model_and_fields(
    library: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["collections", "--data-dir", library["data"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "documents", "model", "fields"]
    name, count, model, fields = lines[1].split(None, 3)
    assert (name, int(count), model) == ("Photos", LIBRARY_PHOTOS, TINY)
    assert "embedding:float[]" in fields and "image:image" in fields

    # --json may also come before the subcommand.
    assert cli.main(["--json", "--data-dir", library["data"], "collections"]) == 0
    (collection,) = json.loads(capsys.readouterr().out)
    assert collection["num_documents"] == LIBRARY_PHOTOS
    image_field = next(f for f in collection["fields"] if f["name"] == "image")
    assert image_field["store"] is False  # the default schema keeps only embeddings


# --------------------------------------------------------------------------------------------- import


def shape_line(doc_id: str, colour: str, shape: str, name: str | None = None) -> str:
    data = encode_image(draw_shape(colour, shape, seed=3), "PNG")
    doc = {"id": doc_id, "name": name or f"{colour} {shape}", "path": f"/virtual/{doc_id}.png",
           "image": base64.b64encode(data).decode("ascii")}
    return json.dumps(doc, ensure_ascii=False)


def test_import_reports_bad_lines_by_number_and_exits_1(tmp_path: Path) -> None:
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("\n".join([
        shape_line("a", "red", "circle"),                          # 1
        "",                                                        # 2: blank, not a document
        "{not json",                                               # 3
        shape_line("b", "blue", "square", "blue\u2028square"),  # 4: JSON may hold U+2028 as is
        json.dumps({"id": "c", "name": "c", "path": "/c", "image": "@@not base64@@"}),  # 5
        json.dumps({"id": "d", "name": "no picture", "path": "/d"}),  # 6
    ]) + "\n")
    data = str(tmp_path / "d")
    code, out, _ = run_cli("import", str(jsonl), "--collection", "pictures", "--data-dir", data)
    assert code == cli.EXIT_SOME_FAILED
    reported = [line.split(":", 1)[0] for line in out.splitlines() if line.startswith("line ")]
    assert reported == ["line 3", "line 5", "line 6"]
    assert "line 3: Bad JSON: " in out
    assert "Imported 2 documents (3 failed)" in out

    # The good lines are searchable in the collection import created.
    code, out, _ = run_cli("--json", "search", "a red circle", "-c", "pictures", "--data-dir", data)
    assert code == 0
    assert json.loads(out)["hits"][0]["document"]["id"] == "a"


def test_import_from_stdin_prints_typesense_jsonl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(shape_line("x", "green", "ring") + "\n[1, 2]\n"))
    code, out, _ = run_cli("import", "-", "--action", "upsert", "--json", "--data-dir", str(tmp_path / "d"))
    results = [json.loads(line) for line in out.splitlines()]
    assert code == cli.EXIT_SOME_FAILED
    assert results[0] == {"success": True}
    assert results[1]["success"] is False and results[1]["code"] == 400


def test_import_of_empty_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    code, _, err = run_cli("import", str(empty), "--data-dir", str(tmp_path / "d"))
    assert code == cli.EXIT_USAGE and "has no documents" in err


# --------------------------------------------------------------------------------------------- output


def test_progress_line_on_a_terminal_shows_rate_and_eta() -> None:
    stream = io.StringIO()
    now = [0.0]
    reporter = cli_output.ProgressReporter(stream, interactive=True, clock=lambda: now[0])
    reporter(10, 110)
    now[0] = 10.0
    reporter(60, 110)
    reporter.finish()
    drawn = stream.getvalue().split("\r\x1b[K")
    assert drawn[-1] == "Indexing: 60/110 photos, 5.0 photos/s, ETA 0:10\n"


def test_progress_in_a_log_prints_plain_lines_without_flooding() -> None:
    stream = io.StringIO()
    now = [0.0]
    reporter = cli_output.ProgressReporter(stream, interactive=False, clock=lambda: now[0])
    for done in range(0, 100):
        now[0] = done * 0.01  # a second in all: well under the plain-line interval
        reporter(done, 100)
    reporter(100, 100)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Indexing: 0/100 photos"
    assert lines[-1].startswith("Indexing: 100/100 photos")
    assert len(lines) == 2 and "\r" not in stream.getvalue()


# --------------------------------------------------------------------------------------------- GUI


def test_no_arguments_or_paths_open_the_desktop_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the routing is checked here (the window itself is tested in tests/gui): the GUI entry point is
    # swapped for a recorder, since the real one would run Qt's event loop until the window is closed.
    gui_app = pytest.importorskip("app.gui.app")
    calls: list[tuple[list[str], str | None]] = []

    opened: list[list[str] | None] = []

    def record(argv: list[str], open_paths: list[str] | None = None) -> int:
        calls.append((argv, os.environ.get("PHOTOSEEK_DATA_DIR")))
        opened.append(open_paths)
        return 0

    monkeypatch.setattr(gui_app, "run_gui", record)
    assert cli.main([]) == 0
    assert cli.main(["--data-dir", str(tmp_path / "elsewhere")]) == 0
    assert [argv[:1] == sys.argv[:1] for argv, _ in calls] == [True, True]
    assert calls[1][1] == str(tmp_path / "elsewhere")
    # "Open with Photoseek" runs `photoseek FILE...`: the window opens and imports them.
    photo = tmp_path / "holiday.png"
    photo.write_bytes(encode_image(draw_shape("red", "circle"), "PNG"))
    assert cli.main([str(photo), str(tmp_path)]) == 0
    assert opened[-1] == [str(photo), str(tmp_path)]
    # A name that is neither a command nor an existing path is still a usage error, not a GUI launch.
    assert cli.main(["no-such-thing.jpg"]) == 2
    assert len(opened) == 3


# --------------------------------------------------------------------------------------------- subprocess


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PHOTOSEEK_DATA_DIR=str(tmp_path / "data"), PHOTOSEEK_DEFAULT_MODEL=TINY)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def test_python_m_app_version(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True,
                          cwd=tmp_path, env=subprocess_env(tmp_path), timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"photoseek {__version__}" == "photoseek 0.1.0"


def test_python_m_app_index_a_folder(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    write_shape_folder(photos, colours=("orange",), fmt="JPEG")
    proc = subprocess.run([sys.executable, "-m", "app", "index", str(photos)], capture_output=True, text=True,
                          cwd=tmp_path, env=subprocess_env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Indexed 6 photos (0 unchanged, 0 skipped: not images, 0 failed)" in proc.stdout
    assert "Indexing: 6/6 photos" in proc.stderr
    assert (tmp_path / "data" / "photoseek.db").is_file()
