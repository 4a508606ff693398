"""import_files: pictures straight from folders, one document per file, re-imports that do not duplicate."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest
from engine_helpers import (
    TINY_MODEL,
    cosine,
    search_one,
    shape_bytes,
    truncated_jpeg_b64,
    vector_schema,
)

from app.engine import Engine, RequestMalformed
from app.engine.embedder import load_embedder
from app.engine.files import file_doc_id
from app.engine.models import resolve_model

PICTURES = {
    "holiday/red-circle.png": ("red", "circle", 0, "PNG"),
    "holiday/blue-square.jpg": ("blue", "square", 0, "JPEG"),
    "holiday/deeper/green-star.bmp": ("green", "star", 0, "BMP"),
    "yellow-ring.jpeg": ("yellow", "ring", 0, "JPEG"),
}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for rel, (colour, shape, seed, fmt) in PICTURES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shape_bytes(colour, shape, seed, fmt))
    (root / ".hidden.png").write_bytes(shape_bytes("black", "cross"))
    (root / "notes.txt").write_text("not a picture")
    (root / "broken.jpg").write_bytes(base64.b64decode(truncated_jpeg_b64()))
    return root


def test_import_folder_walks_recursively_and_reports_every_file(engine: Engine, photos: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    results = engine.collections["images"].documents.import_files(
        [photos], progress=lambda d, t: seen.append((d, t))
    )
    by_name = {Path(r["path"]).name: r for r in results}
    assert set(by_name) == {Path(rel).name for rel in PICTURES} | {"notes.txt", "broken.jpg"}
    assert ".hidden.png" not in by_name
    assert by_name["notes.txt"]["success"] is False and ".txt" in by_name["notes.txt"]["error"]
    assert by_name["broken.jpg"]["success"] is False
    assert by_name["broken.jpg"]["error"].startswith("Error while processing image")
    for rel in PICTURES:
        result = by_name[Path(rel).name]
        assert result["success"] is True
        assert result["id"] == file_doc_id((photos / rel).absolute())
    assert seen[-1] == (len(results), len(results))
    assert engine.collections["images"].retrieve()["num_documents"] == len(PICTURES)

    doc = engine.collections["images"].documents[by_name["green-star.bmp"]["id"]].retrieve()
    assert doc["name"] == "green-star.bmp" and doc["path"] == str(photos / "holiday/deeper/green-star.bmp")
    assert "image" not in doc
    star = search_one(
        engine,
        {
            "collection": "images",
            "q": "*",
            "per_page": 1,
            "vector_query": f"embedding:([], id:{by_name['green-star.bmp']['id']}, k:3)",
        },
    )
    assert len(star["hits"]) == 1


def test_reimport_skips_unchanged_files_and_updates_changed_ones(engine: Engine, photos: Path) -> None:
    docs = engine.collections["images"].documents
    first = {r["path"]: r for r in docs.import_files([photos]) if r["success"]}
    again = {r["path"]: r for r in docs.import_files([photos]) if r["success"]}
    assert set(again) == set(first)
    assert all(r.get("unchanged") for r in again.values())
    assert engine.collections["images"].retrieve()["num_documents"] == len(PICTURES)

    changed = photos / "holiday/red-circle.png"
    before = docs[first[str(changed)]["id"]].retrieve()["embedding"]
    changed.write_bytes(shape_bytes("purple", "triangle", 3, "PNG"))
    os.utime(changed, (1_700_000_000, 1_700_000_000))
    third = {r["path"]: r for r in docs.import_files([changed])}
    assert third[str(changed)]["success"] is True and not third[str(changed)].get("unchanged")
    after = docs[first[str(changed)]["id"]].retrieve()["embedding"]
    (expected,) = load_embedder(resolve_model(TINY_MODEL)).embed_images([changed.read_bytes()])
    assert cosine(after, expected) == pytest.approx(1.0, abs=1e-5)
    assert cosine(before, expected) < 0.999
    assert engine.collections["images"].retrieve()["num_documents"] == len(PICTURES)


def test_missing_path_and_collection_without_image_field(engine: Engine, tmp_path: Path) -> None:
    (result,) = engine.collections["images"].documents.import_files([tmp_path / "nowhere.png"])
    assert result["success"] is False and "Cannot read the file" in result["error"]
    engine.collections.create(vector_schema("plain"))
    with pytest.raises(RequestMalformed) as exc:
        engine.collections["plain"].documents.import_files([tmp_path])
    assert "no `image` field" in exc.value.message


def test_cancel_stops_after_the_current_batch(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(70):
        (folder / f"p{n:02d}.png").write_bytes(shape_bytes("red", "square", n, "PNG"))
    cancel = threading.Event()
    results = engine.collections["images"].documents.import_files(
        [folder], progress=lambda done, total: cancel.set() if done else None, cancel=cancel
    )
    stored = engine.collections["images"].retrieve()["num_documents"]
    assert 0 < stored < 70
    assert len(results) == stored and all(r["success"] for r in results)
    # Importing again finishes the job without duplicating what was done.
    rest = engine.collections["images"].documents.import_files([folder])
    assert sum(1 for r in rest if r.get("unchanged")) == stored
    assert engine.collections["images"].retrieve()["num_documents"] == 70
