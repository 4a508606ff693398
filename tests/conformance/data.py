"""The small collections the cases share: books (every scalar type and arrays) and 4-d vectors."""

from __future__ import annotations

from typing import Any

BOOK_FIELDS: list[dict[str, Any]] = [
    {"name": "title", "type": "string"},
    {"name": "author", "type": "string", "facet": True},
    {"name": "year", "type": "int32", "facet": True},
    {"name": "pages", "type": "int64"},
    {"name": "rating", "type": "float", "facet": True},
    {"name": "in_print", "type": "bool", "facet": True},
    {"name": "tags", "type": "string[]", "facet": True},
    {"name": "editions", "type": "int32[]"},
]

# `pages` is unique, so sort_by pages gives one order; years and ratings repeat on purpose.
BOOKS: list[dict[str, Any]] = [
    {"id": "1", "title": "The Hobbit", "author": "Tolkien", "year": 1937, "pages": 310, "rating": 4.7,
     "in_print": True, "tags": ["fantasy", "classic"], "editions": [1937, 1951, 1966]},
    {"id": "2", "title": "Dune", "author": "Herbert", "year": 1965, "pages": 412, "rating": 4.5,
     "in_print": True, "tags": ["scifi", "classic"], "editions": [1965]},
    {"id": "3", "title": "Neuromancer", "author": "Gibson", "year": 1984, "pages": 271, "rating": 4.1,
     "in_print": False, "tags": ["scifi", "cyberpunk"], "editions": [1984, 2000]},
    {"id": "4", "title": "The Silmarillion", "author": "Tolkien", "year": 1977, "pages": 365, "rating": 3.9,
     "in_print": True, "tags": ["fantasy"], "editions": [1977]},
    {"id": "5", "title": "Hyperion", "author": "Simmons", "year": 1989, "pages": 482, "rating": 4.2,
     "in_print": False, "tags": ["scifi"], "editions": [1989, 1990]},
    {"id": "6", "title": "Count Zero", "author": "Gibson", "year": 1986, "pages": 256, "rating": 3.9,
     "in_print": True, "tags": ["scifi", "cyberpunk"], "editions": [1986]},
    {"id": "7", "title": "The Dispossessed", "author": "Le Guin", "year": 1974, "pages": 387, "rating": 4.4,
     "in_print": True, "tags": ["scifi", "classic"], "editions": [1974, 1994]},
    {"id": "8", "title": "Earthsea", "author": "Le Guin", "year": 1968, "pages": 183, "rating": 4.1,
     "in_print": False, "tags": ["fantasy", "classic"], "editions": [1968]},
]

VECTOR_FIELDS: list[dict[str, Any]] = [
    {"name": "label", "type": "string"},
    {"name": "group", "type": "int32", "facet": True},
    {"name": "vec", "type": "float[]", "num_dim": 4},
]

# Directions chosen so that the query [1, 0, 0, 0] ranks them without ties.
VECTORS: list[dict[str, Any]] = [
    {"id": "a", "label": "alpha", "group": 1, "vec": [1.0, 0.0, 0.0, 0.0]},
    {"id": "b", "label": "beta", "group": 2, "vec": [0.9, 0.3, 0.0, 0.0]},
    {"id": "c", "label": "gamma", "group": 1, "vec": [0.7, 0.7, 0.1, 0.0]},
    {"id": "d", "label": "delta", "group": 2, "vec": [0.2, 0.9, 0.3, 0.1]},
    {"id": "e", "label": "epsilon", "group": 3, "vec": [0.0, 0.1, 1.0, 0.2]},
    {"id": "f", "label": "zeta", "group": 3, "vec": [-0.5, 0.1, 0.2, 0.9]},
    {"id": "g", "label": "eta", "group": 1, "vec": [-1.0, 0.05, 0.0, 0.0]},
]


def book(doc_id: str) -> dict[str, Any]:
    return dict(next(b for b in BOOKS if b["id"] == doc_id))


def load_books(run: Any, fields: list[dict[str, Any]] | None = None) -> None:
    """Create the books collection and import every book (both steps recorded)."""
    run.create(run.schema(fields or BOOK_FIELDS))
    run.call("import books", lambda: run.docs.import_([dict(b) for b in BOOKS], {"action": "create"}))


def load_vectors(run: Any) -> None:
    run.create(run.schema(VECTOR_FIELDS))
    run.call("import vectors", lambda: run.docs.import_([dict(v) for v in VECTORS], {"action": "create"}))
