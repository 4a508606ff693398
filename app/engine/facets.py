"""Typesense's ``facet_by``: how many matched documents hold each value of a field, with numeric stats.

A result's ``facet_counts`` has one entry per requested field, in request order::

    {"field_name": "folder", "sampled": False, "stats": {"total_values": 2},
     "counts": [{"count": 5, "highlighted": "/photos/a", "value": "/photos/a"}, ...]}

Numeric fields' stats add ``min``, ``max``, ``sum`` and ``avg`` over every value the documents hold (not
just the listed ones); ``total_values`` is how many distinct values there are. Counts are sorted by count,
most first, then by value, and cut to ``max_facet_values``.

``facet_query`` (``field:words``) keeps only that field's values in which each word starts a word, marked
in ``highlighted`` (``<mark>Tol</mark>kien``), as Typesense does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.engine.errors import ObjectNotFound, RequestMalformed
from app.engine.filter_by import FILE_FIELDS
from app.engine.tokens import PLAIN

DEFAULT_MAX_FACET_VALUES = 10
_NUMERIC_TYPES = {"int32", "int64", "float"}
_FACETABLE_TYPES = _NUMERIC_TYPES | {"string", "bool"}


@dataclass(frozen=True)
class FacetField:
    name: str
    type: str  # the element type: "string", "bool", "int32", "int64" or "float"

    @property
    def numeric(self) -> bool:
        return self.type in _NUMERIC_TYPES


@dataclass(frozen=True)
class FacetRequest:
    fields: tuple[FacetField, ...]
    max_values: int
    query_field: str = ""  # facet_query's field ("" for none) and its words
    query_words: tuple[str, ...] = ()

    def _query_for(self, field: FacetField) -> tuple[str, ...]:
        return self.query_words if field.name == self.query_field else ()

    def count(self, bodies: Iterable[dict]) -> list[dict]:
        """The ``facet_counts`` entries for the documents ``bodies`` (one pass over them)."""
        counters: list[Counter] = [Counter() for _ in self.fields]
        for body in bodies:
            for field, counter in zip(self.fields, counters, strict=True):
                # A document counts once per value, however often an array repeats it.
                counter.update(set(_values(body, field)))
        pairs = zip(self.fields, counters, strict=True)
        return [
            _entry(field, counter, self.max_values, self._query_for(field))
            for field, counter in pairs
        ]


def _values(body: dict, field: FacetField) -> list[Any]:
    raw = body.get(field.name)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    if field.type == "string":
        return [v for v in items if isinstance(v, str)]
    if field.type == "bool":
        return [v for v in items if isinstance(v, bool)]
    # Ints and floats alike: 3 and 3.0 are one facet value, as they are one value to a numeric filter.
    return [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _marked(value: str, words: tuple[str, ...]) -> str | None:
    """``value`` with the start of a word marked for each of ``words``; None if one starts no word."""
    spans = PLAIN.spans(value)
    marks = []
    for word in words:
        found = next((kept for token, kept in spans if token.startswith(word)), None)
        if found is None:
            return None
        marks.append((found[0], found[min(len(word), len(found)) - 1] + 1))
    out, at = [], 0
    for start, end in sorted(set(marks)):
        if start >= at:
            out += [value[at:start], "<mark>", value[start:end], "</mark>"]
            at = end
    return "".join(out) + value[at:]


def _entry(field: FacetField, counter: Counter, max_values: int, query: tuple[str, ...] = ()) -> dict:
    highlighted: dict[Any, str] = {}
    if query:
        for value in list(counter):
            marked = _marked(_text(value), query)
            if marked is None:
                del counter[value]
            else:
                highlighted[value] = marked
    if field.numeric:
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    else:
        ordered = sorted(counter.items(), key=lambda item: (-item[1], _text(item[0])))
    counts = [
        {"count": count, "highlighted": highlighted.get(value, _text(value)), "value": _text(value)}
        for value, count in ordered[:max_values]
    ]
    stats: dict[str, Any] = {"total_values": len(counter)}
    if field.numeric and counter:
        total = float(sum(value * count for value, count in counter.items()))
        how_many = sum(counter.values())
        stats.update(
            {
                "avg": total / how_many,
                "max": float(max(counter)),
                "min": float(min(counter)),
                "sum": total,
            }
        )
    stats = dict(sorted(stats.items()))
    return {"counts": counts, "field_name": field.name, "sampled": False, "stats": stats}


def _facet_field(name: str, schema_fields: dict[str, dict]) -> FacetField:
    missing = ObjectNotFound(f"Could not find a facet field named `{name}` in the schema.")
    fdef = schema_fields.get(name)
    if fdef is None:
        # File imports store these without declaring them; they facet as they filter (see filter_by).
        if name not in FILE_FIELDS:
            raise missing
        return FacetField(name, FILE_FIELDS[name])
    base = str(fdef.get("type", "")).removesuffix("[]")
    if not fdef.get("facet") or fdef.get("num_dim") or fdef.get("embed") or base not in _FACETABLE_TYPES:
        raise missing
    return FacetField(name, base)


def parse_facet_request(params: dict, schema_fields: dict[str, dict]) -> FacetRequest | None:
    """The search's ``facet_by`` and ``max_facet_values``; None when no facets were asked for.

    Raises ObjectNotFound (404) for a field that is not facetable, RequestMalformed (400) for bad values.
    """
    raw = params.get("facet_by")
    if raw is None:
        return None
    if isinstance(raw, str):
        names = [n.strip() for n in raw.split(",")]
    elif isinstance(raw, list) and all(isinstance(n, str) for n in raw):
        names = [n.strip() for n in raw]
    else:
        raise RequestMalformed("Parameter `facet_by` must be a comma-separated string.")
    names = list(dict.fromkeys(n for n in names if n))
    max_values = params.get("max_facet_values", DEFAULT_MAX_FACET_VALUES)
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if isinstance(max_values, str) and max_values.strip().isascii() and max_values.strip().isdigit():
        max_values = int(max_values)
    if not isinstance(max_values, int) or isinstance(max_values, bool) or max_values < 0:
        raise RequestMalformed("Parameter `max_facet_values` must be an integer of at least 0.")
    if not names:
        return None
    fields = tuple(_facet_field(n, schema_fields) for n in names)
    query_field, query_words = _facet_query(params.get("facet_query"), names)
    return FacetRequest(fields, max_values, query_field, query_words)


def _facet_query(raw: Any, names: list[str]) -> tuple[str, tuple[str, ...]]:
    if raw is None or raw == "":
        return "", ()
    if not isinstance(raw, str) or ":" not in raw:
        raise RequestMalformed("Facet query must be in the `facet_field: value` format.")
    name, _, text = raw.partition(":")
    name = name.strip()
    if name not in names:
        raise RequestMalformed(
            f"Facet query refers to a facet field `{name}` that is not part of `facet_by` parameter."
        )
    return name, tuple(PLAIN.words(text))
