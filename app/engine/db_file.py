"""The database file itself: created whole and private, refused by name when it is empty or damaged, and
SQLite's disk errors turned into errors a person (and an import's per-line report) can act on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from app.engine.errors import TypesenseError
from app.engine.index_file import make_private, pid_alive

log = logging.getLogger(__name__)

# How long opening a library may spend looking for damaged pages (see quick_check).
QUICK_CHECK_SECONDS = 2.0

# SQLite's primary result codes (sqlite3.h); Python 3.10 has no names for them.
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_FULL = 13


class StorageError(RuntimeError, sqlite3.DatabaseError):
    """The database file cannot be used (newer schema, not a database, empty, damaged, ...).

    A DatabaseError too, so that callers which explain database failures to people explain this one.
    """


class DiskFull(TypesenseError):
    """The disk holding the library has no room for the write; nothing of it was stored.

    507 is HTTP's "Insufficient Storage"; a Typesense client maps it to its generic TypesenseError.
    """

    code = 507


class LibraryBusy(TypesenseError):
    """Another Photoseek held the library's write lock for longer than the wait allows."""

    code = 503


def translate(exc: sqlite3.Error, path: Path) -> Exception:
    """``exc`` as the error callers can report; ``exc`` itself when it is none of the known disk problems."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary == _SQLITE_FULL or (primary is None and "database or disk is full" in text):
        return DiskFull(
            f"The disk is full: there is no room for more in the library at {path.parent}. Nothing of this "
            "batch was saved; free some space and try again."
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or (primary is None and "database is locked" in text):
        return LibraryBusy(
            f"The library at {path.parent} is busy in another Photoseek, which has been writing for a "
            "while. Try again in a moment."
        )
    return exc


def refuse_if_empty(path: Path) -> None:
    """An existing zero-length file holds no library: opening it would silently show an empty one.

    New libraries are created whole (``create``), so an empty file is never one the engine is making.
    """
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size == 0:
            raise StorageError(
                f"The library database {path} is empty (0 bytes): it holds no library. If it was copied or "
                "restored, the copy is incomplete; restore it again, or move it away to start a new library."
            )


def quick_check(conn: sqlite3.Connection, path: Path, budget: float = QUICK_CHECK_SECONDS) -> None:
    """Refuse a database whose pages are damaged now, rather than fail later mid-search or mid-import.

    It reads every page (about 2 ms per MB from the page cache): a library too big to check within
    ``budget`` seconds is checked as far as that goes, so that opening it never stalls for long.
    """
    # The check is one long step inside SQLite, which only an interrupt from another thread can end.
    timer = threading.Timer(budget, conn.interrupt)
    timer.daemon = True
    timer.start()
    try:
        rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupt" not in str(exc):
            raise
        log.info("Checked %s for damage for %.1f s without reaching its end; opening it", path, budget)
        return
    finally:
        timer.cancel()
        timer.join()
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if problems:
        raise StorageError(
            f"The library database {path} is damaged ({'; '.join(problems)}). Photoseek does not open it, "
            "so as not to make it worse: restore it from a backup, or move it away to start a new library "
            "(your photos themselves are untouched)."
        )


def create(path: Path, initialise: Callable[[sqlite3.Connection], None]) -> None:
    """Create the database at ``path`` complete, owner-only, and under its name only once initialised.

    Built under a temporary name and linked into place, so a crash never leaves an empty or half-made
    library behind, and two processes creating one at once both end with the same file.
    """
    parent = path.parent
    fresh_dir = not any(parent.iterdir())
    tmp = parent / f"{path.name}.new-{os.getpid()}"
    for leftover in _companions(tmp):
        leftover.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    make_private(tmp)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            initialise(conn)
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError:
            # No hard links on this filesystem (FAT, some network shares): a rename, which could replace a
            # library another process created in this instant; check first to make that unlikely.
            if not path.exists():
                os.replace(tmp, path)
    finally:
        for leftover in _companions(tmp):
            leftover.unlink(missing_ok=True)
    if fresh_dir:
        # The engine made this folder for the library (it was empty): nobody else needs to list it.
        make_private(parent, 0o700)


def make_files_private(path: Path) -> None:
    """The database and SQLite's WAL and shared-memory files, owner-only (SQLite gives its companions the
    database file's permissions when it creates them; older versions created the database 0644)."""
    for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        make_private(companion)


def sweep_creations(path: Path) -> None:
    """Remove what a creation killed midway left beside ``path`` (``<name>.new-<pid>`` and companions)."""
    pattern = re.compile(re.escape(path.name) + r"\.new-(\d+)(?:-wal|-shm|-journal)?$")
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            match = pattern.match(entry.name)
            if match and int(match[1]) != os.getpid() and not pid_alive(int(match[1])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _companions(db: Path) -> list[Path]:
    return [db] + [Path(f"{db}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
