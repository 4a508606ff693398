"""Collection schemas: validation, normalisation and the per-document checks they imply.

Messages follow Typesense's wording where Typesense has one, so that scripts that match on them keep working.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.errors import RequestMalformed

FIELD_TYPES = frozenset(
    {
        "string",
        "string[]",
        "int32",
        "int64",
        "float",
        "bool",
        "image",
        "float[]",
        "int32[]",
        "int64[]",
        "bool[]",
        "object",
        "object[]",
        "auto",
        "string*",
    }
)
TEXT_TYPES = frozenset({"string", "string[]"})
# `embed` is stored as given (its model_config may carry keys for other engines); deeper than this it is
# no configuration but a structure that copying or saving it as JSON would recurse through to the end.
MAX_EMBED_DEPTH = 16
INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)

# Kept and given back as Typesense does; Photoseek's word splitting does not use them yet.
SYMBOL_LISTS = ("symbols_to_index", "token_separators")
FIELDS_FORMAT = (
    "The `fields` value should be an array of objects containing `name`, `type` and optionally, `facet` "
    "properties."
)
WRONG_FIELD_FORMAT = (
    "Wrong format for `fields`. It should be an array of objects containing `name`, `type`, `optional` and "
    "`facet` properties."
)

# A model resolver maps model_config -> number of dimensions, raising ValueError for unknown models.
ModelDims = Callable[[dict], int]


@dataclass(frozen=True)
class EmbedSpec:
    """An embedding field: which fields feed it and which model computes it."""

    field: str
    sources: tuple[str, ...]
    model_config: dict
    dims: int


@dataclass
class Schema:
    """A validated collection schema."""

    name: str
    fields: list[dict]
    created_at: int = 0
    default_sorting_field: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def by_name(self) -> dict[str, dict]:
        return {f["name"]: f for f in self.fields}

    @property
    def vector_fields(self) -> dict[str, int]:
        """Fields searchable with vector_query: name -> dims."""
        return {f["name"]: f["num_dim"] for f in self.fields if f["type"] == "float[]" and f.get("num_dim")}

    @property
    def embeds(self) -> list[EmbedSpec]:
        return [
            EmbedSpec(f["name"], tuple(f["embed"]["from"]), f["embed"]["model_config"], f["num_dim"])
            for f in self.fields
            if f.get("embed")
        ]

    @property
    def unstored(self) -> frozenset[str]:
        return frozenset(f["name"] for f in self.fields if f.get("store") is False)

    @classmethod
    def from_stored(cls, name: str, stored: dict, created_at: int) -> Schema:
        """The schema as the collections table keeps it (see ``stored``)."""
        extra = {key: list(stored[key]) for key in SYMBOL_LISTS if stored.get(key)}
        return cls(name=name, fields=stored["fields"], created_at=created_at,
                   default_sorting_field=stored.get("default_sorting_field", ""), extra=extra)

    def stored(self) -> dict:
        """What the collections table keeps of this schema."""
        return {"fields": self.fields, "default_sorting_field": self.default_sorting_field, **self.extra}

    def to_dict(self, num_documents: int) -> dict:
        return {
            "created_at": self.created_at,
            "default_sorting_field": self.default_sorting_field,
            "enable_nested_fields": False,
            "fields": copy.deepcopy(self.fields),
            "name": self.name,
            "num_documents": num_documents,
            "symbols_to_index": list(self.extra.get("symbols_to_index", [])),
            "token_separators": list(self.extra.get("token_separators", [])),
        }


def _bad(message: str) -> RequestMalformed:
    return RequestMalformed(message)


def parse_schema(raw: Any, model_dims: ModelDims) -> Schema:
    """Validate a create-collection body and fill in Typesense's defaults."""
    if not isinstance(raw, dict):
        raise _bad("The collection schema must be a JSON object.")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _bad("Parameter `name` is required.")
    if "fields" not in raw:
        raise _bad("Parameter `fields` is required.")
    fields = raw.get("fields")
    if not isinstance(fields, list) or not fields:
        raise _bad(FIELDS_FORMAT)
    normalised: list[dict] = []
    seen: set[str] = set()
    for position, fdef in enumerate(fields):
        nf = _normalise_field(fdef, position)
        if nf["name"] in seen:
            raise _bad("There are duplicate field names in the schema.")
        seen.add(nf["name"])
        normalised.append(nf)
    by_name = {f["name"]: f for f in normalised}
    for nf in normalised:
        if "embed" in nf:
            _check_embed(nf, by_name, model_dims)
    sorting = raw.get("default_sorting_field", "") or ""
    if not isinstance(sorting, str):
        raise _bad(
            "`default_sorting_field` should be a string. It should be the name of an int32/float field."
        )
    if sorting:
        sf = by_name.get(sorting)
        if sf is None:
            raise _bad(f"Default sorting field is defined as `{sorting}` but is not found in the schema.")
        if sf["type"] not in {"int32", "int64", "float", "bool", "string"} or not sf["sort"]:
            raise _bad(f"Default sorting field `{sorting}` is not a sortable type.")
        if sf["optional"]:
            raise _bad(f"Default sorting field `{sorting}` cannot be an optional field.")
    extra = {}
    for key in SYMBOL_LISTS:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and len(v) == 1 for v in value):
            raise _bad(f"`{key}` should be an array of character symbols.")
        if value:
            extra[key] = list(value)
    return Schema(name=name, fields=normalised, default_sorting_field=sorting, extra=extra)


