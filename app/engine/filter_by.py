"""Typesense's ``filter_by`` language, compiled to a predicate over a stored document body.

Supported: ``field:value``, ``field:=value``, ``field:!=value``, ``field:[a,b]``, ``field:!=[a,b]``,
``field:>N`` (and ``<``, ``>=``, ``<=``), ranges ``field:[a..b]``, backquoted values, ``&&``, ``||`` and
parentheses (``&&`` and ``||`` read left to right, as Typesense does); ``id:`` matches document ids.

On a string field of the schema, ``:`` matches words as Typesense 0.24.1 does: the value's words (split on
spaces, punctuation dropped, any case) must all be in the field (for an array, anywhere in it), in any order;
no prefixes. ``:=`` and ``!=`` compare whole values, ignoring case: Typesense compares the word sequences,
which makes ``a-b.jpg`` equal ``ab.jpg``, and a photo library filters on paths and file names. The file fields
that imports store undeclared (``folder``...) compare whole values for ``:`` too, since a folder is no words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.engine.errors import ObjectNotFound, RequestMalformed
from app.engine.tokens import PLAIN, Tokenizer

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
# Pseudo types: the document id (exact, case-sensitive, as ids are) and a file field's whole value.
_ID = "id"
_WHOLE_VALUE = "whole-value"
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_INTEGER = re.compile(r"[+-]?\d+")
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


def _malformed(problem: str = "", position: int = 0) -> RequestMalformed:
    """Typesense's parse errors: unbalanced parentheses or operators are named, anything else is not."""
    del position  # Typesense's messages give none; a script may match on them
    return RequestMalformed("Could not parse the filter query" + (f": {problem}." if problem else "."))


def _field_error(name: str, problem: str) -> RequestMalformed:
    return RequestMalformed(f"Error with filter field `{name}`: {problem}")


_UNBALANCED = "unbalanced parentheses"
_NO_COMPARATOR = "Numerical field has an invalid comparator."


