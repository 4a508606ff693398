"""Near-duplicate groups: planted copies come back as groups, nothing else does."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import random_unit_vectors, seed_schema, vector_schema

from app.engine import Engine
from app.engine.errors import RequestMalformed
from app.shapes import draw_shape, encode_image

DIMS = 32


def _at_distance(base: np.ndarray, distance: float, seed: int) -> np.ndarray:
    """A unit vector exactly ``distance`` (1 - cosine) away from the unit vector ``base``."""
    other = np.random.default_rng(seed).standard_normal(base.shape)
    other -= (other @ base) * base
    other /= np.linalg.norm(other)
    cos = 1.0 - distance
    return (cos * base + np.sqrt(1.0 - cos * cos) * other).astype(np.float32)


def _vector_engine(data_dir: Path, vectors: dict[str, np.ndarray], extra: dict | None = None) -> Engine:
    engine = Engine(data_dir)
    engine.collections.create(vector_schema(dims=DIMS))
    docs = [
        {"id": doc_id, "title": f"photo {doc_id}", "vec": vec.tolist(), **((extra or {}).get(doc_id, {}))}
        for doc_id, vec in vectors.items()
    ]
    results = engine.collections["vectors"].documents.import_(docs, {"action": "create"})
    assert all(r["success"] for r in results), results[:3]
    return engine


def _id_groups(groups: list[dict]) -> list[set[str]]:
    return [{doc["id"] for doc in group["documents"]} for group in groups]


def test_planted_groups_come_back_and_random_photos_do_not(tmp_path: Path) -> None:
    randoms = random_unit_vectors(300, DIMS, seed=1)
    vectors = {f"r{i}": vec for i, vec in enumerate(randoms)}
    planted = []
    rng = np.random.default_rng(7)
    for g, size in enumerate((4, 3, 2)):
        base = random_unit_vectors(1, DIMS, seed=100 + g)[0]
        ids = set()
        for copy in range(size):
            noisy = base + rng.standard_normal(DIMS).astype(np.float32) * 0.002
            vectors[f"g{g}-{copy}"] = noisy / np.linalg.norm(noisy)
            ids.add(f"g{g}-{copy}")
        planted.append(ids)

    with _vector_engine(tmp_path, vectors) as engine:
        groups = engine.collections["vectors"].documents.find_duplicates()

    assert _id_groups(groups) == planted  # largest group first
    assert [g["size"] for g in groups] == [4, 3, 2]
    for group in groups:
        assert 0.0 <= group["max_distance"] <= 0.05
        for doc in group["documents"]:
            assert set(doc) == {"id", "title"}  # stored bodies, no vectors


def test_pair_just_above_threshold_is_not_grouped(tmp_path: Path) -> None:
    base = random_unit_vectors(1, DIMS, seed=3)[0]
    vectors = {
        "a": base,
        "b": _at_distance(base, 0.06, seed=4),
        **{f"r{i}": v for i, v in enumerate(random_unit_vectors(50, DIMS, seed=5))},
    }
    with _vector_engine(tmp_path, vectors) as engine:
        documents = engine.collections["vectors"].documents
        assert documents.find_duplicates(threshold=0.05) == []
        (group,) = documents.find_duplicates(threshold=0.065)
        assert {d["id"] for d in group["documents"]} == {"a", "b"}
        assert group["max_distance"] == pytest.approx(0.06, abs=1e-4)


def test_chain_of_close_pairs_forms_one_group(tmp_path: Path) -> None:
    a = random_unit_vectors(1, DIMS, seed=11)[0]
    direction = _at_distance(a, 1.0, seed=12)  # orthogonal to a: a, b, c lie on one great circle
    angle = np.arccos(1.0 - 0.03)
    b = (np.cos(angle) * a + np.sin(angle) * direction).astype(np.float32)
    c = (np.cos(2 * angle) * a + np.sin(2 * angle) * direction).astype(np.float32)
    assert 1.0 - float(a @ c) > 0.1  # a and c alone would not be duplicates
    vectors = {
        "a": a,
        "b": b,
        "c": c,
        **{f"r{i}": v for i, v in enumerate(random_unit_vectors(50, DIMS, 13))},
    }
    with _vector_engine(tmp_path, vectors) as engine:
        (group,) = engine.collections["vectors"].documents.find_duplicates(threshold=0.05)
    assert {d["id"] for d in group["documents"]} == {"a", "b", "c"}
    assert group["size"] == 3
    assert group["max_distance"] == pytest.approx(0.03, abs=1e-4)


def test_deleted_documents_do_not_appear(tmp_path: Path) -> None:
    base = random_unit_vectors(1, DIMS, seed=21)[0]
    vectors = {f"copy{i}": _at_distance(base, 0.001 * (i + 1), seed=22 + i) for i in range(3)}
    vectors.update({f"r{i}": v for i, v in enumerate(random_unit_vectors(30, DIMS, seed=30))})
    with _vector_engine(tmp_path, vectors) as engine:
        documents = engine.collections["vectors"].documents
        assert _id_groups(documents.find_duplicates()) == [{"copy0", "copy1", "copy2"}]
        documents["copy1"].delete()
        (group,) = documents.find_duplicates()
        assert {d["id"] for d in group["documents"]} == {"copy0", "copy2"}
        documents["copy2"].delete()
        assert documents.find_duplicates() == []


@pytest.mark.parametrize("damage", [b"\x00\x01\x02", np.full(DIMS, np.nan, dtype=np.float32).tobytes()])
def test_a_damaged_vector_row_is_left_out_not_fatal(tmp_path: Path, damage: bytes) -> None:
    # A row of another length (a damaged disk) or of NaNs (written by an older version) used to make the
    # whole search fail; the index leaves such rows out, and so does the duplicate finder.
    base = random_unit_vectors(1, DIMS, seed=21)[0]
    vectors = {f"copy{i}": _at_distance(base, 0.001 * (i + 1), seed=22 + i) for i in range(2)}
    vectors.update({f"r{i}": v for i, v in enumerate(random_unit_vectors(10, DIMS, seed=30))})
    with _vector_engine(tmp_path, vectors) as engine:
        db = engine.db
        label = db._conn.execute("SELECT label FROM documents WHERE doc_id = 'r0'").fetchone()[0]
        with db._conn:
            db._conn.execute("UPDATE vectors SET vector = ? WHERE label = ?", (damage, label))
        groups = engine.collections["vectors"].documents.find_duplicates()
        assert _id_groups(groups) == [{"copy0", "copy1"}]


def test_best_copy_comes_first(tmp_path: Path) -> None:
    base = random_unit_vectors(1, DIMS, seed=41)[0]
    vectors = {name: _at_distance(base, 0.001 * (i + 1), seed=42 + i) for i, name in enumerate("abcd")}
    extra = {
        "a": {"width": 800, "height": 600, "file_size": 90_000},
        "b": {"width": 4000, "height": 3000, "file_size": 10_000},
        "c": {"width": 4000, "height": 3000, "file_size": 50_000},
        "d": {},
    }
    with _vector_engine(tmp_path, vectors, extra) as engine:
        (group,) = engine.collections["vectors"].documents.find_duplicates()
    assert [d["id"] for d in group["documents"]] == ["c", "b", "a", "d"]


def test_limit_groups_keeps_the_largest(tmp_path: Path) -> None:
    vectors = {}
    for g, size in enumerate((2, 3)):
        base = random_unit_vectors(1, DIMS, seed=50 + g)[0]
        vectors.update({f"g{g}-{i}": _at_distance(base, 0.001 * (i + 1), seed=60 + i) for i in range(size)})
    with _vector_engine(tmp_path, vectors) as engine:
        documents = engine.collections["vectors"].documents
        (group,) = documents.find_duplicates(limit_groups=1)
        assert group["size"] == 3
        assert len(documents.find_duplicates(limit_groups=5)) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": -0.01}, "between 0 and 2"),
        ({"threshold": 2.5}, "between 0 and 2"),
        ({"threshold": "0.1"}, "between 0 and 2"),
        ({"field": "title"}, "`title` is not a vector field"),
        ({"field": "nope"}, "`nope` is not a vector field"),
        ({"limit_groups": -1}, "limit_groups"),
    ],
)
def test_bad_arguments_are_rejected(tmp_path: Path, kwargs: dict, message: str) -> None:
    vectors = {f"r{i}": v for i, v in enumerate(random_unit_vectors(3, DIMS, seed=70))}
    with _vector_engine(tmp_path, vectors) as engine, pytest.raises(RequestMalformed, match=message):
        engine.collections["vectors"].documents.find_duplicates(**kwargs)


def test_collection_without_vector_field_is_rejected(tmp_path: Path) -> None:
    with Engine(tmp_path) as engine:
        engine.collections.create({"name": "plain", "fields": [{"name": "title", "type": "string"}]})
        with pytest.raises(RequestMalformed, match="no vector field"):
            engine.collections["plain"].documents.find_duplicates()


def test_re_encoded_and_rescaled_pictures_group_with_the_tiny_model(tmp_path: Path) -> None:
    # Measured with the tiny model: the copies below sit <= 0.0001 apart; another drawing of a red circle
    # is ~0.09 away and other colours/shapes 0.25 and beyond, so the default threshold splits them.
    original = draw_shape("red", "circle", size=128, seed=3)
    pictures = {
        "jpeg95": encode_image(original, "JPEG", 95),
        "png": encode_image(original, "PNG"),
        "smaller": encode_image(original.resize((96, 96)), "PNG"),
        "bigger": encode_image(original.resize((200, 200)), "JPEG", 95),
        "other-red-circle": encode_image(draw_shape("red", "circle", size=128, seed=4), "PNG"),
        "red-square": encode_image(draw_shape("red", "square", size=128, seed=3), "PNG"),
        "blue-circle": encode_image(draw_shape("blue", "circle", size=128, seed=3), "PNG"),
        "green-star": encode_image(draw_shape("green", "star", size=128, seed=3), "PNG"),
        "yellow-ring": encode_image(draw_shape("yellow", "ring", size=128, seed=3), "PNG"),
    }
    with Engine(tmp_path) as engine:
        engine.collections.create(seed_schema())
        documents = engine.collections["images"].documents
        docs = [{"id": k, "name": k, "image": base64.b64encode(v).decode()} for k, v in pictures.items()]
        assert all(r["success"] for r in documents.import_(docs, {"action": "create"}))
        groups = documents.find_duplicates()
    assert _id_groups(groups) == [{"jpeg95", "png", "smaller", "bigger"}]
    assert all("image" not in doc for doc in groups[0]["documents"])  # store:false stays unstored
