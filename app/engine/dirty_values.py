"""Typesense's ``dirty_values`` write parameter: what to do with a value of the wrong type for its field.

``reject`` (the default for a schema without ``auto`` fields, as in Typesense) leaves the document to
validation, which names the field. ``coerce_or_reject`` turns ``"12"`` into 12, 5 into ``"5"``, ``"true"``
into True (and so on, as Typesense's validator does) and rejects what cannot be turned; ``coerce_or_drop``
drops what cannot be turned from an optional field; ``drop`` drops every wrong value of an optional field.
A required field's wrong value is rejected in every mode. Checked against Typesense 0.24.1.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from app.engine.errors import RequestMalformed
from app.engine.schema import Schema, check_value

REJECT, COERCE_OR_REJECT, COERCE_OR_DROP, DROP = "reject", "coerce_or_reject", "coerce_or_drop", "drop"
_MODES = (REJECT, COERCE_OR_REJECT, COERCE_OR_DROP, DROP)
_SCALARS = {"string", "int32", "int64", "float", "bool"}
_INT = re.compile(r"-?\d+")
_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_UNSET = object()


def mode(schema: Schema, params: dict | None) -> str:
    """The mode ``params`` asks for; an unknown or missing one is Typesense's default for the schema."""
    value = (params or {}).get("dirty_values")
    if isinstance(value, str) and value.strip().lower() in _MODES:
        return value.strip().lower()
    auto = any(f.get("type") in ("auto", "string*") or "*" in str(f.get("name", "")) for f in schema.fields)
    return COERCE_OR_REJECT if auto else REJECT


def apply(schema: Schema, doc: Any, how: str) -> Any:
    """``doc`` with its wrong-typed values coerced or dropped as ``how`` says (a new dict when anything
    changed); what is left wrong is for validation to reject, with Typesense's message."""
    if how == REJECT or not isinstance(doc, dict):
        return doc
    out = doc
    for fname, fdef in schema.by_name.items():
        ftype = str(fdef.get("type", ""))
        base = ftype.removesuffix("[]")
        value = doc.get(fname)
        if fname == "id" or value is None or base not in _SCALARS or fdef.get("num_dim") or fdef.get("embed"):
            continue
        try:
            check_value(fdef, value)
            continue
        except RequestMalformed:
            pass
        fixed = _fix_array(base, value, how, fdef) if ftype.endswith("[]") else _fix(base, value, how, fdef)
        if fixed is value:
            continue
        if out is doc:
            out = dict(doc)
        if fixed is _UNSET:
            del out[fname]
        else:
            out[fname] = fixed
    return out


def _fix_array(base: str, value: Any, how: str, fdef: dict) -> Any:
    if not isinstance(value, list):
        return value
    kept: list[Any] = []
    for item in value:
        fixed = _fix(base, item, how, fdef)
        if fixed is item and not _fits(base, item):
            return value  # an element that stays wrong: the whole value is rejected
        if fixed is not _UNSET:
            kept.append(fixed)
    return kept


def _fits(base: str, value: Any) -> bool:
    try:
        check_value({"name": "_", "type": base}, value)
    except RequestMalformed:
        return False
    return True


def _fix(base: str, value: Any, how: str, fdef: dict) -> Any:
    """The value coerced, ``_UNSET`` to drop it, or ``value`` itself to leave it (to be rejected)."""
    if _fits(base, value):
        return value
    optional = bool(fdef.get("optional"))
    if how == DROP:
        return _UNSET if optional else value
    coerced = _coerce(base, value)
    if coerced is not _UNSET:
        return coerced
    return _UNSET if how == COERCE_OR_DROP and optional else value


def _coerce(base: str, value: Any) -> Any:
    if base == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and math.isfinite(value):
            return str(np.float32(value))  # Typesense prints the value as a float
        return _UNSET
    if base in _INT_RANGE:
        low, high = _INT_RANGE[base]
        number: int | None = None
        if isinstance(value, bool) or (isinstance(value, float) and math.isfinite(value)):
            number = int(value)
        elif isinstance(value, str) and len(value.strip()) <= 21 and _INT.fullmatch(value.strip()):
            number = int(value.strip())
        return number if number is not None and low <= number <= high else _UNSET
    if base == "float":
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, str):
            try:
                number_f = float(value)
            except ValueError:
                return _UNSET
            return number_f if math.isfinite(number_f) else _UNSET
        return _UNSET
    if base == "bool":
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return value == 1
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return _UNSET
    return _UNSET