class _Parser:
    def __init__(self, text: str, schema_fields: dict[str, dict], tokenizer: Tokenizer) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self.pos = 0
        self.schema_fields = schema_fields
        self.depth = 0

    # ------------------------------------------------------------- structure

    def parse(self) -> Predicate:
        self._skip_space()
        if self.pos >= len(self.text):
            raise _malformed()
        predicate = self._or()
        self._skip_space()
        if self.pos < len(self.text):
            raise _malformed(_UNBALANCED if self.text[self.pos] == ")" else "")
        return predicate

    def _or(self) -> Predicate:
        """Clauses joined left to right, ``&&`` and ``||`` alike: Typesense gives neither precedence
        (``a || b && c`` is ``(a || b) && c``; its docs say so since typesense/typesense#2882)."""
        first = self._operand()
        rest: list[tuple[bool, Predicate]] = []  # (is_and, clause), evaluated in a loop, not nested
        while True:
            if self._take("&&"):
                rest.append((True, self._operand("&&")))
            elif self._take("||"):
                rest.append((False, self._operand("||")))
            else:
                break
        if not rest:
            return first

        def chained(body: dict) -> bool:
            result = first(body)
            for is_and, clause in rest:
                # Each clause runs only when it can change the result.
                if is_and == result:
                    result = clause(body)
            return result

        return chained

    def _operand(self, after: str = "") -> Predicate:
        self._skip_space()
        rest = self.text[self.pos :].lstrip()
        for op in ("&&", "||"):
            if rest.startswith(op) or (after == op and (not rest or rest.startswith(")"))):
                raise _malformed(f"unbalanced `{op}` operands")
        return self._atom()

    def _atom(self) -> Predicate:
        self._skip_space()
        if self._take("("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise RequestMalformed(
                    f"Could not parse the filter query: parentheses nested more than {MAX_NESTING} deep."
                )
            inner = self._or()
            if not self._take(")"):
                raise _malformed(_UNBALANCED)
            self.depth -= 1
            return inner
        return self._clause()

    def _clause(self) -> Predicate:
        self._skip_space()
        start = self.pos
        found = _FIELD_NAME.match(self.text, self.pos)
        if not found:
            raise _malformed(_UNBALANCED if self.text.startswith(")", self.pos) else "")
        name = found.group(0)
        self.pos = found.end()
        if not self._take(":"):
            raise _malformed()
        ftype = self._field_type(name)
        self._skip_space()
        op = self._comparator()
        if op == "=":
            # Typesense reads `:=>3` as `:>3` (and `:=>=3` as `:>=3`).
            self._skip_space()
            op = self._comparator(ordering_only=True) or op
        self._skip_space()
        if self._take("["):
            if op not in ("", "=", "!="):
                if ftype.removesuffix("[]") in _NUMERIC_TYPES:
                    raise _field_error(name, f"Not {_article(ftype)}.")
                raise _malformed()
            values = self._list()
            matcher = _any_of(name, ftype, values, by_words=op == "", tokenizer=self.tokenizer)
            return _negate(matcher) if op == "!=" else matcher
        value = self._single(stop=("&&", "||", ")"))
        if value.text == "":
            if ftype.removesuffix("[]") in _NUMERIC_TYPES:
                raise _field_error(name, f"Not {_article(ftype)}." if op else _NO_COMPARATOR)
            raise _field_error(name, "Filter value cannot be empty.")
        if op in (">", "<", ">=", "<="):
            return _compare(name, ftype, op, value, start)
        matcher = _any_of(name, ftype, [value], by_words=op == "", tokenizer=self.tokenizer)
        return _negate(matcher) if op == "!=" else matcher

    def _comparator(self, *, ordering_only: bool = False) -> str:
        for candidate in _COMPARATORS:
            if ordering_only and candidate in ("!=", "="):
                continue
            if self.text.startswith(candidate, self.pos):
                self.pos += len(candidate)
                return candidate
        return ""

    def _list(self) -> list[_Value]:
        values: list[_Value] = []
        if self._take("]"):
            return values  # `field:[]` matches nothing, as in Typesense
        while True:
            value = self._single(stop=(",", "]"))
            if value.text == "":
                raise _malformed()
            values.append(value)
            if self._take(","):
                continue
            if self._take("]"):
                return values
            raise _malformed()

    def _single(self, stop: tuple[str, ...]) -> _Value:
        """One value, backquoted or bare (up to a stop token); bare ``a..b`` is a range."""
        self._skip_space()
        position = self.pos
        if self._take("`"):
            end = self.text.find("`", self.pos)
            if end < 0:
                raise _malformed()
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
            if name == "id":
                return _ID
            if name not in FILE_FIELDS:
                raise ObjectNotFound(f"Could not find a filter field named `{name}` in the schema.")
            return _WHOLE_VALUE if FILE_FIELDS[name] == "string" else FILE_FIELDS[name]
        ftype = str(fdef.get("type", ""))
        base = ftype.removesuffix("[]")
        if fdef.get("index") is False:
            # 0.24.1 finds nothing here, silently; an answer that says why is worth more (newer Typesense
            # refuses too).
            raise RequestMalformed(
                f"Cannot filter on the field `{name}`: it is declared with `index: false`.")
        if fdef.get("num_dim") or fdef.get("embed"):
            raise ObjectNotFound(f"Cannot filter on vector field `{name}`.")
        if base not in _NUMERIC_TYPES | _STRING_TYPES | {"bool"}:
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


def _article(ftype: str) -> str:
    base = ftype.removesuffix("[]")
    return f"an {base}" if base[0] in "aeiou" else f"a {base}"


def _number(name: str, ftype: str, value: str, *, compared: bool) -> float:
    """A number for a numeric field, with Typesense's complaints: a value that is no number at all after
    no comparator has "an invalid comparator"; otherwise it is "Not an int32." (or int64, or a float)."""
    number = _NUMBER.fullmatch(value) is not None
    if not number and not compared:
        raise _field_error(name, _NO_COMPARATOR)
    if not number or (ftype.removesuffix("[]") in ("int32", "int64") and not _INTEGER.fullmatch(value)):
        raise _field_error(name, f"Not {_article(ftype)}.")
    return float(value)


def _bool(name: str, value: str, *, in_list: bool) -> bool:
    if value not in ("true", "false"):
        if in_list:
            raise RequestMalformed(f"Values of filter field `{name}`: must be `true` or `false`.")
        raise RequestMalformed(f"Value of filter field `{name}` must be `true` or `false`.")
    return value == "true"


def _stored_values(body: dict, name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _word_match(name: str, values: list[_Value], tokenizer: Tokenizer) -> Predicate:
    """``field:a b``: every word of a value is somewhere in the field (any order); any value will do."""
    wanted = [frozenset(tokenizer.words(v.text)) for v in values]
    wanted = [w for w in wanted if w]

    def matches(body: dict) -> bool:
        have: set[str] = set()
        for s in _stored_values(body, name):
            if isinstance(s, str):
                have.update(tokenizer.words(s))
        return any(w <= have for w in wanted)

    return matches


def _any_of(
    name: str, ftype: str, values: list[_Value], *, by_words: bool = False, tokenizer: Tokenizer = PLAIN
) -> Predicate:
    """True when any stored element equals any value (or falls in any range); for ``words`` on a string
    field of the schema, when it has all of a value's words."""
    base = ftype.removesuffix("[]")
    if base == _ID:
        ids = {v.text for v in values}
        return lambda body: body.get("id") in ids
    if base in _STRING_TYPES and by_words:
        return _word_match(name, values, tokenizer)
    if base in _STRING_TYPES or base == _WHOLE_VALUE:
        wanted = {v.text.casefold() for v in values}
        return lambda body: any(
            isinstance(s, str) and s.casefold() in wanted for s in _stored_values(body, name)
        )
    if base == "bool":
        flags = set()
        for v in values:
            if v.bounds() is not None:
                raise _malformed(f"boolean field `{name}` cannot take a range", v.position)
            flags.add(_bool(name, v.text, in_list=len(values) > 1))
        return lambda body: any(
            isinstance(s, bool) and s in flags for s in _stored_values(body, name)
        )
    exact: set[float] = set()
    ranges: list[tuple[float, float]] = []
    for v in values:
        span = v.bounds()
        if span is None:
            exact.add(_number(name, ftype, v.text, compared=False))
        else:
            low, high = (_number(name, ftype, bound, compared=True) for bound in span)
            ranges.append((low, high))

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
        shown = "string" if ftype in (_ID, _WHOLE_VALUE) else ftype
        raise _malformed(f"`{op}` needs a numeric field, but `{name}` is `{shown}`", position)
    if value.bounds() is not None:
        raise _malformed(f"`{op}` cannot take a range", value.position)
    bound = _number(name, ftype, value.text, compared=True)
    test: Callable[[float], bool] = {
        ">": lambda s: s > bound,
        "<": lambda s: s < bound,
        ">=": lambda s: s >= bound,
        "<=": lambda s: s <= bound,
    }[op]
    return lambda body: any(_is_number(s) and test(s) for s in _stored_values(body, name))


def _negate(predicate: Predicate) -> Predicate:
    return lambda body: not predicate(body)


def parse_filter(text: str, schema_fields: dict[str, dict], tokenizer: Tokenizer = PLAIN) -> Predicate:
    """Compile a ``filter_by`` expression; raises RequestMalformed naming the problem and its position."""
    if not isinstance(text, str):
        raise RequestMalformed("Parameter `filter_by` must be a string.")
    return _Parser(text, schema_fields, tokenizer).parse()
