"""The one SQLite file that holds every collection, document and embedding.

SQLite is the source of truth: the hnswlib index files are a cache rebuilt from here. Every write bumps a
global change sequence (``seq``) stored on the document row (or on a tombstone for deletions), so an index
saved at sequence S can catch up by replaying just the rows with ``seq > S``.

Thread-safety: a ``Database`` object (its connection) belongs to the thread that created it. Another thread
may open its own ``Database(path, readonly=True)`` on the same file: WAL lets it read while the owner writes.
Other processes may open the file too (the CLI while the app runs): ``data_version`` tells a reader that
one of them wrote.

A document whose stored JSON cannot be read (a damaged disk, an old bug) never breaks a read of many
documents: it is left out, logged once and listed in ``damaged``, and ``get`` still finds it by id.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from app.engine import db_file
from app.engine.db_file import DiskFull, LibraryBusy, StorageError
from app.engine.errors import RequestMalformed
from app.engine.storage_bulk import BulkRows
from app.engine.storage_folders import FolderRows
from app.engine.storage_schema import MIGRATIONS, SCHEMA_VERSION, encode, split_sql
from app.engine.storage_vectors import VectorRows

__all__ = ["DAMAGED", "Database", "DiskFull", "LibraryBusy", "StorageError"]

log = logging.getLogger(__name__)

# The key under which ``get`` says why a document it returns in place of a damaged one is damaged.
DAMAGED = "_damaged"


class Database(FolderRows, VectorRows, BulkRows):
    """Typed access to the SQLite file. All writes go through :meth:`transaction`."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        # label -> (collection id, doc id, why): documents whose stored JSON cannot be read, met so far.
        self.damaged: dict[int, tuple[int, str, str]] = {}
        if readonly:
            uri = f"file:{self.path}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db_file.sweep_creations(self.path)
            db_file.refuse_if_empty(self.path)
            if not self.path.exists():
                db_file.create(self.path, self._initialise)
            db_file.make_files_private(self.path)
            self._conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 5000")
            if not readonly:
                self._conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the
                # last transactions, which the index catch-up tolerates.
                self._conn.execute("PRAGMA synchronous = NORMAL")
                db_file.quick_check(self._conn, self.path)
                self._migrate(self._conn)
        except StorageError:
            self._conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StorageError(f"{self.path} is not a usable Photoseek database: {exc}") from exc
        self._in_transaction = False

    def close(self) -> None:
        self._conn.close()

    def _initialise(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        self._migrate(conn)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        while True:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path} was written by a newer Photoseek (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}). Update Photoseek."
                )
            if version == SCHEMA_VERSION:
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Read again under the write lock: another process may have migrated meanwhile.
                if conn.execute("PRAGMA user_version").fetchone()[0] == version:
                    step = MIGRATIONS[version + 1]
                    if callable(step):
                        step(conn)
                    else:
                        for statement in split_sql(step):
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def data_version(self) -> int:
        """Changes whenever another connection (another process, or another Engine) commits a write."""
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write; nested use joins the outer transaction.

        A full disk raises DiskFull, a library locked by another process for too long LibraryBusy, both
        TypesenseErrors; the transaction is rolled back either way.
        """
        if self._in_transaction:
            yield
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise db_file.translate(exc, self.path) from exc
        self._in_transaction = True
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException as exc:
            # SQLite may have rolled back already (it does on a full disk): a second ROLLBACK would fail
            # and hide the error that matters.
            if self._conn.in_transaction:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise db_file.translate(exc, self.path) from exc
            raise
        finally:
            self._in_transaction = False

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: undo just this part if it raises (one document of a batch)."""
        self._conn.execute("SAVEPOINT one")
        try:
            yield
        except BaseException:
            # On a full disk SQLite has rolled back the whole transaction, and the savepoint with it.
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK TO one")
                self._conn.execute("RELEASE one")
            raise
        self._conn.execute("RELEASE one")

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
        if not _is_text(name):
            return None  # nothing stored can have this name
        row = self._conn.execute(
            "SELECT id, schema, created_at FROM collections WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]), row[2])

    def add_collection(self, name: str, schema: dict, created_at: int) -> int:
        if not _is_text(name):
            raise RequestMalformed("The collection's name must be text in valid Unicode.")
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
        """(label, body); the body of a document whose JSON cannot be read is ``{"id", DAMAGED}``, so that
        it can still be shown and deleted by id."""
        if not _is_text(doc_id):
            return None
        row = self._conn.execute(
            "SELECT label, body FROM documents WHERE collection_id = ? AND doc_id = ?",
            (collection_id, doc_id),
        ).fetchone()
        if row is None:
            return None
        body = self._decode(row[0], collection_id, doc_id, row[1])
        return row[0], body if body is not None else {"id": doc_id, DAMAGED: self.damaged[row[0]][2]}

    def label_of(self, collection_id: int, doc_id: str) -> int | None:
        if not _is_text(doc_id):
            return None
        row = self._conn.execute(
            "SELECT label FROM documents WHERE collection_id = ? AND doc_id = ?", (collection_id, doc_id)
        ).fetchone()
        return None if row is None else row[0]

    def bodies(self, labels: Sequence[int]) -> dict[int, dict]:
        """Readable documents by label (a damaged one is left out)."""
        rows = self._by_labels("SELECT label, collection_id, doc_id, body FROM documents", labels)
        return {
            label: body
            for label, cid, doc_id, text in rows
            if (body := self._decode(label, cid, doc_id, text)) is not None
        }

    def newest(self, collection_id: int, limit: int, offset: int) -> list[tuple[int, dict]]:
        rows = self._conn.execute(
            "SELECT label, doc_id, body FROM documents WHERE collection_id = ? "
            "ORDER BY label DESC LIMIT ? OFFSET ?",
            (collection_id, limit, offset),
        )
        return [
            (label, body)
            for label, doc_id, text in rows
            if (body := self._decode(label, collection_id, doc_id, text)) is not None
        ]

    def all_bodies(
        self, collection_id: int, *, oldest_first: bool = False, after: int = 0, limit: int = -1
    ) -> Iterator[tuple[int, dict]]:
        """Every readable document, newest first (or in insertion order, as Typesense exports; then from
        the label ``after`` on, at most ``limit`` rows: an export a page at a time); a damaged one is
        skipped (and logged once)."""
        order = "ASC" if oldest_first else "DESC"
        rows = self._conn.execute(
            f"SELECT label, doc_id, body FROM documents WHERE collection_id = ? AND label > ? "
            f"ORDER BY label {order} LIMIT ?",
            (collection_id, after if oldest_first else -1, limit),
        )
        for label, doc_id, text in rows:
            body = self._decode(label, collection_id, doc_id, text)
            if body is not None:
                yield label, body

    def find_damaged(self, collection_id: int) -> None:
        """Look at every body SQLite cannot parse, and record those that are damaged in ``damaged``."""
        rows = self._conn.execute(
            "SELECT label, doc_id, body FROM documents WHERE collection_id = ? AND NOT json_valid(body)",
            (collection_id,),
        )
        for label, doc_id, text in rows:
            self._decode(label, collection_id, doc_id, text)

    def _decode(self, label: int, collection_id: int, doc_id: str, text: str) -> dict | None:
        try:
            body = json.loads(text)
            problem = None if isinstance(body, dict) else "it is not a JSON object"
        except (ValueError, TypeError, RecursionError) as exc:
            body, problem = None, f"its stored JSON cannot be read ({exc})"
        if problem is None:
            return body
        if label not in self.damaged:
            log.warning("Document %r (label %d) is damaged and left out: %s", doc_id, label, problem)
            self.damaged[label] = (collection_id, doc_id, problem)
        return None

    def put(self, collection_id: int, doc_id: str, body: dict, vectors: dict[str, np.ndarray | None]) -> int:
        """Insert or replace a document and its vectors; returns its label. Call inside a transaction.

        Raises ValueError (before writing anything) for a body JSON cannot hold (NaN, infinities).
        """
        text = encode(body)
        seq = self.next_seq()
        label = self.label_of(collection_id, doc_id)
        if label is None:
            cur = self._conn.execute(
                "INSERT INTO documents (collection_id, doc_id, body, seq) VALUES (?, ?, ?, ?)",
                (collection_id, doc_id, text, seq),
            )
            label = _new_rowid(cur)
        else:
            self._conn.execute("UPDATE documents SET body = ?, seq = ? WHERE label = ?", (text, seq, label))
            self.damaged.pop(label, None)
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
        self.damaged.pop(label, None)

    def rekey(self, label: int, doc_id: str, body: dict) -> None:
        """Give a document a new id and body but keep its label and vectors (a file that moved)."""
        self._conn.execute(
            "UPDATE documents SET doc_id = ?, body = ?, seq = ? WHERE label = ?",
            (doc_id, encode(body), self.next_seq(), label),
        )
        self.damaged.pop(label, None)

    def doc_ids(self, labels: Sequence[int]) -> dict[int, str]:
        return dict(self._by_labels("SELECT label, doc_id FROM documents", labels))

    def _by_labels(self, select: str, labels: Sequence[int]) -> Iterator[tuple]:
        """Rows of ``select`` for ``labels``, queried in chunks to stay under SQLite's variable limit."""
        wanted = [int(x) for x in labels]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            yield from self._conn.execute(f"{select} WHERE label IN ({','.join('?' * len(chunk))})", chunk)


def _new_rowid(cur: sqlite3.Cursor) -> int:
    # Typed optional because a cursor that inserted nothing has none; after our INSERTs it is always set.
    if cur.lastrowid is None:
        raise StorageError("the database gave no id for a new row")
    return cur.lastrowid


def _is_text(value: object) -> bool:
    """Whether ``value`` can be a key SQLite stores: a str that UTF-8 can encode (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
