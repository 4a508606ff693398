"""Exact nearest neighbours over a set of vectors held as one matrix: brute force, which is exact.

Used where a filter leaves few documents to rank (a graph walk that must skip 95% of what it meets costs
more than scoring the few left), and where the graph cannot give k answers. The vectors come from SQLite,
not from hnswlib: reading them back out of hnswlib (``get_items``) costs about 80 µs a vector.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

# A filter's allowed documents are ranked by brute force when their vectors fit in this many bytes
# (benchmarks/bench_vectors.py --selectivity: at 100k 512-d vectors, scoring 8,192 rows costs about as
# much as a filtered graph walk). The matrix is kept with the filter, so this also bounds its memory.
FLAT_MAX_BYTES = 16 * 2**20


# Rows scored per BLAS call: numpy's OpenBLAS splits a larger matrix-vector product across threads, and on
# a busy machine waiting for the second thread cost 4-8 ms where the product takes 0.3 ms (measured with
# 5,000 x 512: one call p50 4.0 ms under load, 20 calls of 256 rows 0.41 ms; 512 x 512 stays on one thread).
_CHUNK_VALUES = 131072


def flat_limit(dim: int) -> int:
    """How many ``dim``-dimensional vectors the brute-force path takes."""
    return max(1, FLAT_MAX_BYTES // (4 * dim))


class FlatVectors:
    """Labels (ascending) and their vectors scaled to unit length, one row each."""

    def __init__(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        if len(labels) != len(vectors):
            raise ValueError(f"{len(labels)} labels for {len(vectors)} vectors")
        order = np.argsort(labels, kind="stable")
        self.labels = np.ascontiguousarray(np.asarray(labels, dtype=np.int64)[order])
        matrix = np.asarray(vectors, dtype=np.float32)[order]
        norms = np.linalg.norm(matrix, axis=1, keepdims=True) if len(matrix) else np.ones((0, 1))
        # Stored vectors have a usable length (checked on the way in); the guard only avoids 0/0.
        self.unit = np.ascontiguousarray(matrix / np.maximum(norms, 1e-30), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def nbytes(self) -> int:
        return int(self.unit.nbytes + self.labels.nbytes)

    def search(
        self, query: np.ndarray, k: int, exclude: Collection[int] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest rows' labels and cosine distances, ascending; ties broken by label."""
        if k <= 0 or not len(self.labels):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        unit = np.asarray(query, dtype=np.float32).reshape(-1)
        unit = unit / np.float32(np.linalg.norm(unit))
        dists = np.empty(len(self.unit), dtype=np.float32)
        step = max(1, _CHUNK_VALUES // self.unit.shape[1])
        for start in range(0, len(self.unit), step):
            np.matmul(self.unit[start : start + step], unit, out=dists[start : start + step])
        dists = 1.0 - dists
        labels = self.labels
        if exclude:
            keep = ~np.isin(labels, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
            labels, dists = labels[keep], dists[keep]
        if k < len(dists):
            # Everything tied with the k-th distance is kept, so the label tie-break below is exact.
            part = np.argpartition(dists, k - 1)[:k]
            cut = dists[part].max()
            near = np.flatnonzero(dists <= cut)
            labels, dists = labels[near], dists[near]
        order = np.lexsort((labels, dists))[:k]
        return labels[order], np.clip(dists[order], 0.0, 2.0).astype(np.float32)
