"""Collections: the seed page's schemas, their normalised form, and every schema error a user can hit."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import SEED_MODEL, TINY_MODEL, seed_schema, vector_schema

from app.engine import Engine, ObjectAlreadyExists, ObjectNotFound, RequestMalformed


@pytest.fixture
def tmp_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(tmp_path / "data")
    yield engine
    engine.close()


def field_named(collection: dict, name: str) -> dict:
    return next(f for f in collection["fields"] if f["name"] == name)


@pytest.mark.parametrize("from_fields", [("image",), ("name", "image")])
def test_seed_page_schema_verbatim_infers_512_dims(tmp_engine: Engine, from_fields: tuple[str, ...]) -> None:
    schema = seed_schema(from_fields, SEED_MODEL)
    sent = copy.deepcopy(schema)
    created = tmp_engine.collections.create(schema)
    assert schema == sent, "create must not modify the caller's dict"
    assert created["name"] == "images"
    assert created["num_documents"] == 0
    assert isinstance(created["created_at"], int) and created["created_at"] > 0
    embedding = field_named(created, "embedding")
    assert embedding["type"] == "float[]"
    assert embedding["num_dim"] == 512
    assert embedding["embed"] == {"from": list(from_fields), "model_config": SEED_MODEL}
    image = field_named(created, "image")
    assert image["type"] == "image" and image["store"] is False
    assert field_named(created, "name")["store"] is True
    assert tmp_engine.collections["images"].retrieve() == created
    assert tmp_engine.collections.retrieve() == [created]


def test_tiny_model_schema_takes_dims_from_the_model(tmp_engine: Engine) -> None:
    created = tmp_engine.collections.create(seed_schema(("name", "image"), TINY_MODEL))
    assert field_named(created, "embedding")["num_dim"] == 128


def test_existing_collection_is_409_and_missing_is_404(tmp_engine: Engine) -> None:
    tmp_engine.collections.create(vector_schema("things"))
    with pytest.raises(ObjectAlreadyExists) as exc:
        tmp_engine.collections.create(vector_schema("things"))
    assert exc.value.code == 409
    assert "`things` already exists" in exc.value.message

    for call in (
        lambda: tmp_engine.collections["nope"].retrieve(),
        lambda: tmp_engine.collections["nope"].delete(),
        lambda: tmp_engine.collections["nope"].documents["1"].retrieve(),
        lambda: tmp_engine.collections["nope"].documents.import_([{"title": "x"}]),
    ):
        with pytest.raises(ObjectNotFound) as exc:
            call()
        assert exc.value.code == 404
        # Typesense 0.24.1's words: "No collection with name `nope` found." for a delete, "Not Found" else.
        assert exc.value.message in ("Not Found", "No collection with name `nope` found.")


def test_delete_collection_returns_it_and_removes_documents(tmp_engine: Engine) -> None:
    tmp_engine.collections.create(vector_schema("things", dims=2))
    tmp_engine.collections["things"].documents.create({"id": "a", "title": "t", "vec": [1.0, 0.0]})
    deleted = tmp_engine.collections["things"].delete()
    assert deleted["name"] == "things" and deleted["num_documents"] == 1
    assert "things" not in tmp_engine.collections
    with pytest.raises(ObjectNotFound):
        tmp_engine.collections["things"].documents["a"].retrieve()
    # The name is free again, and the new collection starts empty.
    tmp_engine.collections.create(vector_schema("things", dims=2))
    assert tmp_engine.collections["things"].retrieve()["num_documents"] == 0
    with pytest.raises(ObjectNotFound):
        tmp_engine.collections["things"].documents["a"].retrieve()


def with_field(field: dict, *extra: dict) -> dict:
    return {"name": "bad", "fields": [{"name": "title", "type": "string"}, *extra, field]}


def embed(from_fields: list[str], model: dict | None = None, ftype: str = "float[]") -> dict:
    config = TINY_MODEL if model is None else model
    return {"name": "embedding", "type": ftype, "embed": {"from": from_fields, "model_config": config}}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param(
            with_field({"name": "x", "type": "strang"}), "invalid data type `strang`", id="unknown-type"
        ),
        pytest.param(with_field({"name": "x"}), "Wrong format for `fields`", id="no-type"),
        pytest.param(
            with_field(embed(["missing"])),
            "refers to the field `missing`, which is not in the schema",
            id="embed-from-missing-field",
        ),
        pytest.param(
            with_field(embed(["count"]), {"name": "count", "type": "int32"}),
            "can only refer to string, string array or image fields (`count` is `int32`)",
            id="embed-from-int-field",
        ),
        pytest.param(
            with_field(embed(["title"], ftype="string")),
            "Fields with the `embed` parameter can only be of type `float[]`",
            id="embed-on-string",
        ),
        pytest.param(
            with_field(embed(["title"], {"model_name": "ts/no-such-model"})),
            "Model `ts/no-such-model` is not supported",
            id="unknown-model",
        ),
        pytest.param(
            with_field(embed(["title"], {})),
            "`embed.model_config.model_name` is required",
            id="no-model-name",
        ),
        pytest.param(with_field(embed([])), "`embed.from` must be a non-empty array", id="empty-from"),
        pytest.param(
            with_field({**embed(["title"]), "num_dim": 3}),
            "has `num_dim` 3 but the model `photoseek/tiny-shapes` produces 128 dimensions",
            id="num-dim-disagrees-with-model",
        ),
        pytest.param(
            with_field({"name": "v", "type": "float[]", "num_dim": -4}),
            "Property `num_dim` must be a positive integer.",
            id="negative-num-dim",
        ),
        pytest.param(
            with_field({"name": "title", "type": "string"}), "duplicate field names", id="duplicate-field"
        ),
        pytest.param({"fields": [{"name": "a", "type": "string"}]}, "`name` is required", id="no-name"),
        pytest.param({"name": "x"}, "Parameter `fields` is required.", id="no-fields"),
        pytest.param({"name": "x", "fields": []}, "The `fields` value should be an array", id="empty-fields"),
        pytest.param(
            with_field({"name": "flag", "type": "bool", "optional": "yes"}),
            "`optional` property of the field `flag` should be a boolean",
            id="non-bool-optional",
        ),
    ],
)
def test_schema_errors_name_the_problem(tmp_engine: Engine, schema: dict, expected: str) -> None:
    with pytest.raises(RequestMalformed) as exc:
        tmp_engine.collections.create(schema)
    assert exc.value.code == 400
    assert expected in exc.value.message
    assert "bad" not in tmp_engine.collections, "a rejected schema must not create anything"


def test_schema_defaults_are_filled_like_typesense(tmp_engine: Engine) -> None:
    created = tmp_engine.collections.create(
        {"name": "plain", "fields": [{"name": "title", "type": "string"}, {"name": "n", "type": "int32"}]}
    )
    title, n = created["fields"]
    assert title == {
        "facet": False,
        "index": True,
        "infix": False,
        "locale": "",
        "name": "title",
        "optional": False,
        "sort": False,
        "stem": False,
        "store": True,
        "type": "string",
    }
    assert n["sort"] is True  # numbers sort by default
    assert created["default_sorting_field"] == ""
    assert created["enable_nested_fields"] is False
