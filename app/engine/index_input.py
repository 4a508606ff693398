"""What VectorIndex accepts as labels and vectors: checked before hnswlib sees them, since hnswlib
itself would store a NaN or a zero vector and then answer every search with garbage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.engine.vector_check import VectorRejected, vector_problems


def check_vectors(vectors: np.ndarray, dim: int, what: str) -> np.ndarray:
    """``vectors`` as a contiguous float32 (n, dim) array; raises ValueError (VectorRejected for a vector
    the cosine space cannot hold) naming ``what``."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 1-D or 2-D, got shape {arr.shape}")
    if arr.shape[1] != dim:
        raise ValueError(f"{what} has {arr.shape[1]} dimensions but the index expects {dim}")
    problems = vector_problems(arr)
    if problems:
        row, problem = next(iter(problems.items()))
        if not np.isfinite(arr[row]).all():
            problem = "contains NaN or infinite values"
        elif not np.any(arr[row]):
            problem = "has zero norm; cosine distance is undefined for it"
        raise VectorRejected(f"{what} row {row} {problem}" if len(arr) > 1 else f"{what} {problem}")
    return np.ascontiguousarray(arr)


def check_labels(labels: Sequence[int] | np.ndarray | int) -> np.ndarray:
    """``labels`` as a flat int64 array of non-negative integers; raises ValueError otherwise."""
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"labels must be a flat sequence of integers, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    if (arr < 0).any():
        raise ValueError(f"labels must be non-negative, got {int(arr.min())}")
    return arr.astype(np.int64)
