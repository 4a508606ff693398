"""A second small model for model-switch tests: the tiny model's towers projected to 96 dimensions.

Both projections (image and text) are multiplied by the same random 128x96 matrix with orthonormal
columns, so the model still ranks shapes much as the tiny one does (cosines are those of a random
96-dimensional view), yet its vectors have another width and other values: a library switched to it
must really have been embedded again. Written to a temp dir as an open_clip architecture config
(registered with open_clip) plus a safetensors weights file named by ``model_config.model_path``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.engine.models import tiny_model_dir

SECOND_ARCH = "photoseek-test-shapes-96"
SECOND_DIMS = 96


def make_second_model(directory: Path) -> dict:
    """Write the model under ``directory`` and return the ``model_config`` naming it."""
    import open_clip
    import torch
    from safetensors.torch import load_file, save_file

    directory.mkdir(parents=True, exist_ok=True)
    tiny = tiny_model_dir()
    config = json.loads((tiny / "open_clip_config.json").read_text())["model_cfg"]
    config["embed_dim"] = SECOND_DIMS
    (directory / f"{SECOND_ARCH}.json").write_text(json.dumps(config))
    open_clip.add_model_config(directory / f"{SECOND_ARCH}.json")

    tensors = {k: v.float() for k, v in load_file(str(tiny / "open_clip_model.safetensors")).items()}
    rng = np.random.default_rng(96)
    q, _ = np.linalg.qr(rng.normal(size=(128, SECOND_DIMS)))
    rotation = torch.from_numpy(q.astype(np.float32))
    tensors["visual.attnpool.c_proj.weight"] = rotation.T @ tensors["visual.attnpool.c_proj.weight"]
    tensors["visual.attnpool.c_proj.bias"] = rotation.T @ tensors["visual.attnpool.c_proj.bias"]
    tensors["text_projection"] = tensors["text_projection"] @ rotation
    weights = directory / "second-model.safetensors"
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(weights))
    return {"model_name": f"openclip/{SECOND_ARCH}", "model_path": str(weights)}
