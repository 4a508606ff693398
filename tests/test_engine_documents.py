"""Documents and import: single documents, JSONL import with bad lines, actions, ids, embedding inputs."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import TINY_MODEL, cosine, seed_schema, shape_b64, shape_bytes, truncated_jpeg_b64

from app.engine import Engine, ObjectAlreadyExists, ObjectNotFound, RequestMalformed
from app.engine.embedder import load_embedder
from app.engine.models import resolve_model


def docs_of(engine: Engine, name: str = "images"):
    return engine.collections[name].documents


def picture(doc_id: str | None, colour: str = "red", shape: str = "circle", seed: int = 0, **extra) -> dict:
    doc = {"name": f"a {colour} {shape}", "image": shape_b64(colour, shape, seed), **extra}
    if doc_id is not None:
        doc["id"] = doc_id
    return doc


# --------------------------------------------------------------------------------- single documents


def test_seed_document_create_retrieve_delete(engine: Engine) -> None:
    docs = docs_of(engine)
    created = docs.create({"id": "dog", "name": "an image with a dog", "image": shape_b64("orange", "star")})
    assert created["id"] == "dog" and created["name"] == "an image with a dog"
    assert "image" not in created
    assert len(created["embedding"]) == 128
    assert np.linalg.norm(created["embedding"]) == pytest.approx(1.0, abs=1e-4)
    assert docs["dog"].retrieve() == created
    assert engine.collections["images"].retrieve()["num_documents"] == 1
    assert docs["dog"].delete() == created
    for call in (docs["dog"].retrieve, docs["dog"].delete):
        with pytest.raises(ObjectNotFound) as exc:
            call()
        assert exc.value.code == 404
        assert exc.value.message == "Could not find a document with id: dog"
    assert engine.collections["images"].retrieve()["num_documents"] == 0


def test_create_twice_is_409_and_keeps_the_first(engine: Engine) -> None:
    docs = docs_of(engine)
    first = docs.create(picture("a"))
    with pytest.raises(ObjectAlreadyExists) as exc:
        docs.create(picture("a", "blue", "square"))
    assert exc.value.code == 409 and "a" in exc.value.message
    assert docs["a"].retrieve() == first


def test_bad_image_and_bad_base64_errors_name_the_problem(engine: Engine) -> None:
    docs = docs_of(engine)
    with pytest.raises(RequestMalformed) as exc:
        docs.create({"id": "t", "name": "x", "image": truncated_jpeg_b64()})
    assert exc.value.message.startswith("Error while processing image")
    with pytest.raises(RequestMalformed) as exc:
        docs.create({"id": "b", "name": "x", "image": "iVBORw0KGgo@@@@"})
    assert exc.value.message.startswith("Error while processing image")
    assert "'@'" in exc.value.message and "position 11" in exc.value.message
    with pytest.raises(RequestMalformed) as exc:
        docs.create({"id": "u", "name": "x", "image": shape_b64("red", "ring").replace("/", "_")})
    assert "URL-safe" in exc.value.message
    with pytest.raises(RequestMalformed) as exc:
        docs.create({"id": "n", "name": "x", "image": base64.b64encode(b"plain text, no picture").decode()})
    assert exc.value.message.startswith("Error while processing image")
    assert engine.collections["images"].retrieve()["num_documents"] == 0


def test_base64_variants_give_the_same_embedding(engine: Engine) -> None:
    docs = docs_of(engine)
    plain = shape_b64("purple", "cross")
    wrapped = "\n".join(plain[i : i + 76] for i in range(0, len(plain), 76))
    variants = {
        "plain": plain,
        "unpadded": plain.rstrip("="),
        "wrapped": wrapped,
        "data-url": "data:image/png;base64," + plain,
    }
    vectors = {
        key: docs.create({"id": key, "name": key, "image": value})["embedding"]
        for key, value in variants.items()
    }
    for key, vector in vectors.items():
        np.testing.assert_allclose(vector, vectors["plain"], atol=1e-6, err_msg=key)


def test_python_callers_may_pass_bytes_and_stored_images_keep_base64(tmp_path: Path) -> None:
    with Engine(tmp_path / "stored") as eng:
        schema = seed_schema(("image",))
        schema["fields"][1]["store"] = True
        eng.collections.create(schema)
        raw = shape_bytes("green", "circle")
        created = docs_of(eng).create({"id": "b", "name": "x", "image": raw})
        assert created["image"] == base64.b64encode(raw).decode("ascii")
        from_text = docs_of(eng).create({"id": "t", "name": "x", "image": created["image"]})
        np.testing.assert_allclose(created["embedding"], from_text["embedding"], atol=1e-6)
        (result,) = docs_of(eng).import_([{"id": "o", "name": "x", "image": raw, "undeclared": {1, 2}}])
        assert result["success"] is False and "cannot be stored as JSON" in result["error"]


def test_id_must_be_a_string(engine: Engine) -> None:
    with pytest.raises(RequestMalformed) as exc:
        docs_of(engine).create(picture(None, id=7))
    assert "`id`" in exc.value.message and "string" in exc.value.message


# --------------------------------------------------------------------------------- import


def test_import_jsonl_with_bad_lines_reports_each_in_order(engine: Engine) -> None:
    lines = [
        json.dumps(picture("good-1")),
        '{"name": "broken", "image": ',
        json.dumps({"id": "bad-b64", "name": "x", "image": "not base64 !!"}),
        json.dumps({"id": "cut", "name": "x", "image": truncated_jpeg_b64()}),
        json.dumps({"id": "wrong-type", "name": 5, "image": shape_b64("blue", "ring")}),
        json.dumps({"id": "no-name", "image": shape_b64("blue", "ring")}),
        json.dumps(picture("good-2", "green", "star")),
    ]
    out = docs_of(engine).import_("\n".join(lines), {"return_id": True})
    assert isinstance(out, str)
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == len(lines)
    assert results[0] == {"success": True, "id": "good-1"}
    assert results[6] == {"success": True, "id": "good-2"}
    assert results[1]["success"] is False and results[1]["code"] == 400
    assert "JSON" in results[1]["error"]
    for i in (2, 3):
        assert results[i]["success"] is False and results[i]["code"] == 400
        assert results[i]["error"].startswith("Error while processing image")
        assert results[i]["embedding_error"] == {"error": results[i]["error"]}
    assert "'!'" in results[2]["error"]
    assert results[4]["error"] == "Field `name` must be a string."
    assert "embedding_error" not in results[4]
    missing = "Field `name` has been declared in the schema, but is not found in the document."
    assert results[5]["error"] == missing
    stored = docs_of(engine)
    assert stored["good-1"].retrieve()["name"] == "a red circle"
    assert stored["good-2"].retrieve()["name"] == "a green star"
    for bad in ("bad-b64", "cut", "wrong-type", "no-name"):
        with pytest.raises(ObjectNotFound):
            stored[bad].retrieve()
    assert engine.collections["images"].retrieve()["num_documents"] == 2


def test_import_list_with_return_doc_echoes_documents_without_the_image(engine: Engine) -> None:
    good = picture("g")
    bad = {"id": "b", "name": "x", "image": truncated_jpeg_b64()}
    results = docs_of(engine).import_([good, bad], {"return_doc": True, "return_id": True})
    assert isinstance(results, list)
    # The document as stored, with its computed embedding (as Typesense returns it), and no image.
    stored = results[0].pop("document")
    assert results[0] == {"success": True, "id": "g"}
    assert len(stored.pop("embedding")) == len(docs_of(engine)["g"].retrieve()["embedding"])
    assert stored == {"id": "g", "name": "a red circle"}
    assert results[1]["success"] is False
    assert json.loads(results[1]["document"]) == {"id": "b", "name": "x"}
    # JSONL text in gives JSONL text out, with the same content.
    jsonl = json.loads(docs_of(engine).import_(json.dumps(picture("h")) + "\n", {"return_doc": "true"}))
    shown = {k: v for k, v in jsonl["document"].items() if k != "embedding"}
    assert shown == {"id": "h", "name": "a red circle"}
    raw_bytes = docs_of(engine).import_(json.dumps(picture("i")).encode(), {"action": "create"})
    assert json.loads(raw_bytes) == {"success": True}


def test_import_in_batches_reports_progress_and_stops_on_cancel(engine: Engine) -> None:
    docs = [picture(f"p{i}", seed=i) for i in range(10)]
    seen: list[tuple[int, int | None]] = []
    results = docs_of(engine).import_(docs, {"batch_size": 3}, progress=lambda d, t: seen.append((d, t)))
    assert all(r["success"] for r in results) and len(results) == 10
    assert seen == [(3, 10), (6, 10), (9, 10), (10, 10)]

    cancel = threading.Event()
    more = [picture(f"q{i}", "blue", "square", seed=i) for i in range(10)]
    results = docs_of(engine).import_(
        more, {"batch_size": 4}, progress=lambda done, total: cancel.set(), cancel=cancel
    )
    assert len(results) == 4
    assert engine.collections["images"].retrieve()["num_documents"] == 14
    with pytest.raises(ObjectNotFound):
        docs_of(engine)["q4"].retrieve()


def test_import_of_things_that_are_not_documents(engine: Engine) -> None:
    results = docs_of(engine).import_([7, None, "[]", picture("ok")])
    assert [r["success"] for r in results] == [False, False, False, True]
    assert "got int" in results[0]["error"] and "got NoneType" in results[1]["error"]
    assert results[2]["error"] == "Bad JSON: not a properly formed document."  # Typesense's words
    with pytest.raises(RequestMalformed) as exc:
        docs_of(engine).import_(b'{"name": "caf\xe9"}')
    assert "UTF-8" in exc.value.message
    assert docs_of(engine).import_("") == ""


def test_import_rejects_unknown_action(engine: Engine) -> None:
    with pytest.raises(RequestMalformed) as exc:
        docs_of(engine).import_([picture("a")], {"action": "replace"})
    assert "`replace`" in exc.value.message


# --------------------------------------------------------------------------------- actions


@pytest.fixture
def tagged(tmp_path: Path) -> Iterator[Engine]:
    """The seed schema plus an optional `tag`, holding red circle `a` tagged "old"."""
    eng = Engine(tmp_path / "tagged")
    schema = seed_schema(("image",))
    schema["fields"].insert(1, {"name": "tag", "type": "string", "optional": True})
    eng.collections.create(schema)
    docs_of(eng).create(picture("a", tag="old"))
    yield eng
    eng.close()


def test_import_create_reports_existing_ids_and_stores_the_rest(tagged: Engine) -> None:
    results = docs_of(tagged).import_([picture("a", "blue", "ring"), picture("b")], {"action": "create"})
    assert results[0]["success"] is False and results[0]["code"] == 409
    assert results[1] == {"success": True}
    assert docs_of(tagged)["a"].retrieve()["tag"] == "old"


def test_upsert_replaces_the_whole_document(tagged: Engine) -> None:
    before = docs_of(tagged)["a"].retrieve()
    results = docs_of(tagged).import_([picture("a", "blue", "square"), picture("new")], {"action": "upsert"})
    assert [r["success"] for r in results] == [True, True]
    after = docs_of(tagged)["a"].retrieve()
    assert after["name"] == "a blue square"
    assert "tag" not in after, "upsert is a full replace: fields left out are gone"
    assert cosine(after["embedding"], before["embedding"]) < 0.999
    assert docs_of(tagged).upsert(picture("a", tag="back"))["tag"] == "back"


def test_update_changes_only_given_fields_and_keeps_the_embedding(tagged: Engine) -> None:
    before = docs_of(tagged)["a"].retrieve()
    updated = docs_of(tagged)["a"].update({"tag": "new"})
    assert updated == {**before, "tag": "new"}
    results = docs_of(tagged).import_([{"id": "a", "name": "renamed"}], {"action": "update"})
    assert results == [{"success": True}]
    after = docs_of(tagged)["a"].retrieve()
    assert after["name"] == "renamed" and after["tag"] == "new"
    assert after["embedding"] == before["embedding"]


def test_update_with_a_new_image_recomputes_the_embedding(tagged: Engine) -> None:
    before = docs_of(tagged)["a"].retrieve()
    after = docs_of(tagged)["a"].update({"image": shape_b64("yellow", "triangle")})
    fresh = docs_of(tagged).create(picture("ref", "yellow", "triangle"))
    assert cosine(after["embedding"], fresh["embedding"]) == pytest.approx(1.0, abs=1e-5)
    assert cosine(after["embedding"], before["embedding"]) < 0.999
    assert after["tag"] == "old"


def test_update_of_missing_document_is_404(tagged: Engine) -> None:
    with pytest.raises(ObjectNotFound) as exc:
        docs_of(tagged)["zzz"].update({"tag": "x"})
    assert exc.value.message == "Could not find a document with id: zzz"
    results = docs_of(tagged).import_([{"id": "zzz", "tag": "x"}, {"tag": "no id"}], {"action": "update"})
    assert results[0]["code"] == 404 and results[0]["success"] is False
    assert results[1]["success"] is False and "`id`" in results[1]["error"]


def test_emplace_creates_missing_and_merges_existing(tagged: Engine) -> None:
    results = docs_of(tagged).import_(
        [{"id": "a", "tag": "merged"}, picture("fresh", "white", "cross"), {"id": "half", "tag": "x"}],
        {"action": "emplace"},
    )
    assert [r["success"] for r in results] == [True, True, False]
    assert "`name`" in results[2]["error"] or "`image`" in results[2]["error"]
    a = docs_of(tagged)["a"].retrieve()
    assert a["tag"] == "merged" and a["name"] == "a red circle"
    assert docs_of(tagged)["fresh"].retrieve()["name"] == "a white cross"


def test_lines_of_one_batch_build_on_each_other(tagged: Engine) -> None:
    docs = docs_of(tagged)
    updates = [{"id": "a", "tag": "first"}, {"id": "a", "name": "second"}, {"id": [1], "tag": "bad id"}]
    results = docs.import_(updates, {"action": "update"})
    assert [r["success"] for r in results] == [True, True, False]
    assert {"tag": "first", "name": "second"}.items() <= docs["a"].retrieve().items()
    emplaced = docs.import_(
        [picture("e", "blue", "cross"), {"id": "e", "tag": "merged"}], {"action": "emplace"}
    )
    assert emplaced == [{"success": True}, {"success": True}]
    assert {"tag": "merged", "name": "a blue cross"}.items() <= docs["e"].retrieve().items()


def test_update_touching_embed_source_without_the_unstored_image_fails(tmp_path: Path) -> None:
    with Engine(tmp_path / "combined") as eng:
        eng.collections.create(seed_schema(("name", "image")))
        docs = docs_of(eng)
        original = docs.create(picture("a"))
        message = "One or more of the fields to embed is missing in the both the old and new documents"
        with pytest.raises(RequestMalformed) as exc:
            docs["a"].update({"name": "a renamed circle"})
        assert exc.value.message == message
        (result,) = docs.import_([{"id": "a", "name": "again"}], {"action": "update"})
        assert result["success"] is False and result["error"] == message
        assert docs["a"].retrieve() == original
        # Sending the picture again makes the update possible.
        redone = docs["a"].update({"name": "a renamed circle", "image": shape_b64("red", "circle")})
        assert redone["name"] == "a renamed circle"


# --------------------------------------------------------------------------------- embedding inputs


def test_every_from_field_missing_names_the_first(tmp_path: Path) -> None:
    with Engine(tmp_path / "optional") as eng:
        schema = seed_schema(("name", "image"))
        for fdef in schema["fields"][:2]:
            fdef["optional"] = True
        eng.collections.create(schema)
        with pytest.raises(RequestMalformed) as exc:
            docs_of(eng).create({"id": "x"})
        assert exc.value.message == "Field `name` is needed to create embedding."
        (result,) = docs_of(eng).import_([{"id": "y", "name": None}])
        assert result["error"] == "Field `name` is needed to create embedding."
        assert "embedding_error" in result
        # One of the two is enough.
        assert len(docs_of(eng).create({"id": "t", "name": "a red circle"})["embedding"]) == 128
        assert len(docs_of(eng).create({"id": "i", "image": shape_b64("red", "circle")})["embedding"]) == 128

    with Engine(tmp_path / "image-only") as eng:
        schema = seed_schema(("image",))
        schema["fields"][1]["optional"] = True
        eng.collections.create(schema)
        with pytest.raises(RequestMalformed) as exc:
            docs_of(eng).create({"id": "x", "name": "no picture"})
        assert exc.value.message == "Field `image` is needed to create embedding."


def test_combined_embedding_is_the_mean_of_text_and_image(tmp_path: Path) -> None:
    embedder = load_embedder(resolve_model(TINY_MODEL))
    with Engine(tmp_path / "combined") as eng:
        eng.collections.create(seed_schema(("name", "image")))
        docs = docs_of(eng)
        for colour, shape in (("red", "circle"), ("blue", "star"), ("black", "ring")):
            name = f"a {colour} {shape}"
            stored = docs.create({"id": colour, "name": name, "image": shape_b64(colour, shape)})["embedding"]
            (text,) = embedder.embed_texts([name + " "])
            (image,) = embedder.embed_images([shape_bytes(colour, shape)])
            expected = (text + image) / 2
            np.testing.assert_allclose(stored, expected, atol=1e-5)
            assert cosine(stored, expected) == pytest.approx(1.0, abs=1e-6)
            # It really is a blend: closer to both parts than they are to each other.
            assert cosine(stored, text) > cosine(text, image)
            assert cosine(stored, image) > cosine(text, image)
            # A search with the blended vector finds the document at distance ~0: the index normalised it.
            vector = "[" + ",".join(f"{x:.8f}" for x in stored) + "]"
            hit = docs.search({"q": "*", "vector_query": f"embedding:({vector}, k:1)"})["hits"][0]
            assert hit["document"]["id"] == colour
            assert hit["vector_distance"] == pytest.approx(0.0, abs=1e-5)


def test_text_list_fields_are_joined_in_from_order(tmp_path: Path) -> None:
    embedder = load_embedder(resolve_model(TINY_MODEL))
    with Engine(tmp_path / "texts") as eng:
        eng.collections.create(
            {
                "name": "texts",
                "fields": [
                    {"name": "tags", "type": "string[]"},
                    {"name": "title", "type": "string"},
                    {
                        "name": "embedding",
                        "type": "float[]",
                        "embed": {"from": ["title", "tags"], "model_config": TINY_MODEL},
                    },
                ],
            }
        )
        stored = docs_of(eng, "texts").create({"id": "1", "title": "a red", "tags": ["circle", "shape"]})
        (expected,) = embedder.embed_texts(["a red circle shape "])
        np.testing.assert_allclose(stored["embedding"], expected, atol=1e-5)


# --------------------------------------------------------------------------------- automatic ids


def test_automatic_ids_count_up_skip_taken_ones_and_survive_reopening(tmp_path: Path) -> None:
    data = tmp_path / "ids"
    with Engine(data) as eng:
        eng.collections.create(seed_schema(("image",)))
        docs = docs_of(eng)
        docs.create(picture("2"))
        assert docs.create(picture(None))["id"] == "0"
        results = docs.import_([picture(None, seed=1), picture(None, seed=2)], {"return_id": True})
        assert [r["id"] for r in results] == ["1", "3"]  # "2" was taken by hand
        docs["3"].delete()
    with Engine(data) as eng:
        # The counter is on disk: a deleted id is not handed out again after a restart.
        assert docs_of(eng).create(picture(None, seed=3))["id"] == "4"
        assert sorted(json.loads(line)["id"] for line in docs_of(eng).export().splitlines()) == [
            "0",
            "1",
            "2",
            "4",
        ]
