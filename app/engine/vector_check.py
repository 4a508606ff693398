"""Whether a vector can live in the cosine index: checked where documents arrive, before anything is
written, and again where the index takes vectors, in the same terms, so nothing committed is refused later.
"""

from __future__ import annotations

import numpy as np

from app.engine.errors import RequestMalformed

# hnswlib normalises a cosine vector in float32 (sum of squares, then 1 / (sqrt + 1e-30)): a length outside
# these bounds underflows to no direction or overflows to infinity there, even when every value is finite.
MIN_NORM = 1e-15
MAX_NORM = 1e19


class VectorRejected(RequestMalformed, ValueError):
    """A vector the index cannot hold or search with; a 400 where it reaches a request."""


def vector_problems(vectors: np.ndarray) -> dict[int, str]:
    """Row -> why the index cannot take that row, phrased to follow "Field `x` ..." (rows of a 2-D array)."""
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.asarray(vectors, dtype=np.float32)
        finite = np.asarray(np.isfinite(arr).all(axis=1))
        norms = np.sqrt(np.square(arr.astype(np.float64)).sum(axis=1))
    out: dict[int, str] = {}
    for row in np.flatnonzero(~finite | (norms < MIN_NORM) | (norms > MAX_NORM)).tolist():
        if not finite[row]:
            out[row] = "has values that do not fit a 32-bit float"
        elif norms[row] == 0:
            out[row] = "is an all-zero vector, which has no direction to compare"
        elif norms[row] < MIN_NORM:
            out[row] = f"is too close to zero to have a direction (its length is {norms[row]:.3g})"
        else:
            out[row] = f"is too large: its length ({norms[row]:.3g}) does not fit a 32-bit float"
    return out


def vector_problem(vector: np.ndarray) -> str | None:
    """Why the index cannot take this one vector, or None."""
    return vector_problems(np.asarray(vector, dtype=np.float32).reshape(1, -1)).get(0)
