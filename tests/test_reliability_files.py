"""Hostile input and hostile disks: one bad line, file or byte fails only itself, never the import.

Every test here that could hang or eat the machine's memory on a regression carries a timeout.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
from pathlib import Path

import pytest
from engine_helpers import shape_b64, shape_bytes
from PIL import Image

from app.engine import Engine
from app.engine import embedder as embedder_module
from app.engine import files as files_module
from app.engine.collection import Collection
from app.engine.errors import TypesenseError
from app.engine.files import file_content_hash, file_doc_id

pytestmark = pytest.mark.timeout(120)


def documents(engine: Engine):
    return engine.collections["images"].documents


def count(engine: Engine) -> int:
    return engine.collections["images"].retrieve()["num_documents"]


def good_line(name: str, colour: str = "red") -> str:
    return json.dumps({"name": name, "image": shape_b64(colour, "circle")})


def long_thin_png() -> bytes:
    """A few KB on disk, a million pixels in one column: resized to the model's size it would be gigabytes."""
    out = io.BytesIO()
    Image.new("L", (1, 1_000_000)).save(out, "PNG")
    return out.getvalue()


# --- 2. one bad line or file fails only itself -----------------------------------------------------------


def import_lines_around(engine: Engine, bad: str) -> list[dict]:
    """JSONL with ``bad`` between two good lines; the per-line results, after checking that only the bad
    line failed and both good ones are stored."""
    out = documents(engine).import_("\n".join([good_line("a"), bad, good_line("c", "green")]))
    results = [json.loads(line) for line in out.split("\n")]
    assert [r["success"] for r in results] == [True, False, True]
    assert count(engine) == 2
    return results


def import_documents_around(engine: Engine, **bad_fields: object) -> list[dict]:
    """A Python document with ``bad_fields`` between two good ones; the results, after checking that only
    it failed and that what came back can be sent on as JSON."""
    docs = [
        {"name": "a", "image": shape_b64("red", "circle")},
        {"name": "b", "image": shape_b64("blue", "square"), **bad_fields},
        {"name": "c", "image": shape_b64("green", "star")},
    ]
    results = documents(engine).import_(docs, {"return_doc": True})
    assert [r["success"] for r in results] == [True, False, True]
    json.dumps(results)
    return results


def test_a_lone_surrogate_fails_only_its_line(engine: Engine) -> None:
    image = shape_b64("blue", "square")
    results = import_lines_around(engine, '{"name": "broken \\ud800 name", "image": "' + image + '"}')
    assert results[1]["code"] == 400 and "Unicode" in results[1]["error"]


def test_a_lone_surrogate_from_python_fails_only_its_document(engine: Engine) -> None:
    results = import_documents_around(engine, note={"deep": ["\udcff"]})
    assert "Unicode" in results[1]["error"] and "document" in results[1]


