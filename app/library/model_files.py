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
    candidates = models.weights_sources(spec)
    target = next((c.path for c in candidates if c.path.suffix.lower() == suffix), None)
    if target is None:
        wanted = sorted({c.path.suffix for c in candidates}) or [".safetensors"]
        raise ModelUnavailable(
            f"`{source.name}` is not a weights file Photoseek can use for `{model_name}`: "
            f"expected a {' or '.join(wanted)} file."
        )
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
