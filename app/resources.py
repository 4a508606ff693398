"""Photoseek's data files (``resources/`` in the checkout), read the same way wherever the app runs.

The folder ``resources/`` is shipped as the package ``app._resources``: pyproject.toml maps it there for
wheels and editable installs, and the PyInstaller spec freezes it under the same name. Reading goes through
``importlib.resources`` so a wheel, an editable install and a frozen bundle all work. A bare checkout that
was never installed has no ``app._resources``; there the folder itself is read.

No Qt and no torch here: the engine, the CLI and the self-test all use this module.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import importlib.resources
import json
import os
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

from app import paths

RESOURCE_PACKAGE = "app._resources"
APP_ID = "io.github.photoseek.Photoseek"  # reverse-DNS id shared by the desktop entry, metainfo and icons
DESKTOP_ENTRY = f"{APP_ID}.desktop"
METAINFO = f"{APP_ID}.metainfo.xml"
DEFAULT_COLLECTION_SCHEMA = "default-collection.json"
STYLESHEET = "photoseek.qss"
DEFAULT_COLLECTION_NAME = "photos"
# Placeholders in default-collection.json, replaced as whole JSON strings (never spliced into the text).
_MODEL_PLACEHOLDER = "{model_name}"
_NAME_PLACEHOLDER = "{collection_name}"

_extracted = contextlib.ExitStack()  # temporary copies made by resource_path(), removed at exit
atexit.register(_extracted.close)


def resource_root() -> Traversable:
    """The folder holding the resources, as an importlib.resources Traversable."""
    try:
        return importlib.resources.files(RESOURCE_PACKAGE)
    except ModuleNotFoundError:
        checkout = paths.repo_root() / "resources"
        if checkout.is_dir():
            return checkout
        raise FileNotFoundError(
            f"Photoseek's resources are missing: neither the package {RESOURCE_PACKAGE} nor {checkout} "
            "exists. Reinstall Photoseek."
        ) from None


def _locate(name: str) -> Traversable:
    parts = PurePosixPath(name).parts if isinstance(name, str) else ()
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
        raise ValueError(f"resource name must be a relative path inside resources/, got {name!r}")
    node = resource_root()
    for part in parts:
        node = node.joinpath(part)
    if not node.is_file():
        raise FileNotFoundError(f"Photoseek resource {name!r} is missing (looked in {resource_root()})")
    return node


def resource_text(name: str) -> str:
    """The UTF-8 text of resource ``name`` (a path relative to ``resources/``, e.g. ``photoseek.qss``)."""
    return _locate(name).read_text(encoding="utf-8")


def resource_bytes(name: str) -> bytes:
    """The bytes of resource ``name``."""
    return _locate(name).read_bytes()


def resource_path(name: str) -> Path:
    """A filesystem path to resource ``name``, for APIs that want a file name (Qt, desktop tools).

    Checkouts, wheels and one-folder bundles keep resources as real files, so this is normally the file
    itself; from a zip import it is a temporary copy that lives until the process exits.
    """
    node = _locate(name)
    if isinstance(node, Path):
        return node
    return _extracted.enter_context(importlib.resources.as_file(node))


DEFAULT_MODEL = "ts/clip-vit-b-p32"
DEFAULT_MODEL_ENV = "PHOTOSEEK_DEFAULT_MODEL"


def default_model() -> str:
    """Model for new collections, in the GUI and the CLI: $PHOTOSEEK_DEFAULT_MODEL, else CLIP ViT-B/32."""
    return os.environ.get(DEFAULT_MODEL_ENV) or DEFAULT_MODEL


def default_collection_schema(model_name: str, name: str = DEFAULT_COLLECTION_NAME) -> dict:
    """The schema of the default photo collection (``resources/default-collection.json``).

    Fields: ``name`` and ``path`` (strings), ``image`` (not stored) and ``embedding`` computed from the
    image by ``model_name``.
    """
    for label, value in (("model_name", model_name), ("name", name)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{label} must be a non-empty string, got {value!r}")
    template = json.loads(resource_text(DEFAULT_COLLECTION_SCHEMA))
    return _fill(template, {_MODEL_PLACEHOLDER: model_name, _NAME_PLACEHOLDER: name})


def _fill(node: Any, values: dict[str, str]) -> Any:  # JSON: whatever the template holds
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, str) and node in values:
        return values[node]
    return copy.copy(node)


def stylesheet() -> str:
    """The application's Qt stylesheet (palette-based, so it suits light and dark themes)."""
    return resource_text(STYLESHEET)
