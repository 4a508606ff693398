"""VectorIndex: real hnswlib, checked against numpy brute force."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from app.engine.index import VectorIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, dim: int, clusters: int, seed: int, spread: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((clusters, dim)))
    points = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim))
    return unit(points)


def exact(
    vectors: np.ndarray, labels: np.ndarray, query: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    dists = 1.0 - unit(vectors) @ unit(query)
    order = np.lexsort((labels, dists))[:k]
    return labels[order], dists[order]


@pytest.fixture
def small() -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    vectors = clustered(2000, 32, 20, seed=1)
    labels = np.arange(10, 2010, dtype=np.int64)
    return VectorIndex.build(32, labels, vectors), labels, vectors


# ------------------------------------------------------------------- add / replace / delete


def test_add_get_contains_len() -> None:
    index = VectorIndex(3)
    index.add([5, 7], np.array([[3.0, 0, 0], [0, 2.0, 0]], dtype=np.float32))
    assert len(index) == 2
    assert 5 in index and 7 in index and 6 not in index
    # The cosine space stores unit vectors.
    np.testing.assert_allclose(index.get(5), [1.0, 0, 0], atol=1e-6)
    assert index.get(6) is None
    np.testing.assert_array_equal(index.labels(), [5, 7])


def test_add_replaces_vector_of_live_label() -> None:
    index = VectorIndex(3)
    index.add([1, 2], np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    index.add([1], np.array([0, 0, 1.0]))
    assert len(index) == 2
    np.testing.assert_allclose(index.get(1), [0, 0, 1.0], atol=1e-6)
    labels, dists = index.search(np.array([0, 0, 1.0]), 1)
    assert labels.tolist() == [1]
    assert dists[0] == pytest.approx(0.0, abs=1e-6)


def test_delete_then_readd_gives_live_label_with_new_vector() -> None:
    index = VectorIndex(3)
    index.add([1, 2, 3], np.eye(3))
    index.delete([2])
    assert len(index) == 2 and 2 not in index and index.get(2) is None
    assert 2 not in index.search(np.array([0, 1.0, 0]), 3)[0].tolist()
    assert index.deleted_count == 1

    index.add([2], np.array([1.0, 1.0, 0]))
    assert len(index) == 3 and 2 in index and index.deleted_count == 0
    np.testing.assert_allclose(index.get(2), unit(np.array([1.0, 1.0, 0])), atol=1e-6)
    labels, _ = index.search(np.array([1.0, 1.0, 0]), 1)
    assert labels.tolist() == [2]


def test_delete_absent_or_twice_is_noop() -> None:
    index = VectorIndex(3)
    index.add([1], np.array([1.0, 0, 0]))
    index.delete([99])
    index.delete([1])
    index.delete([1])
    assert len(index) == 0
    labels, dists = index.search(np.array([1.0, 0, 0]), 5)
    assert labels.size == 0 and dists.size == 0


def test_repeated_label_in_one_add_keeps_last_vector() -> None:
    index = VectorIndex(2)
    index.add([4, 4, 4], np.array([[1.0, 0], [1.0, 1.0], [0, 1.0]]))
    assert len(index) == 1
    np.testing.assert_allclose(index.get(4), [0, 1.0], atol=1e-6)


def test_capacity_grows_beyond_initial() -> None:
    vectors = clustered(300, 16, 5, seed=2)
    index = VectorIndex(16, capacity=4)
    for start in range(0, 300, 7):
        index.add(np.arange(start, min(start + 7, 300)), vectors[start : start + 7])
    assert len(index) == 300 and index.capacity >= 300
    for probe in (0, 150, 299):
        labels, _ = index.search(vectors[probe], 1)
        assert labels.tolist() == [probe]


# ------------------------------------------------------------------- bad input


def test_zero_vector_is_rejected() -> None:
    index = VectorIndex(3)
    with pytest.raises(ValueError, match="zero norm"):
        index.add([1, 2], np.array([[1.0, 0, 0], [0, 0, 0]]))
    assert len(index) == 0
    index.add([1], np.array([1.0, 0, 0]))
    with pytest.raises(ValueError, match="zero norm"):
        index.search(np.zeros(3), 1)


def test_wrong_dimension_names_both_lengths() -> None:
    index = VectorIndex(4)
    with pytest.raises(ValueError, match=r"3 dimensions.*expects 4"):
        index.add([1], np.ones(3))
    index.add([1], np.ones(4))
    with pytest.raises(ValueError, match=r"5 dimensions.*expects 4"):
        index.search(np.ones(5), 1)


def test_other_bad_input() -> None:
    index = VectorIndex(2)
    with pytest.raises(ValueError, match="non-negative"):
        index.add([-1], np.ones(2))
    with pytest.raises(ValueError, match="2 labels but 1 vectors"):
        index.add([1, 2], np.ones((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        index.add([1], np.array([np.nan, 1.0]))
    index.add([1], np.ones(2))
    with pytest.raises(ValueError, match="k must be"):
        index.search(np.ones(2), -1)


# ------------------------------------------------------------------- search


def test_distances_are_one_minus_cosine() -> None:
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((50, 8)).astype(np.float32) * 5
    index = VectorIndex.build(8, np.arange(50), raw)
    query = rng.standard_normal(8).astype(np.float32)
    labels, dists = index.search(query, 50)
    expected = 1.0 - unit(raw[labels]) @ unit(query)
    np.testing.assert_allclose(dists, expected, atol=1e-5)
    assert (np.diff(dists) >= 0).all()
    assert dists[-1] > 1.0  # far side of the sphere: distance goes above 1, up to 2


def test_hnsw_agrees_with_brute_force_on_clustered_set(small) -> None:
    index, labels, vectors = small
    queries = clustered(50, 32, 20, seed=4)
    hits = 0
    for query in queries:
        got, got_d = index.search(query, 10)
        want, _ = exact(vectors, labels, query, 10)
        hits += len(set(got.tolist()) & set(want.tolist()))
        # Where both agree on a label, they agree on its distance.
        np.testing.assert_allclose(got_d, 1.0 - unit(vectors[got - 10]) @ query, atol=1e-5)
    assert hits / (10 * len(queries)) >= 0.98


def test_exclude_drops_labels_and_still_returns_k(small) -> None:
    index, _, vectors = small
    query = vectors[0]
    first, _ = index.search(query, 5)
    assert first[0] == 10  # the stored vector itself
    got, _ = index.search(query, 5, exclude={10, int(first[1])})
    assert len(got) == 5
    assert 10 not in got and first[1] not in got
    # Many excluded labels go through the filter path; the result must be the same.
    many = set(range(3000, 3400)) | {10, int(first[1])}
    np.testing.assert_array_equal(index.search(query, 5, exclude=many)[0], got)


def test_k_larger_than_count_returns_all() -> None:
    index = VectorIndex(3)
    index.add([1, 2, 3], np.eye(3) + 0.1)
    labels, dists = index.search(np.array([1.0, 0, 0]), 50)
    assert sorted(labels.tolist()) == [1, 2, 3]
    assert labels[0] == 1 and (np.diff(dists) >= 0).all()
    assert index.search(np.array([1.0, 0, 0]), 50, exclude=[1, 2, 3])[0].size == 0
    assert VectorIndex(3).search(np.ones(3), 5)[0].size == 0


def test_ef_below_k_is_raised_to_k(small) -> None:
    index, _, vectors = small
    labels, dists = index.search(vectors[3], 40, ef=1)
    assert len(labels) == 40 and len(set(labels.tolist())) == 40
    assert (np.diff(dists) >= 0).all()


def test_selective_allowed_filter_still_returns_k(small) -> None:
    index, labels, vectors = small
    allowed_labels = {int(lab) for lab in labels if lab % 100 == 0}  # 1%: 20 of 2000
    query = clustered(1, 32, 20, seed=5)[0]
    mask = np.isin(labels, list(allowed_labels))
    want, want_d = exact(vectors[mask], labels[mask], query, 10)
    for allowed in (allowed_labels, lambda lab: lab % 100 == 0):
        got, got_d = index.search(query, 10, allowed=allowed)
        assert len(got) == 10
        assert set(got.tolist()) <= allowed_labels
        np.testing.assert_allclose(got_d, want_d, atol=1e-5)
        np.testing.assert_array_equal(np.sort(got), np.sort(want))


def test_allowed_filter_with_fewer_than_k_matches_returns_them_all(small) -> None:
    index, _, vectors = small
    got, dists = index.search(vectors[5], 10, allowed={12, 500, 1999, 99999}, exclude=[500])
    assert sorted(got.tolist()) == [12, 1999]
    assert (np.diff(dists) >= 0).all()


def poor_graph() -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    # A deliberately weak graph, so approximate and exact results visibly differ.
    rng = np.random.default_rng(6)
    vectors = unit(rng.standard_normal((3000, 64)))
    labels = np.arange(3000, dtype=np.int64)
    index = VectorIndex(64, M=4, ef_construction=8, capacity=3000)
    index.add(labels, vectors)
    return index, labels, vectors


def test_flat_search_cutoff_gives_exact_results() -> None:
    index, labels, vectors = poor_graph()
    query = unit(np.random.default_rng(7).standard_normal(64))
    want, want_d = exact(vectors, labels, query, 30)
    approx, _ = index.search(query, 30, ef=30)
    assert set(approx.tolist()) != set(want.tolist())  # the weak graph misses true neighbours
    got, got_d = index.search(query, 30, ef=30, flat_search_cutoff=3000)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got_d, want_d, atol=1e-5)
    # Below the cutoff's reach (3000 live > 2999) HNSW is used again.
    assert set(index.search(query, 30, ef=30, flat_search_cutoff=2999)[0].tolist()) == set(approx.tolist())


def test_flat_search_cutoff_counts_allowed_candidates() -> None:
    index, labels, vectors = poor_graph()
    query = unit(np.random.default_rng(8).standard_normal(64))
    allowed = {int(lab) for lab in labels if lab % 3 == 0}  # 1000 candidates
    mask = labels % 3 == 0
    want, _ = exact(vectors[mask], labels[mask], query, 30)
    got, _ = index.search(query, 30, ef=30, allowed=allowed, flat_search_cutoff=1000)
    np.testing.assert_array_equal(got, want)
    got_fn, _ = index.search(query, 30, ef=30, allowed=lambda lab: lab % 3 == 0, flat_search_cutoff=1000)
    np.testing.assert_array_equal(got_fn, want)
    approx, _ = index.search(query, 30, ef=30, allowed=allowed, flat_search_cutoff=999)
    assert set(approx.tolist()) <= allowed and set(approx.tolist()) != set(want.tolist())


def test_higher_ef_does_not_lower_recall() -> None:
    index, labels, vectors = poor_graph()
    queries = unit(np.random.default_rng(9).standard_normal((20, 64)))

    def recall(ef: int) -> float:
        found = 0
        for query in queries:
            want, _ = exact(vectors, labels, query, 10)
            found += len(set(index.search(query, 10, ef=ef)[0].tolist()) & set(want.tolist()))
        return found / 200

    low, high = recall(10), recall(400)
    assert high > 0.7 and high > low + 0.3


# ------------------------------------------------------------------- save / load


def test_save_load_round_trip(tmp_path: Path, small) -> None:
    index, _, vectors = small
    index.delete([10, 11])
    path = tmp_path / "indexes" / "images.embedding.hnsw"
    index.save(path, meta={"seq": 42, "model": "tiny"})
    assert path.exists() and Path(str(path) + ".json").exists()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    loaded = VectorIndex.load(path, 32)
    assert loaded is not None
    again, meta = loaded
    assert meta == {"seq": 42, "model": "tiny"}
    assert len(again) == len(index) == 1998
    assert 10 not in again and again.get(11) is None
    np.testing.assert_array_equal(again.labels(), index.labels())
    for query in clustered(20, 32, 20, seed=10):
        a_labels, a_dists = index.search(query, 10)
        b_labels, b_dists = again.search(query, 10)
        np.testing.assert_array_equal(a_labels, b_labels)
        np.testing.assert_array_equal(a_dists, b_dists)
    # The loaded index keeps working: re-adding a deleted label and growing.
    again.add([10, 5000], vectors[:2])
    assert 10 in again and 5000 in again and len(again) == 2000


def saved(tmp_path: Path, dim: int = 8, n: int = 200) -> Path:
    vectors = clustered(n, dim, 4, seed=11)
    path = tmp_path / "c.f.hnsw"
    VectorIndex.build(dim, np.arange(n), vectors).save(path, meta={"seq": 1})
    return path


def forge_sidecar(path: Path) -> None:
    sidecar_path = Path(str(path) + ".json")
    sidecar = json.loads(sidecar_path.read_text())
    data = path.read_bytes()
    sidecar.update(file_size=len(data), crc32=zlib.crc32(data))
    sidecar_path.write_text(json.dumps(sidecar))


def test_load_missing_returns_none(tmp_path: Path) -> None:
    assert VectorIndex.load(tmp_path / "nothing.hnsw", 8) is None
    path = saved(tmp_path)
    Path(str(path) + ".json").unlink()
    assert VectorIndex.load(path, 8) is None


def test_load_truncated_returns_none(tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert VectorIndex.load(path, 8) is None
    # Even with a sidecar that vouches for the truncated bytes, hnswlib's own check rejects it.
    forge_sidecar(path)
    assert VectorIndex.load(path, 8) is None


def test_load_garbage_returns_none(tmp_path: Path) -> None:
    path = saved(tmp_path)
    path.write_bytes(np.random.default_rng(12).bytes(path.stat().st_size))
    assert VectorIndex.load(path, 8) is None
    forge_sidecar(path)
    assert VectorIndex.load(path, 8) is None
    Path(str(path) + ".json").write_text("{not json")
    assert VectorIndex.load(path, 8) is None


def test_load_dim_mismatch_returns_none(tmp_path: Path) -> None:
    path = saved(tmp_path)
    assert VectorIndex.load(path, 16) is None
    assert VectorIndex.load(path, 8) is not None


def test_load_index_replaced_behind_sidecar_returns_none(tmp_path: Path) -> None:
    path = saved(tmp_path)
    other_dir = tmp_path / "other"
    other = saved(other_dir, n=201)
    other.replace(path)  # a valid index file, but not the one the sidecar describes
    assert VectorIndex.load(path, 8) is None


def test_load_bit_flip_of_same_size_returns_none(tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40  # lands in stored vectors/links: hnswlib itself would load it happily
    path.write_bytes(bytes(data))
    assert VectorIndex.load(path, 8) is None


def test_save_overwrites_previous_files(tmp_path: Path) -> None:
    path = saved(tmp_path)
    index, _ = VectorIndex.load(path, 8)
    index.delete(list(range(100)))
    index.save(path, meta={"seq": 2})
    again, meta = VectorIndex.load(path, 8)
    assert meta == {"seq": 2} and len(again) == 100 and 5 not in again


def test_save_rejects_unserialisable_meta_without_touching_files(tmp_path: Path) -> None:
    path = saved(tmp_path)
    before = path.read_bytes()
    index, _ = VectorIndex.load(path, 8)
    with pytest.raises(TypeError):
        index.save(path, meta={"bad": object()})
    assert path.read_bytes() == before
    assert VectorIndex.load(path, 8) is not None


def test_empty_index_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "empty.hnsw"
    VectorIndex(8).save(path, meta={})
    index, meta = VectorIndex.load(path, 8)
    assert meta == {} and len(index) == 0 and index.labels().size == 0
    assert index.search(np.ones(8), 3)[0].size == 0
    index.add([3], np.ones(8))
    assert index.search(np.ones(8), 3)[0].tolist() == [3]


def test_neighbours_of_all_leaves_each_query_itself_out_and_skips_deleted() -> None:
    rng = np.random.default_rng(3)
    base = rng.standard_normal((50, 16)).astype(np.float32)
    vectors = np.vstack([base, base[:5] + 0.001])  # labels 50..54 are near-copies of 0..4
    labels = np.arange(len(vectors))
    idx = VectorIndex(16, capacity=64)
    idx.add(labels, vectors)
    idx.delete([54])
    found, dists = idx.neighbours_of_all(labels[:54], vectors[:54], 3, ef=32)
    assert found.shape == (54, 3) and dists.shape == (54, 3)
    for i in range(54):
        assert i not in found[i] and 54 not in found[i]
        assert list(dists[i]) == sorted(dists[i])
    for original in range(4):
        assert found[original, 0] == 50 + original and dists[original, 0] < 1e-4
        assert found[50 + original, 0] == original
    assert found[4, 0] != 54  # the deleted copy is not offered

    single = VectorIndex(16)
    single.add([7], base[:1])
    lone, lone_dists = single.neighbours_of_all(np.array([7]), base[:1], 2, ef=8)
    assert lone.tolist() == [[-1, -1]] and np.isinf(lone_dists).all()
