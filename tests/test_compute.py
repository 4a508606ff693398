"""Compute paths (app.engine.compute, compute_choice): every fast path embeds as fp32 does, the measured
choice is remembered, and an override is obeyed or refused with a clear reason."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from app.engine import compute
from app.engine.compute import ComputePath, ComputeRequest, parse_request
from app.engine.compute_choice import CACHE_NAME, MIN_COSINE
from app.engine.embedder import Embedder, clear_embedder_cache, load_embedder, loaded_compute_choice
from app.engine.models import TINY_NAME, resolve_model
from app.shapes import COLOURS, SHAPES, caption, iter_labelled

CPU_PATHS = ["cpu:fp32", "cpu:int8", "cpu:bf16"]
CLASSES = [(c, s) for c in COLOURS for s in SHAPES]


@pytest.fixture(autouse=True)
def fresh_models() -> Iterator[None]:
    clear_embedder_cache()
    yield
    compute.use_request(None)
    clear_embedder_cache()


def _embedder(name: str, path: str | None, monkeypatch: pytest.MonkeyPatch) -> Embedder:
    monkeypatch.setenv(compute.DEVICE_ENV, path or "auto")
    return load_embedder(resolve_model({"model_name": name}), allow_random_weights=True)


@pytest.fixture(scope="module")
def shape_pictures() -> tuple[list, np.ndarray]:
    pictures = list(iter_labelled(5, seed=11, size=96))
    labels = np.array([CLASSES.index((colour, shape)) for colour, shape, _ in pictures])
    return [image for _, _, image in pictures], labels


@pytest.mark.parametrize("path", CPU_PATHS[1:])
def test_tiny_model_on_each_fast_path_keeps_vectors_accuracy_and_precision(path, shape_pictures, monkeypatch):
    images, labels = shape_pictures
    results = {}
    for name in ("cpu:fp32", path):
        embedder = _embedder(TINY_NAME, name, monkeypatch)
        assert str(embedder.compute_path) == name
        vectors = np.stack(embedder.embed_images(images))
        texts = embedder.embed_texts([caption(c, s) for c, s in CLASSES])
        scores = vectors @ texts.T
        zero_shot = float((scores.argmax(axis=1) == labels).mean())
        # Retrieval: the 5 best pictures for each class's caption, as a text search would rank them.
        top5 = np.argsort(-scores, axis=0)[:5]
        precision = float((labels[top5] == np.arange(len(CLASSES))[None, :]).mean())
        results[name] = vectors, texts, zero_shot, precision

    fp32, fast = results["cpu:fp32"], results[path]
    image_cosines = (fp32[0] * fast[0]).sum(axis=1)
    text_cosines = (fp32[1] * fast[1]).sum(axis=1)
    assert image_cosines.min() >= MIN_COSINE, f"{path}: worst image cosine {image_cosines.min():.5f}"
    assert text_cosines.min() >= MIN_COSINE, f"{path}: worst text cosine {text_cosines.min():.5f}"
    assert fp32[2] > 0.9  # the model does classify these (so an equal accuracy below means something)
    assert fast[2] >= fp32[2], f"zero-shot accuracy {fast[2]:.3f} on {path} against {fp32[2]:.3f} in fp32"
    assert fast[3] >= fp32[3], f"precision@5 {fast[3]:.3f} on {path} against {fp32[3]:.3f} in fp32"


def test_vit_b_32_on_each_cpu_path_stays_within_cosine_of_fp32(shape_pictures, monkeypatch):
    # Random weights (pretrained ones cannot be downloaded here): the arithmetic is the same, and the
    # architecture, not the weights' values, decides how much precision a path loses.
    images = shape_pictures[0][:: len(CLASSES) // 2][:8]
    texts = ["a red circle", "a photo of two dogs playing in the snow", "invoice"]
    reference = None
    for path in CPU_PATHS:
        embedder = _embedder("openclip/ViT-B-32/openai", path, monkeypatch)
        vectors = np.stack(embedder.embed_images(images)), embedder.embed_texts(texts)
        if reference is None:
            reference = vectors
            continue
        for got, want in zip(vectors, reference, strict=True):
            cosines = (got * want).sum(axis=1)
            assert cosines.min() >= MIN_COSINE, f"{path}: cosines to fp32 {np.round(cosines, 5)}"
        clear_embedder_cache()  # one ViT-B-32 at a time beside the fp32 reference


def test_short_queries_skip_the_padding_and_get_the_same_vectors() -> None:
    import open_clip
    import torch

    from app.engine.text_tower import encode_text
    from app.engine.weights_check import load_model

    spec = resolve_model({"model_name": TINY_NAME})
    model = load_model(spec, spec.local_dir / "open_clip_model.safetensors").eval()  # type: ignore[operator]
    tokens = open_clip.get_tokenizer(spec.arch, context_length=model.context_length)(
        ["red", "a small purple star on a white background", ""]
    )
    with torch.inference_mode():
        full = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1)
        trimmed = torch.nn.functional.normalize(encode_text(model, tokens), dim=-1)
    assert torch.allclose(full, trimmed, atol=1e-5)


def test_the_measured_choice_is_remembered_for_the_next_start(monkeypatch, tmp_path) -> None:
    first = _embedder(TINY_NAME, None, monkeypatch)
    assert first.compute_choice.how == "measured"
    measured = {m.path: m for m in first.compute_choice.measurements}
    assert {"cpu:fp32", "cpu:int8"} <= set(measured)  # both measured; bf16 too where the CPU has it
    assert all(m.images_per_s > 0 for m in measured.values())
    chosen = measured[str(first.compute_path)]
    fastest = max(m.images_per_s for m in measured.values() if m.accepted)
    assert chosen.accepted and chosen.images_per_s == fastest
    assert str(first.compute_path) in first.compute_choice.describe()

    clear_embedder_cache()
    again = _embedder(TINY_NAME, None, monkeypatch)
    assert again.compute_choice.how == "remembered"
    assert again.compute_path == first.compute_path


def test_a_damaged_or_stale_memory_is_measured_again(monkeypatch, tmp_path) -> None:
    _embedder(TINY_NAME, None, monkeypatch)
    cache_file = next(tmp_path.rglob(CACHE_NAME))
    entries = json.loads(cache_file.read_text())
    for entry in entries.values():
        entry["device"] = "cuda" if not compute.device_available("cuda") else "mps"
    cache_file.write_text(json.dumps(entries))
    clear_embedder_cache()
    assert _embedder(TINY_NAME, None, monkeypatch).compute_choice.how == "measured"

    cache_file.write_text("{not json")
    clear_embedder_cache()
    assert _embedder(TINY_NAME, None, monkeypatch).compute_choice.how == "measured"


def test_an_asked_for_path_is_used_without_measuring(monkeypatch) -> None:
    embedder = _embedder(TINY_NAME, "cpu:int8", monkeypatch)
    assert embedder.compute_path == ComputePath("cpu", "int8")
    assert embedder.compute_choice.how == "asked for"
    assert embedder.compute_choice.measurements == ()
    assert "int8" in embedder.compute_choice.describe()

    # The process's own setting (--device, the app's setting) wins over the environment.
    compute.use_request(parse_request("cpu:fp32"))
    clear_embedder_cache()
    assert _embedder(TINY_NAME, "cpu:int8", monkeypatch).compute_path == compute.FP32_CPU


@pytest.mark.parametrize(
    "text, message",
    [
        ("gpu", "unknown device `gpu`"),
        ("cpu:fp16", "cpu cannot run fp16"),
        ("cuda:int8", "cuda cannot run int8"),
    ],
)
def test_a_bad_device_names_the_problem_and_the_choices(text, message, monkeypatch) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_request(text)
    assert "cpu:int8" in str(caught.value) and "auto" in str(caught.value)
    monkeypatch.setenv(compute.DEVICE_ENV, text)
    with pytest.raises(ValueError, match=f"{compute.DEVICE_ENV}: `{text}`: {message}"):
        load_embedder(resolve_model({"model_name": TINY_NAME}))


def test_a_gpu_asked_for_where_there_is_none_is_refused(monkeypatch) -> None:
    if compute.device_available("cuda"):
        pytest.skip("this computer has a CUDA GPU")
    monkeypatch.setenv(compute.DEVICE_ENV, "cuda")
    with pytest.raises(ValueError, match="device `cuda` is not available on this computer"):
        load_embedder(resolve_model({"model_name": TINY_NAME}))


def test_requests_read_back_as_written() -> None:
    assert str(parse_request(None)) == "auto" and parse_request(" AUTO ").is_auto
    assert parse_request("cpu") == ComputeRequest("cpu")
    assert parse_request("CUDA:fp16") == ComputeRequest("cuda", "fp16")
    assert str(parse_request("cpu:bf16")) == "cpu:bf16"
    assert ComputePath("cpu", "bf16").label == "CPU, bfloat16"


def test_the_cli_runs_the_model_where_device_says(tmp_path, monkeypatch) -> None:
    from cli_helpers import run_cli, table_rows

    from app.shapes import write_shape_folder

    photos = tmp_path / "photos"
    write_shape_folder(photos, per_class=1, colours=("red", "blue"), fmt="PNG")
    data = str(tmp_path / "data")
    code, _, err = run_cli("--device", "cpu:int8", "index", str(photos), "--data-dir", data)
    assert code == 0, err
    choice = loaded_compute_choice(TINY_NAME)
    assert choice is not None and str(choice.path) == "cpu:int8" and choice.how == "asked for"
    code, out, err = run_cli("search", "a red circle", "--data-dir", data, "--device", "cpu:int8")
    assert code == 0, err
    assert "red_circle" in table_rows(out)[0][3]


def test_the_cli_refuses_a_device_it_cannot_use_before_doing_anything(tmp_path, monkeypatch) -> None:
    from cli_helpers import run_cli

    from app import cli

    data = tmp_path / "data"
    code, _, err = run_cli("--device", "tpu", "collections", "--data-dir", str(data))
    assert code == cli.EXIT_USAGE
    assert "argument --device: `tpu`: unknown device `tpu`; use one of: auto, cpu" in err
    monkeypatch.setenv(compute.DEVICE_ENV, "cpu:fp16")
    code, _, err = run_cli("collections", "--data-dir", str(data))
    assert code == cli.EXIT_USAGE
    assert "PHOTOSEEK_DEVICE: `cpu:fp16`: cpu cannot run fp16" in err
    assert not data.exists()


def test_a_model_switched_away_from_is_let_go_while_the_library_stays_open(engine, monkeypatch) -> None:
    import gc
    import weakref

    documents = engine.collections["images"].documents
    search = {"q": "a red circle", "query_by": "embedding", "exclude_fields": "embedding"}
    documents.search(search)
    before = weakref.ref(load_embedder(resolve_model({"model_name": TINY_NAME})))
    compute.use_request(parse_request("cpu:int8"))
    clear_embedder_cache()
    gc.collect()
    assert before() is None, "the engine kept the fp32 model alive after the switch"
    documents.search(search)
    choice = loaded_compute_choice(TINY_NAME)
    assert choice is not None and str(choice.path) == "cpu:int8"
