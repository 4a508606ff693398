"""Switching a library's model, end to end with two local models: the tiny model (128-d) and a second one
made here (96-d, tests/second_model.py). Real engine, real SQLite, real photo files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from second_model import SECOND_DIMS, make_second_model

from app.engine import Engine
from app.library import LibraryService, photo_schema
from app.library.model_catalog import choices, measured_rates
from app.library.model_switch import SwitchProgress, SwitchSummary
from app.library.service import CollectionsChanged, DocumentsRemoved
from app.shapes import draw_shape, encode_image, write_shape_folder

TINY = "photoseek/tiny-shapes"
PHOTOS = "Photos"


@pytest.fixture
def second(tmp_path: Path) -> dict:
    return make_second_model(tmp_path / "second-model")


def _import(service: LibraryService, folder: Path, per_class: int = 1) -> list[Path]:
    # 2 colours x 6 shapes x per_class, plus the reds and blues of circles: enough for two chunks at 40.
    files = write_shape_folder(folder, per_class=per_class, size=64, fmt="PNG", colours=("red", "blue"))
    service.import_paths(PHOTOS, [str(folder)], photo_schema(PHOTOS, TINY)).run()
    return [Path(f) for f in files]


def _text_search(service: LibraryService, text: str) -> list[dict]:
    page = service.search(PHOTOS, {"q": text, "query_by": "embedding", "exclude_fields": "embedding"})
    return [hit["document"] for hit in page.hits]


def _similar(service: LibraryService, doc_id: str) -> list[str]:
    """Names of the photos most like ``doc_id`` (which, as in Typesense, is not among them)."""
    page = service.search(PHOTOS, {"q": "*", "vector_query": f"embedding:([], id:{doc_id})"})
    return [hit["document"]["name"] for hit in page.hits]


def _collection(service: LibraryService) -> dict:
    return next(c for c in service.collections() if c["name"] == PHOTOS)


def _embedding_field(service: LibraryService) -> dict:
    return next(f for f in _collection(service)["fields"] if f["name"] == "embedding")


def _vector_width(service: LibraryService, doc_id: str) -> int:
    return len(service.client.collections[PHOTOS].documents[doc_id].retrieve()["embedding"])


def test_a_library_switches_model_and_searches_answer_from_the_old_vectors_until_then(
    service: LibraryService, second: dict, tmp_path: Path
) -> None:
    _import(service, tmp_path / "shapes", per_class=4)  # 48 photos: more than one chunk
    before = _collection(service)
    some_id = _text_search(service, "red circle")[0]["id"]
    assert _vector_width(service, some_id) == 128
    similar_before = _similar(service, some_id)

    plan = service.plan_model_switch(PHOTOS, second)
    assert (plan.photos, plan.cannot, plan.current_model) == (48, [], TINY)

    job = service.switch_model(PHOTOS, second)
    reports: list[object] = []
    job.report = reports.append
    assert job.step() is False  # the first chunk is embedded, the rest is still to do

    # Mid-switch: the library still names model A, and both kinds of search answer from its vectors.
    assert _embedding_field(service)["embed"]["model_config"]["model_name"] == TINY
    hits = _text_search(service, "red circle")
    assert hits[0]["name"].startswith("red_circle")
    assert _similar(service, some_id) == similar_before
    assert _vector_width(service, some_id) == 128

    summary = job.run()
    assert isinstance(summary, SwitchSummary)
    assert summary.switched and not summary.removed and summary.embedded == 48
    progress = [r for r in reports if isinstance(r, SwitchProgress)]
    assert progress[-1].done == progress[-1].total == 48
    assert [r.done for r in progress] == sorted(r.done for r in progress)

    field = _embedding_field(service)
    assert field["embed"]["model_config"]["model_name"] == second["model_name"]
    assert field["num_dim"] == SECOND_DIMS
    assert _collection(service)["num_documents"] == before["num_documents"] == 48
    assert _vector_width(service, some_id) == SECOND_DIMS
    # Searches work with model B: its words still find the shapes, a photo still finds its look-alikes.
    assert _text_search(service, "red circle")[0]["name"].startswith("red_circle")
    assert _similar(service, some_id)[0].startswith("red_circle")
    assert any(isinstance(e, CollectionsChanged) for e in service.events)  # type: ignore[attr-defined]
    # The shadow file is gone once the switch is in.
    assert not list((service.data_dir / "model-switch").glob("*.sqlite"))


def test_cancel_mid_switch_leaves_model_a_intact_and_a_later_switch_resumes(
    service: LibraryService, second: dict, tmp_path: Path
) -> None:
    _import(service, tmp_path / "shapes", per_class=4)
    job = service.switch_model(PHOTOS, second)
    job.step()
    job.cancel()
    summary = job.run()
    assert summary is not None and summary.cancelled and not summary.switched

    assert _embedding_field(service)["embed"]["model_config"]["model_name"] == TINY
    assert _embedding_field(service)["num_dim"] == 128
    assert _text_search(service, "blue square")[0]["name"].startswith("blue_square")

    plan = service.plan_model_switch(PHOTOS, second)
    assert 0 < plan.resumable < 48  # the chunk done before the cancel is kept
    summary = service.switch_model(PHOTOS, second).run()
    assert summary is not None and summary.switched
    assert summary.embedded == 48 - plan.resumable  # only what was left
    assert _text_search(service, "blue square")[0]["name"].startswith("blue_square")


def test_a_crash_mid_switch_leaves_the_library_on_model_a(
    service: LibraryService, second: dict, tmp_path: Path, photoseek_dirs: Path
) -> None:
    _import(service, tmp_path / "shapes", per_class=4)
    job = service.switch_model(PHOTOS, second)
    job.step()
    service.close()  # the app went away mid-switch

    reopened = LibraryService(photoseek_dirs)
    reopened.open()
    try:
        assert _embedding_field(reopened)["embed"]["model_config"]["model_name"] == TINY
        assert _collection(reopened)["num_documents"] == 48
        assert _text_search(reopened, "red circle")[0]["name"].startswith("red_circle")
        summary = reopened.switch_model(PHOTOS, second).run()
        assert summary is not None and summary.switched
        assert _embedding_field(reopened)["num_dim"] == SECOND_DIMS
    finally:
        reopened.close()


def _add_pasted_photos(service: LibraryService, count: int) -> list[str]:
    """Photos added from base64 with ``store: false`` (the image field is not stored): no file, no copy."""
    image = base64.b64encode(encode_image(draw_shape("red", "star", size=64), "PNG")).decode()
    ids = [f"pasted-{n}" for n in range(count)]
    docs = [{"id": i, "name": f"{i}.png", "path": "", "image": image} for i in ids]
    results = service.client.collections[PHOTOS].documents.import_(docs)
    assert all(r["success"] for r in results), results
    return ids


def test_photos_that_cannot_be_embedded_again_are_listed_and_kept_unless_the_user_agrees(
    service: LibraryService, second: dict, tmp_path: Path
) -> None:
    files = _import(service, tmp_path / "shapes")
    pasted = _add_pasted_photos(service, 2)
    files[0].unlink()  # a photo whose file is gone now
    total = _collection(service)["num_documents"]

    plan = service.plan_model_switch(PHOTOS, second)
    reasons = {c.label: c.reason for c in plan.cannot}
    assert len(plan.cannot) == 3
    assert "store: false" in reasons["pasted-0.png"]
    assert reasons[str(files[0])] == f"its file is missing: {files[0]}"

    # Without the user's agreement nothing is lost: the switch stops before the swap.
    refused = service.switch_model(PHOTOS, second).run()
    assert refused is not None and not refused.switched
    assert sorted(b.id for b in refused.blocking) == sorted(c.id for c in plan.cannot)
    assert "cannot be embedded again" in refused.message
    assert _embedding_field(service)["embed"]["model_config"]["model_name"] == TINY
    assert _collection(service)["num_documents"] == total
    assert _similar(service, pasted[0])[0] == "pasted-1.png"  # its twin: vectors still there

    # With it, they are removed in the same transaction as the swap, and said so.
    agreed = service.switch_model(PHOTOS, second, remove_unembeddable=True).run()
    assert agreed is not None and agreed.switched
    assert sorted(r.id for r in agreed.removed) == sorted(c.id for c in plan.cannot)
    assert agreed.embedded == 0  # everything else was embedded by the first try and kept
    assert _collection(service)["num_documents"] == total - 3
    removed_events = [e for e in service.events if isinstance(e, DocumentsRemoved)]  # type: ignore[attr-defined]
    assert sorted(removed_events[-1].ids) == sorted(c.id for c in plan.cannot)


def test_a_switch_to_a_model_the_schema_cannot_take_is_refused_before_anything_starts(
    service: LibraryService, tmp_path: Path
) -> None:
    _import(service, tmp_path / "shapes")
    with pytest.raises(Exception, match="openclip/no-such-arch"):
        service.switch_model(PHOTOS, {"model_name": "openclip/no-such-arch/x"})
    assert _embedding_field(service)["embed"]["model_config"]["model_name"] == TINY


def test_the_catalog_says_size_speed_and_languages_and_what_the_multilingual_model_needs(
    service: LibraryService, tmp_path: Path
) -> None:
    from app import paths
    from app.engine import compute
    from app.engine.compute_choice import CACHE_NAME

    cache = paths.cache_dir() / CACHE_NAME
    key = f"ts/clip-vit-b-p32|ViT-B-32|open_clip_model.safetensors|auto|{compute.machine_fingerprint()}"
    measurement = {"path": "cpu:int8", "images_per_s": 20.0, "text_ms": 9.0, "min_cosine": 0.9995}
    cache.write_text(json.dumps({key: {"device": "cpu", "precision": "int8", "measurements": [measurement]}}))
    assert measured_rates() == {"ts/clip-vit-b-p32": 20.0}

    _import(service, tmp_path / "shapes")
    listed = {c.name: c for c in service.model_choices(PHOTOS)}
    default = listed["ts/clip-vit-b-p32"]
    assert (default.size_text, default.speed, default.entry.languages) == (
        "about 605 MB", "about 20 photos/s here (measured)", "English",
    )  # fmt: skip
    stronger = listed["openclip/ViT-B-16/laion2b_s34b_b88k"]
    assert stronger.speed == "about 4x slower than CLIP ViT-B/32 (estimate: about 5 photos/s here)"
    multilingual = listed["openclip/xlm-roberta-base-ViT-B-32/laion5b_s13b_b90k"]
    assert multilingual.entry.languages == "about 100 languages"
    assert multilingual.size_text == "about 1.5 GB"
    try:
        import transformers  # noqa: F401
    except ImportError:
        assert "transformers" in multilingual.unavailable
    else:
        assert multilingual.unavailable == ""
    assert listed[TINY].current and not default.current
    assert [c.current for c in choices({"model_name": "x/unknown"})].count(True) == 1


def test_photos_with_a_stored_copy_switch_even_when_their_file_is_gone(
    service: LibraryService, second: dict, tmp_path: Path
) -> None:
    files = write_shape_folder(tmp_path / "kept", per_class=1, size=64, fmt="PNG", colours=("green",))
    # Word splitting set by a script: a switch of model keeps it (the schema is rewritten).
    schema = {**photo_schema(PHOTOS, TINY, keep_copies=True), "token_separators": ["_"]}
    service.import_paths(PHOTOS, [str(tmp_path / "kept")], schema).run()
    Path(files[0]).unlink()

    plan = service.plan_model_switch(PHOTOS, second)
    assert (plan.photos, plan.cannot) == (6, [])
    summary = service.switch_model(PHOTOS, second).run()
    assert summary is not None and summary.switched and summary.embedded == 6
    assert _collection(service)["num_documents"] == 6
    assert _text_search(service, "green circle")[0]["name"].startswith("green_circle")
    assert _collection(service)["token_separators"] == ["_"]


def test_another_process_with_the_library_open_follows_a_switch(
    service: LibraryService, second: dict, tmp_path: Path
) -> None:
    # The CLI beside the app: its own engine on the same library, with the collection already open.
    _import(service, tmp_path / "shapes")
    other = Engine(service.data_dir)
    try:
        docs = other.collections[PHOTOS].documents
        assert docs.search({"q": "red circle", "query_by": "embedding"})["hits"]
        assert service.switch_model(PHOTOS, second).run().switched

        # It now searches and imports with model B: a photo it adds gets B's width, not the old model's.
        fields = other.collections[PHOTOS].retrieve()["fields"]
        assert next(f for f in fields if f["name"] == "embedding")["num_dim"] == SECOND_DIMS
        search = {"q": "red circle", "query_by": "embedding", "exclude_fields": "embedding"}
        hits = docs.search(search)["hits"]
        assert hits[0]["document"]["name"].startswith("red_circle")
        image = base64.b64encode(encode_image(draw_shape("red", "circle", size=64), "PNG")).decode()
        docs.create({"id": "added-by-cli", "name": "cli.png", "path": "", "image": image})
        assert len(docs["added-by-cli"].retrieve()["embedding"]) == SECOND_DIMS
    finally:
        other.close()


def test_a_field_another_process_adds_during_a_switch_survives_it_and_the_switch_survives_an_alter(
    service: LibraryService, second: dict, tmp_path: Path
) -> None:
    # A script (`photoseek serve`, the CLI) alters the collection while the app switches its model.
    _import(service, tmp_path / "shapes", per_class=4)  # more than one chunk
    job = service.switch_model(PHOTOS, second)
    assert job.step() is False
    other = Engine(service.data_dir)
    try:
        other.collections[PHOTOS].retrieve()  # opened before the switch lands
        other.collections[PHOTOS].update({"fields": [{"name": "rating", "type": "int32", "optional": True}]})
        assert job.run().switched
        # Then the script alters again, from its collection opened under the old model.
        other.collections[PHOTOS].update({"fields": [{"name": "album", "type": "string", "optional": True}]})
    finally:
        other.close()
    fields = {f["name"]: f for f in _collection(service)["fields"]}
    assert {"rating", "album"} <= set(fields)
    assert fields["embedding"]["embed"]["model_config"]["model_name"] == second["model_name"]
    assert fields["embedding"]["num_dim"] == SECOND_DIMS
