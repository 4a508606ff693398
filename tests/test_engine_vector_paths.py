"""The fast vector paths: filtered search by brute force, by over-fetching and inside the graph walk, and
bulk imports of caller-supplied vectors. Each path must give what exact search gives, and Typesense's
per-line results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import hit_ids, random_unit_vectors, search_one

from app.engine import Engine, flat, vector_search
from app.engine.flat import FlatVectors
from app.engine.vector_search import AllowedLabels

COUNT = 600
DIMS = 16
GROUPS = 10  # `group:=g` matches 10% of the documents


def schema() -> dict:
    return {
        "name": "vectors",
        "fields": [
            {"name": "group", "type": "int32"},
            {"name": "n", "type": "int32"},
            {"name": "vec", "type": "float[]", "num_dim": DIMS},
        ],
    }


def docs(vectors: np.ndarray, start: int = 0) -> list[dict]:
    return [
        {"id": f"d{n}", "group": n % GROUPS, "n": n, "vec": vectors[n - start].tolist()}
        for n in range(start, start + len(vectors))
    ]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, np.ndarray]]:
    folder = tmp_path_factory.mktemp("vector-paths")
    vectors = random_unit_vectors(COUNT, DIMS, seed=11)
    with Engine(folder) as eng:
        eng.collections.create(schema())
        results = eng.collections["vectors"].documents.import_(docs(vectors), {"action": "create"})
        assert all(r["success"] for r in results)
    yield folder, vectors


def exact(vectors: np.ndarray, query: np.ndarray, allowed: list[int], k: int) -> list[str]:
    sims = {n: float(vectors[n] @ query) for n in allowed}
    return [f"d{n}" for n in sorted(allowed, key=lambda n: (-sims[n], n))[:k]]


def vq(query: np.ndarray, k: int, extra: str = "") -> str:
    return f"vec:([{','.join(repr(float(x)) for x in query)}], k:{k}{extra})"


FILTERS = {
    # tiny: fewer documents than k
    "n:[3, 17, 400]": [3, 17, 400],
    # 10%: brute force over the allowed documents (or over-fetch / graph walk, when made to)
    "group:=4": [n for n in range(COUNT) if n % GROUPS == 4],
    # 90%: over-fetching from an unfiltered search
    "group:!=4": [n for n in range(COUNT) if n % GROUPS != 4],
    # 50%, with an OR
    "group:<3 || group:>7": [n for n in range(COUNT) if n % GROUPS < 3 or n % GROUPS > 7],
}


@pytest.mark.parametrize("flat_bytes", [flat.FLAT_MAX_BYTES, 0], ids=["flat-allowed", "graph-only"])
@pytest.mark.parametrize("filter_by", list(FILTERS))
def test_filtered_search_returns_the_exact_nearest_allowed(
    library: tuple[Path, np.ndarray], filter_by: str, flat_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # flat_bytes=0 sends every filter through the graph (over-fetch or the walk with the filter in it).
    monkeypatch.setattr(flat, "FLAT_MAX_BYTES", flat_bytes)
    folder, vectors = library
    allowed = FILTERS[filter_by]
    with Engine(folder) as eng:
        for seed in range(5):
            query = random_unit_vectors(1, DIMS, seed=100 + seed)[0]
            result = search_one(eng, {"collection": "vectors", "q": "*", "vector_query": vq(query, 10),
                                      "filter_by": filter_by, "exclude_fields": "vec"})
            assert hit_ids(result) == exact(vectors, query, allowed, 10)
            assert result["found"] == min(10, len(allowed))
            for hit in result["hits"]:
                n = int(hit["document"]["id"][1:])
                assert hit["vector_distance"] == pytest.approx(1 - float(vectors[n] @ query), abs=1e-5)


@pytest.mark.parametrize("overfetch_max", [0, vector_search.OVERFETCH_MAX], ids=["walk", "overfetch"])
def test_graph_paths_agree_with_brute_force(
    library: tuple[Path, np.ndarray], overfetch_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "FLAT_MAX_BYTES", 0)
    monkeypatch.setattr(vector_search, "OVERFETCH_MAX", overfetch_max)
    folder, vectors = library
    query = random_unit_vectors(1, DIMS, seed=7)[0]
    with Engine(folder) as eng:
        for filter_by, allowed in FILTERS.items():
            result = search_one(eng, {"collection": "vectors", "q": "*", "vector_query": vq(query, 20),
                                      "filter_by": filter_by, "per_page": 20})
            assert hit_ids(result) == exact(vectors, query, allowed, 20)


def test_id_query_under_a_filter_leaves_the_photo_itself_out(library: tuple[Path, np.ndarray]) -> None:
    folder, vectors = library
    allowed = FILTERS["group:=4"]
    with Engine(folder) as eng:
        result = search_one(eng, {"collection": "vectors", "q": "*", "filter_by": "group:=4",
                                  "vector_query": "vec:([], id:d14, k:5)"})
    others = [n for n in allowed if n != 14]
    assert hit_ids(result) == exact(vectors, vectors[14], others, 5)


def test_filtered_results_are_the_same_after_a_reopen_and_after_a_write(tmp_path: Path) -> None:
    vectors = random_unit_vectors(200, DIMS, seed=3)
    query = random_unit_vectors(1, DIMS, seed=4)[0]
    params = {"collection": "vectors", "q": "*", "vector_query": vq(query, 5), "filter_by": "group:=2"}
    with Engine(tmp_path) as eng:
        eng.collections.create(schema())
        eng.collections["vectors"].documents.import_(docs(vectors), {"action": "create"})
        before = hit_ids(search_one(eng, params))
    with Engine(tmp_path) as eng:
        assert hit_ids(search_one(eng, params)) == before
        # A new document in the filter, nearer than any: the remembered allowed set must not hide it.
        eng.collections["vectors"].documents.create({"id": "new", "group": 2, "n": 999,
                                                     "vec": query.tolist()})
        assert hit_ids(search_one(eng, params)) == ["new", *before[:4]]
        eng.collections["vectors"].documents["new"].delete()
        assert hit_ids(search_one(eng, params)) == before


def test_a_bulk_import_with_bad_lines_fails_only_those_lines(tmp_path: Path) -> None:
    vectors = random_unit_vectors(40, DIMS, seed=5)
    with Engine(tmp_path) as eng:
        eng.collections.create(schema())
        documents = eng.collections["vectors"].documents
        assert all(r["success"] for r in documents.import_(docs(vectors[:10]), {"action": "create"}))
        batch = docs(vectors[10:], start=10)
        batch[3] = {**batch[3], "id": "d2"}  # exists already
        batch[5] = {**batch[5], "vec": [0.0] * DIMS}  # no direction
        batch[7] = {**batch[7], "vec": ["0.1"] * DIMS}  # text, not numbers
        batch[9] = {**batch[9], "id": batch[8]["id"]}  # twice in one batch
        results = documents.import_(batch, {"action": "create"})
        failed = {i for i, r in enumerate(results) if not r["success"]}
        assert failed == {3, 5, 7, 9}
        assert results[3]["code"] == 409 and results[9]["code"] == 409
        assert results[5]["code"] == 400 and results[7]["code"] == 400
        assert eng.collections["vectors"].retrieve()["num_documents"] == 10 + 30 - 4
        # Every stored document is found by its own vector.
        for i in (0, 1, 2, 4, 6, 8, 10, 29):
            n = 10 + i
            result = search_one(eng, {"collection": "vectors", "q": "*", "vector_query": vq(vectors[n], 1)})
            assert hit_ids(result) == [f"d{n}"]
        assert documents["d2"].retrieve()["n"] == 2  # the existing document is untouched


def test_upsert_of_new_and_existing_documents_in_one_batch(tmp_path: Path) -> None:
    vectors = random_unit_vectors(20, DIMS, seed=6)
    with Engine(tmp_path) as eng:
        eng.collections.create(schema())
        documents = eng.collections["vectors"].documents
        documents.import_(docs(vectors[:10]), {"action": "create"})
        moved = docs(vectors[10:])  # the same ids d0..d9, new vectors
        assert all(r["success"] for r in documents.import_(moved, {"action": "upsert"}))
        fresh = docs(vectors[:10], start=10)
        assert all(r["success"] for r in documents.import_(fresh, {"action": "upsert"}))
    with Engine(tmp_path) as eng:
        for n in range(10):
            params = {"collection": "vectors", "q": "*", "vector_query": vq(vectors[10 + n], 1)}
            assert hit_ids(search_one(eng, params)) == [f"d{n}"]


def test_flat_vectors_rank_exactly_and_break_ties_by_label() -> None:
    vectors = np.array([[1, 0], [0, 1], [1, 0], [2, 0], [-1, 0]], dtype=np.float32)
    found = FlatVectors(np.array([9, 3, 5, 1, 7]), vectors)
    labels, dists = found.search(np.array([3.0, 0.0]), 3)
    assert labels.tolist() == [1, 5, 9]  # three ties at distance 0, by label
    assert dists.tolist() == pytest.approx([0, 0, 0], abs=1e-6)
    labels, _ = found.search(np.array([1.0, 0.0]), 10, exclude={5, 9})
    assert labels.tolist() == [1, 3, 7]


def test_allowed_labels_answer_membership_by_array_and_by_set() -> None:
    allowed = AllowedLabels([9, 4, 7])
    assert allowed.contains(np.array([1, 4, 7, 9, 12])).tolist() == [False, True, True, True, False]
    assert AllowedLabels([]).contains(np.array([1])).tolist() == [False]
    assert allowed.as_set() == {4, 7, 9} and len(allowed) == 3


def test_a_damaged_vector_is_left_out_of_filtered_brute_force(tmp_path: Path) -> None:
    import sqlite3

    vectors = random_unit_vectors(50, DIMS, seed=8)
    with Engine(tmp_path) as eng:
        eng.collections.create(schema())
        eng.collections["vectors"].documents.import_(docs(vectors), {"action": "create"})
    with sqlite3.connect(tmp_path / "photoseek.db") as conn:  # d4 and d14 (group 4): damaged rows
        conn.execute("UPDATE vectors SET vector = ? WHERE label IN (SELECT label FROM documents "
                     "WHERE doc_id IN ('d4', 'd14'))", (b"\x00" * 4 * DIMS,))
        conn.execute("UPDATE vectors SET vector = ? WHERE label = (SELECT label FROM documents "
                     "WHERE doc_id = 'd24')", (b"\x01\x02\x03",))
    (tmp_path / "indexes").rename(tmp_path / "indexes-old")  # rebuilt from the damaged rows
    with Engine(tmp_path) as eng:
        result = search_one(eng, {"collection": "vectors", "q": "*", "vector_query": vq(vectors[4], 10),
                                  "filter_by": "group:=4"})
    assert hit_ids(result) == exact(vectors, vectors[4], [34, 44], 10)  # 4, 14 and 24 are damaged
