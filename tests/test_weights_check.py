"""Weights files are judged by whether they load strictly into the model, not by their hash or extension.

Uses the trained tiny-shapes model (tests/models/tiny-shapes): its own file is the official one, and a copy
with one tensor nudged stands for a fine-tuned file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from app.engine import models
from app.engine.embedder import load_embedder
from app.engine.models import ModelSpec, resolve_model, verify_cached_weights, weights_path
from app.engine.weights_check import WeightsFileError, check_weights_file, official_sha256s

NUDGED = "text_projection"
DROPPED = "visual.attnpool.c_proj.bias"


pytestmark = pytest.mark.usefixtures("fresh_embedders")  # in conftest.py, with ``tiny``


@pytest.fixture
def downloadable_tiny(tiny, monkeypatch) -> ModelSpec:
    """The tiny model as if it were downloaded into the cache, with its official sha256 in its URL (as
    OpenAI's files have): what `ts/clip-vit-b-p32` is, at a size a test can load."""
    official = models.file_sha256(tiny.local_dir / "open_clip_model.safetensors")
    url = f"https://openaipublic.azureedge.net/clip/models/{official}/tiny-shapes.pt"
    monkeypatch.setitem(models._BUILTIN_PRETRAINED, (tiny.arch, "test"), {"url": url})
    return dataclasses.replace(tiny, name="test/tiny-download", pretrained="test", local_dir=None)


def _tiny_state(tiny: ModelSpec) -> dict:
    from safetensors.torch import load_file

    return load_file(str(tiny.local_dir / "open_clip_model.safetensors"))


def _save(state: dict, path: Path, fmt: str) -> Path:
    """Write ``state`` as safetensors or as torch.save's zip, whatever ``path``'s extension says."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def _nudged(tiny: ModelSpec) -> dict:
    state = _tiny_state(tiny)
    state[NUDGED] = state[NUDGED] + 0.01
    return state


FORMATS_AND_NAMES = [
    ("safetensors", "weights.safetensors"),
    ("safetensors", "weights.bin"),
    ("torch", "weights.bin"),
    ("torch", "weights.pt"),
    ("torch", "weights.safetensors"),
]


def test_the_models_own_file_is_official(tiny):
    own = tiny.local_dir / "open_clip_model.safetensors"
    check = check_weights_file(tiny, own)
    assert check.official and check.official_hash_known and "official" in check.description
    assert check.sha256 == models.file_sha256(own) and official_sha256s(tiny) == {check.sha256}


@pytest.mark.parametrize(("fmt", "name"), FORMATS_AND_NAMES)
def test_a_fine_tuned_file_is_accepted_as_not_official(tiny, tmp_path, fmt, name):
    path = _save(_nudged(tiny), tmp_path / name, fmt)
    check = check_weights_file(tiny, path)
    assert not check.official and check.official_hash_known
    assert "not the official" in check.description.lower() and "fine-tuned" in check.description
    assert check.sha256 == models.file_sha256(path)


@pytest.mark.parametrize(("fmt", "name"), FORMATS_AND_NAMES)
def test_a_file_missing_a_tensor_is_refused_naming_it(tiny, tmp_path, fmt, name):
    state = _tiny_state(tiny)
    del state[DROPPED]
    path = _save(state, tmp_path / name, fmt)
    with pytest.raises(WeightsFileError, match=rf"lacks 1 of the model's tensors \(`{DROPPED}`\)") as caught:
        check_weights_file(tiny, path)
    assert caught.value.problem == "missing tensors"


def test_another_architectures_file_is_refused_naming_what_differs(tiny, tmp_path):
    state = _tiny_state(tiny)
    state[NUDGED] = state[NUDGED][:, :64]
    with pytest.raises(
        WeightsFileError, match=rf"`{NUDGED}` is \[64, 64\] in the file, \[64, 128\]"
    ) as caught:
        check_weights_file(tiny, _save(state, tmp_path / "narrow.safetensors", "safetensors"))
    assert caught.value.problem == "wrong architecture"

    renamed = _tiny_state(tiny)
    renamed["text_proj"] = renamed.pop(NUDGED)
    with pytest.raises(WeightsFileError, match=r"`text_projection`.*`text_proj`") as caught:
        check_weights_file(tiny, _save(renamed, tmp_path / "renamed.bin", "torch"))
    assert caught.value.problem == "wrong architecture"


@pytest.mark.parametrize("name", ["weights.safetensors", "weights.bin", "weights.pt"])
def test_random_bytes_are_refused_as_damaged(tiny, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(os.urandom(4096))
    with pytest.raises(WeightsFileError, match="damaged or not a weights file") as caught:
        check_weights_file(tiny, path)
    assert caught.value.problem == "damaged"


@pytest.mark.parametrize(("fmt", "name"), [("safetensors", "cut.safetensors"), ("torch", "cut.bin")])
def test_a_truncated_file_is_refused_as_damaged(tiny, tmp_path, fmt, name):
    whole = _save(_tiny_state(tiny), tmp_path / "whole" / name, fmt).read_bytes()
    path = tmp_path / name
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(WeightsFileError, match="could not be read") as caught:
        check_weights_file(tiny, path)
    assert caught.value.problem == "damaged"


def test_a_cached_fine_tuned_file_loads_for_search(downloadable_tiny):
    """The user's bug: a fine-tuned file installed where a downloaded one goes was refused as corrupt."""
    import torch

    path = weights_path(downloadable_tiny)
    assert path.name == "tiny-shapes.pt" and not path.exists()
    nudged = _nudged(resolve_model({"model_name": models.TINY_NAME}))
    _save(nudged, path, "torch")

    embedder = load_embedder(downloadable_tiny)
    assert not embedder.random_weights
    torch.testing.assert_close(embedder.model.state_dict()[NUDGED], nudged[NUDGED].float())
    check = verify_cached_weights(downloadable_tiny, path)  # what older callers still use
    assert not check.official and check.official_hash_known


def test_the_official_bytes_under_another_extension_are_official_and_load(downloadable_tiny, tiny):
    path = weights_path(downloadable_tiny)
    path.parent.mkdir(parents=True)
    path.write_bytes((tiny.local_dir / "open_clip_model.safetensors").read_bytes())  # safetensors, named .pt
    assert check_weights_file(downloadable_tiny, path).official
    assert not load_embedder(downloadable_tiny).random_weights


def test_a_damaged_cached_file_is_not_loaded(downloadable_tiny):
    path = weights_path(downloadable_tiny)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a download")
    with pytest.raises(WeightsFileError, match="damaged") as caught:
        load_embedder(downloadable_tiny)
    assert caught.value.problem == "damaged"


def test_only_a_download_records_an_official_hash(downloadable_tiny, tiny, monkeypatch):
    """Older versions also recorded the hash of any file they first found: such a record proves nothing."""
    hub = dataclasses.replace(downloadable_tiny, pretrained="hub")
    monkeypatch.setitem(models._BUILTIN_PRETRAINED, (tiny.arch, "hub"), {"hf_hub": "photoseek/tiny-shapes/"})
    path = weights_path(hub)
    _save(_nudged(tiny), path, "safetensors")
    sha = models.file_sha256(path)
    path.with_name(path.name + ".sha256").write_text(f"{sha}  {path.name}\n")  # an old first-use record
    check = check_weights_file(hub, path)
    assert not check.official and not check.official_hash_known and "no official sha256" in check.description

    official = models.file_sha256(tiny.local_dir / "open_clip_model.safetensors")
    models._write_sidecar(path, official, "https://huggingface.co/photoseek/tiny-shapes/resolve/main/x")
    assert models.recorded_download_sha256(path) == official and official_sha256s(hub) == {official}
    check = check_weights_file(hub, path)
    assert not check.official and check.official_hash_known
