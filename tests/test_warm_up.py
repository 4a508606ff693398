"""The library's warm-up, which the window runs as soon as it lists its collections: a collection's model
is loaded and its index read, so the first search waits for neither; a library before its first import
only has the model that import needs checked (its weights, not loaded), so the app can offer it first."""

from __future__ import annotations

from pathlib import Path

from app.library import photo_schema
from app.library.model_state import ModelStateChanged
from app.library.service import LibraryService
from app.shapes import write_shape_folder

TINY = "photoseek/tiny-shapes"
CLIP = "ts/clip-vit-b-p32"


def _open(data_dir: Path, events: list[object]) -> LibraryService:
    service = LibraryService(data_dir, on_event=events.append)
    service.open()
    return service


def test_before_the_first_import_only_the_first_model_is_checked(photoseek_dirs: Path) -> None:
    events: list[object] = []
    service = _open(photoseek_dirs, events)
    try:
        assert service.warm_up(None) == "none"
        assert service.warm_up(None, CLIP) == "missing"
        assert events == [ModelStateChanged("missing", CLIP)]
        events.clear()
        # The tiny model's weights are here: nothing to offer, and nothing loaded for a library that has
        # no photos to search yet.
        assert service.warm_up(None, TINY) == "idle"
        assert events == []
    finally:
        service.close()


def test_a_warmed_up_library_has_its_model_and_its_index_ready(photoseek_dirs: Path, tmp_path: Path) -> None:
    photos = tmp_path / "shapes"
    write_shape_folder(photos, per_class=1, colours=("red", "blue"), shapes=("circle", "square"), size=64)
    events: list[object] = []
    service = _open(photoseek_dirs, events)
    job = service.import_paths("Photos", [str(photos)], photo_schema("Photos", TINY))
    while not job.step():
        pass
    service.close()

    from app.engine.embedder import clear_embedder_cache

    clear_embedder_cache()  # as a new launch: nothing loaded
    events.clear()
    service = _open(photoseek_dirs, events)
    try:
        service.collections()
        indexes = service.client._collection("Photos").indexes
        assert "embedding" not in indexes._indexes  # read from disk at the first search, unless warmed
        assert service.warm_up("Photos") == "ready"
        assert [e.state for e in events if isinstance(e, ModelStateChanged)] == ["loading", "ready"]
        assert "embedding" in indexes._indexes
        page = service.search("Photos", {"q": "a red circle", "query_by": "embedding"})
        assert page.hits[0]["document"]["name"].startswith("red_circle")
    finally:
        service.close()
