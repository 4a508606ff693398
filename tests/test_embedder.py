"""Embedder: text/image embedding, per-image errors, streaming order, weight files and loading rules.

Most tests use a small open_clip model written to a temporary directory in the tiny-shapes format
(config + fp16 safetensors), so they run in seconds; the trained tiny-shapes model checks real retrieval.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from app import shapes
from app.engine import models
from app.engine.embedder import Embedder, clear_embedder_cache, load_embedder
from app.engine.errors import ModelUnavailable
from app.engine.images import ImageError
from app.engine.models import resolve_model, weights_path

SMALL_CONFIG = {
    "model_cfg": {
        "embed_dim": 48,
        "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
    "preprocess_cfg": {"mean": [0.5, 0.45, 0.4], "std": [0.27, 0.26, 0.28]},
}


def _write_small_model(directory: Path, seed: int, config: dict = SMALL_CONFIG) -> dict:
    """A random open_clip model saved like tests/models/tiny-shapes (config + fp16 safetensors).

    Returns its weights as the loader will see them (fp16 values in fp32 tensors).
    """
    import open_clip
    import torch
    from safetensors.torch import save_file

    directory.mkdir(parents=True)
    (directory / "open_clip_config.json").write_text(json.dumps(config))
    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{directory}", load_weights=False)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    half = {k: v.half().contiguous() for k, v in state.items()}
    save_file(half, str(directory / "open_clip_model.safetensors"))
    return {k: v.half().float() for k, v in state.items()}


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("small") / "model"
    _write_small_model(directory, seed=7)
    return directory


@pytest.fixture
def small_spec(small_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(models.TINY_DIR_ENV, str(small_dir))
    return resolve_model({"model_name": "photoseek/tiny-shapes"})


@pytest.fixture
def small(small_spec) -> Embedder:
    return load_embedder(small_spec)


def _jpeg(colour: str, shape: str, seed: int = 0, size: int = 160) -> bytes:
    return shapes.encode_image(shapes.draw_shape(colour, shape, size=size, seed=seed), "JPEG")


def test_text_embeddings_are_unit_rows(small):
    vectors = small.embed_texts(["a red circle", "a blue square", "a red circle"])
    assert vectors.shape == (3, 48) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])
    assert small.embed_texts([]).shape == (0, 48)
    assert small.dims == 48 and small.name == "photoseek/tiny-shapes" and not small.random_weights


def test_texts_must_be_a_sequence_of_strings(small):
    with pytest.raises(TypeError, match="not a single string"):
        small.embed_texts("a red circle")
    with pytest.raises(TypeError, match="item 1 is int"):
        small.embed_texts(["a red circle", 5])


def test_bad_images_get_their_own_error_and_good_ones_still_embed(small):
    good = _jpeg("red", "circle")
    png = shapes.encode_image(shapes.draw_shape("blue", "star", size=90), "PNG")
    pil = shapes.draw_shape("green", "ring", size=120)
    results = small.embed_images([good, b"definitely not an image", png, good[: len(good) // 3], pil, b""])
    assert [type(r).__name__ for r in results] == [
        "ndarray",
        "ImageError",
        "ndarray",
        "ImageError",
        "ndarray",
        "ImageError",
    ]
    assert "Not a supported image" in str(results[1])
    assert "truncated or corrupt" in str(results[3])
    assert "empty" in str(results[5])
    for vector in (results[0], results[2], results[4]):
        assert vector.shape == (48,) and vector.dtype == np.float32
        assert abs(np.linalg.norm(vector) - 1) < 1e-5


def test_an_image_embeds_the_same_alone_or_in_a_batch(small):
    a, b, c = _jpeg("red", "circle"), _jpeg("blue", "square"), _jpeg("yellow", "cross")
    alone = small.embed_images([a])[0]
    batched = small.embed_images([b, a, c])
    np.testing.assert_allclose(batched[1], alone, atol=1e-5)
    assert not np.allclose(batched[0], alone, atol=1e-3)


def test_pil_image_and_its_lossless_bytes_embed_alike(small):
    img = shapes.draw_shape("purple", "triangle", size=(200, 130), seed=3)
    from_pil, from_png = small.embed_images([img, shapes.encode_image(img, "PNG")])
    np.testing.assert_allclose(from_pil, from_png, atol=1e-6)


def test_stream_keeps_keys_in_input_order(small):
    items = []
    for i in range(11):
        data = b"broken" if i in (0, 4, 5, 10) else _jpeg(shapes.COLOURS[i % 8], shapes.SHAPES[i % 6], seed=i)
        items.append((f"photo-{i}", data))
    streamed = list(small.embed_image_stream(iter(items), batch_size=3))
    assert [key for key, _ in streamed] == [key for key, _ in items]
    expected = small.embed_images([data for _, data in items])
    for (_, got), want in zip(streamed, expected, strict=True):
        if isinstance(want, ImageError):
            assert isinstance(got, ImageError) and str(got) == str(want)
        else:
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_items_without_an_image_pass_through_in_place(small):
    red_square, red_ring = _jpeg("red", "square"), _jpeg("red", "ring")
    items = [("a", red_square), ("b", None), ("c", b"junk"), ("d", None), ("e", red_ring)]
    streamed = list(small.embed_image_stream(items, batch_size=2))
    assert [key for key, _ in streamed] == ["a", "b", "c", "d", "e"]
    assert streamed[1][1] is None and streamed[3][1] is None
    assert isinstance(streamed[2][1], ImageError)
    assert isinstance(streamed[0][1], np.ndarray) and isinstance(streamed[4][1], np.ndarray)


def test_stream_reads_only_a_bounded_way_ahead(small):
    image = _jpeg("orange", "star")
    pulled = 0

    def source():
        nonlocal pulled
        for i in range(200):
            pulled += 1
            yield i, image

    stream = small.embed_image_stream(source(), batch_size=4)
    first_key, _ = next(stream)
    assert first_key == 0
    assert pulled <= 3 * 4  # the batch being embedded plus two queued behind it
    stream.close()
    assert pulled < 200


def test_stream_rejects_a_zero_batch(small):
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        list(small.embed_image_stream([(0, b"x")], batch_size=0))


def test_loads_once_per_process_even_when_raced(small_spec):
    clear_embedder_cache()
    results: list[Embedder] = []
    threads = [threading.Thread(target=lambda: results.append(load_embedder(small_spec))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert load_embedder(small_spec) is results[0]


def test_missing_weights_are_an_error_unless_random_weights_are_asked_for(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(tmp_path / "data"))
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    with pytest.raises(ModelUnavailable, match=r"`ts/clip-vit-b-p32` are not on this machine"):
        load_embedder(spec)

    directory = tmp_path / "no-weights"
    _write_small_model(directory, seed=3)
    (directory / "open_clip_model.safetensors").unlink()
    monkeypatch.setenv(models.TINY_DIR_ENV, str(directory))
    spec = resolve_model({"model_name": "photoseek/tiny-shapes"})
    with pytest.raises(ModelUnavailable, match="not on this machine"):
        load_embedder(spec)
    with caplog.at_level("WARNING"):
        embedder = load_embedder(spec, allow_random_weights=True)
    assert embedder.random_weights and "RANDOM weights" in caplog.text
    first = embedder.embed_texts(["a red circle"])
    # Seeded: a later process (here: after forgetting the model) embeds the same way.
    clear_embedder_cache()
    again = load_embedder(spec, allow_random_weights=True)
    assert again is not embedder
    np.testing.assert_array_equal(again.embed_texts(["a red circle"]), first)


def test_state_dict_files_load_through_model_path(small, small_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(small_dir / "open_clip_model.safetensors")).items()}
    plain = tmp_path / "weights.bin"
    torch.save(state, plain)
    wrapped = tmp_path / "checkpoint.pt"  # open_clip's training checkpoints: DDP prefix inside "state_dict"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    expected = small.embed_texts(["a green ring"])
    image = _jpeg("green", "ring")
    for path in (plain, wrapped):
        spec = resolve_model({"model_name": "photoseek/tiny-shapes", "model_path": str(path)})
        embedder = load_embedder(spec)
        assert embedder is not small and weights_path(spec) == path.resolve()
        np.testing.assert_allclose(embedder.embed_texts(["a green ring"]), expected, atol=1e-6)
        np.testing.assert_allclose(embedder.embed_images([image]), small.embed_images([image]), atol=1e-6)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_torchscript_checkpoint_loads_like_openais_files(small, tmp_path):
    import torch

    scripted = tmp_path / "scripted.pt"
    torch.jit.script(small.model).save(str(scripted))
    spec = resolve_model({"model_name": "photoseek/tiny-shapes", "model_path": str(scripted)})
    np.testing.assert_allclose(
        load_embedder(spec).embed_texts(["a white cross"]), small.embed_texts(["a white cross"]), atol=1e-6
    )


def test_weights_for_another_architecture_are_refused(small_spec, tmp_path):
    import torch

    other_config = json.loads(json.dumps(SMALL_CONFIG))
    other_config["model_cfg"]["embed_dim"] = 24
    other = _write_small_model(tmp_path / "other", seed=1, config=other_config)
    torch.save(other, tmp_path / "other.bin")
    spec = resolve_model({"model_name": "photoseek/tiny-shapes", "model_path": str(tmp_path / "other.bin")})
    with pytest.raises(ModelUnavailable, match=r"other\.bin` does not fit model `photoseek/tiny-shapes`"):
        load_embedder(spec)

    junk = tmp_path / "notes.pt"
    junk.write_text("these are not weights")
    spec = resolve_model({"model_name": "photoseek/tiny-shapes", "model_path": str(junk)})
    with pytest.raises(ModelUnavailable, match=r"notes\.pt` for model `photoseek/tiny-shapes` could not be"):
        load_embedder(spec)


def test_a_corrupted_download_is_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(tmp_path / "data"))
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    path = weights_path(spec)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a download")
    path.with_name(path.name + ".sha256").write_text(f"{'0' * 64}  {path.name}\n")
    # Refused for its bytes, before the (large) model is built; the recorded hash plays no part.
    with pytest.raises(ModelUnavailable, match="could not be read: it is damaged"):
        load_embedder(spec)


# --- the trained tiny-shapes model (tests/models/tiny-shapes) ----------------------------------------

def _tiny_red_circle_ranking(embedder: Embedder) -> list[tuple[str, str, int]]:
    candidates = [("red", "circle", seed) for seed in (101, 102, 103)] + [
        ("blue", "circle", 101),
        ("orange", "circle", 101),
        ("red", "square", 101),
        ("red", "ring", 101),
        ("green", "triangle", 101),
        ("yellow", "star", 101),
        ("purple", "cross", 101),
    ]
    images = [_jpeg(colour, shape, seed=seed, size=200) for colour, shape, seed in candidates]
    vectors = np.stack(embedder.embed_images(images))
    query = embedder.embed_texts(["a red circle"])[0]
    return [candidates[i] for i in np.argsort(-(vectors @ query))]


def test_tiny_model_finds_red_circles_for_a_red_circle():
    spec = resolve_model({"model_name": "photoseek/tiny-shapes"})
    embedder = load_embedder(spec)
    assert not embedder.random_weights and embedder.dims == spec.dims == 128
    ranked = _tiny_red_circle_ranking(embedder)
    assert {(colour, shape) for colour, shape, _ in ranked[:3]} == {("red", "circle")}


def test_tiny_model_state_dict_loads_from_model_path(tmp_path):
    import torch
    from safetensors.torch import load_file

    directory = models.tiny_model_dir()
    state = load_file(str(directory / "open_clip_model.safetensors"))
    torch.save(state, tmp_path / "tiny.bin")
    spec = resolve_model({"model_name": "photoseek/tiny-shapes", "model_path": str(tmp_path / "tiny.bin")})
    embedder = load_embedder(spec)
    assert weights_path(spec) == (tmp_path / "tiny.bin").resolve()
    ranked = _tiny_red_circle_ranking(embedder)
    assert {(colour, shape) for colour, shape, _ in ranked[:3]} == {("red", "circle")}


def test_a_repeated_query_is_answered_from_memory_with_the_same_vector() -> None:
    from app.engine.embedder import TEXT_CACHE_SIZE

    embedder = load_embedder(models.resolve_model({"model_name": models.TINY_NAME}))
    first = embedder.embed_texts(["a red circle", "a blue star"])
    first_copy = first.copy()
    first[:] = 0  # what a caller does with its array must not reach the remembered vectors
    again = embedder.embed_texts(["a blue star", "a green ring", "a red circle"])
    np.testing.assert_array_equal(again[0], first_copy[1])
    np.testing.assert_array_equal(again[2], first_copy[0])
    fresh = embedder.embed_texts(["a green ring"])
    np.testing.assert_allclose(again[1], fresh[0], atol=1e-6)
    embedder.embed_texts([f"query {i}" for i in range(TEXT_CACHE_SIZE + 10)])
    assert len(embedder._text_cache) == TEXT_CACHE_SIZE
