"""Near-duplicate finder: groups documents whose embeddings lie within a cosine distance of each other.

Each live vector asks the field's hnswlib index for its k nearest neighbours (one batched, multi-threaded
query for all of them), so the work grows as
n * log(n) instead of the n^2 of comparing every pair; pairs within ``threshold`` are joined with
union-find, so chains (a~b, b~c) become one group even when a and c are slightly further apart.

Why DEFAULT_THRESHOLD = 0.05 (cosine distance, i.e. cosine similarity >= 0.95): a re-encoded, converted
or re-scaled copy changes almost nothing CLIP looks at, so it should sit within a few hundredths of the
original, while a second shot of the same scene (a burst photo, a slight reframing) changes framing and
content and is expected around 0.05-0.15, and unrelated photos much further off (0.3 and beyond, since
CLIP embeddings share a narrow cone). These CLIP figures are expectations, not measured here (the real
weights are not available offline). Measured with the tiny test model: copies of one drawing (JPEG q95,
PNG, 96 px and 200 px re-scales) sit <= 0.0001 apart, another drawing of the same red circle ~0.09, and
other colours or shapes 0.25 and beyond. 0.05 thus catches copies without merging merely similar
pictures; a user who also wants burst shots grouped can raise it.

CLIP's groups are only candidates: each photo is then checked against the group's best one with a
second, independent signal (same file contents, or a perceptual hash and a 32x32 greyscale of the file,
app.engine.duplicate_verdicts), and only a photo both signals call a copy is ``confirmed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine.collection import Collection
from app.engine.duplicate_evidence import fingerprints
from app.engine.duplicate_verdicts import Verdict, group_verdicts
from app.engine.errors import RequestMalformed
from app.engine.storage import Database
from app.engine.vector_check import vector_problems

DEFAULT_THRESHOLD = 0.05
DEFAULT_NEIGHBOURS = 10
# Near-duplicates are each other's very nearest neighbours, which a narrow graph walk finds reliably; the
# search default (128, tuned for far text queries) made 20k lookups ~3x slower with no change in groups
# found in benchmarks/bench_duplicates.py.
DUPLICATE_EF = 32


def field_vectors(db: Database, collection_id: int, fname: str, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, vectors) of every document holding a usable ``fname`` vector, read in one SQLite pass.

    Database has no bulk reader for current vectors (vectors_since streams in batches keyed on seq, and
    vector() costs one query per label), so this reads db._conn directly: one query for 20k vectors
    instead of 20k round trips through hnswlib's get_items. Damaged rows (another length, NaN, no
    direction) are left out, as the index leaves them out: one of them must not break the whole search.
    """
    rows = [
        row
        for row in db._conn.execute(
            "SELECT d.label, v.vector FROM documents d JOIN vectors v ON v.label = d.label "
            "WHERE d.collection_id = ? AND v.field = ? ORDER BY d.label",
            (collection_id, fname),
        ).fetchall()
        if isinstance(row[1], bytes) and len(row[1]) == 4 * dims
    ]
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty((0, dims), dtype=np.float32)
    labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dims)
    bad = vector_problems(vectors)
    if bad:
        keep = np.ones(len(rows), dtype=bool)
        keep[list(bad)] = False
        labels, vectors = labels[keep], vectors[keep]
    return labels, vectors


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        # Path compression keeps long chains from making every later find walk them again.
        while x != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _check_args(coll: Collection, field: str | None, threshold: Any, k: Any) -> str:
    vector_fields = coll.schema.vector_fields
    if field is None:
        if not vector_fields:
            raise RequestMalformed(f"Collection `{coll.name}` has no vector field to find duplicates by.")
        field = next(iter(vector_fields))
    elif not isinstance(field, str) or field not in vector_fields:
        known = ", ".join(f"`{name}`" for name in vector_fields) or "none"
        raise RequestMalformed(
            f"Field `{field}` is not a vector field of collection `{coll.name}` (vector fields: {known})."
        )
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 2:
        raise RequestMalformed(
            f"Duplicate threshold must be a cosine distance between 0 and 2, got {threshold!r}."
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise RequestMalformed(f"Neighbours per document (k) must be a positive integer, got {k!r}.")
    return field


def _best_first_key(label: int, body: dict) -> tuple:
    """Sort key putting the copy worth keeping first: most pixels, then biggest file, then oldest."""

    def number(name: str) -> float | None:
        value = body.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    width, height, size = number("width"), number("height"), number("file_size")
    pixels = width * height if width is not None and height is not None else None
    taken = number("captured_at")
    return (
        pixels is None,
        -(pixels or 0.0),
        size is None,
        -(size or 0.0),
        taken is None,
        taken or 0.0,
        label,  # the label grows with insertion, so it is the fallback for "oldest"
    )


def _verdicts(
    members: list[int], bodies: dict[int, dict], checks: dict, vectors: np.ndarray, threshold: float
) -> list[Verdict]:
    """Each member's verdict (app.engine.duplicate_verdicts), CLIP similarity measured pair by pair."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [bodies[label] for label in members]
    return group_verdicts(docs, [checks[label] for label in members], unit @ unit.T, threshold)


def find_duplicate_groups(
    coll: Collection,
    field: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    k: int = DEFAULT_NEIGHBOURS,
) -> list[dict]:
    """Groups of two or more documents whose ``field`` vectors are within ``threshold`` cosine distance.

    Each group is ``{"documents": [...], "max_distance": float, "size": int, "threshold": float,
    "verdicts": [...]}``, documents best-first (the stored bodies, with "id"), one verdict per document
    (app.engine.duplicate_verdicts.Verdict, the first the reference); groups come largest first, then
    tightest first. ``max_distance`` is the
    largest distance of the pairs that joined the group. A group bigger than k+1 may be joined through
    chains rather than every pair; raise k if groups of many identical copies matter.
    """
    fname = _check_args(coll, field, threshold, k)
    index = coll.index(fname)
    labels, vectors = field_vectors(coll.db, coll.id, fname, index.dim)
    groups = _UnionFind()
    worst_pair: dict[int, float] = {}  # label -> largest joining distance seen at that label
    live = np.fromiter((label in index for label in labels.tolist()), dtype=bool, count=len(labels))
    labels, vectors = labels[live], vectors[live]
    if len(labels) == 0:
        return []
    found, dists = index.neighbours_of_all(labels, vectors, k, ef=max(DUPLICATE_EF, k + 1))
    rows, cols = np.nonzero(dists <= threshold)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        label, other, dist = int(labels[row]), int(found[row, col]), float(dists[row, col])
        groups.union(label, other)
        worst_pair[label] = max(worst_pair.get(label, 0.0), dist)

    members: dict[int, list[int]] = {}
    for label in list(groups.parent):
        members.setdefault(groups.find(label), []).append(label)
    clusters = [sorted(group) for group in members.values() if len(group) >= 2]
    bodies = coll.db.bodies([label for group in clusters for label in group])

    checks = fingerprints(
        coll.db, {label: bodies[label] for group in clusters for label in group if label in bodies}
    )
    row_of = {label: row for row, label in enumerate(labels.tolist())}
    result: list[dict] = []
    for group in clusters:
        # A label the index still holds but whose stored vector is damaged has no vector to compare.
        present = [label for label in group if label in bodies and label in row_of]
        if len(present) < 2:
            continue
        present.sort(key=lambda label: _best_first_key(label, bodies[label]))
        result.append(
            {
                "documents": [bodies[label] for label in present],
                "max_distance": float(max(worst_pair.get(label, 0.0) for label in group)),
                "size": len(present),
                "threshold": float(threshold),
                "verdicts": _verdicts(
                    present, bodies, checks, vectors[[row_of[x] for x in present]], threshold
                ),
            }
        )
    result.sort(key=lambda g: (-g["size"], g["max_distance"]))
    return result
