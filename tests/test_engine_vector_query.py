"""vector_query: the parser's grammar and errors, and what each parameter does to real searches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import (
    TINY_MODEL,
    Library,
    class_of,
    hit_ids,
    open_shared_library,
    random_unit_vectors,
    search_error,
    search_one,
    vector_schema,
)

from app.engine import Engine, RequestMalformed
from app.engine.embedder import load_embedder
from app.engine.models import resolve_model
from app.engine.vector_query import parse_vector_query

DIMS = 8
COUNT = 60


# ------------------------------------------------------------------------------------------- parser


def test_parse_seed_page_forms() -> None:
    by_id = parse_vector_query("embedding:([], id:123)")
    assert (by_id.field, by_id.values, by_id.id, by_id.image) == ("embedding", [], "123", None)
    by_image = parse_vector_query("embedding:([], image:iVBORw0KGgo+/AAA=)")
    assert by_image.image == "iVBORw0KGgo+/AAA=" and by_image.id is None


def test_parse_every_key() -> None:
    vq = parse_vector_query(
        " vec : ( [0.5, -2, 3e-1 ,4] , k: 7, distance_threshold:0.25, ef:128, flat_search_cutoff:20,"
        " alpha:0.4 ) "
    )
    assert vq.field == "vec"
    assert vq.values == [0.5, -2.0, 0.3, 4.0]
    assert (vq.k, vq.distance_threshold, vq.ef, vq.flat_search_cutoff, vq.alpha) == (7, 0.25, 128, 20, 0.4)


def test_parse_queries_with_backquoted_commas_and_weights() -> None:
    vq = parse_vector_query(
        "embedding:([], queries:[a red circle, `blue, square`], query_weights:[0.7, 0.3])"
    )
    assert vq.queries == ["a red circle", "blue, square"]
    assert vq.query_weights == [0.7, 0.3]


def test_parse_data_url_image_keeps_its_comma() -> None:
    vq = parse_vector_query("embedding:([], image:data:image/png;base64,iVBORw0K, k:3)")
    assert vq.image == "data:image/png;base64,iVBORw0K"
    assert vq.k == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "it is empty"),
        ("embedding", "Malformed vector query string."),
        ("embedding:[1, 2]", "Malformed vector query string."),
        ("embedding:(id:1)", "Malformed vector query string."),
        ("embedding:([1, 2)", "unbalanced `[`"),
        ("embedding:([1, 2]], k:1)", "unbalanced `]`"),
        ("embedding:([1, two])", "`two`, which is not a number"),
        ("embedding:([1, nan])", "not a finite number"),
        ("embedding:([], k:abc)", "`k` must be an integer, got `abc`"),
        ("embedding:([], k:0)", "`k` must be a positive integer"),
        ("embedding:([], k:-3)", "`k` must be a positive integer"),
        ("embedding:([], ef:0)", "`ef` must be a positive integer"),
        ("embedding:([], flat_search_cutoff:-1)", "`flat_search_cutoff` must be a positive integer"),
        ("embedding:([], distance_threshold:3)", "between 0 and 2"),
        ("embedding:([], distance_threshold:far)", "`distance_threshold` must be a number"),
        ("embedding:([], alpha:1.5)", "`alpha` must be between 0 and 1"),
        ("embedding:([], colour:red)", "unknown parameter `colour`"),
        ("embedding:([], id:1, id:2)", "`id` is given twice"),
        ("embedding:([], , k:1)", "stray comma"),
        ("embedding:([], id)", "must be written as `key:value`"),
        ("embedding:([], queries:red)", "`queries` must be a list in square brackets"),
        ("embedding:([], queries:[`a, b)", "unterminated backquote"),
        ("embedding:([], query_weights:[0.5, x])", "`x`, which is not a number"),
    ],
)
def test_malformed_vector_query_is_a_clear_400(text: str, expected: str) -> None:
    with pytest.raises(RequestMalformed) as exc:
        parse_vector_query(text)
    assert exc.value.code == 400
    assert exc.value.message.startswith("Malformed vector query string")
    assert expected in exc.value.message


# ------------------------------------------------------------------------ explicit vectors, plain field


@pytest.fixture
def vectors(tmp_path: Path) -> Iterator[tuple[Engine, np.ndarray]]:
    """A plain float[] collection whose documents ``d0..d59`` carry their own vectors."""
    engine = Engine(tmp_path / "data")
    engine.collections.create(vector_schema("vectors", DIMS))
    rows = random_unit_vectors(COUNT, DIMS, seed=7)
    docs = [{"id": f"d{i}", "title": f"item {i}", "vec": rows[i].tolist()} for i in range(COUNT)]
    assert all(r["success"] for r in engine.collections["vectors"].documents.import_(docs))
    yield engine, rows
    engine.close()


def brute_force(
    rows: np.ndarray, query: np.ndarray, exclude: int | None = None
) -> tuple[list[str], np.ndarray]:
    unit = query / np.linalg.norm(query)
    dists = 1.0 - rows @ unit
    order = [i for i in np.argsort(dists, kind="stable") if i != exclude]
    return [f"d{i}" for i in order], dists[order]


def vq_search(engine: Engine, vector_query: str, **params: object) -> dict:
    return search_one(engine, {"collection": "vectors", "q": "*", "vector_query": vector_query, **params})


def fmt(vector: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:.8f}" for x in vector) + "]"


def test_explicit_vector_returns_nearest_in_order_with_cosine_distances(vectors) -> None:
    engine, rows = vectors
    query = np.random.default_rng(1).standard_normal(DIMS)
    expected_ids, expected_dists = brute_force(rows, query)
    result = vq_search(engine, f"vec:({fmt(query)})")
    assert hit_ids(result) == expected_ids[:10]
    got = [hit["vector_distance"] for hit in result["hits"]]
    np.testing.assert_allclose(got, expected_dists[:10], atol=1e-5)
    assert got == sorted(got)
    assert result["found"] == 10 and result["out_of"] == COUNT


def test_k_caps_hits_and_defaults_to_page_times_per_page(vectors) -> None:
    engine, rows = vectors
    query = rows[3] + rows[40]
    expected_ids, _ = brute_force(rows, query)
    capped = vq_search(engine, f"vec:({fmt(query)}, k:3)")
    assert hit_ids(capped) == expected_ids[:3] and capped["found"] == 3
    second_page = vq_search(engine, f"vec:({fmt(query)})", page=2, per_page=4)
    assert hit_ids(second_page) == expected_ids[4:8]
    assert second_page["found"] == 8  # k defaulted to page x per_page
    wide = vq_search(engine, f"vec:({fmt(query)}, k:25)", per_page=5)
    assert hit_ids(wide) == expected_ids[:5] and wide["found"] == 25


def test_distance_threshold_drops_farther_hits(vectors) -> None:
    engine, rows = vectors
    query = rows[10]
    expected_ids, expected_dists = brute_force(rows, query)
    threshold = float((expected_dists[5] + expected_dists[6]) / 2)  # exactly six documents are this close
    result = vq_search(engine, f"vec:({fmt(query)}, distance_threshold:{threshold:.6f}, k:30)", per_page=30)
    assert hit_ids(result) == expected_ids[:6]
    assert result["found"] == 6
    assert all(hit["vector_distance"] <= threshold for hit in result["hits"])


def test_flat_search_cutoff_and_large_ef_give_exact_results(vectors) -> None:
    engine, rows = vectors
    for seed in range(5):
        query = np.random.default_rng(100 + seed).standard_normal(DIMS)
        expected_ids, _ = brute_force(rows, query)
        flat = vq_search(engine, f"vec:({fmt(query)}, flat_search_cutoff:{COUNT}, k:20)", per_page=20)
        assert hit_ids(flat) == expected_ids[:20]
        wide_ef = vq_search(engine, f"vec:({fmt(query)}, ef:{COUNT * 2}, k:20)", per_page=20)
        assert hit_ids(wide_ef) == expected_ids[:20]
    # An ef below k still returns k hits: the walk widens to k.
    narrow = vq_search(engine, f"vec:({fmt(rows[0])}, ef:1, k:10)")
    assert len(narrow["hits"]) == 10


def test_id_query_excludes_the_document_and_matches_brute_force(vectors) -> None:
    engine, rows = vectors
    result = vq_search(engine, "vec:([], id:d17, k:12)", per_page=12)
    expected_ids, expected_dists = brute_force(rows, rows[17], exclude=17)
    assert "d17" not in hit_ids(result)
    assert hit_ids(result) == expected_ids[:12]
    np.testing.assert_allclose([h["vector_distance"] for h in result["hits"]], expected_dists[:12], atol=1e-5)


def test_vector_query_errors(vectors) -> None:
    engine, _ = vectors
    unknown = search_error(engine, {"collection": "vectors", "q": "*", "vector_query": "vec:([], id:nope)"})
    assert unknown == {"code": 400, "error": "Document id referenced in vector query is not found."}
    empty = search_error(engine, {"collection": "vectors", "q": "*", "vector_query": "vec:([])"})
    assert empty == {
        "code": 400,
        "error": "When a vector query value is empty, an `id` parameter must be present.",
    }
    wrong = search_error(engine, {"collection": "vectors", "q": "*", "vector_query": "vec:([1, 2, 3])"})
    assert wrong["code"] == 400 and "8" in wrong["error"] and "3" in wrong["error"]
    assert "must have 8 dimensions, but the query vector has 3" in wrong["error"]
    not_vector = search_error(engine, {"collection": "vectors", "q": "*", "vector_query": "title:([1])"})
    assert not_vector["code"] == 400 and "`title`" in not_vector["error"]
    unknown_field = search_error(engine, {"collection": "vectors", "q": "*", "vector_query": "nope:([1])"})
    assert unknown_field["code"] == 400 and "`nope`" in unknown_field["error"]
    no_model = search_error(
        engine, {"collection": "vectors", "q": "*", "vector_query": "vec:([], image:AAAA)"}
    )
    assert no_model["code"] == 400 and "no model to embed" in no_model["error"]


def test_degenerate_vectors_are_400s_and_never_stored(vectors, tmp_path: Path) -> None:
    engine, _ = vectors
    for vector_query, expected in (
        ("vec:([0, 0, 0, 0, 0, 0, 0, 0])", "all zeros"),
        ("vec:([1e39, 0, 0, 0, 0, 0, 0, 1])", "32-bit float"),
        (["vec:([], id:d1)"], "must be a string"),
    ):
        error = search_error(engine, {"collection": "vectors", "q": "*", "vector_query": vector_query})
        assert error["code"] == 400 and expected in error["error"]
    docs = engine.collections["vectors"].documents
    results = docs.import_(
        [
            {"id": "zero", "title": "z", "vec": [0.0] * DIMS},
            {"id": "huge", "title": "h", "vec": [1e39] + [1.0] * (DIMS - 1)},
            {"id": "short", "title": "s", "vec": [1.0, 2.0]},
            {"id": "fine", "title": "f", "vec": [1.0] * DIMS},
        ]
    )
    assert [r["success"] for r in results] == [False, False, False, True]
    assert "all-zero" in results[0]["error"]
    assert "32-bit float" in results[1]["error"]
    assert "`vec`" in results[2]["error"] and "8" in results[2]["error"]
    # Nothing unusable reached the database: a rebuilt index takes every stored vector.
    engine.close()
    for path in (engine.data_dir / "indexes").glob("*"):
        path.unlink()
    with Engine(engine.data_dir) as reopened:
        found = vq_search(reopened, "vec:([], id:fine, k:100)")["found"]
        assert found == COUNT


def test_malformed_query_fails_alone_inside_multi_search(vectors) -> None:
    engine, rows = vectors
    body = {
        "searches": [
            {"collection": "vectors", "q": "*", "vector_query": f"vec:({fmt(rows[2])}, k:2)"},
            {"collection": "vectors", "q": "*", "vector_query": "vec:([], k:zero)"},
            {"collection": "vectors", "q": "*", "vector_query": "vec:([], id:d2, ef:0)"},
            {"collection": "vectors", "q": "*", "vector_query": "vec:([], id:d2, k:1)"},
        ]
    }
    first, bad, bad_ef, last = engine.multi_search.perform(body)["results"]
    assert hit_ids(first)[0] == "d2"
    assert bad["code"] == 400 and "`k` must be an integer" in bad["error"]
    assert bad_ef["code"] == 400 and "`ef` must be a positive integer" in bad_ef["error"]
    assert len(last["hits"]) == 1 and hit_ids(last) != ["d2"]


# ------------------------------------------------------------------------ model-backed keys (tiny CLIP)


@pytest.fixture
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    with open_shared_library(tmp_path_factory) as lib:
        yield lib


def lib_search(lib: Library, **params: object) -> dict:
    return search_one(lib.engine, {"collection": lib.collection, **params})


def test_queries_with_weights_follow_the_weighted_text(library: Library) -> None:
    red = lib_search(library, q="a red circle", query_by="embedding")
    blue = lib_search(library, q="a blue square", query_by="embedding")
    both_queries = "embedding:([], queries:[a red circle, a blue square]"
    only_red = lib_search(library, q="*", vector_query=f"{both_queries}, query_weights:[1, 0])")
    only_blue = lib_search(library, q="*", vector_query=f"{both_queries}, query_weights:[0, 1])")
    assert hit_ids(only_red) == hit_ids(red)
    assert hit_ids(only_blue) == hit_ids(blue)
    # Without weights the queries count equally: the same as searching with the mean of their embeddings.
    both = lib_search(library, q="*", per_page=20, vector_query=f"{both_queries})")
    red_vec, blue_vec = load_embedder(resolve_model(TINY_MODEL)).embed_texts(
        ["a red circle", "a blue square"]
    )
    mean = lib_search(
        library, q="*", per_page=20, vector_query=f"embedding:({fmt((red_vec + blue_vec) / 2)})"
    )
    assert hit_ids(both) == hit_ids(mean)
    np.testing.assert_allclose(
        [h["vector_distance"] for h in both["hits"]], [h["vector_distance"] for h in mean["hits"]], atol=1e-5
    )
    weighted = lib_search(
        library, q="*", per_page=3, vector_query=f"{both_queries}, query_weights:[0.9, 0.1])"
    )
    assert {class_of(doc_id) for doc_id in hit_ids(weighted)} == {("red", "circle")}


def test_stored_vector_as_explicit_query_finds_itself_first(library: Library) -> None:
    doc = library.documents["green-star-1"].retrieve()
    vector = doc["embedding"]
    result = lib_search(library, q="*", vector_query=f"embedding:({fmt(np.asarray(vector))}, k:3)")
    assert hit_ids(result)[0] == "green-star-1"
    assert result["hits"][0]["vector_distance"] == pytest.approx(0.0, abs=1e-5)


def test_weights_that_do_not_match_queries_are_rejected(library: Library) -> None:
    error = search_error(
        library.engine,
        {
            "collection": library.collection,
            "q": "*",
            "vector_query": "embedding:([], queries:[a red circle, a blue square], query_weights:[1])",
        },
    )
    assert error["code"] == 400 and "query_weights" in error["error"]
