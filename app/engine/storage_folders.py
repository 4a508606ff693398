"""The rows a folder rescan reads and writes: followed folders, files that failed, and documents by path.

A mixin of ``Database`` (kept apart to keep each file readable); it uses only the connection and
``transaction``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager


def _field(name: str) -> str:
    # A body SQLite cannot parse (damaged, or NaN written by an old version) makes json_extract fail the
    # whole query: such a row has no fields here, and the readers in storage.py skip and report it.
    return f"CASE WHEN json_valid(body) THEN json_extract(body, '$.{name}') END"


class FolderRows:
    _conn: sqlite3.Connection
    transaction: Callable[[], AbstractContextManager[None]]

    def file_rows(self, collection_id: int, folder: str) -> list[tuple]:
        """(label, doc_id, path, file_size, file_mtime, content_hash) of documents whose path lies under
        ``folder``: what a rescan compares the disk with, without decoding whole JSON bodies."""
        prefix, upper = _under(folder)
        rows = self._conn.execute(
            f"SELECT label, doc_id, {_field('path')} AS p, {_field('file_size')}, {_field('file_mtime')}, "
            f"{_field('content_hash')} FROM documents WHERE collection_id = ? AND p >= ? AND p < ?",
            (collection_id, prefix, upper),
        )
        return list(rows)

    def paths_with_hash(self, collection_id: int, digest: str) -> list[tuple[str, str]]:
        """(doc_id, path) of documents whose file had exactly these bytes (content_hash)."""
        rows = self._conn.execute(
            f"SELECT doc_id, {_field('path')} FROM documents "
            f"WHERE collection_id = ? AND {_field('content_hash')} = ?",
            (collection_id, digest),
        )
        return [(doc_id, path) for doc_id, path in rows if isinstance(path, str)]

    def count_under(self, collection_id: int, folder: str) -> int:
        """How many documents have their path under ``folder`` (a followed folder's photo count)."""
        prefix, upper = _under(folder)
        return self._conn.execute(
            f"SELECT COUNT(*) FROM documents WHERE collection_id = ? AND {_field('path')} >= ? "
            f"AND {_field('path')} < ?",
            (collection_id, prefix, upper),
        ).fetchone()[0]

    # -- followed folders ------------------------------------------------------------------------------

    def sources(self, collection_id: int) -> list[dict]:
        rows = self._conn.execute(
            "SELECT path, added_at, last_scan, status, reason, device, mounts FROM sources "
            "WHERE collection_id = ? "
            "ORDER BY path",
            (collection_id,),
        )
        keys = ("path", "added_at", "last_scan", "status", "reason", "device")
        return [{**dict(zip(keys, row[:-1], strict=True)), "mounts": json.loads(row[-1])} for row in rows]

    def add_source(self, collection_id: int, path: str, added_at: int) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO sources (collection_id, path, added_at) VALUES (?, ?, ?)",
                (collection_id, path, added_at),
            )

    def remove_source(self, collection_id: int, path: str) -> None:
        with self.transaction():
            self._conn.execute(
                "DELETE FROM sources WHERE collection_id = ? AND path = ?", (collection_id, path)
            )

    def mark_source(
        self,
        collection_id: int,
        path: str,
        scanned_at: int,
        status: str,
        reason: str,
        device: int | None,
        mounts: list[str] | None = None,
    ) -> None:
        """Record a scan's outcome. ``device`` (the folder's st_dev) and ``mounts`` (drives mounted inside
        it) come from a scan that saw the folder; None keeps what an earlier one recorded."""
        with self.transaction():
            self._conn.execute(
                "UPDATE sources SET last_scan = ?, status = ?, reason = ?, device = COALESCE(?, device), "
                "mounts = COALESCE(?, mounts) WHERE collection_id = ? AND path = ?",
                (
                    scanned_at,
                    status,
                    reason,
                    device,
                    None if mounts is None else json.dumps(mounts),
                    collection_id,
                    path,
                ),
            )

    # -- files that failed to import (so rescans do not retry them until they change) ----------------

    def record_failures(self, collection_id: int, failures: list[tuple[str, int, float, str]]) -> None:
        """(path, size, mtime, error) of files whose import failed."""
        with self.transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO file_failures VALUES (?, ?, ?, ?, ?)",
                [(collection_id, *failure) for failure in failures],
            )

    def clear_failures(self, collection_id: int, paths: Sequence[str]) -> None:
        with self.transaction():
            self._conn.executemany(
                "DELETE FROM file_failures WHERE collection_id = ? AND path = ?",
                [(collection_id, path) for path in paths],
            )

    def failures_under(self, collection_id: int, folder: str) -> dict[str, tuple[int, float, str]]:
        """path -> (size, mtime, error) of recorded failures under ``folder``."""
        prefix, upper = _under(folder)
        rows = self._conn.execute(
            "SELECT path, file_size, file_mtime, error FROM file_failures "
            "WHERE collection_id = ? AND path >= ? AND path < ?",
            (collection_id, prefix, upper),
        )
        return {path: (size, mtime, error) for path, size, mtime, error in rows}


def _under(folder: str) -> tuple[str, str]:
    """(low, high): every path inside ``folder`` sorts at or above low and below high."""
    prefix = folder.rstrip("/\\") + os.sep
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
