"""Writing a batch of new documents in a few statements instead of eight per document, and deleting many
in a few statements instead of five per document.

A mixin of ``Database`` (kept apart to keep each file readable); it uses only the connection. The caller
(``Collection.write``) runs it inside a transaction and a savepoint, and falls back to writing one document
at a time when anything here raises, so that a document the database refuses fails alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

# Bound variables per statement stay under SQLite's limit (999 in older builds).
_CHUNK = 900


class BulkRows:
    _conn: sqlite3.Connection
    damaged: dict[int, tuple[int, str, str]]

    def existing_ids(self, collection_id: int, doc_ids: Sequence[str]) -> set[str]:
        """Which of ``doc_ids`` the collection already holds."""
        found: set[str] = set()
        for start in range(0, len(doc_ids), _CHUNK):
            chunk = list(doc_ids[start : start + _CHUNK])
            rows = self._conn.execute(
                f"SELECT doc_id FROM documents WHERE collection_id = ? AND doc_id IN "
                f"({','.join('?' * len(chunk))})",
                [collection_id, *chunk],
            )
            found.update(r[0] for r in rows)
        return found

    def put_new(
        self, collection_id: int, docs: Sequence[tuple[str, str, dict[str, np.ndarray]]]
    ) -> list[int]:
        """Insert documents that do not exist yet: (doc id, encoded body, vectors by field) each. Returns
        their labels, in order. Each gets its own change sequence number, as ``put`` gives it."""
        if not docs:
            return []
        self._conn.execute("UPDATE counters SET value = value + ? WHERE name = 'seq'", (len(docs),))
        last = self._conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
        first = last - len(docs) + 1
        self._conn.executemany(
            "INSERT INTO documents (collection_id, doc_id, body, seq) VALUES (?, ?, ?, ?)",
            [(collection_id, doc_id, text, first + i) for i, (doc_id, text, _) in enumerate(docs)],
        )
        by_seq = dict(
            self._conn.execute(
                "SELECT seq, label FROM documents WHERE collection_id = ? AND seq BETWEEN ? AND ?",
                (collection_id, first, last),
            ).fetchall()
        )
        labels = [by_seq[first + i] for i in range(len(docs))]
        self._conn.executemany(
            "INSERT INTO vectors (label, field, vector) VALUES (?, ?, ?)",
            [
                (label, fname, np.asarray(vec, dtype=np.float32).tobytes())
                for label, (_, _, vectors) in zip(labels, docs, strict=True)
                for fname, vec in vectors.items()
            ],
        )
        return labels

    def labels(self, collection_id: int) -> list[int]:
        """Every document's label, damaged ones included, oldest first."""
        rows = self._conn.execute(
            "SELECT label FROM documents WHERE collection_id = ? ORDER BY label", (collection_id,)
        )
        return [r[0] for r in rows]

    def delete_many(self, collection_id: int, labels: Sequence[int]) -> None:
        """Delete documents and their vectors, leaving a tombstone for each (the indexes of other
        connections replay them). Call inside a transaction. Each gets its own change sequence number,
        as ``Database.delete`` gives it."""
        wanted = [int(x) for x in labels]
        if not wanted:
            return
        self._conn.execute("UPDATE counters SET value = value + ? WHERE name = 'seq'", (len(wanted),))
        last = self._conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
        first = last - len(wanted) + 1
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            self._conn.execute(f"DELETE FROM vectors WHERE label IN ({marks})", chunk)
            self._conn.execute(
                f"DELETE FROM documents WHERE collection_id = ? AND label IN ({marks})",
                [collection_id, *chunk],
            )
        self._conn.executemany(
            "INSERT INTO tombstones (collection_id, label, seq) VALUES (?, ?, ?)",
            [(collection_id, label, first + i) for i, label in enumerate(wanted)],
        )
        for label in wanted:
            self.damaged.pop(label, None)
