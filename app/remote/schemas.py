"""Photoseek schemas on a Typesense 0.24 server.

A server of that version has no `image` type and no `embed`: a collection there gets the Photoseek
schema with the image fields left out and each embedding a plain ``float[]`` of the model's width, plus
the file fields Photoseek writes (declared so that filter_by and facet_by work on them). The Photoseek
schema itself (which model, which fields embed from what) is kept beside it in one small collection,
one document per collection, so that every desktop connecting to the server embeds with the same model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.engine.models import resolve_model
from app.engine.schema import Schema, parse_schema

SCHEMAS_COLLECTION = "photoseek_schemas"
SCHEMAS_SCHEMA: dict[str, Any] = {
    "name": SCHEMAS_COLLECTION,
    "fields": [
        {"name": "collection", "type": "string"},
        # Read back whole, never searched.
        {"name": "schema", "type": "string", "index": False, "optional": True},
    ],
}
# What app.engine.files adds to a photo: filterable and (the bar's choices) facetable on the server.
FILE_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "folder", "type": "string", "facet": True, "optional": True},
    {"name": "file_type", "type": "string", "facet": True, "optional": True},
    {"name": "captured_at", "type": "int64", "facet": True, "optional": True},
    {"name": "width", "type": "int32", "optional": True},
    {"name": "height", "type": "int32", "optional": True},
    {"name": "file_size", "type": "int64", "optional": True},
    {"name": "file_mtime", "type": "float", "optional": True},
    {"name": "content_hash", "type": "string", "optional": True},
)
# The field settings a 0.24.1 server understands (it refuses a collection with others).
_SERVER_KEYS = ("name", "type", "facet", "optional", "index", "sort", "infix", "locale", "num_dim")


def parse_photo_schema(schema: Any) -> Schema:
    """The engine's own validation, so a schema is refused here exactly as a local library refuses it."""
    return parse_schema(schema, lambda config: resolve_model(config).dims)


def server_schema(schema: Schema) -> dict:
    """The collection to create on the server for ``schema``."""
    fields: list[dict] = []
    for field in schema.fields:
        if field["type"] == "image":
            continue  # only ever embedded on the desktop: the server never sees an image
        server_field = {k: field[k] for k in _SERVER_KEYS if k in field and field[k] not in ("", None)}
        if field.get("index") is False:
            server_field["optional"] = True  # 0.24 insists, and an unindexed value need not be present
        fields.append(server_field)
    declared = {f["name"] for f in schema.fields}
    fields += [dict(f) for f in FILE_FIELDS if f["name"] not in declared]
    out: dict[str, Any] = {"name": schema.name, "fields": fields}
    if schema.default_sorting_field:
        out["default_sorting_field"] = schema.default_sorting_field
    for key in ("symbols_to_index", "token_separators"):
        if schema.extra.get(key):
            out[key] = list(schema.extra[key])
    return out


def schema_doc_id(name: str) -> str:
    """A collection's document id in SCHEMAS_COLLECTION (names may hold what a URL path cannot)."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()


def schema_document(schema: Schema) -> dict:
    return {
        "id": schema_doc_id(schema.name),
        "collection": schema.name,
        "schema": json.dumps(schema.stored()),
    }


def schema_from_document(doc: dict, created_at: int) -> Schema | None:
    """The Photoseek schema a SCHEMAS_COLLECTION document holds; None for one this version cannot read."""
    try:
        stored = json.loads(doc["schema"])
        return Schema.from_stored(str(doc["collection"]), stored, created_at)
    except (KeyError, TypeError, ValueError):
        return None


def photo_collection_dict(schema: Schema, server: dict) -> dict:
    """What ``collections.retrieve()`` answers for a Photoseek collection: its Photoseek schema, the
    server's count and creation time."""
    schema.created_at = int(server.get("created_at", 0))
    return schema.to_dict(int(server.get("num_documents", 0)))
