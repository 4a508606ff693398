"""Ranking by vector under a filter, by whichever of three ways costs least for what the filter allows.

- Few documents allowed (their vectors fit in ``flat.FLAT_MAX_BYTES``): brute force over just those, exact.
  A graph walk would meet 20 documents it must skip for each it may keep, and ask Python about each.
- Many allowed (a large share of the collection): an unfiltered graph search for enough extra hits that k
  allowed ones are among them, kept with one numpy lookup; no Python call per candidate.
- In between, or when the extra hits held fewer than k allowed ones (a filter that leaves out the query's
  neighbourhood): the graph walk with the filter inside it, so k hits still come back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from app.engine.flat import FlatVectors, flat_limit
from app.engine.index import VectorIndex

# Over-fetch asks the graph for k / (allowed share) hits times this margin, while that stays at most
# OVERFETCH_MAX. Measured at 30k clustered 512-d vectors, k=10 (over-fetch / walk with the filter):
# share 20%: 0.89 / 6.6 ms, recall 0.995 / 1.0; 10%: 2.1 / 8.4 ms, recall 0.98 / 1.0; 5%: 3.4 / 18.9 ms,
# recall 0.97 / 1.0. The far end of a long graph answer is approximate, so past ~100 hits recall drops
# below 0.99: those filters walk the graph (or, when few enough, go to brute force).
OVERFETCH_MARGIN = 2.0
OVERFETCH_MAX = 128


class AllowedLabels:
    """The documents one filter matches: valid until the collection changes (its cache key says when)."""

    def __init__(self, newest_first: list[int]) -> None:
        self.newest_first = newest_first
        self.sorted = np.unique(np.asarray(newest_first, dtype=np.int64))
        self._set: frozenset[int] | None = None
        self._flat: dict[str, FlatVectors] = {}

    def __len__(self) -> int:
        return len(self.newest_first)

    def as_set(self) -> frozenset[int]:
        if self._set is None:
            self._set = frozenset(self.newest_first)
        return self._set

    def contains(self, labels: np.ndarray) -> np.ndarray:
        """Which of ``labels`` the filter allows, as a boolean mask."""
        if not len(self.sorted):
            return np.zeros(len(labels), dtype=bool)
        at = np.minimum(np.searchsorted(self.sorted, labels), len(self.sorted) - 1)
        return np.asarray(self.sorted[at] == labels)

    def flat(self, fname: str, build: Callable[[], FlatVectors]) -> FlatVectors:
        """The allowed documents' vectors of ``fname``, built once per filter and field."""
        found = self._flat.get(fname)
        if found is None:
            found = self._flat[fname] = build()
        return found


def search_allowed(
    idx: VectorIndex,
    vector: np.ndarray,
    k: int,
    allowed: AllowedLabels,
    *,
    fname: str,
    ef: int | None = None,
    flat_search_cutoff: int = 0,
    exclude: set[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Up to k nearest allowed labels and their cosine distances, ascending.

    Brute force reads the vectors from the index's source of truth (``VectorIndex.stored_vectors``);
    labels the index does not hold (a vector it refused) are left out first, so every path ranks the same
    documents.
    """
    exclude = exclude or set()
    live = len(idx)
    if not len(allowed) or not live or k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    if len(allowed) <= max(flat_limit(idx.dim), flat_search_cutoff):

        def build() -> FlatVectors:
            wanted = allowed.sorted
            held = np.fromiter((label in idx for label in wanted.tolist()), dtype=bool, count=len(wanted))
            return FlatVectors(*idx.stored_vectors(wanted[held]))

        return allowed.flat(fname, build).search(vector, k, exclude)
    share = len(allowed) / live
    wanted = math.ceil(OVERFETCH_MARGIN * k / share) + len(exclude)
    if wanted <= OVERFETCH_MAX:
        wanted = min(wanted, live)
        labels, dists = idx.search(vector, wanted, ef=ef, exclude=exclude)
        keep = allowed.contains(labels)
        # Enough allowed ones among them, or the graph gave all it has: these are the nearest allowed.
        if int(keep.sum()) >= k or len(labels) < wanted:
            return labels[keep][:k], dists[keep][:k]
    return idx.search(vector, k, ef=ef, allowed=allowed.as_set(), exclude=exclude)