def test_a_deeply_nested_line_fails_only_itself(engine: Engine) -> None:
    results = import_lines_around(engine, '{"name": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert results[1]["code"] == 400 and "nested" in results[1]["error"]


def test_a_deeply_nested_python_document_fails_only_itself(engine: Engine) -> None:
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    results = import_documents_around(engine, x=nested)
    assert "nested" in results[1]["error"]


@pytest.mark.timeout(60)
def test_an_absurdly_long_image_is_refused_with_a_reason(engine: Engine, tmp_path: Path) -> None:
    thin = tmp_path / "thin.png"
    thin.write_bytes(long_thin_png())
    good = tmp_path / "good.png"
    good.write_bytes(shape_bytes("red", "circle"))
    by_name = {Path(r["path"]).name: r for r in documents(engine).import_files([thin, good])}
    assert by_name["good.png"]["success"] is True
    assert by_name["thin.png"]["success"] is False
    assert "1 x 1000000" in by_name["thin.png"]["error"] and "aspect" in by_name["thin.png"]["error"]
    # The same image sent as base64 fails the same way, and alone.
    out = documents(engine).import_(
        [{"name": "thin", "image": base64.b64encode(long_thin_png()).decode()}, json.loads(good_line("x"))]
    )
    assert [r["success"] for r in out] == [False, True] and "aspect" in out[0]["error"]


@pytest.mark.parametrize(
    "exc",
    [
        MemoryError(),
        RecursionError("maximum recursion depth exceeded"),
        OSError(5, "Input/output error"),
        Image.DecompressionBombError("Image size (999999999 pixels) exceeds limit"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        KeyError("boom"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_any_failure_decoding_one_image_fails_only_that_image(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    cursed = shape_bytes("purple", "cross")
    real_load = embedder_module.load_image

    def load_image(data, **kwargs):
        if bytes(data) == cursed:
            raise exc
        return real_load(data, **kwargs)

    monkeypatch.setattr(embedder_module, "load_image", load_image)
    for name, data in [
        ("a.png", shape_bytes("red", "circle")),
        ("cursed.png", cursed),
        ("c.png", shape_bytes("green", "star")),
    ]:
        (tmp_path / "pics").mkdir(exist_ok=True)
        (tmp_path / "pics" / name).write_bytes(data)
    by_name = {Path(r["path"]).name: r for r in documents(engine).import_files([tmp_path / "pics"])}
    assert by_name["a.png"]["success"] and by_name["c.png"]["success"]
    assert not by_name["cursed.png"]["success"]
    assert by_name["cursed.png"]["error"].startswith("Error while processing image")
    assert count(engine) == 2


def test_a_bad_file_in_a_followed_folder_is_recorded_and_skipped_until_it_changes(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "Pictures"
    folder.mkdir()
    (folder / "good.png").write_bytes(shape_bytes("red", "circle"))
    (folder / "thin.png").write_bytes(long_thin_png())
    folders = engine.collections["images"].folders
    folders.add(folder)
    (report,) = folders.sync()
    assert report["imported"] == 1
    assert [f["path"] for f in report["failed"]] == [str(folder / "thin.png")]
    (report,) = folders.sync()
    assert report["to_import"] == [] and report["failed"] == []
    assert [f["path"] for f in report["known_failures"]] == [str(folder / "thin.png")]


def _fill_the_disk_after(monkeypatch: pytest.MonkeyPatch, good_writes: int, error: Exception) -> list[int]:
    """Collection.write succeeds ``good_writes`` times, then fails as a full disk does."""
    calls: list[int] = []
    real_write = Collection.write

    def write(self, prepared):
        calls.append(len(prepared))
        if len(calls) > good_writes:
            raise error
        return real_write(self, prepared)

    monkeypatch.setattr(Collection, "write", write)
    return calls


@pytest.mark.parametrize(
    "error",
    [sqlite3.OperationalError("database or disk is full"), TypesenseError("The disk is full.", 507)],
    ids=["sqlite", "typesense"],
)
def test_a_full_disk_keeps_what_was_committed_and_stops(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    calls = _fill_the_disk_after(monkeypatch, 1, error)
    lines = [good_line(f"n{i}", colour) for i, colour in enumerate(["red", "green", "blue"] * 3)]
    out = documents(engine).import_("\n".join(lines), {"batch_size": 2, "return_id": True})
    results = [json.loads(line) for line in out.split("\n")]
    assert len(results) == len(lines)
    assert [r["success"] for r in results] == [True, True] + [False] * 7
    assert all("full" in r["error"] for r in results[2:])
    # The lines after the failed batch were not tried against the full disk one by one.
    assert len(calls) == 2
    assert count(engine) == 2


def test_a_full_disk_during_a_file_import_records_no_file_as_broken(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "Pictures"
    folder.mkdir()
    for i, colour in enumerate(["red", "green", "blue"]):
        (folder / f"{i}.png").write_bytes(shape_bytes(colour, "circle"))
    _fill_the_disk_after(monkeypatch, 0, sqlite3.OperationalError("database or disk is full"))
    folders = engine.collections["images"].folders
    folders.add(folder)
    (report,) = folders.sync()
    assert report["imported"] == 0 and len(report["failed"]) == 3
    assert all("full" in f["error"] for f in report["failed"])
    monkeypatch.undo()  # space was freed: the next rescan imports them all
    (report,) = folders.sync()
    assert report["imported"] == 3 and report["known_failures"] == []


def test_a_real_full_database_keeps_what_was_committed(engine: Engine) -> None:
    docs = documents(engine)
    docs.import_([json.loads(good_line("first"))])
    db = engine.db
    pages = db._conn.execute("PRAGMA page_count").fetchone()[0]
    db._conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    lines = [{"name": f"n{i}" * 200, "image": shape_b64("blue", "square")} for i in range(40)]
    results = docs.import_(lines, {"batch_size": 2})
    assert len(results) == len(lines)
    stored = sum(r["success"] for r in results)
    assert [r["success"] for r in results] == [True] * stored + [False] * (len(lines) - stored)
    assert stored < len(lines) and all("full" in r["error"] for r in results[stored:])
    assert count(engine) == 1 + stored


# --- 3. special files -------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_fifo_named_like_a_photo_is_refused_not_waited_on(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "Pictures"
    folder.mkdir()
    (folder / "good.png").write_bytes(shape_bytes("red", "circle"))
    os.mkfifo(folder / "x.jpg")
    by_name = {Path(r["path"]).name: r for r in documents(engine).import_files([folder])}
    assert by_name["good.png"]["success"] is True
    assert by_name["x.jpg"]["success"] is False and "not a regular file" in by_name["x.jpg"]["error"]

    folders = engine.collections["images"].folders
    folders.add(folder)
    (report,) = folders.sync()
    assert report["to_import"] == [] and report["unchanged"] == 1
    assert any(f["path"] == str(folder / "x.jpg") for f in report["failed"])


@pytest.mark.timeout(30)
def test_a_symlink_to_a_device_is_refused_not_read_without_end(engine: Engine, tmp_path: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    folder = tmp_path / "Pictures"
    folder.mkdir()
    (folder / "good.png").write_bytes(shape_bytes("red", "circle"))
    (folder / "y.png").symlink_to("/dev/zero")
    by_name = {Path(r["path"]).name: r for r in documents(engine).import_files([folder / "y.png", folder])}
    assert by_name["y.png"]["success"] is False and "not a regular file" in by_name["y.png"]["error"]
    assert by_name["good.png"]["success"] is True

    folders = engine.collections["images"].folders
    folders.add(folder)
    (report,) = folders.sync()
    assert report["to_import"] == []
    assert any(f["path"] == str(folder / "y.png") for f in report["failed"])


@pytest.mark.timeout(30)
def test_hashing_never_waits_on_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.jpg")
    with pytest.raises(OSError):
        file_content_hash(tmp_path / "x.jpg")


def test_a_file_over_the_size_cap_is_refused_and_remembered(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files_module, "MAX_FILE_BYTES", 1000)
    folder = tmp_path / "Pictures"
    folder.mkdir()
    big = folder / "big.png"
    big.write_bytes(shape_bytes("red", "circle", size=200))
    assert big.stat().st_size > 1000
    folders = engine.collections["images"].folders
    folders.add(folder)
    (report,) = folders.sync()
    assert [f["path"] for f in report["failed"]] == [str(big)] and "too large" in report["failed"][0]["error"]
    (report,) = folders.sync()
    assert report["to_import"] == [] and [f["path"] for f in report["known_failures"]] == [str(big)]


# --- 5. trust in stored paths -----------------------------------------------------------------------------


def _planted(engine: Engine, path: Path, *, doc_id: str | None = None) -> str:
    """A document created through the API (not imported from a file) whose ``path`` names ``path``."""
    doc = {"name": path.name, "path": str(path), "image": shape_b64("red", "circle")}
    if doc_id is not None:
        doc["id"] = doc_id
    return documents(engine).create(doc)["id"]


def test_trash_refuses_a_file_that_is_not_a_photo(engine: Engine, tmp_path: Path) -> None:
    bashrc = tmp_path / ".bashrc"
    bashrc.write_text("export PATH=...")
    doc_id = _planted(engine, bashrc, doc_id=file_doc_id(bashrc))
    (result,) = documents(engine).trash_files([doc_id])
    assert result["success"] is False and "not a photo" in result["error"]
    assert bashrc.exists() and count(engine) == 1


def test_trash_refuses_a_photo_photoseek_did_not_import(engine: Engine, tmp_path: Path) -> None:
    photo = tmp_path / "someone-elses.png"
    photo.write_bytes(shape_bytes("blue", "square"))
    planted = [_planted(engine, photo), _planted(engine, photo, doc_id=file_doc_id(photo))]
    results = documents(engine).trash_files(planted)
    assert [r["success"] for r in results] == [False, False]
    assert all("not imported" in r["error"] for r in results)
    assert photo.exists() and count(engine) == 2


@pytest.mark.timeout(30)
def test_trash_refuses_a_fifo_and_a_device(engine: Engine, tmp_path: Path) -> None:
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    device = tmp_path / "y.png"
    device.symlink_to("/dev/null")
    ids = [
        _planted(engine, fifo, doc_id=file_doc_id(fifo)),
        _planted(engine, device, doc_id=file_doc_id(device)),
    ]
    results = documents(engine).trash_files(ids)
    assert [r["success"] for r in results] == [False, False]
    assert all("not a regular file" in r["error"] for r in results)
    assert fifo.exists() and device.is_symlink()


def test_trash_refuses_an_imported_photo_whose_file_was_replaced(engine: Engine, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(shape_bytes("blue", "square"))
    (imported,) = documents(engine).import_files([photo])
    photo.write_bytes(shape_bytes("green", "star", seed=3, size=120))  # other bytes, other size
    (result,) = documents(engine).trash_files([imported["id"]])
    assert result["success"] is False and "changed" in result["error"]
    assert photo.exists() and count(engine) == 1


def test_trash_still_takes_an_imported_photo_that_was_only_touched(engine: Engine, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(shape_bytes("blue", "square"))
    (imported,) = documents(engine).import_files([photo])
    st = photo.stat()
    os.utime(photo, (st.st_atime + 100, st.st_mtime + 100))
    (result,) = documents(engine).trash_files([imported["id"]])
    assert result["success"] is True and result["trashed"] is True
    assert not photo.exists() and count(engine) == 0


@pytest.mark.parametrize("where", ["store", "embed_prepared"])
def test_a_value_only_a_later_step_refuses_fails_only_its_line(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A document that passes validation but fails the database or the text tower, which work on a whole
    batch at once: the rest of its batch is still stored."""
    real = getattr(Collection, where)

    def refusing(self, *args):
        items = args[0] if where == "embed_prepared" else [args[0]]
        if any(p.body.get("name") == "refused" for p in items):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return real(self, *args)

    monkeypatch.setattr(Collection, where, refusing)
    lines = [json.loads(good_line(name)) for name in ("a", "refused", "c")]
    results = documents(engine).import_(lines, {"batch_size": 3})
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["code"] == 400 and "surrogates" in results[1]["error"]
    assert count(engine) == 2
