"""Typesense's ``filter_by`` language, compiled to a predicate over a stored document body.

Supported: ``field:value``, ``field:=value``, ``field:!=value``, ``field:[a,b]``, ``field:!=[a,b]``,
``field:>N`` (and ``<``, ``>=``, ``<=``), ranges ``field:[a..b]``, backquoted values, ``&&``, ``||`` and
parentheses, with ``&&`` binding tighter than ``||``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.engine.errors import RequestMalformed

Predicate = Callable[[dict], bool]

# File imports store these on every document without declaring them in the schema; users still expect
# to filter on them (by folder, by date), so they are filterable unless the schema says otherwise.
FILE_FIELDS: dict[str, str] = {
    "folder": "string",
    "file_type": "string",
    "path": "string",
    "name": "string",
    "file_size": "int64",
    "width": "int32",
    "height": "int32",
    "captured_at": "int64",
    "file_mtime": "float",
}

_NUMERIC_TYPES = {"int32", "int64", "float"}
_STRING_TYPES = {"string"}
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_COMPARATORS = (">=", "<=", "!=", ">", "<", "=")
# Each level of parentheses costs a few Python frames to parse and to evaluate: far below the recursion
# limit at this depth, which no hand-written filter comes near.
MAX_NESTING = 64
_STOPS: dict[tuple[str, ...], re.Pattern[str]] = {
    stop: re.compile("|".join(re.escape(t) for t in stop)) for stop in (("&&", "||", ")"), (",", "]"))
}


@dataclass(frozen=True)
class _Value:
    """One value as written; a bare ``low..high`` is a range for numeric fields."""

    text: str
    position: int
    quoted: bool = False

    def bounds(self) -> tuple[str, str] | None:
        if self.quoted or ".." not in self.text:
            return None
        low, _, high = self.text.partition("..")
        return low.strip(), high.strip()


def _malformed(problem: str, position: int) -> RequestMalformed:
    return RequestMalformed(f"Could not parse the filter query: {problem} at position {position}.")


class _Parser:
    def __init__(self, text: str, schema_fields: dict[str, dict]) -> None:
        self.text = text
        self.pos = 0
        self.schema_fields = schema_fields
        self.depth = 0

    # ------------------------------------------------------------- structure

    def parse(self) -> Predicate:
        self._skip_space()
        if self.pos >= len(self.text):
            raise _malformed("the filter is empty", self.pos)
        predicate = self._or()
        self._skip_space()
        if self.pos < len(self.text):
            raise _malformed(f"unexpected `{self.text[self.pos]}`", self.pos)
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._take("||"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda body: any(p(body) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._atom()]
        while self._take("&&"):
            parts.append(self._atom())
        if len(parts) == 1:
            return parts[0]
        return lambda body: all(p(body) for p in parts)

    def _atom(self) -> Predicate:
        self._skip_space()
        if self._take("("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise _malformed(f"parentheses nested more than {MAX_NESTING} deep", self.pos - 1)
            inner = self._or()
            if not self._take(")"):
                raise _malformed("expected `)`", self.pos)
            self.depth -= 1
            return inner
        return self._clause()

    def _clause(self) -> Predicate:
        self._skip_space()
        start = self.pos
        found = _FIELD_NAME.match(self.text, self.pos)
        if not found:
            where = "the end" if self.pos >= len(self.text) else f"`{self.text[self.pos]}`"
            raise _malformed(f"expected a field name but found {where}", self.pos)
        name = found.group(0)
        self.pos = found.end()
        if not self._take(":"):
            raise _malformed(f"expected `:` after field name `{name}`", self.pos)
        ftype = self._field_type(name)
        self._skip_space()
        op = ""
        for candidate in _COMPARATORS:
            if self.text.startswith(candidate, self.pos):
                op = candidate
                self.pos += len(candidate)
                break
        self._skip_space()
        if self._take("["):
            if op not in ("", "=", "!="):
                raise _malformed(f"`{op}` cannot take a list of values", self.pos - 1)
            values = self._list()
            matcher = _any_of(name, ftype, values)
            return _negate(matcher) if op == "!=" else matcher
        value = self._single(stop=("&&", "||", ")"))
        if value.text == "":
            raise _malformed(f"missing value for field `{name}`", value.position)
        if op in (">", "<", ">=", "<="):
            return _compare(name, ftype, op, value, start)
        matcher = _any_of(name, ftype, [value])
        return _negate(matcher) if op == "!=" else matcher

    def _list(self) -> list[_Value]:
        values: list[_Value] = []
        while True:
            value = self._single(stop=(",", "]"))
            if value.text == "":
                raise _malformed("empty value in list", value.position)
            values.append(value)
            if self._take(","):
                continue
            if self._take("]"):
                return values
            raise _malformed("expected `,` or `]` in list", self.pos)

    def _single(self, stop: tuple[str, ...]) -> _Value:
        """One value, backquoted or bare (up to a stop token); bare ``a..b`` is a range."""
        self._skip_space()
        position = self.pos
        if self._take("`"):
            end = self.text.find("`", self.pos)
            if end < 0:
                raise _malformed("unclosed backquote", position)
            text = self.text[self.pos : end]
            self.pos = end + 1
            return _Value(text, position, quoted=True)
        # One scan to the nearest stop token: a find per token would rescan the rest of a long filter for
        # every value in it.
        found = _STOPS[stop].search(self.text, self.pos)
        end = found.start() if found else len(self.text)
        raw = self.text[self.pos : end]
        self.pos = end
        return _Value(raw.strip(), position)

    # ------------------------------------------------------------- helpers

    def _field_type(self, name: str) -> str:
        fdef = self.schema_fields.get(name)
        if fdef is None:
            if name not in FILE_FIELDS:
                raise RequestMalformed(f"Could not find a filter field named `{name}` in the schema.")
            return FILE_FIELDS[name]
        ftype = str(fdef.get("type", ""))
        base = ftype.removesuffix("[]")
        if fdef.get("num_dim") or fdef.get("embed") or base not in _NUMERIC_TYPES | _STRING_TYPES | {"bool"}:
            raise RequestMalformed(f"Cannot filter on field `{name}` of type `{ftype}`.")
        return ftype

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _take(self, token: str) -> bool:
        self._skip_space()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False


def _number(name: str, value: str, position: int) -> float:
    if not _NUMBER.fullmatch(value):
        raise RequestMalformed(
            f"Numerical field `{name}` has an invalid value `{value}` in the filter at position {position}."
        )
    return float(value)


def _bool(name: str, value: str, position: int) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise RequestMalformed(
            f"Boolean field `{name}` has an invalid value `{value}` in the filter at position {position}."
        )
    return lowered == "true"


def _stored_values(body: dict, name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _any_of(name: str, ftype: str, values: list[_Value]) -> Predicate:
    """True when any stored element equals any value (or falls in any range)."""
    base = ftype.removesuffix("[]")
    if base in _STRING_TYPES:
        wanted = {v.text.casefold() for v in values}
        return lambda body: any(
            isinstance(s, str) and s.casefold() in wanted for s in _stored_values(body, name)
        )
    if base == "bool":
        flags = set()
        for v in values:
            if v.bounds() is not None:
                raise _malformed(f"boolean field `{name}` cannot take a range", v.position)
            flags.add(_bool(name, v.text, v.position))
        return lambda body: any(
            isinstance(s, bool) and s in flags for s in _stored_values(body, name)
        )
    exact: set[float] = set()
    ranges: list[tuple[float, float]] = []
    for v in values:
        span = v.bounds()
        if span is None:
            exact.add(_number(name, v.text, v.position))
        else:
            ranges.append((_number(name, span[0], v.position), _number(name, span[1], v.position)))

    def matches(body: dict) -> bool:
        for s in _stored_values(body, name):
            if not _is_number(s):
                continue
            if s in exact or any(low <= s <= high for low, high in ranges):
                return True
        return False

    return matches


def _compare(name: str, ftype: str, op: str, value: _Value, position: int) -> Predicate:
    if ftype.removesuffix("[]") not in _NUMERIC_TYPES:
        raise _malformed(f"`{op}` needs a numeric field, but `{name}` is `{ftype}`", position)
    if value.bounds() is not None:
        raise _malformed(f"`{op}` cannot take a range", value.position)
    bound = _number(name, value.text, value.position)
    test: Callable[[float], bool] = {
        ">": lambda s: s > bound,
        "<": lambda s: s < bound,
        ">=": lambda s: s >= bound,
        "<=": lambda s: s <= bound,
    }[op]
    return lambda body: any(_is_number(s) and test(s) for s in _stored_values(body, name))


def _negate(predicate: Predicate) -> Predicate:
    return lambda body: not predicate(body)


def parse_filter(text: str, schema_fields: dict[str, dict]) -> Predicate:
    """Compile a ``filter_by`` expression; raises RequestMalformed naming the problem and its position."""
    if not isinstance(text, str):
        raise RequestMalformed("Parameter `filter_by` must be a string.")
    return _Parser(text, schema_fields).parse()
