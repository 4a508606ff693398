"""Parser for Typesense's ``vector_query`` parameter.

Grammar: ``FIELD:([f1, f2, ...], key:value, key:value)``; keys are ``id``, ``image``, ``k``,
``distance_threshold``, ``ef``, ``flat_search_cutoff``, ``alpha``, ``queries`` and ``query_weights``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field  # VectorQuery has a field named `field`

from app.engine.errors import RequestMalformed


@dataclass
class VectorQuery:
    field: str
    values: list[float] = dataclass_field(default_factory=list)
    id: str | None = None
    image: str | None = None
    k: int | None = None
    distance_threshold: float | None = None
    ef: int | None = None
    flat_search_cutoff: int = 0
    alpha: float | None = None
    queries: list[str] | None = None
    query_weights: list[float] | None = None


_INT_KEYS = ("k", "ef", "flat_search_cutoff")
_FLOAT_KEYS = ("distance_threshold", "alpha")
# Typesense reads these counts as uint32; past that hnswlib's size_t arguments overflow.
UINT32_MAX = 2**32 - 1
# Typesense reads weights as 32-bit floats, where a larger one is infinite: no weight at all.
FLOAT32_MAX = 3.4028234663852886e38


MALFORMED = "Malformed vector query string."


def _bad(detail: str) -> RequestMalformed:
    return RequestMalformed(f"Malformed vector query string: {detail}")


_SPECIAL = re.compile(r"[\[\]`,]")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets or backquotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    pos = 0
    # Jumps from one bracket, backquote or comma to the next: a 512-number vector is one jump over its
    # whole list (a plain list cannot hold a top-level comma), not 5,000 characters looked at in Python.
    while (found := _SPECIAL.search(text, pos)) is not None:
        i, ch = found.start(), found.group()
        pos = i + 1
        if ch == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "[":
            close = text.find("]", pos)
            if close >= 0 and text.find("[", pos, close) < 0 and text.find("`", pos, close) < 0:
                pos = close + 1  # a flat list: nothing inside it splits or nests
            else:
                depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise _bad("unbalanced `]`.")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    # An open backquote hides every bracket after it, so it is the real problem when both show.
    if quoted:
        raise _bad("unterminated backquote.")
    if depth != 0:
        raise _bad("unbalanced `[`.")
    parts.append(text[start:])
    return parts


def _rejoin_data_urls(parts: list[str]) -> list[str]:
    # `image:data:image/png;base64,AAAA` holds a comma of its own: glue the payload back on.
    out: list[str] = []
    for part in parts:
        previous = out[-1].replace(" ", "") if out else ""
        if previous.startswith("image:data:") and previous.endswith(";base64"):
            out[-1] = out[-1] + "," + part
        else:
            out.append(part)
    return out


def _parse_list(raw: str, key: str, *, strip: bool = True) -> list[str]:
    raw = raw.strip()
    if not (raw.startswith("[") and raw.endswith("]")):
        raise _bad(f"`{key}` must be a list in square brackets.")
    inner = raw[1:-1].strip()
    if not inner:
        return []
    if "`" not in inner and "[" not in inner and "]" not in inner:
        # A plain list, the usual vector: no quoting to undo, and float() ignores the spaces itself.
        return [p.strip() for p in inner.split(",")] if strip else inner.split(",")
    return [p.strip().strip("`").strip() for p in _split_top_level(inner)]


def _parse_floats(items: list[str], what: str) -> list[float]:
    # A query vector has hundreds of numbers: convert them all in C first, and walk them one by one only
    # to name the one that is wrong.
    try:
        values = list(map(float, items))
    except ValueError:
        values = []
    if len(values) == len(items) and all(map(math.isfinite, values)):
        return values
    out = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise _bad(f"{what} contains `{item.strip()}`, which is not a number.") from None
        if not math.isfinite(value):
            raise _bad(f"{what} contains `{item.strip()}`, which is not a finite number.")
        out.append(value)
    return out


def parse_vector_query(text: str) -> VectorQuery:
    """Parse ``text`` or raise a 400 that says what is wrong with it."""
    if not isinstance(text, str):
        raise _bad(f"it must be a string, got {type(text).__name__}.")
    if not text.strip():
        raise _bad("it is empty.")
    text = text.strip()
    name, sep, rest = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise RequestMalformed(MALFORMED)  # Typesense's words, exactly
    rest = rest.strip()
    if not (rest.startswith("(") and rest.endswith(")")):
        raise RequestMalformed(MALFORMED)  # Typesense's words, exactly
    inner = rest[1:-1].strip()
    parts = _rejoin_data_urls(_split_top_level(inner))
    if not parts or not parts[0].strip().startswith("["):
        raise RequestMalformed(MALFORMED)  # Typesense's words, exactly
    query = VectorQuery(field=name)
    query.values = _parse_floats(_parse_list(parts[0], "vector", strip=False), "The vector")
    seen: set[str] = set()
    for part in parts[1:]:
        part = part.strip()
        if not part:
            raise _bad("empty parameter (stray comma).")
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise _bad(f"parameter `{part[:40]}` must be written as `key:value`.")
        if key in seen:
            raise _bad(f"parameter `{key}` is given twice.")
        seen.add(key)
        _assign(query, key, value)
    if query.id is not None and query.image is not None:
        raise _bad("give either `id` (a stored photo) or `image`, not both.")
    return query


def _assign(query: VectorQuery, key: str, value: str) -> None:
    if key == "id":
        query.id = value.strip("`")
    elif key == "image":
        query.image = value
    elif key in _INT_KEYS:
        try:
            integer = int(value)
        except ValueError:
            raise _bad(f"`{key}` must be an integer, got `{value}`.") from None
        # flat_search_cutoff 0 means "never brute force"; k and ef of 0 would ask for nothing.
        if integer < 0 or (key != "flat_search_cutoff" and integer == 0):
            raise _bad(f"`{key}` must be a positive integer, got `{value}`.")
        if integer > UINT32_MAX:
            raise _bad(f"`{key}` must be a positive integer of at most {UINT32_MAX}, got `{value}`.")
        setattr(query, key, integer)
    elif key in _FLOAT_KEYS:
        try:
            number = float(value)
        except ValueError:
            raise _bad(f"`{key}` must be a number, got `{value}`.") from None
        if key == "distance_threshold" and not 0 <= number <= 2:
            raise _bad(f"`distance_threshold` must be between 0 and 2 for cosine distance, got `{value}`.")
        if key == "alpha" and not 0 <= number <= 1:
            raise _bad(f"`alpha` must be between 0 and 1, got `{value}`.")
        setattr(query, key, number)
    elif key == "queries":
        query.queries = _parse_list(value, "queries")
        if not query.queries or not all(query.queries):
            raise _bad("`queries` must list at least one non-empty query.")
    elif key == "query_weights":
        weights = _parse_floats(_parse_list(value, "query_weights"), "`query_weights`")
        too_large = next((w for w in weights if abs(w) > FLOAT32_MAX), None)
        if too_large is not None:
            raise _bad(f"`query_weights` contains `{too_large:g}`, which does not fit a 32-bit float.")
        query.query_weights = weights
    else:
        raise _bad(
            f"unknown parameter `{key}` (known: id, image, k, distance_threshold, ef, "
            "flat_search_cutoff, alpha, queries, query_weights)."
        )
