"""The rows an index is built and caught up from: each document's vector per field, and tombstones.

A mixin of ``Database`` (kept apart to keep each file readable); it uses only the connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np


class VectorRows:
    _conn: sqlite3.Connection

    def vector(self, label: int, fname: str) -> np.ndarray | None:
        """The stored vector; None when there is none, or when what is stored is not one (a damaged row)."""
        row = self._conn.execute(
            "SELECT vector FROM vectors WHERE label = ? AND field = ?", (label, fname)
        ).fetchone()
        if row is None or len(row[0]) % 4:
            return None
        vec = np.frombuffer(row[0], dtype=np.float32).copy()
        return vec if np.isfinite(vec).all() else None

    def vectors_since(
        self, collection_id: int, fname: str, seq: int, dims: int, batch: int = 4096
    ) -> Iterator[tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]]:
        """(labels, vectors, bad) of documents written after ``seq``, in batches, for index catch-up.

        ``bad`` holds (label, why) for stored values that are not ``dims`` float32 values (damaged rows);
        they are not in ``labels``.
        """
        cur = self._conn.execute(
            "SELECT d.label, v.vector FROM documents d JOIN vectors v ON v.label = d.label "
            "WHERE d.collection_id = ? AND v.field = ? AND d.seq > ? ORDER BY d.label",
            (collection_id, fname, seq),
        )
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            labels, vectors, damaged = _stacked(rows, dims)
            bad = [
                (label, f"its stored `{fname}` is {len(blob)} bytes long, not {dims} 32-bit floats")
                for label, blob in damaged
            ]
            yield labels, vectors, bad

    def vectors_of(self, labels: np.ndarray, fname: str, dims: int) -> tuple[np.ndarray, np.ndarray]:
        """(labels, vectors) of those ``labels`` holding a well-formed ``fname`` vector, in label order:
        what a brute-force search over a filter's documents ranks."""
        wanted = np.unique(np.asarray(labels, dtype=np.int64)).tolist()
        rows: list[tuple[int, bytes]] = []
        # Chunks stay under SQLite's limit on bound variables.
        for start in range(0, len(wanted), 900):
            chunk = wanted[start : start + 900]
            marks = ",".join("?" * len(chunk))
            rows += self._conn.execute(
                f"SELECT label, vector FROM vectors WHERE field = ? AND label IN ({marks}) ORDER BY label",
                [fname, *chunk],
            ).fetchall()
        found, vectors, _damaged = _stacked(rows, dims)
        return found, vectors

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


def _stacked(rows: list, dims: int) -> tuple[np.ndarray, np.ndarray, list]:
    """(labels, vectors) of the ``(label, blob)`` rows holding ``dims`` float32 values, as one matrix in
    row order, and the other rows (damaged: the wrong length, or not bytes at all)."""
    size = 4 * dims
    good: list = []
    damaged: list = []
    for row in rows:
        (good if isinstance(row[1], bytes) and len(row[1]) == size else damaged).append(row)
    labels = np.fromiter((row[0] for row in good), dtype=np.int64, count=len(good))
    vectors = np.frombuffer(b"".join(row[1] for row in good), dtype=np.float32).reshape(len(good), dims)
    return labels, vectors, damaged
