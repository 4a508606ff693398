"""Which model a collection uses, and installing model weights the user already has on disk.

Imports the engine lazily, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WeightsInstalled:
    """Where a model's weights now are, and whether they are the file the model's publisher made."""

    path: Path
    official: bool
    description: str


# Download sizes in MB (10^6 bytes, as the download shows them) of models people may name that the
# curated list (app.library.model_catalog, which has its own) leaves out: the file the download fetches
# first (open_clip's hub safetensors, full precision).
_DOWNLOAD_MB = {
    "openclip/ViT-B-32/openai": 605,
    "openclip/ViT-B-32/laion2b_s34b_b79k": 605,
    "openclip/ViT-B-16/openai": 599,
    "openclip/ViT-L-14/openai": 1711,
}
# What "Use a File I Already Have" takes for a model, said before the file dialog opens.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_KNOWN_FILES = {
    "ts/clip-vit-b-p32": "OpenAI's ViT-B-32.pt or open_clip_model.safetensors from Hugging Face",
}


def download_size_mb(model_name: str) -> int | None:
    """The model's download size in MB where it is known (curated models), else None."""
    from app.library import model_catalog

    for entry in model_catalog.entries():
        if entry.name == model_name and entry.download_bytes:
            return round(entry.download_bytes / 1e6)
    return _DOWNLOAD_MB.get(model_name)


def download_size_text(model_name: str) -> str:
    """ "about 605 MB", or "several hundred MB" for a model not in the table."""
    size = download_size_mb(model_name)
    if size is None:
        return "several hundred MB"
    return f"about {size / 1000:.1f} GB" if size >= 1000 else f"about {size} MB"


def accepted_files_text(model_name: str, label: str | None = None) -> str:
    """Which files "Use a File I Already Have" accepts for ``model_name`` (shown as ``label``)."""
    kinds = ", ".join(WEIGHT_SUFFIXES[:-1]) + f" or {WEIGHT_SUFFIXES[-1]}"
    known = _KNOWN_FILES.get(model_name)
    example = f", e.g. {known}" if known else ""
    return f"a {kinds} file with the weights of {label or model_name}{example}"


def model_config_of(collection: dict | None) -> dict | None:
    """The model_config of a collection's first embedding field (None for a collection without one)."""
    for field in (collection or {}).get("fields", []):
        config = (field.get("embed") or {}).get("model_config") or {}
        if config.get("model_name"):
            return dict(config)
    return None


def model_of(collection: dict | None) -> str | None:
    config = model_config_of(collection)
    return str(config["model_name"]) if config else None


def install_weights_file(
    model_name: str, source: Path, cancel: threading.Event | None = None
) -> WeightsInstalled:
    """Copy a weights file the user already has to where the engine looks for ``model_name``'s weights.

    The copy is checked by loading it strictly into the model's architecture, so a wrong or damaged file
    is refused at once (and removed, with the file it would have replaced kept) instead of failing at the
    next search. A file that loads is kept whether or not it is the official one (a fine-tuned model is
    the user's choice); the result says which it is.
    """
    from app.engine import models
    from app.engine.embedder import clear_embedder_cache
    from app.engine.errors import ModelUnavailable
    from app.engine.weights_check import WeightsFileError, check_weights_file

    spec = models.resolve_model({"model_name": model_name})
    suffix = source.suffix.lower()
    candidates = [c.path for c in models.weights_sources(spec)]
    # The loader tells safetensors from torch files by their bytes, so any torch suffix (.bin, .pt,
    # .pth) may take the place of the download's torch file.
    safetensors = suffix == ".safetensors"
    target = next((c for c in candidates if (c.suffix.lower() == ".safetensors") == safetensors), None)
    if suffix not in WEIGHT_SUFFIXES or not candidates:
        raise ModelUnavailable(
            f"`{source.name}` is not a weights file Photoseek can use for `{model_name}`: "
            f"expected {accepted_files_text(model_name)}."
        )
    target = target or candidates[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".copying")
    try:
        with open(source, "rb") as src, open(partial, "wb") as dst:
            while chunk := src.read(1 << 22):
                if cancel is not None and cancel.is_set():
                    raise ModelUnavailable("Copying the weights file was cancelled.")
                dst.write(chunk)
        # Checked before it replaces anything: a refused file never costs the user a working one.
        try:
            check = check_weights_file(spec, partial)
        except WeightsFileError as exc:
            # Said of the user's file: the temporary copy that was checked is gone by the time this is read.
            raise WeightsFileError(exc.message.replace(f"`{partial}`", f"`{source}`"), exc.problem) from None
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    clear_embedder_cache()  # a model loaded from the file this one replaced must not stay in use
    return WeightsInstalled(target, official=check.official, description=check.description)
