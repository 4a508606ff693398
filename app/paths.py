"""Where Photoseek keeps its files.

Everything goes through these functions so that tests (and portable installs) can redirect it all with
``PHOTOSEEK_DATA_DIR`` and never touch the real home directory.

Each directory function creates its directory when it is missing, owner-only (0700): the library holds
the names, paths and pictures of someone's photos, and the cache their thumbnails. Directories that exist
already keep the permissions they have: they may be the user's own.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "photoseek"
PRIVATE_DIR_MODE = 0o700


def make_private_dirs(directory: Path) -> Path:
    """Create ``directory`` and any missing parents, each 0700; leave every existing one as it is.

    Path.mkdir(parents=True) gives the parents it makes the umask's default mode (often 0755), and even
    the leaf only ``mode & ~umask``: so each directory made here is made one at a time and then chmod-ed.
    Where permissions cannot be set (FAT, Windows) the directories are still created.
    """
    directory = Path(directory)
    missing: list[Path] = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else (another Photoseek process): theirs to keep as is
        if os.name == "posix":
            with contextlib.suppress(OSError):
                os.chmod(path, PRIVATE_DIR_MODE)
    return directory


def _ensured(directory: Path) -> Path:
    # A directory that cannot be created (read-only home) is reported by whoever writes into it, with
    # that write's own error; looking a path up never fails.
    with contextlib.suppress(OSError):
        make_private_dirs(directory)
    return directory


def _override() -> Path | None:
    value = os.environ.get("PHOTOSEEK_DATA_DIR")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Directory holding the database and index files."""
    return _ensured(_override() or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))


def cache_dir() -> Path:
    """Directory for things that can be recreated: downloaded weights, thumbnails."""
    env = os.environ.get("PHOTOSEEK_CACHE_DIR")
    if env:
        return _ensured(Path(env).expanduser())
    override = _override()
    if override:
        return _ensured(override / "cache")
    return _ensured(Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)))


def config_dir() -> Path:
    """Directory for GUI settings (window geometry, last collection)."""
    override = _override()
    if override:
        return _ensured(override / "config")
    return _ensured(Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)))


def models_dir() -> Path:
    """Downloaded model weights."""
    return _ensured(cache_dir() / "models")


def repo_root() -> Path:
    """The source checkout (or bundle) root: the directory holding the ``app`` package."""
    return Path(__file__).resolve().parent.parent