def normalise_field(fdef: Any, position: int) -> dict:
    """One field definition checked, with Typesense's defaults filled in (for creating or altering)."""
    return _normalise_field(fdef, position)


def _normalise_field(fdef: Any, position: int) -> dict:
    if not isinstance(fdef, dict):
        raise _bad(f"Field definition at position {position} must be a JSON object.")
    fname = fdef.get("name")
    if not isinstance(fname, str) or not fname:
        raise _bad(WRONG_FIELD_FORMAT)
    ftype = fdef.get("type")
    if not isinstance(ftype, str):
        raise _bad(WRONG_FIELD_FORMAT)
    if ftype not in FIELD_TYPES:
        raise _bad(f"Field `{fname}` has an invalid data type `{ftype}`, see docs for supported data types.")
    if fname == "id" and ftype != "string":
        raise _bad("Field `id` must be of type `string`.")
    for flag in ("optional", "store", "index", "facet", "sort", "infix"):
        if flag in fdef and not isinstance(fdef[flag], bool):
            raise _bad(f"The `{flag}` property of the field `{fname}` should be a boolean.")
    if not isinstance(fdef.get("locale", ""), str):
        raise _bad(f"The `locale` property of the field `{fname}` should be a string.")
    nf = {
        "facet": fdef.get("facet", False),
        "index": fdef.get("index", True),
        "infix": fdef.get("infix", False),
        "locale": fdef.get("locale", ""),
        "name": fname,
        "optional": fdef.get("optional", False),
        "sort": fdef.get("sort", ftype in {"int32", "int64", "float", "bool"}),
        "stem": False,
        "store": fdef.get("store", True),
        "type": ftype,
    }
    if "num_dim" in fdef:
        num_dim = fdef["num_dim"]
        if not isinstance(num_dim, int) or isinstance(num_dim, bool) or num_dim <= 0:
            raise _bad("Property `num_dim` must be a positive integer.")
        if ftype != "float[]":
            raise _bad(f"Property `num_dim` is only allowed on a field of type `float[]` (field `{fname}`).")
        nf["num_dim"] = num_dim
    if "vec_dist" in fdef and fdef["vec_dist"] not in ("cosine", "ip"):
        raise _bad(f"Property `vec_dist` of the field `{fname}` must be `cosine` or `ip`.")
    if "embed" in fdef:
        if _depth(fdef["embed"], MAX_EMBED_DEPTH) > MAX_EMBED_DEPTH:
            raise _bad(f"Property `embed` of the field `{fname}` is nested more than {MAX_EMBED_DEPTH} deep.")
        nf["embed"] = copy.deepcopy(fdef["embed"])
    if nf.get("num_dim") or "embed" in nf:
        # Photoseek's index is always cosine; `ip` is accepted for compatibility and treated alike.
        nf["vec_dist"] = fdef.get("vec_dist", "cosine")
    return nf


