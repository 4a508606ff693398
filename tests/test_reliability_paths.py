"""Photoseek's own directories are owner-only (0700) whatever the umask; directories that already exist,
which may be the user's, keep the permissions they have."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import paths
from app.engine import Engine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The common umask: without an explicit chmod, new directories come out 0755 (readable by all)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_cache_config_and_models_dirs_are_created_owner_only(tmp_path, monkeypatch):
    root = tmp_path / "home" / "share" / "photoseek"
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(root))
    monkeypatch.delenv("PHOTOSEEK_CACHE_DIR", raising=False)
    made = [paths.data_dir(), paths.cache_dir(), paths.config_dir(), paths.models_dir()]
    assert made == [root, root / "cache", root / "config", root / "cache" / "models"]
    for directory in [*made, tmp_path / "home", tmp_path / "home" / "share"]:
        assert directory.is_dir() and _mode(directory) == 0o700, directory


def test_a_separate_cache_dir_is_created_owner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOSEEK_CACHE_DIR", str(tmp_path / "elsewhere" / "cache"))
    assert paths.cache_dir() == tmp_path / "elsewhere" / "cache"
    assert _mode(tmp_path / "elsewhere") == 0o700 and _mode(tmp_path / "elsewhere" / "cache") == 0o700


def test_existing_directories_keep_their_permissions(tmp_path, monkeypatch):
    mine = tmp_path / "Pictures"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(mine))
    assert paths.data_dir() == mine and _mode(mine) == 0o755
    assert _mode(paths.config_dir()) == 0o700  # made inside it: Photoseek's own
    before = _mode(tmp_path)
    paths.make_private_dirs(tmp_path / "new")
    assert _mode(tmp_path) == before and _mode(tmp_path / "new") == 0o700


def test_an_engine_creates_its_library_folder_owner_only(tmp_path):
    library = tmp_path / "libraries" / "family"
    Engine(library).close()
    assert _mode(library) == 0o700 and _mode(tmp_path / "libraries") == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("the user's own")
    os.chmod(shared, 0o750)
    Engine(shared).close()
    assert _mode(shared) == 0o750
