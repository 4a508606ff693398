"""The one SQLite file that holds every collection, document and embedding.

SQLite is the source of truth: the hnswlib index files are a cache rebuilt from here. Every write bumps a
global change sequence (``seq``) stored on the document row (or on a tombstone for deletions), so an index
saved at sequence S can catch up by replaying just the rows with ``seq > S``.

Thread-safety: a ``Database`` object (its connection) belongs to the thread that created it. Another thread
may open its own ``Database(path, readonly=True)`` on the same file: WAL lets it read while the owner writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE collections (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        schema      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        next_doc_id INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE documents (
        label         INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        doc_id        TEXT NOT NULL,
        body          TEXT NOT NULL,
        seq           INTEGER NOT NULL,
        UNIQUE (collection_id, doc_id)
    );
    CREATE INDEX documents_by_seq ON documents (collection_id, seq);
    CREATE TABLE vectors (
        label  INTEGER NOT NULL REFERENCES documents(label) ON DELETE CASCADE,
        field  TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (label, field)
    ) WITHOUT ROWID;
    CREATE TABLE tombstones (
        collection_id INTEGER NOT NULL,
        label         INTEGER NOT NULL,
        seq           INTEGER NOT NULL
    );
    CREATE INDEX tombstones_by_seq ON tombstones (collection_id, seq);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters VALUES ('seq', 0);
    """,
    # Folders a collection follows (kept in step with the disk by app.engine.folders).
    2: """
    CREATE TABLE sources (
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        added_at      INTEGER NOT NULL,
        last_scan     INTEGER,
        status        TEXT NOT NULL DEFAULT 'new',
        reason        TEXT NOT NULL DEFAULT '',
        device        INTEGER,
        mounts        TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (collection_id, path)
    );
    CREATE TABLE file_failures (
        collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        path          TEXT NOT NULL,
        file_size     INTEGER NOT NULL,
        file_mtime    REAL NOT NULL,
        error         TEXT NOT NULL,
        PRIMARY KEY (collection_id, path)
    );
    """,
}


class StorageError(RuntimeError):
    """The database file cannot be used (newer schema, not a database, ...)."""