def _depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests (a scalar is 0), counted no further than one past ``limit``: iterative, so
    that a structure thousands deep is measured without recursing through it."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limit:
            break
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _check_embed(nf: dict, by_name: dict[str, dict], model_dims: ModelDims) -> None:
    fname = nf["name"]
    embed = nf["embed"]
    if nf["type"] != "float[]":
        raise _bad("Fields with the `embed` parameter can only be of type `float[]`.")
    if not isinstance(embed, dict):
        raise _bad(f"Property `embed` of the field `{fname}` must be an object.")
    sources = embed.get("from")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise _bad("Property `embed.from` must be a non-empty array of field names.")
    for source in sources:
        sf = by_name.get(source)
        if sf is None:
            raise _bad(f"Property `embed.from` refers to the field `{source}`, which is not in the schema.")
        if sf["type"] not in TEXT_TYPES | {"image"}:
            raise _bad(
                "Property `embed.from` can only refer to string, string array or image fields "
                f"(`{source}` is `{sf['type']}`)."
            )
    config = embed.get("model_config")
    if not isinstance(config, dict) or not isinstance(config.get("model_name"), str):
        raise _bad("Property `embed.model_config.model_name` is required.")
    try:
        dims = model_dims(config)
    except ValueError as exc:
        raise _bad(str(exc)) from exc
    if "num_dim" in nf and nf["num_dim"] != dims:
        raise _bad(
            f"Field `{fname}` has `num_dim` {nf['num_dim']} but the model "
            f"`{config['model_name']}` produces {dims} dimensions."
        )
    nf["num_dim"] = dims


def _type_error(fname: str, ftype: str) -> RequestMalformed:
    article = {
        "string": "a string",
        "string[]": "an array of strings",
        "int32": "an int32",
        "int64": "an int64",
        "float": "a float",
        "bool": "a bool",
        "image": "a base64 string of an image",
        "float[]": "an array of floats",
        "int32[]": "an array of int32",
        "int64[]": "an array of int64",
        "bool[]": "an array of bools",
        "object": "an object",
        "object[]": "an array of objects",
    }.get(ftype, ftype)
    return _bad(f"Field `{fname}` must be {article}.")


def _is_int(value: Any, bounds: tuple[int, int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]


def _is_float(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_SCALAR_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "int32": lambda v: _is_int(v, INT32_RANGE),
    "int64": lambda v: _is_int(v, INT64_RANGE),
    "float": _is_float,
    "bool": lambda v: isinstance(v, bool),
    # bytes come from Photoseek's own file import, which skips the base64 round trip.
    "image": lambda v: isinstance(v, (str, bytes)),
    "object": lambda v: isinstance(v, dict),
}


def check_value(fdef: dict, value: Any) -> None:
    """Raise a 400 naming the field if ``value`` does not fit the field's type."""
    ftype = fdef["type"]
    fname = fdef["name"]
    if ftype in ("auto", "string*"):
        return
    if ftype == "float[]":
        _check_float_array(fdef, value)
        return
    if ftype.endswith("[]"):
        inner = _SCALAR_CHECKS[ftype[:-2]]
        if not isinstance(value, list) or not all(inner(v) for v in value):
            raise _type_error(fname, ftype)
        return
    if not _SCALAR_CHECKS[ftype](value):
        raise _type_error(fname, ftype)


def _check_float_array(fdef: dict, value: Any) -> None:
    # Vectors are long (512 floats), so check them in numpy rather than element by element.
    fname = fdef["name"]
    if not isinstance(value, list):
        raise _type_error(fname, "float[]")
    try:
        arr = np.asarray(value)
    except ValueError:
        raise _type_error(fname, "float[]") from None
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "fi") or not np.all(np.isfinite(arr)):
        raise _type_error(fname, "float[]")
    if fdef.get("num_dim") and len(value) != fdef["num_dim"]:
        raise _bad(f"Field `{fname}` must have {fdef['num_dim']} dimensions.")
