"""VectorIndex: one hnswlib cosine index for one embedding field of one collection.

The index is a cache of what SQLite holds, so it is storage-agnostic: callers feed it integer row labels and
float32 vectors, and rebuild it from SQLite whenever `load` returns None.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Callable, Collection, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from app.engine.flat import FlatVectors
from app.engine.index_file import check_index_file, checksum, fsync_dir, fsync_file, new_temp, write_atomic
from app.engine.index_input import check_labels, check_vectors

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Chosen with benchmarks/bench_index.py on 100k clustered 512-d vectors: recall@10 0.99 for image-like
# queries and 0.97 for far (text-like) ones, at ~0.5 ms; ef=64 drops text-like queries to 0.90.
DEFAULT_EF = 128
# Beyond this many excluded labels, filtering inside hnswlib is cheaper than over-fetching and dropping.
_MAX_OVERFETCH = 256

Allowed = Callable[[int], bool] | AbstractSet[int]
# labels -> (labels, vectors) of those the source of truth holds; see VectorIndex.vector_source.
VectorSource = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class VectorIndex:
    """Cosine nearest-neighbour index over non-negative integer labels. Not thread-safe."""

    def __init__(self, dim: int, *, M: int = 16, ef_construction: int = 200, capacity: int = 1024) -> None:
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if M < 2 or ef_construction < 1 or capacity < 1:
            raise ValueError(
                "M must be >= 2, ef_construction >= 1 and capacity >= 1, "
                f"got M={M}, ef_construction={ef_construction}, capacity={capacity}"
            )
        self.dim = dim
        self.ef = DEFAULT_EF
        self._index = hnswlib.Index(space="cosine", dim=dim)
        self._index.init_index(max_elements=capacity, M=M, ef_construction=ef_construction)
        # hnswlib's element_count includes deleted elements, so live/deleted labels are tracked here.
        self._live: set[int] = set()
        self._deleted: set[int] = set()
        # Where exact searches read vectors: hnswlib's own get_items costs ~80 µs a vector.
        self.vector_source: VectorSource | None = None

    def _check_vectors(self, vectors: np.ndarray, what: str) -> np.ndarray:
        return check_vectors(vectors, self.dim, what)

    _check_labels = staticmethod(check_labels)

    # ----------------------------------------------------------------- mutation

    def add(self, labels: Sequence[int] | np.ndarray, vectors: np.ndarray, *, num_threads: int = 1) -> None:
        """Insert or replace vectors; a re-added label (even a deleted one) gets the new vector and is live.

        A label repeated within one call keeps its last vector.
        """
        label_arr = self._check_labels(labels)
        vec_arr = self._check_vectors(vectors, "vector")
        if len(label_arr) != len(vec_arr):
            raise ValueError(f"got {len(label_arr)} labels but {len(vec_arr)} vectors")
        if label_arr.size == 0:
            return
        # Keep the last occurrence of each label: two threads writing one label would race inside hnswlib.
        _, last_from_end = np.unique(label_arr[::-1], return_index=True)
        if last_from_end.size != label_arr.size:
            keep = np.sort(label_arr.size - 1 - last_from_end)
            label_arr, vec_arr = label_arr[keep], vec_arr[keep]
        label_list = label_arr.tolist()
        new = sum(1 for lab in label_list if lab not in self._live and lab not in self._deleted)
        needed = self._index.element_count + new
        if needed > self._index.max_elements:
            self._index.resize_index(max(needed, 2 * self._index.max_elements))
        # hnswlib updates an existing label in place and unmarks it if it was deleted.
        self._index.add_items(vec_arr, label_arr, num_threads=num_threads)
        self._live.update(label_list)
        self._deleted.difference_update(label_list)

    def delete(self, labels: Sequence[int] | np.ndarray | int) -> None:
        """Mark labels deleted; absent or already deleted labels are ignored."""
        for lab in self._check_labels(labels).tolist():
            if lab in self._live:
                self._index.mark_deleted(lab)
                self._live.discard(lab)
                self._deleted.add(lab)

    # ----------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, label: object) -> bool:
        return label in self._live

    @property
    def capacity(self) -> int:
        return int(self._index.max_elements)

    @property
    def deleted_count(self) -> int:
        """Deleted elements still occupying the graph; a caller may rebuild when this grows large."""
        return len(self._deleted)

    def labels(self) -> np.ndarray:
        """Live labels, ascending."""
        return np.sort(np.fromiter(self._live, dtype=np.int64, count=len(self._live)))

    def get(self, label: int) -> np.ndarray | None:
        """The stored vector (unit-normalised: the cosine space stores vectors normalised) or None."""
        if label not in self._live:
            return None
        return np.asarray(self._index.get_items([label]), dtype=np.float32)[0]

    # ----------------------------------------------------------------- search

    def search(
        self,
        vector: np.ndarray,
        k: int,
        *,
        ef: int | None = None,
        flat_search_cutoff: int | None = 0,
        allowed: Allowed | None = None,
        exclude: Collection[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to k nearest live labels and their distances (1 - cosine similarity), ascending.

        `allowed` (a predicate or a set of labels) restricts candidates inside the graph walk, so k hits
        still come back under a selective filter. When the live (or allowed) candidates number at most
        `flat_search_cutoff`, the search is exact brute force instead of HNSW.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        if ef is not None and (not isinstance(ef, (int, np.integer)) or ef < 1):
            raise ValueError(f"ef must be a positive integer, got {ef!r}")
        flat_search_cutoff = flat_search_cutoff or 0
        if flat_search_cutoff < 0:
            raise ValueError(f"flat_search_cutoff must be >= 0, got {flat_search_cutoff}")
        query = self._check_vectors(vector, "query vector")
        if query.shape[0] != 1:
            raise ValueError(f"search takes one query vector, got {query.shape[0]}")
        k = int(k)
        excluded = {int(lab) for lab in exclude if int(lab) in self._live}
        if k == 0 or len(self._live) == len(excluded):
            return _empty()

        is_allowed: Callable[[int], bool] | None
        if allowed is None:
            is_allowed = None
        elif isinstance(allowed, AbstractSet):
            is_allowed = allowed.__contains__
        elif callable(allowed):
            is_allowed = allowed
        else:
            raise ValueError("allowed must be a callable taking a label or a set of labels")

        if flat_search_cutoff > 0:
            candidates = self._candidates_up_to(flat_search_cutoff, allowed, is_allowed, excluded)
            if candidates is not None:
                return self._exact(query[0], candidates, k)

        ef_eff = max(ef if ef is not None else self.ef, k)
        if is_allowed is None and len(excluded) <= _MAX_OVERFETCH:
            k_query = min(k + len(excluded), len(self._live))
            found = self._hnsw(query, k_query, max(ef_eff, k_query), None)
            if found is not None:
                labels, dists = found
                if excluded:
                    keep = ~np.isin(labels, np.fromiter(excluded, dtype=np.int64, count=len(excluded)))
                    labels, dists = labels[keep], dists[keep]
                return labels[:k], dists[:k]
        else:
            if is_allowed is None:
                walk_filter: Callable[[int], bool] = lambda lab: lab not in excluded  # noqa: E731
            elif excluded:
                walk_filter = lambda lab: lab not in excluded and bool(is_allowed(lab))  # noqa: E731
            else:
                walk_filter = is_allowed
            k_query = min(k, len(self._live) - len(excluded))
            found = self._hnsw(query, k_query, max(ef_eff, k_query), walk_filter)
            if found is not None:
                return found
        # hnswlib could not reach k candidates (selective filter, or a graph thinned by deletions):
        # brute force over everything eligible is exact and always complete.
        # Without a limit the candidates are never None: `or []` only tells the type checker so.
        return self._exact(query[0], self._candidates_up_to(None, allowed, is_allowed, excluded) or [], k)

    def neighbours_of_all(
        self, labels: np.ndarray, vectors: np.ndarray, k: int, *, ef: int, num_threads: int = -1
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each row of ``vectors`` (the vector stored under ``labels[i]``): its k nearest other
        labels and distances, as (n, k) arrays with -1 / inf where fewer than k exist.

        One batched, multi-threaded hnswlib call instead of n single searches: what grouping
        near-duplicates over a whole collection needs. Approximate, like any graph search.
        """
        labels = self._check_labels(labels)
        queries = self._check_vectors(vectors, "query vectors")
        if queries.shape[0] != labels.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {queries.shape[0]} vectors")
        n = queries.shape[0]
        out_labels = np.full((n, k), -1, dtype=np.int64)
        out_dists = np.full((n, k), np.inf, dtype=np.float32)
        live = len(self._live)
        if n == 0 or k == 0 or live < 2:
            return out_labels, out_dists
        k_query = min(k + 1, live)  # one more: each query finds itself first
        self._index.set_ef(max(ef, k_query))
        found, dists = self._index.knn_query(queries, k=k_query, num_threads=num_threads)
        found = found.astype(np.int64)
        dists = np.clip(dists, 0.0, 2.0).astype(np.float32)
        for i in range(n):
            keep = found[i] != labels[i]
            row_labels, row_dists = found[i][keep][:k], dists[i][keep][:k]
            out_labels[i, : len(row_labels)] = row_labels
            out_dists[i, : len(row_dists)] = row_dists
        return out_labels, out_dists

    def _hnsw(
        self, query: np.ndarray, k: int, ef: int, walk_filter: Callable[[int], bool] | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        self._index.set_ef(ef)
        try:
            labels, dists = self._index.knn_query(query, k=k, num_threads=1, filter=walk_filter)
        except RuntimeError:
            return None
        return labels[0].astype(np.int64), np.clip(dists[0], 0.0, 2.0).astype(np.float32)

    def _candidates_up_to(
        self,
        limit: int | None,
        allowed: Allowed | None,
        is_allowed: Callable[[int], bool] | None,
        excluded: set[int],
    ) -> list[int] | None:
        """Eligible live labels, or None as soon as there are more than `limit` of them."""
        if limit is not None and len(self._live) - len(excluded) > limit and allowed is None:
            return None
        if isinstance(allowed, AbstractSet) and len(allowed) < len(self._live):
            pool: Collection[int] = allowed
            pool_filter = lambda lab: lab in self._live and lab not in excluded  # noqa: E731
        else:
            pool = self._live
            pool_filter = lambda lab: lab not in excluded and (is_allowed is None or bool(is_allowed(lab)))  # noqa: E731
        out: list[int] = []
        for lab in pool:
            if pool_filter(lab):
                out.append(int(lab))
                if limit is not None and len(out) > limit:
                    return None
        return out

    def _exact(self, query: np.ndarray, candidates: list[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        if not candidates:
            return _empty()
        labels = np.asarray(candidates, dtype=np.int64)
        found, stored = self.stored_vectors(labels)
        if len(found) != len(labels):  # the source lacks some: hnswlib's copies, slow but complete
            found, stored = labels, self._copies(labels)
        return FlatVectors(found, stored).search(query, k)  # ties broken by label: a stable order

    def stored_vectors(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, vectors) of those of ``labels`` whose vectors the source of truth holds well-formed,
        ascending; without a source attached, hnswlib's own copies of all of them (every label must be
        in the index then)."""
        if self.vector_source is not None:
            return self.vector_source(labels)
        ordered = np.unique(np.asarray(labels, dtype=np.int64))
        return ordered, self._copies(ordered)

    def _copies(self, labels: np.ndarray) -> np.ndarray:
        # hnswlib's get_items: about 80 µs a vector, which is why a source is attached where there is one.
        return np.asarray(self._index.get_items(labels), dtype=np.float32)

    # ----------------------------------------------------------------- persistence

    def save(self, path: Path, *, meta: dict[str, Any]) -> None:
        """Write the index atomically, then its JSON sidecar (which vouches for the index file's bytes).

        Raises OSError when the file written is not the index (hnswlib reports no write errors: a full disk
        leaves a short file); the previous files are then untouched.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        json.dumps(meta)  # fail on unserialisable meta before touching anything on disk
        tmp = new_temp(path)
        try:
            try:
                self._index.save_index(str(tmp))
            except RuntimeError as exc:
                raise OSError(errno.EIO, f"hnswlib could not write the index: {exc}", str(tmp)) from exc
            fsync_file(tmp)
            problem = check_index_file(
                tmp, self.dim, count=self._index.element_count, capacity=self._index.max_elements
            )
            if problem is not None:
                raise OSError(
                    errno.EIO, f"the index file written is damaged ({problem}); is the disk full?", str(tmp)
                )
            size = tmp.stat().st_size
            crc = checksum(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        sidecar = {
            "format": FORMAT_VERSION,
            "dim": self.dim,
            "count": len(self._live),
            "capacity": self.capacity,
            "file_size": size,
            "crc32": crc,
            "deleted": sorted(self._deleted),
            "meta": meta,
        }
        write_atomic(_sidecar_path(path), json.dumps(sidecar, separators=(",", ":")).encode())
        fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path, dim: int) -> tuple[VectorIndex, dict[str, Any]] | None:
        """(index, meta), or None when the files are missing, damaged, mismatched or for another dim."""
        path = Path(path)
        try:
            sidecar = json.loads(_sidecar_path(path).read_bytes())
            if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT_VERSION:
                return None
            if sidecar.get("dim") != dim or not isinstance(sidecar.get("meta"), dict):
                return None
            deleted = sidecar["deleted"]
            if not isinstance(deleted, list) or not all(isinstance(d, int) for d in deleted):
                return None
            # Size and checksum first, then the structure: hnswlib trusts the file, and garbage crashes it.
            if path.stat().st_size != sidecar["file_size"] or checksum(path) != sidecar["crc32"]:
                return None
            problem = check_index_file(
                path, dim, count=sidecar["count"] + len(deleted), capacity=sidecar["capacity"]
            )
            if problem is not None:
                log.warning("The index file %s is damaged (%s); it will be rebuilt", path, problem)
                return None
            raw = hnswlib.Index(space="cosine", dim=dim)
            raw.load_index(str(path))
            ids = raw.get_ids_list()
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, MemoryError):
            return None
        deleted_set = set(deleted)
        live = set(ids)
        if raw.dim != dim or len(live) != len(ids) or not deleted_set <= live:
            return None
        live -= deleted_set
        if len(live) != sidecar["count"]:
            return None
        index = cls.__new__(cls)
        index.dim = dim
        index.ef = DEFAULT_EF
        index._index = raw
        index._live = live
        index._deleted = deleted_set
        index.vector_source = None
        return index, sidecar["meta"]

    @classmethod
    def build(
        cls, dim: int, labels: Sequence[int] | np.ndarray, vectors: np.ndarray, **kw: Any
    ) -> VectorIndex:
        """A new index holding `vectors`, inserted on all CPU cores."""
        kw.setdefault("capacity", max(len(labels), 1))
        index = cls(dim, **kw)
        index.add(labels, vectors, num_threads=os.cpu_count() or 1)
        return index


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def _sidecar_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".json")
