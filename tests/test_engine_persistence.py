"""Persistence: reopening, lost or damaged index files, and indexes saved at an older state catching up.

SQLite is the source of truth and the index files a cache, so every way of losing or spoiling the cache
must end in the same search results as before.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import (
    LIBRARY_PER_CLASS,
    QUERY_SEED_BASE,
    class_of,
    hit_ids,
    open_shared_library,
    search_one,
    shape_b64,
)

from app.engine import Engine, ObjectNotFound

QUERIES = [
    {"q": "a red circle", "query_by": "embedding", "per_page": 15},
    {"q": "a black square", "query_by": "embedding", "per_page": 15},
    {"q": "*", "vector_query": "embedding:([], id:green-star-0)", "per_page": 15},
    {"q": "*", "vector_query": "embedding:([], id:white-ring-2, k:8)"},
    {"q": "*", "vector_query": f"embedding:([], image:{shape_b64('blue', 'triangle', QUERY_SEED_BASE + 5)})"},
    {"q": "*", "per_page": 20, "page": 2},
]


def index_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "indexes").glob("*.hnsw*"))


@pytest.fixture
def library_copy(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the shared library's data dir (these tests damage it)."""
    with open_shared_library(tmp_path_factory) as lib:
        source = lib.data_dir
    target = tmp_path / "copy"
    shutil.copytree(source, target)
    return target


def results_of(data_dir: Path) -> list[tuple[list[str], list[float], int]]:
    with Engine(data_dir) as engine:
        out = []
        for params in QUERIES:
            result = search_one(engine, {"collection": "images", "exclude_fields": "embedding", **params})
            dists = [hit.get("vector_distance", -1.0) for hit in result["hits"]]
            out.append((hit_ids(result), dists, result["found"]))
        return out


def assert_same_results(got: list, expected: list, exact: bool) -> None:
    for (ids, dists, found), (want_ids, want_dists, want_found) in zip(got, expected, strict=True):
        assert ids == want_ids
        assert found == want_found
        if exact:
            assert dists == want_dists
        else:
            np.testing.assert_allclose(dists, want_dists, atol=1e-6)


def test_reopen_gives_identical_results(library_copy: Path) -> None:
    first = results_of(library_copy)
    assert first[0][0] and class_of(first[0][0][0]) == ("red", "circle")
    assert_same_results(results_of(library_copy), first, exact=True)
    with Engine(library_copy) as engine:
        assert engine.collections["images"].retrieve()["num_documents"] == 48 * LIBRARY_PER_CLASS


def test_deleted_index_files_are_rebuilt_with_the_same_results(library_copy: Path) -> None:
    before = results_of(library_copy)
    files = index_files(library_copy)
    assert files, "closing the engine saves its index"
    for path in files:
        path.unlink()
    assert_same_results(results_of(library_copy), before, exact=False)
    assert [p.name for p in index_files(library_copy)] == [p.name for p in files], "the rebuild is saved"
    assert_same_results(results_of(library_copy), before, exact=False)


