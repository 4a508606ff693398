"""facet_by: value counts and numeric stats over what a search matched, in Typesense's facet_counts shape,
for plain documents and for imported photo files (folder, file_type, captured_at). Real engine, tiny model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from engine_helpers import TINY_MODEL, search_error, search_one
from PIL import Image

from app.engine import Engine
from app.shapes import draw_shape, encode_image

ARTICLES = {
    "name": "articles",
    "fields": [
        {"name": "title", "type": "string"},
        {"name": "topic", "type": "string", "facet": True},
        {"name": "tags", "type": "string[]", "facet": True},
        {"name": "year", "type": "int32", "facet": True},
        {"name": "score", "type": "float", "facet": True, "optional": True},
        {"name": "draft", "type": "bool", "facet": True},
        {"name": "author", "type": "string"},  # not facetable
    ],
}

DOCS = [
    {"title": "sunny beach walk", "topic": "travel", "tags": ["sea", "sun", "sun"], "year": 2021,
     "score": 4.5, "draft": False, "author": "ann"},
    {"title": "beach food", "topic": "food", "tags": ["sea"], "year": 2021, "score": 3.0,
     "draft": True, "author": "bob"},
    {"title": "mountain hike", "topic": "travel", "tags": ["snow"], "year": 2019, "score": 5.0,
     "draft": False, "author": "ann"},
    {"title": "city night", "topic": "travel", "tags": [], "year": 2023, "draft": False, "author": "cy"},
    {"title": "bread", "topic": "food", "tags": ["oven"], "year": 2019, "score": 2.5,
     "draft": False, "author": "bob"},
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "data")
    eng.collections.create(ARTICLES)
    results = eng.collections["articles"].documents.import_(DOCS, {"action": "create"})
    assert all(r["success"] for r in results)
    yield eng
    eng.close()


def facets(engine: Engine, **params) -> dict[str, dict]:
    result = search_one(engine, {"collection": "articles", "q": "*", **params})
    return {entry["field_name"]: entry for entry in result["facet_counts"]}


def counted(entry: dict) -> list[tuple[str, int]]:
    return [(c["value"], c["count"]) for c in entry["counts"]]


def test_no_facet_by_means_no_facet_counts(engine: Engine) -> None:
    assert search_one(engine, {"collection": "articles", "q": "*"})["facet_counts"] == []


def test_string_facet_counts_every_document_of_a_listing_in_typesense_shape(engine: Engine) -> None:
    result = search_one(engine, {"collection": "articles", "q": "*", "per_page": 0, "facet_by": "topic"})
    assert result["hits"] == [] and result["found"] == 5
    assert result["facet_counts"] == [
        {
            "counts": [
                {"count": 3, "highlighted": "travel", "value": "travel"},
                {"count": 2, "highlighted": "food", "value": "food"},
            ],
            "field_name": "topic",
            "sampled": False,
            "stats": {"total_values": 2},
        }
    ]


def test_arrays_count_a_document_once_per_value_and_ties_sort_by_value(engine: Engine) -> None:
    tags = facets(engine, facet_by="tags")["tags"]
    # "sun" appears twice in one document: one document, one count.
    assert counted(tags) == [("sea", 2), ("oven", 1), ("snow", 1), ("sun", 1)]
    assert tags["stats"] == {"total_values": 4}


def test_numeric_facets_carry_stats_over_all_values(engine: Engine) -> None:
    found = facets(engine, facet_by="year, score", max_facet_values=2)
    assert list(found) == ["year", "score"]  # request order
    year = found["year"]
    assert counted(year) == [("2019", 2), ("2021", 2)]  # cut to 2; 2023 still counts in the stats
    assert year["stats"] == {"avg": 2020.6, "max": 2023.0, "min": 2019.0, "sum": 10103.0, "total_values": 3}
    score = found["score"]
    # Only four documents have a score: the one without is simply not counted.
    assert score["stats"] == {"avg": 3.75, "max": 5.0, "min": 2.5, "sum": 15.0, "total_values": 4}
    assert counted(score) == [("2.5", 1), ("3", 1)]


def test_bool_facets_and_default_max_facet_values(engine: Engine) -> None:
    draft = facets(engine, facet_by="draft")["draft"]
    assert counted(draft) == [("false", 4), ("true", 1)]
    many = engine.collections["articles"].documents.import_(
        [
            {"title": f"t{n}", "topic": f"topic {n:02}", "tags": [], "year": 2000, "draft": False,
             "author": "dee"}
            for n in range(12)
        ],
        {"action": "create"},
    )
    assert all(r["success"] for r in many)
    topic = facets(engine, facet_by="topic")["topic"]
    assert len(topic["counts"]) == 10  # Typesense's default max_facet_values
    assert topic["stats"]["total_values"] == 14
    assert counted(topic)[:3] == [("travel", 3), ("food", 2), ("topic 00", 1)]


def test_facets_follow_the_filter(engine: Engine) -> None:
    found = facets(engine, facet_by="topic,year", filter_by="year:<2022", per_page=1)
    assert counted(found["topic"]) == [("food", 2), ("travel", 2)]
    assert counted(found["year"]) == [("2019", 2), ("2021", 2)]


def test_keyword_search_facets_count_the_documents_it_found(engine: Engine) -> None:
    result = search_one(
        engine,
        {"collection": "articles", "q": "beach", "query_by": "title", "facet_by": "topic", "per_page": 1},
    )
    assert result["found"] == 2 and len(result["hits"]) == 1
    # Facets cover every match, not just the page.
    assert counted(result["facet_counts"][0]) == [("food", 1), ("travel", 1)]


def test_unfacetable_fields_are_404(engine: Engine) -> None:
    for field in ("author", "nothing", "title"):
        error = search_error(engine, {"collection": "articles", "q": "*", "facet_by": field})
        assert error == {"code": 404, "error": f"Could not find a facet field named `{field}` in the schema."}
    error = search_error(
        engine, {"collection": "articles", "q": "*", "facet_by": "topic", "max_facet_values": "many"}
    )
    assert error["code"] == 400 and "max_facet_values" in error["error"]


# ------------------------------------------------------------------------------------------- files


def _write_exif_jpeg(path: Path, taken: datetime, colour: str, shape: str, seed: int) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = taken.strftime("%Y:%m:%d %H:%M:%S")
    draw_shape(colour, shape, size=64, seed=seed).save(path, "JPEG", exif=exif)


def test_imported_photos_facet_by_folder_type_and_date(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    beach, garden = root / "beach", root / "my garden, 2023"
    beach.mkdir(parents=True)
    garden.mkdir()
    taken = datetime(2021, 6, 5, 14, 30, 0)
    for n in range(3):
        _write_exif_jpeg(beach / f"sea-{n}.jpeg", taken, "blue", "square", n)
    for n in range(2):
        path = garden / f"rose-{n}.png"
        path.write_bytes(encode_image(draw_shape("red", "circle", size=64, seed=n), "PNG"))
        os.utime(path, (1_600_000_000 + n, 1_600_000_000 + n))

    engine = Engine(tmp_path / "data")
    try:
        engine.collections.create(
            {
                "name": "files",
                "fields": [
                    {"name": "name", "type": "string"},
                    {"name": "image", "type": "image", "store": False},
                    {"name": "embedding", "type": "float[]",
                     "embed": {"from": ["image"], "model_config": dict(TINY_MODEL)}},
                ],
            }
        )
        results = engine.collections["files"].documents.import_files([root])
        assert len(results) == 5 and all(r["success"] for r in results)

        def search(**params) -> dict:
            return search_one(engine, {"collection": "files", "q": "*", "per_page": 0, **params})

        listing = search(facet_by="folder,file_type,captured_at", max_facet_values=500)
        by_field = {e["field_name"]: e for e in listing["facet_counts"]}
        assert counted(by_field["folder"]) == [(str(beach.absolute()), 3), (str(garden.absolute()), 2)]
        assert counted(by_field["file_type"]) == [("jpg", 3), ("png", 2)]
        dates = by_field["captured_at"]
        assert counted(dates) == [(str(int(taken.timestamp())), 3), ("1600000000", 1), ("1600000001", 1)]
        assert dates["stats"]["min"] == 1_600_000_000.0
        assert dates["stats"]["max"] == float(int(taken.timestamp()))

        # A folder name with a comma and spaces, backquoted as filter_by expects, narrows the facets.
        in_garden = search(facet_by="file_type", filter_by=f"folder:[`{garden.absolute()}`]")
        assert in_garden["found"] == 2
        assert counted(in_garden["facet_counts"][0]) == [("png", 2)]

        # A vector search's facets count the hits it found (k caps them).
        red = search_one(
            engine,
            {"collection": "files", "q": "a red circle", "query_by": "embedding", "facet_by": "folder",
             "vector_query": "embedding:([], k:2)"},
        )
        assert [h["document"]["file_type"] for h in red["hits"]] == ["png", "png"]
        assert counted(red["facet_counts"][0]) == [(str(garden.absolute()), 2)]

        # Schema-less file fields that are not file metadata stay unfacetable.
        error = search_error(engine, {"collection": "files", "q": "*", "facet_by": "colour"})
        assert error["code"] == 404
    finally:
        engine.close()
