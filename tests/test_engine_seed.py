"""Every example of the seed page (Typesense's image-search guide), run as dicts through the engine.

The page's model `ts/clip-vit-b-p32` has no weights on a test machine, so its schemas are created verbatim
(which needs only the model's metadata) and the examples then run with `photoseek/tiny-shapes` swapped in.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import SEED_MODEL, TINY_MODEL, class_of, hit_ids, search_one, seed_schema, shape_b64

from app.engine import Engine, ModelUnavailable

# The page's two schemas, as printed there.
SEED_SCHEMA_IMAGE = {
    "name": "images",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "image", "type": "image", "store": False},
        {
            "name": "embedding",
            "type": "float[]",
            "embed": {"from": ["image"], "model_config": {"model_name": "ts/clip-vit-b-p32"}},
        },
    ],
}
SEED_SCHEMA_NAME_AND_IMAGE = copy.deepcopy(SEED_SCHEMA_IMAGE)
SEED_SCHEMA_NAME_AND_IMAGE["fields"][2]["embed"]["from"] = ["name", "image"]

# The page's three multi_search bodies, with the placeholder image filled in per test.
TEXT_SEARCH = {"searches": [{"collection": "images", "q": "animals", "query_by": "embedding"}]}
ID_SEARCH = {"searches": [{"collection": "images", "q": "*", "vector_query": "embedding:([], id:123)"}]}
IMAGE_SEARCH_TEMPLATE = "embedding:([], image:BASE64_REPRESENTATION_OF_IMAGE)"

CLASSES = [
    ("red", "circle"),
    ("blue", "square"),
    ("green", "triangle"),
    ("yellow", "star"),
    ("black", "ring"),
]


def with_tiny_model(schema: dict) -> dict:
    swapped = copy.deepcopy(schema)
    swapped["fields"][2]["embed"]["model_config"] = dict(TINY_MODEL)
    return swapped


def test_helper_schema_is_the_seed_schema() -> None:
    assert seed_schema(("image",), SEED_MODEL) == SEED_SCHEMA_IMAGE
    assert seed_schema(("name", "image"), SEED_MODEL) == SEED_SCHEMA_NAME_AND_IMAGE


@pytest.mark.parametrize(
    "schema", [SEED_SCHEMA_IMAGE, SEED_SCHEMA_NAME_AND_IMAGE], ids=["image", "name+image"]
)
def test_seed_schema_with_its_model_missing_fails_clearly_on_import(tmp_path: Path, schema: dict) -> None:
    with Engine(tmp_path / "data") as engine:
        created = engine.collections.create(copy.deepcopy(schema))
        assert created["fields"][2]["num_dim"] == 512
        with pytest.raises(ModelUnavailable) as exc:
            engine.collections["images"].documents.import_(
                [{"name": "x", "image": shape_b64("red", "circle")}]
            )
        assert "ts/clip-vit-b-p32" in exc.value.message
        assert engine.collections["images"].retrieve()["num_documents"] == 0


@pytest.fixture(params=[SEED_SCHEMA_IMAGE, SEED_SCHEMA_NAME_AND_IMAGE], ids=["image", "name+image"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The page's collection (tiny model) holding the page's document example and a few more pictures."""
    engine = Engine(tmp_path / "data")
    engine.collections.create(with_tiny_model(request.param))
    docs = engine.collections["images"].documents
    # The page's document example, exactly in its shape.
    created = docs.create({"name": "an image with a dog", "image": shape_b64("orange", "cross")})
    assert created["name"] == "an image with a dog" and "image" not in created
    lines = []
    for n, (colour, shape) in enumerate(CLASSES):
        for seed in range(2):
            doc_id = "123" if (colour, shape, seed) == ("red", "circle", 0) else f"{colour}-{shape}-{seed}"
            fmt = ("JPEG", "PNG", "BMP")[(n + seed) % 3]
            lines.append(
                json.dumps(
                    {
                        "id": doc_id,
                        "name": f"a {colour} {shape}",
                        "image": shape_b64(colour, shape, seed, fmt),
                    }
                )
            )
    results = docs.import_("\n".join(lines), {"action": "create"})
    assert [json.loads(line) for line in results.splitlines()] == [{"success": True}] * len(lines)
    yield engine
    engine.close()


def classes_of(result: dict) -> list[tuple[str, str]]:
    return [("red", "circle") if i == "123" else class_of(i) for i in hit_ids(result) if i != "0"]


def test_search_for_images_using_text(seeded: Engine) -> None:
    (result,) = seeded.multi_search.perform(copy.deepcopy(TEXT_SEARCH))["results"]
    assert "error" not in result, result
    assert result["found"] == 10 and len(result["hits"]) == 10  # k defaults to page x per_page
    dists = [hit["vector_distance"] for hit in result["hits"]]
    assert dists == sorted(dists)
    red = search_one(seeded, {**TEXT_SEARCH["searches"][0], "q": "a red circle"})
    assert classes_of(red)[:2] == [("red", "circle")] * 2


def test_search_for_similar_images_by_id(seeded: Engine) -> None:
    (result,) = seeded.multi_search.perform(copy.deepcopy(ID_SEARCH))["results"]
    assert "error" not in result, result
    assert "123" not in hit_ids(result)
    assert hit_ids(result)[0] == "red-circle-1"
    assert len(result["hits"]) == 10  # every other document, nearest first


def test_search_for_similar_images_with_dynamic_image(seeded: Engine) -> None:
    for colour, shape in CLASSES:
        picture = shape_b64(colour, shape, seed=77, fmt="JPEG")
        body = {
            "searches": [
                {
                    "collection": "images",
                    "q": "*",
                    "vector_query": IMAGE_SEARCH_TEMPLATE.replace("BASE64_REPRESENTATION_OF_IMAGE", picture),
                }
            ]
        }
        (result,) = seeded.multi_search.perform(body)["results"]
        assert "error" not in result, result
        assert classes_of(result)[0] == (colour, shape)
        assert len(result["hits"]) == 10
