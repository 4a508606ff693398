"""Typesense's ``sort_by``: up to three ``field:asc|desc`` clauses, checked with Typesense's messages, and the
ordering they give.

Sortable: numeric and bool fields (``sort`` is on by default for them), string fields declared with
``sort: true``, ``_text_match``, ``_vector_distance`` and ``_seq_id`` (the order of writing), and the numbers
that file imports store undeclared (``captured_at``, ``file_size``...): sorting photos by the day they were
taken is what a photo library is for. A document without the field sorts last either way, as in Typesense.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from app.engine.errors import ObjectNotFound, RequestMalformed
from app.engine.filter_by import FILE_FIELDS

MAX_SORT_FIELDS = 3
TEXT_MATCH = "_text_match"
VECTOR_DISTANCE = "_vector_distance"
SEQ_ID = "_seq_id"
_SPECIAL = (TEXT_MATCH, VECTOR_DISTANCE, SEQ_ID)
_SORTABLE_TYPES = {"int32", "int64", "float", "bool"}


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


def parse_sort_by(text: str, schema_fields: dict[str, dict]) -> list[SortKey]:
    """The clauses of ``sort_by``; raises what Typesense raises for a malformed or unsortable one."""
    clauses = text.split(",")
    if len(clauses) > MAX_SORT_FIELDS:
        raise RequestMalformed(f"Only upto {MAX_SORT_FIELDS} sort fields are allowed.")
    keys = []
    for clause in clauses:
        name, colon, order = clause.partition(":")
        name, order = name.strip(), order.strip().lower()
        if not colon or not name:
            raise RequestMalformed("Parameter `sort_by` is malformed.")
        if order not in ("asc", "desc"):
            # Typesense's wording, its misplaced backquote included: scripts may match on it.
            raise RequestMalformed(f"Order for field` {name}` should be either ASC or DESC.")
        if name not in _SPECIAL and not _sortable(schema_fields.get(name), name):
            raise ObjectNotFound(f"Could not find a field named `{name}` in the schema for sorting.")
        keys.append(SortKey(name, order == "desc"))
    return keys


def _sortable(fdef: dict | None, name: str) -> bool:
    if fdef is None:
        return FILE_FIELDS.get(name) in _SORTABLE_TYPES
    if fdef.get("num_dim") or fdef.get("embed"):
        return False
    ftype = fdef.get("type")
    if ftype in _SORTABLE_TYPES:
        return fdef.get("sort", True) is not False
    return ftype == "string" and fdef.get("sort") is True


class _Reversed:
    """A value ordered the other way round, for a descending clause (strings cannot be negated)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _value(key: SortKey, label: int, body: dict | None, info: dict, string_fields: frozenset[str]) -> Any:
    if key.field == SEQ_ID:
        value: Any = label
    elif key.field == TEXT_MATCH:
        # In a hybrid search Typesense's text match score is the fused rank score.
        fused = info.get("hybrid_search_info")
        value = fused["rank_fusion_score"] if fused else info.get("text_match", 0)
    elif key.field == VECTOR_DISTANCE:
        value = info.get("vector_distance")
    else:
        value = (body or {}).get(key.field)
        if key.field in string_fields:
            # Typesense compares strings without case or accents, and a missing one as the greatest.
            missing = not isinstance(value, str)
            text = _plain(value) if isinstance(value, str) else ""
            return (0, _Reversed((missing, text)) if key.descending else (missing, text))
        # Missing, null, not a single value, or (in an undeclared field such as `captured_at`) a value of
        # another type: sorts as missing, so that one odd document cannot make the whole sort fail.
        if not isinstance(value, (int, float)):
            value = None
    if value is None:
        return (1, 0)  # after every number, ascending or descending
    return (0, _Reversed(value) if key.descending else value)


def sort_hits(
    hits: list[dict], keys: list[SortKey], bodies: dict[int, dict], schema_fields: dict[str, dict]
) -> list[dict]:
    """``hits`` (dicts with ``label`` and their scores) in ``keys`` order; ties newest first (Typesense's
    last resort is the sequence id, descending)."""
    string_fields = frozenset(k.field for k in keys if schema_fields.get(k.field, {}).get("type") == "string")

    def order(hit: dict) -> tuple:
        label = hit["label"]
        body = bodies.get(label)
        return (*(_value(k, label, body, hit, string_fields) for k in keys), -label)

    return sorted(hits, key=order)


def default_keys(default_sorting_field: str) -> list[SortKey]:
    """A listing's order without ``sort_by``: the default sorting field, descending, then newest first."""
    return [SortKey(default_sorting_field, True)] if default_sorting_field else []