@pytest.mark.parametrize("damage", ["garbage-middle", "truncated", "garbage-sidecar", "swapped-header"])
def test_corrupt_index_is_rebuilt(library_copy: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    before = results_of(library_copy)
    index = next(p for p in index_files(library_copy) if p.suffix == ".hnsw")
    sidecar = index.with_name(index.name + ".json")
    data = bytearray(index.read_bytes())
    if damage == "garbage-middle":
        middle = len(data) // 2
        data[middle : middle + 4096] = (
            np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
        )
        index.write_bytes(bytes(data))
    elif damage == "truncated":
        index.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "garbage-sidecar":
        sidecar.write_bytes(b"\x00\xffnot json at all")
    else:
        index.write_bytes(b"\xff" * 64 + bytes(data[64:]))
    with caplog.at_level(logging.INFO, logger="app.engine"):
        assert_same_results(results_of(library_copy), before, exact=False)
    assert "rebuilding" in caplog.text
    # The damaged file was replaced by a good one: the next open uses it as it is.
    healed = index.read_bytes()
    assert_same_results(results_of(library_copy), before, exact=False)
    assert index.read_bytes() == healed


def more_documents(count: int, seed: int) -> list[dict]:
    colours_shapes = [("red", "circle"), ("blue", "star"), ("green", "ring"), ("yellow", "square")]
    docs = []
    for n in range(count):
        colour, shape = colours_shapes[n % len(colours_shapes)]
        picture = shape_b64(colour, shape, seed + n, "JPEG")
        docs.append({"id": f"new-{colour}-{shape}-{n}", "name": f"new {n}", "image": picture})
    return docs


def change_library(engine: Engine) -> None:
    """Adds, deletions and a replaced picture: everything a catch-up has to replay."""
    docs = engine.collections["images"].documents
    assert all(r["success"] for r in docs.import_(more_documents(12, 300)))
    for doc_id in ("red-circle-0", "black-ring-1", "yellow-star-2"):
        docs[doc_id].delete()
    docs.upsert({"id": "green-star-0", "name": "now blue", "image": shape_b64("blue", "cross", 321)})


def test_index_saved_at_an_older_state_catches_up(
    library_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old_index = tmp_path / "old-index"
    shutil.copytree(library_copy / "indexes", old_index)
    with Engine(library_copy) as engine:
        change_library(engine)
    expected = results_of(library_copy)
    # Put back the index saved before the changes, as if the app died before saving again.
    shutil.rmtree(library_copy / "indexes")
    shutil.copytree(old_index, library_copy / "indexes")
    with caplog.at_level(logging.INFO, logger="app.engine"):
        caught_up = results_of(library_copy)
    assert "rebuilding" not in caplog.text, "the old index is usable: it is caught up, not rebuilt"
    assert_same_results(caught_up, expected, exact=False)
    reds = caught_up[0][0]
    assert "red-circle-0" not in reds
    assert any(doc_id.startswith("new-red-circle") for doc_id in reds)
    # The same state rebuilt from nothing agrees too.
    shutil.rmtree(library_copy / "indexes")
    assert_same_results(results_of(library_copy), expected, exact=False)


def test_index_newer_than_the_database_is_not_trusted(library_copy: Path, tmp_path: Path) -> None:
    """A database restored from a backup, beside index files saved later, must not mix the two."""
    backup = tmp_path / "backup"
    backup.mkdir()
    for path in library_copy.glob("photoseek.db*"):
        shutil.copy2(path, backup / path.name)
    expected = results_of(library_copy)
    with Engine(library_copy) as engine:
        change_library(engine)  # saves the index at the newer state on close
    for path in library_copy.glob("photoseek.db*"):
        path.unlink()
    for path in backup.iterdir():
        shutil.copy2(path, library_copy / path.name)
    restored = results_of(library_copy)
    assert_same_results(restored, expected, exact=False)
    assert "red-circle-0" in restored[0][0]


def test_copy_taken_while_the_engine_runs_catches_up(library_copy: Path, tmp_path: Path) -> None:
    """A crash stand-in: the data dir copied mid-session holds new rows but the old index files."""
    snapshot = tmp_path / "snapshot"
    engine = Engine(library_copy)
    try:
        search_one(engine, {"collection": "images", "q": "a red circle", "query_by": "embedding"})
        change_library(engine)
        shutil.copytree(library_copy, snapshot)  # the engine is still open: nothing saved the index
        live = search_one(
            engine, {"collection": "images", "q": "a red circle", "query_by": "embedding", "per_page": 15}
        )
    finally:
        engine.close()
    with Engine(snapshot) as recovered:
        docs = recovered.collections["images"].documents
        assert recovered.collections["images"].retrieve()["num_documents"] == 48 * LIBRARY_PER_CLASS + 12 - 3
        with pytest.raises(ObjectNotFound):
            docs["red-circle-0"].retrieve()
        assert docs["green-star-0"].retrieve()["name"] == "now blue"
        again = search_one(
            recovered, {"collection": "images", "q": "a red circle", "query_by": "embedding", "per_page": 15}
        )
        assert hit_ids(again) == hit_ids(live)
        similar = search_one(
            recovered,
            {"collection": "images", "q": "*", "vector_query": "embedding:([], id:new-blue-star-1, k:250)"},
        )
        assert similar["found"] == 48 * LIBRARY_PER_CLASS + 12 - 3 - 1, "every stored vector is searchable"
        assert not {"red-circle-0", "black-ring-1", "yellow-star-2"} & set(
            hit_ids(
                search_one(
                    recovered,
                    {
                        "collection": "images",
                        "q": "*",
                        "per_page": 250,
                        "vector_query": "embedding:([], id:new-blue-star-1, k:250)",
                    },
                )
            )
        )


def test_deleting_a_collection_removes_its_index_files(library_copy: Path) -> None:
    assert index_files(library_copy)
    with Engine(library_copy) as engine:
        engine.collections["images"].delete()
    assert index_files(library_copy) == []
    with Engine(library_copy) as engine:
        assert engine.collections.retrieve() == []
