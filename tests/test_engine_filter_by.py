"""filter_by: the parser on its own, and filtered vector, keyword and wildcard searches in the engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import (
    TINY_MODEL,
    hit_ids,
    random_unit_vectors,
    search_error,
    search_one,
)
from PIL import Image

from app.engine import Engine
from app.engine.errors import ObjectNotFound, RequestMalformed
from app.engine.filter_by import FILE_FIELDS, parse_filter
from app.shapes import draw_shape, encode_image

SCHEMA_FIELDS = {
    "title": {"name": "title", "type": "string"},
    "tags": {"name": "tags", "type": "string[]"},
    "rank": {"name": "rank", "type": "int32"},
    "score": {"name": "score", "type": "float"},
    "vec": {"name": "vec", "type": "float[]", "num_dim": 4},
}

DOCS = [
    {"title": "Beach", "tags": ["sea", "sun"], "rank": 1, "score": 0.5},
    {"title": "Mountain", "tags": ["snow"], "rank": 5, "score": 2.5},
    {"title": "a, b", "tags": [], "rank": 10, "score": -1.0},
    {"title": "City", "tags": ["night", "sun"], "rank": 7},
]


def matching(text: str) -> list[str]:
    predicate = parse_filter(text, SCHEMA_FIELDS)
    return [d["title"] for d in DOCS if predicate(d)]


# ------------------------------------------------------------------------------------------- parser


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title:=Beach", ["Beach"]),
        ("title:beach", ["Beach"]),
        ("title: MOUNTAIN ", ["Mountain"]),
        ("title:Beac", []),
        ("title:!=Beach", ["Mountain", "a, b", "City"]),
        ("title:[Beach, City]", ["Beach", "City"]),
        ("title:!=[Beach,City]", ["Mountain", "a, b"]),
        ("title:=`a, b`", ["a, b"]),
        ("title:[`a, b`, city]", ["a, b", "City"]),
        ("tags:sun", ["Beach", "City"]),
        ("tags:!=sun", ["Mountain", "a, b"]),
        ("tags:[snow,night]", ["Mountain", "City"]),
        ("rank:5", ["Mountain"]),
        ("rank:=7", ["City"]),
        ("rank:!=7", ["Beach", "Mountain", "a, b"]),
        ("rank:>5", ["a, b", "City"]),
        ("rank:>=5", ["Mountain", "a, b", "City"]),
        ("rank:<5", ["Beach"]),
        ("rank:<=5", ["Beach", "Mountain"]),
        ("rank:[1, 10]", ["Beach", "a, b"]),
        ("rank:[2..7]", ["Mountain", "City"]),
        ("rank:[1..1, 9..12]", ["Beach", "a, b"]),
        ("score:>0.5", ["Mountain"]),
        ("score:<-0.5", ["a, b"]),
        ("score:!=0.5", ["Mountain", "a, b", "City"]),
    ],
)
def test_each_operator(text: str, expected: list[str]) -> None:
    assert matching(text) == expected


def test_and_and_or_read_left_to_right_as_in_typesense() -> None:
    # Typesense 0.24.1 (and its docs since typesense/typesense#2882) give && no precedence over ||:
    # this is (rank:1 || tags:sun) && rank:>5, so Beach (rank 1) is out.
    assert matching("rank:1 || tags:sun && rank:>5") == ["City"]
    assert matching("rank:1 || (tags:sun && rank:>5)") == ["Beach", "City"]
    assert matching("(rank:1 || tags:sun) && rank:>5") == ["City"]
    assert matching("tags:sun && rank:>5 || rank:1") == ["Beach", "City"]
    assert matching("((title:beach))") == ["Beach"]
    assert matching("title:beach&&rank:1||title:city") == ["Beach", "City"]
    assert matching("(title:beach || title:city) && (rank:<2 || rank:>6) && tags:sun") == ["Beach", "City"]


def test_file_fields_are_filterable_without_being_declared() -> None:
    assert FILE_FIELDS["captured_at"] == "int64" and FILE_FIELDS["folder"] == "string"
    predicate = parse_filter("folder:=`/photos/a, b` && file_size:>100", {})
    assert predicate({"folder": "/photos/a, b", "file_size": 200})
    assert not predicate({"folder": "/photos/a, b", "file_size": 50})
    assert not predicate({"folder": "/photos", "file_size": 200})


PARSE = "Could not parse the filter query"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # Typesense 0.24.1's messages, word for word (scripts may match on them).
        ("", f"{PARSE}."),
        ("title", f"{PARSE}."),
        ("title:", "Error with filter field `title`: Filter value cannot be empty."),
        ("(title:beach", f"{PARSE}: unbalanced parentheses."),
        ("title:beach)", f"{PARSE}: unbalanced parentheses."),
        ("title:beach &&", f"{PARSE}: unbalanced `&&` operands."),
        ("|| title:beach", f"{PARSE}: unbalanced `||` operands."),
        ("title:=`beach", f"{PARSE}."),
        ("rank:abc", "Error with filter field `rank`: Numerical field has an invalid comparator."),
        ("rank:", "Error with filter field `rank`: Numerical field has an invalid comparator."),
        ("rank:>abc", "Error with filter field `rank`: Not an int32."),
        ("rank:1.5", "Error with filter field `rank`: Not an int32."),
        ("score:>x", "Error with filter field `score`: Not a float."),
        ("rank:[1..x]", "Error with filter field `rank`: Not an int32."),
        ("rank:>[1,2]", "Error with filter field `rank`: Not an int32."),
        ("title:>3", "`>` needs a numeric field, but `title` is `string`"),
        ("rank:[1,,2]", f"{PARSE}."),
        ("rank:[1,2", f"{PARSE}."),
    ],
)
def test_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(RequestMalformed) as exc:
        parse_filter(text, SCHEMA_FIELDS)
    assert fragment in exc.value.message
    assert exc.value.code == 400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour:red", "Could not find a filter field named `colour` in the schema."),
        ("vec:1", "Cannot filter on vector field `vec`."),
    ],
)
def test_unknown_and_vector_fields_are_not_found_as_in_typesense(text: str, message: str) -> None:
    with pytest.raises(ObjectNotFound) as exc:
        parse_filter(text, SCHEMA_FIELDS)
    assert exc.value.message == message


# ------------------------------------------------------------------------------------------- engine

COLOURS = ("red", "green", "blue", "grey")
COUNT = 200
DIMS = 8


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "data")
    eng.collections.create(
        {
            "name": "vectors",
            "fields": [
                {"name": "title", "type": "string"},
                {"name": "colour", "type": "string"},
                {"name": "n", "type": "int32"},
                {"name": "vec", "type": "float[]", "num_dim": DIMS},
            ],
        }
    )
    vectors = random_unit_vectors(COUNT, DIMS, seed=7)
    docs = [
        {
            "id": f"d{n}",
            "title": f"photo {n} {'rare' if n % 20 == 0 else 'common'}",
            "colour": COLOURS[n % len(COLOURS)],
            "n": n,
            "vec": vectors[n].tolist(),
        }
        for n in range(COUNT)
    ]
    results = eng.collections["vectors"].documents.import_(docs, {"action": "create"})
    assert all(r["success"] for r in results)
    yield eng
    eng.close()


def test_selective_filter_still_returns_k_nearest_matches(engine: Engine) -> None:
    vectors = random_unit_vectors(COUNT, DIMS, seed=7)
    query = random_unit_vectors(1, DIMS, seed=99)[0]
    # 10 of 200 documents match; the unfiltered top 10 would hold about one of them.
    allowed = [n for n in range(COUNT) if n % 20 == 0]
    expected = sorted(allowed, key=lambda n: -float(vectors[n] @ query))[:5]
    result = search_one(
        engine,
        {
            "collection": "vectors",
            "q": "*",
            "vector_query": f"vec:([{','.join(str(float(x)) for x in query)}], k:5)",
            "filter_by": "n:[0, 20, 40, 60, 80, 100, 120, 140, 160, 180]",
        },
    )
    assert hit_ids(result) == [f"d{n}" for n in expected]
    assert result["found"] == 5


def test_filter_with_keyword_search_counts_only_matches(engine: Engine) -> None:
    result = search_one(
        engine,
        {"collection": "vectors", "q": "rare", "query_by": "title", "filter_by": "colour:red && n:<100",
         "per_page": 50},
    )
    assert sorted(hit_ids(result)) == sorted(f"d{n}" for n in (0, 20, 40, 60, 80))
    assert result["found"] == 5


def test_filter_applies_to_both_sides_of_hybrid_search(engine: Engine) -> None:
    query = random_unit_vectors(1, DIMS, seed=5)[0]
    result = search_one(
        engine,
        {
            "collection": "vectors",
            "q": "rare",
            "query_by": "title",
            "vector_query": f"vec:([{','.join(str(float(x)) for x in query)}], k:20)",
            "filter_by": "colour:=green",
            "per_page": 50,
        },
    )
    # Green documents are n % 4 == 1, never a multiple of 20, so no keyword hit survives the filter.
    assert len(result["hits"]) == result["found"] == 20
    assert all(h["document"]["colour"] == "green" for h in result["hits"])
    assert all(h["text_match"] == 0 for h in result["hits"])


def test_wildcard_listing_with_filter_pages_newest_first(engine: Engine) -> None:
    params = {"collection": "vectors", "q": "*", "filter_by": "colour:blue && n:>=100", "per_page": 20}
    first = search_one(engine, {**params, "page": 1})
    second = search_one(engine, {**params, "page": 2})
    third = search_one(engine, {**params, "page": 3})
    wanted = [f"d{n}" for n in range(COUNT - 1, 99, -1) if n % 4 == 2]
    assert first["found"] == second["found"] == len(wanted) == 25
    assert hit_ids(first) + hit_ids(second) == wanted
    assert hit_ids(third) == []
    assert first["out_of"] == COUNT


def test_search_reports_filter_errors(engine: Engine) -> None:
    error = search_error(engine, {"collection": "vectors", "q": "*", "filter_by": "shape:circle"})
    assert error == {"code": 404, "error": "Could not find a filter field named `shape` in the schema."}
    error = search_error(engine, {"collection": "vectors", "q": "*", "filter_by": "n:>"})
    assert error["code"] == 400 and error["error"].startswith("Error with filter field `n`: Not an int")


# ------------------------------------------------------------------------------------------- files


def test_imported_files_carry_metadata_that_filters_use(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "trip").mkdir(parents=True)
    taken = datetime(2021, 6, 5, 14, 30, 0)
    camera = root / "trip" / "camera.jpeg"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = taken.strftime("%Y:%m:%d %H:%M:%S")
    draw_shape("red", "circle", size=(120, 80), seed=1).save(camera, "JPEG", exif=exif)
    plain = root / "trip" / "plain.jpg"
    plain.write_bytes(encode_image(draw_shape("blue", "square", size=64, seed=2), "JPEG"))
    os.utime(plain, (1_600_000_000, 1_600_000_000))
    other = root / "other.png"
    other.write_bytes(encode_image(draw_shape("green", "star", size=64, seed=3), "PNG"))
    os.utime(other, (1_500_000_000.5, 1_500_000_000.5))

    engine = Engine(tmp_path / "data")
    try:
        engine.collections.create(
            {
                "name": "files",
                "fields": [
                    {"name": "name", "type": "string"},
                    {"name": "path", "type": "string"},
                    {"name": "image", "type": "image", "store": False},
                    {"name": "embedding", "type": "float[]",
                     "embed": {"from": ["image"], "model_config": dict(TINY_MODEL)}},
                ],
            }
        )
        docs = engine.collections["files"].documents
        results = docs.import_files([root])
        assert all(r["success"] for r in results)
        by_name = {Path(r["path"]).name: docs[r["id"]].retrieve() for r in results}
        cam = by_name["camera.jpeg"]
        assert cam["folder"] == str((root / "trip").absolute())
        assert (cam["file_type"], cam["width"], cam["height"]) == ("jpg", 120, 80)
        assert cam["captured_at"] == int(taken.timestamp())
        assert by_name["plain.jpg"]["captured_at"] == 1_600_000_000
        assert by_name["other.png"]["captured_at"] == 1_500_000_000
        assert by_name["other.png"]["file_type"] == "png"

        def names(filter_by: str) -> list[str]:
            found = search_one(engine, {"collection": "files", "q": "*", "filter_by": filter_by})
            return sorted(h["document"]["name"] for h in found["hits"])

        trip = str((root / "trip").absolute())
        assert names(f"folder:=`{trip}`") == ["camera.jpeg", "plain.jpg"]
        assert names("file_type:jpg") == ["camera.jpeg", "plain.jpg"]
        assert names("file_type:!=jpg") == ["other.png"]
        june_2021 = (int(datetime(2021, 6, 1).timestamp()), int(datetime(2021, 7, 1).timestamp()))
        assert names(f"captured_at:[{june_2021[0]}..{june_2021[1]}]") == ["camera.jpeg"]
        assert names("captured_at:<1550000000 || width:>100") == ["camera.jpeg", "other.png"]
        query = np.asarray(docs[by_name["plain.jpg"]["id"]].retrieve()["embedding"])
        nearest = search_one(
            engine,
            {"collection": "files", "q": "*", "filter_by": "file_type:png",
             "vector_query": f"embedding:([{','.join(str(float(x)) for x in query)}], k:3)"},
        )
        assert [h["document"]["name"] for h in nearest["hits"]] == ["other.png"]
    finally:
        engine.close()


def test_a_repeated_filter_sees_documents_written_since(engine: Engine) -> None:
    """Matching documents are remembered per filter, but only until the collection changes."""
    params = {"collection": "vectors", "q": "*", "filter_by": "colour:=gold", "per_page": 10}
    assert search_one(engine, params)["found"] == 0
    documents = engine.collections["vectors"].documents
    documents.create({"id": "gold1", "title": "t", "colour": "gold", "n": 1, "vec": [1.0] + [0.0] * 7})
    assert hit_ids(search_one(engine, params)) == ["gold1"]
    vector = {**params, "vector_query": "vec:([1, 0, 0, 0, 0, 0, 0, 0], k:5)"}
    assert hit_ids(search_one(engine, vector)) == ["gold1"]
    documents["gold1"].delete()
    assert search_one(engine, params)["found"] == 0 and search_one(engine, vector)["found"] == 0
