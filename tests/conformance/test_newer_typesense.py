"""What Typesense 0.24.1 lacks (image fields, `embed`, `id:`/`image:` vector queries, `distance_threshold`):
Photoseek alone, checked against current Typesense's documented behaviour
(/work/shared/typesense-image-search.md), with the tiny CLIP model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import TINY_MODEL, class_of, seed_schema, shape_b64

from app.engine import Engine, TypesenseError

CLASSES = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("yellow", "star"),
           ("black", "ring")]
SEEDS = (0, 1)


def _docs() -> list[dict]:
    return [{"id": f"{colour}-{shape}-{seed}", "name": f"{colour} {shape}",
             "image": shape_b64(colour, shape, seed)} for colour, shape in CLASSES for seed in SEEDS]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The reference's schema (a store:false image embedded by the model) holding ten pictures."""
    engine = Engine(Path(tmp_path_factory.mktemp("newer-typesense")))
    engine.collections.create(seed_schema(("image",), TINY_MODEL))
    results = engine.collections["images"].documents.import_(_docs(), {"action": "create"})
    assert all(r["success"] for r in results), results
    # Start the model's threads here, once, rather than inside the first test that searches.
    _search(engine, {"q": "red circle", "query_by": "embedding"})
    _search(engine, {"q": "*", "vector_query": f"embedding:([], image:{shape_b64('red', 'circle', 7)})"})
    yield engine
    engine.close()


def _search(engine: Engine, params: dict) -> dict:
    (result,) = engine.multi_search.perform({"searches": [{"collection": "images", **params}]})["results"]
    return result


def test_embed_field_gets_the_models_dimensions(images: Engine) -> None:
    fields = {f["name"]: f for f in images.collections["images"].retrieve()["fields"]}
    assert fields["image"]["type"] == "image" and fields["image"]["store"] is False
    assert fields["embedding"]["embed"]["from"] == ["image"]
    assert isinstance(fields["embedding"]["num_dim"], int) and fields["embedding"]["num_dim"] > 0


def test_store_false_image_is_never_read_back(images: Engine) -> None:
    docs = images.collections["images"].documents
    assert "image" not in docs["red-circle-0"].retrieve()
    hit = _search(images, {"q": "*", "filter_by": "id:=red-circle-0"})["hits"][0]
    assert "image" not in hit["document"]
    assert all("image" not in json.loads(line) for line in docs.export().splitlines())


def test_text_query_on_the_embedding_ranks_by_distance(images: Engine) -> None:
    result = _search(images, {"q": "blue square", "query_by": "embedding", "exclude_fields": "embedding"})
    distances = [h["vector_distance"] for h in result["hits"]]
    assert distances == sorted(distances)
    assert class_of(result["hits"][0]["document"]["id"]) == ("blue", "square")


def test_id_query_excludes_the_document_itself(images: Engine) -> None:
    result = _search(images, {"q": "*", "vector_query": "embedding:([], id:green-triangle-0)"})
    ids = [h["document"]["id"] for h in result["hits"]]
    assert "green-triangle-0" not in ids
    assert ids[0] == "green-triangle-1"


def test_image_query_finds_the_same_class(images: Engine) -> None:
    query = shape_b64("yellow", "star", 42)
    result = _search(images, {"q": "*", "vector_query": f"embedding:([], image:{query}, k: 2)"})
    assert [class_of(h["document"]["id"]) for h in result["hits"]] == [("yellow", "star")] * 2


def test_distance_threshold_drops_farther_hits(images: Engine) -> None:
    every = _search(images, {"q": "*", "vector_query": "embedding:([], id:black-ring-0, k: 20)"})
    cut = sorted(h["vector_distance"] for h in every["hits"])[2]
    near = _search(images, {"q": "*", "vector_query": f"embedding:([], id:black-ring-0, k: 20, "
                                                      f"distance_threshold: {cut})"})
    assert near["hits"] and all(h["vector_distance"] <= cut for h in near["hits"])
    assert len(near["hits"]) < len(every["hits"])


@pytest.mark.parametrize(("vector_query", "message"), [
    ("embedding:([], id:no-such-photo)", "Document id referenced in vector query is not found."),
    ("embedding:([])", "When a vector query value is empty, an `id` parameter must be present."),
])
def test_vector_query_errors(images: Engine, vector_query: str, message: str) -> None:
    assert _search(images, {"q": "*", "vector_query": vector_query}) == {"code": 400, "error": message}


def test_document_without_any_embed_source_fails_per_line(images: Engine) -> None:
    # With the image optional, the schema check passes and the embedding is what cannot be made.
    schema = seed_schema(("image",), TINY_MODEL, name="optional_image")
    schema["fields"][1]["optional"] = True
    images.collections.create(schema)
    docs = images.collections["optional_image"].documents
    (line,) = docs.import_([{"id": "x", "name": "no picture"}])
    assert line["success"] is False and line["code"] == 400
    assert line["error"] == "Field `image` is needed to create embedding."


def test_update_of_an_embed_source_without_the_stored_image_fails(images: Engine) -> None:
    # name and image are both embedded; the image was store:false, so a new name cannot be re-embedded.
    images.collections.create(seed_schema(("name", "image"), TINY_MODEL, name="named"))
    docs = images.collections["named"].documents
    docs.create({"id": "1", "name": "red circle", "image": shape_b64("red", "circle")})
    with pytest.raises(TypesenseError) as caught:
        docs["1"].update({"name": "blue square"})
    assert (caught.value.code, caught.value.message) == (
        400, "One or more of the fields to embed is missing in the both the old and new documents")