class Database:
    """Typed access to the SQLite file. All writes go through :meth:`transaction`."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            uri = f"file:{self.path}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 5000")
            if not readonly:
                self._conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the
                # last transactions, which the index catch-up tolerates.
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StorageError(f"{self.path} is not a usable Photoseek database: {exc}") from exc
        self._in_transaction = False

    def close(self) -> None:
        self._conn.close()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} was written by a newer Photoseek (schema {version}, this one knows "
                f"{SCHEMA_VERSION}). Update Photoseek."
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._conn.execute("BEGIN IMMEDIATE")
            for statement in _split_sql(_MIGRATIONS[target]):
                self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {target}")
            self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write; nested use joins the outer transaction."""
        if self._in_transaction:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._in_transaction = False

    def next_seq(self) -> int:
        self._conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq'")
        return self._conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]

    def current_seq(self) -> int:
        return self._conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]

    # -- collections ---------------------------------------------------------------------------------

    def collections(self) -> list[tuple[int, str, dict, int]]:
        """(id, name, schema dict, created_at) for every collection, newest first."""
        rows = self._conn.execute("SELECT id, name, schema, created_at FROM collections ORDER BY id DESC")
        return [(cid, name, json.loads(schema), created) for cid, name, schema, created in rows]

    def collection(self, name: str) -> tuple[int, dict, int] | None:
        row = self._conn.execute(
            "SELECT id, schema, created_at FROM collections WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]), row[2])

    def add_collection(self, name: str, schema: dict, created_at: int) -> int:
        with self.transaction():
            cur = self._conn.execute(
                "INSERT INTO collections (name, schema, created_at) VALUES (?, ?, ?)",
                (name, json.dumps(schema), created_at),
            )
            return _new_rowid(cur)

    def delete_collection(self, collection_id: int) -> None:
        with self.transaction():
            self._conn.execute(
                "DELETE FROM vectors WHERE label IN (SELECT label FROM documents WHERE collection_id = ?)",
                (collection_id,),
            )
            self._conn.execute("DELETE FROM documents WHERE collection_id = ?", (collection_id,))
            self._conn.execute("DELETE FROM tombstones WHERE collection_id = ?", (collection_id,))
            self._conn.execute("DELETE FROM sources WHERE collection_id = ?", (collection_id,))
            self._conn.execute("DELETE FROM file_failures WHERE collection_id = ?", (collection_id,))
            self._conn.execute("DELETE FROM collections WHERE id = ?", (collection_id,))

    def take_doc_id(self, collection_id: int) -> str:
        """The next automatic document id; the counter is persisted with the write that uses it."""
        self._conn.execute(
            "UPDATE collections SET next_doc_id = next_doc_id + 1 WHERE id = ?", (collection_id,)
        )
        value = self._conn.execute(
            "SELECT next_doc_id FROM collections WHERE id = ?", (collection_id,)
        ).fetchone()[0]
        return str(value - 1)

    # -- documents -----------------------------------------------------------------------------------

    def count(self, collection_id: int) -> int:
        return self._conn.execute(
            "SELECT COUNT(*) FROM documents WHERE collection_id = ?", (collection_id,)
        ).fetchone()[0]

    def get(self, collection_id: int, doc_id: str) -> tuple[int, dict] | None:
        row = self._conn.execute(
            "SELECT label, body FROM documents WHERE collection_id = ? AND doc_id = ?",
            (collection_id, doc_id),
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def label_of(self, collection_id: int, doc_id: str) -> int | None:
        row = self._conn.execute(
            "SELECT label FROM documents WHERE collection_id = ? AND doc_id = ?", (collection_id, doc_id)
        ).fetchone()
        return None if row is None else row[0]

    def bodies(self, labels: Sequence[int]) -> dict[int, dict]:
        """Documents by label, fetched in chunks to stay under SQLite's variable limit."""
        out: dict[int, dict] = {}
        labels = [int(x) for x in labels]
        for start in range(0, len(labels), 500):
            chunk = labels[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for label, body in self._conn.execute(
                f"SELECT label, body FROM documents WHERE label IN ({marks})", chunk
            ):
                out[label] = json.loads(body)
        return out

    def newest(self, collection_id: int, limit: int, offset: int) -> list[tuple[int, dict]]:
        rows = self._conn.execute(
            "SELECT label, body FROM documents WHERE collection_id = ? ORDER BY label DESC LIMIT ? OFFSET ?",
            (collection_id, limit, offset),
        )
        return [(label, json.loads(body)) for label, body in rows]

    def all_bodies(self, collection_id: int) -> Iterator[tuple[int, dict]]:
        rows = self._conn.execute(
            "SELECT label, body FROM documents WHERE collection_id = ? ORDER BY label DESC", (collection_id,)
        )
        for label, body in rows:
            yield label, json.loads(body)

    def put(self, collection_id: int, doc_id: str, body: dict, vectors: dict[str, np.ndarray | None]) -> int:
        """Insert or replace a document and its vectors; returns its label. Call inside a transaction."""
        seq = self.next_seq()
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        label = self.label_of(collection_id, doc_id)
        if label is None:
            cur = self._conn.execute(
                "INSERT INTO documents (collection_id, doc_id, body, seq) VALUES (?, ?, ?, ?)",
                (collection_id, doc_id, text, seq),
            )
            label = _new_rowid(cur)
        else:
            self._conn.execute("UPDATE documents SET body = ?, seq = ? WHERE label = ?", (text, seq, label))
        removed = False
        for fname, vec in vectors.items():
            if vec is None:
                self._conn.execute("DELETE FROM vectors WHERE label = ? AND field = ?", (label, fname))
                removed = True
            else:
                self._conn.execute(
                    "INSERT OR REPLACE INTO vectors (label, field, vector) VALUES (?, ?, ?)",
                    (label, fname, np.asarray(vec, dtype=np.float32).tobytes()),
                )
        if removed:
            self._conn.execute(
                "INSERT INTO tombstones (collection_id, label, seq) VALUES (?, ?, ?)",
                (collection_id, label, seq),
            )
        return label

    def delete(self, collection_id: int, label: int) -> None:
        with self.transaction():
            seq = self.next_seq()
            self._conn.execute("DELETE FROM vectors WHERE label = ?", (label,))
            self._conn.execute("DELETE FROM documents WHERE label = ?", (label,))
            self._conn.execute(
                "INSERT INTO tombstones (collection_id, label, seq) VALUES (?, ?, ?)",
                (collection_id, label, seq),
            )

    def rekey(self, label: int, doc_id: str, body: dict) -> None:
        """Give a document a new id and body but keep its label and vectors (a file that moved)."""
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        self._conn.execute(
            "UPDATE documents SET doc_id = ?, body = ?, seq = ? WHERE label = ?",
            (doc_id, text, self.next_seq(), label),
        )

    def file_rows(self, collection_id: int, folder: str) -> list[tuple]:
        """(label, doc_id, path, file_size, file_mtime, content_hash) of documents whose path lies under
        ``folder``: what a rescan compares the disk with, without decoding whole JSON bodies."""
        prefix, upper = _under(folder)
        rows = self._conn.execute(
            "SELECT label, doc_id, json_extract(body, '$.path') AS p, json_extract(body, '$.file_size'), "
            "json_extract(body, '$.file_mtime'), json_extract(body, '$.content_hash') FROM documents "
            "WHERE collection_id = ? AND p >= ? AND p < ?",
            (collection_id, prefix, upper),
        )
        return list(rows)

    def paths_with_hash(self, collection_id: int, digest: str) -> list[tuple[str, str]]:
        """(doc_id, path) of documents whose file had exactly these bytes (content_hash)."""
        rows = self._conn.execute(
            "SELECT doc_id, json_extract(body, '$.path') FROM documents "
            "WHERE collection_id = ? AND json_extract(body, '$.content_hash') = ?",
            (collection_id, digest),
        )
        return [(doc_id, path) for doc_id, path in rows if isinstance(path, str)]

    def count_under(self, collection_id: int, folder: str) -> int:
        """How many documents have their path under ``folder`` (a followed folder's photo count)."""
        prefix, upper = _under(folder)
        return self._conn.execute(
            "SELECT COUNT(*) FROM documents WHERE collection_id = ? "
            "AND json_extract(body, '$.path') >= ? AND json_extract(body, '$.path') < ?",
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

    # -- vectors -------------------------------------------------------------------------------------

    def vector(self, label: int, fname: str) -> np.ndarray | None:
        row = self._conn.execute(
            "SELECT vector FROM vectors WHERE label = ? AND field = ?", (label, fname)
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=np.float32).copy()

    def vectors_since(
        self, collection_id: int, fname: str, seq: int, batch: int = 4096
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(labels, vectors) of documents written after ``seq``, in batches, for index catch-up."""
        cur = self._conn.execute(
            "SELECT d.label, v.vector FROM documents d JOIN vectors v ON v.label = d.label "
            "WHERE d.collection_id = ? AND v.field = ? AND d.seq > ? ORDER BY d.label",
            (collection_id, fname, seq),
        )
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            yield labels, vectors

    def vector_labels(self, collection_id: int, fname: str) -> np.ndarray:
        """Labels holding a ``fname`` vector, ascending: what that field's index must hold."""
        rows = self._conn.execute(
            "SELECT d.label FROM documents d JOIN vectors v ON v.label = d.label "
            "WHERE d.collection_id = ? AND v.field = ? ORDER BY d.label",
            (collection_id, fname),
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def tombstones_since(self, collection_id: int, seq: int) -> list[int]:
        rows = self._conn.execute(
            "SELECT label FROM tombstones WHERE collection_id = ? AND seq > ?", (collection_id, seq)
        )
        return [r[0] for r in rows]


def _new_rowid(cur: sqlite3.Cursor) -> int:
    # Typed optional because a cursor that inserted nothing has none; after our INSERTs it is always set.
    if cur.lastrowid is None:
        raise StorageError("the database gave no id for a new row")
    return cur.lastrowid


def _under(folder: str) -> tuple[str, str]:
    """(low, high): every path inside ``folder`` sorts at or above low and below high."""
    prefix = folder.rstrip("/\\") + os.sep
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _split_sql(script: str) -> list[str]:
    # executescript() would COMMIT our migration transaction behind our back, so run statements one by one.
    return [s.strip() for s in script.split(";") if s.strip()]
