"""Where Photoseek keeps its files.

Everything goes through these functions so that tests (and portable installs) can redirect it all with
``PHOTOSEEK_DATA_DIR`` and never touch the real home directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "photoseek"


def _override() -> Path | None:
    value = os.environ.get("PHOTOSEEK_DATA_DIR")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Directory holding the database and index files."""
    return _override() or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Directory for things that can be recreated: downloaded weights, thumbnails."""
    env = os.environ.get("PHOTOSEEK_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    override = _override()
    if override:
        return override / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Directory for GUI settings (window geometry, last collection)."""
    override = _override()
    if override:
        return override / "config"
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    """Downloaded model weights."""
    return cache_dir() / "models"


def repo_root() -> Path:
    """The source checkout (or bundle) root: the directory holding the ``app`` package."""
    return Path(__file__).resolve().parent.parent
