""""Use a File I Already Have…": any of the weights kinds the dialog names (.safetensors, .bin, .pt, .pth)
is taken for a model, whatever the download would have called it, and any other file is refused with a
sentence naming what is accepted. Real tiny-model weights; the model's cache place is a tmp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import models
from app.engine.errors import ModelUnavailable
from app.library.model_files import WEIGHT_SUFFIXES, accepted_files_text, install_weights_file

TINY = "photoseek/tiny-shapes"


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny model given a download place (a safetensors file), as a downloadable model has one."""
    place = tmp_path / "cache" / "tiny" / "open_clip_model.safetensors"
    monkeypatch.setattr(
        models, "weights_sources", lambda spec, base_url=None: [models.WeightsSource("", place, None)]
    )
    return place


@pytest.mark.usefixtures("fresh_embedders")
def test_a_pth_file_is_taken_although_the_download_is_a_safetensors_file(target: Path, tmp_path: Path):
    import torch
    from safetensors.torch import load_file

    state = load_file(str(models.tiny_model_dir() / "open_clip_model.safetensors"))
    mine = tmp_path / "tiny-weights.pth"
    torch.save(state, mine)

    installed = install_weights_file(TINY, mine)

    assert installed.path == target and target.read_bytes() == mine.read_bytes()


def test_another_kind_of_file_is_refused_naming_what_is_accepted(target: Path, tmp_path: Path) -> None:
    notes = tmp_path / "weights.txt"
    notes.write_text("not weights", encoding="utf-8")
    with pytest.raises(ModelUnavailable) as refused:
        install_weights_file(TINY, notes)
    message = refused.value.message
    assert "`weights.txt` is not a weights file Photoseek can use" in message
    assert all(kind in message for kind in WEIGHT_SUFFIXES)
    assert accepted_files_text(TINY) in message
    assert not target.exists()
