"""Typesense's collection alter (``PATCH /collections/NAME``, the client's ``collections[name].update``): add
fields, drop them with ``{"name": x, "drop": true}``, both in one request to change a field's type.

As in Typesense: an added field is checked against every stored document (a missing value needs
``optional: true``), a dropped field's values stay in the documents (only the schema forgets them), and
dropping the default sorting field unsets it. Photoseek adds and drops no vector, embedding or image field
this way: those need embeddings computed or index files removed, which a new collection (or a model
switch) does with progress and a way back.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from app.engine.collection import Collection
from app.engine.errors import RequestMalformed
from app.engine.schema import Schema, check_value, normalise_field

FIELDS_FORMAT = (
    "The `fields` value should be an array of objects containing the field `name` and other properties."
)


def _bad(message: str) -> RequestMalformed:
    return RequestMalformed(message)


def alter_schema(schema: Schema, change: Any, stored_bodies: Any) -> tuple[Schema, list[dict]]:
    """The schema after ``change``, and the ``fields`` Typesense answers with. ``stored_bodies`` is an
    iterable of the documents now stored, read only when a field is added."""
    fields_in = change.get("fields") if isinstance(change, dict) else None
    if (
        not isinstance(fields_in, list)
        or not fields_in
        or not all(isinstance(f, dict) and isinstance(f.get("name"), str) and f["name"] for f in fields_in)
    ):
        raise _bad(FIELDS_FORMAT)
    if set(change) - {"fields"}:
        raise _bad("Only `fields` can be updated at the moment.")
    fields = copy.deepcopy(schema.fields)
    embed_sources = {source for f in fields if f.get("embed") for source in f["embed"].get("from", [])}
    answer: list[dict] = []
    added: list[dict] = []
    sorting = schema.default_sorting_field
    for position, fdef in enumerate(fields_in):
        name = fdef["name"]
        if name == "id":
            raise _bad("Field `id` cannot be altered.")
        current = next((f for f in fields if f["name"] == name), None)
        if "drop" in fdef:
            if fdef["drop"] is not True:
                raise _bad(f"Field `{name}` must have a drop value of `true`.")
            if current is None:
                raise _bad(f"Field `{name}` is not part of collection schema.")
            if _is_vector_or_image(current) or name in embed_sources:
                raise _bad(
                    f"Field `{name}` holds or feeds embeddings: Photoseek cannot drop it from a collection; "
                    "create a new collection without it."
                )
            fields.remove(current)
            if sorting == name:
                sorting = ""
            answer.append(copy.deepcopy(fdef))
            continue
        if current is not None:
            raise _bad(
                f"Field `{name}` is already part of the schema: To change this field, drop it first before "
                "adding it back to the schema."
            )
        nf = normalise_field(fdef, position)
        if _is_vector_or_image(nf):
            raise _bad(
                f"Field `{name}` is a vector, embedding or image field: Photoseek cannot add one to an "
                "existing collection; create a new collection with it."
            )
        fields.append(nf)
        added.append(nf)
        # Typesense answers with its whole field record, these keys included.
        record = {"nested": False, "nested_array": 0, "num_dim": nf.get("num_dim", 0)}
        answer.append({**copy.deepcopy(nf), **record})
    if added:
        _check_stored(added, stored_bodies)
    altered = Schema(name=schema.name, fields=fields, created_at=schema.created_at,
                     default_sorting_field=sorting, extra=copy.deepcopy(schema.extra))
    return altered, answer


def _is_vector_or_image(fdef: dict) -> bool:
    return bool(fdef.get("num_dim") or fdef.get("embed")) or fdef.get("type") == "image"


def _check_stored(added: list[dict], stored_bodies: Any) -> None:
    for body in stored_bodies:
        for nf in added:
            value = body.get(nf["name"])
            if value is None:
                if not nf["optional"]:
                    raise _bad(
                        f"Field `{nf['name']}` has been declared in the schema, but is not found in the "
                        "documents already present in the collection. If you still want to add this field, "
                        "set it as `optional: true`."
                    )
                continue
            try:
                check_value(nf, value)
            except RequestMalformed:
                raise _bad(
                    "Schema change is incompatible with the type of documents already stored in this "
                    f"collection. Existing data for field `{nf['name']}` cannot be coerced into "
                    f"{_article(nf['type'])}."
                ) from None


def _article(ftype: str) -> str:
    return f"an {ftype}" if ftype[0] in "aeiou" else f"a {ftype}"


def alter_collection(coll: Collection, change: Any) -> tuple[dict, dict]:
    """Apply ``change`` to ``coll`` (stored, and in place for the open collection). Returns Typesense's
    answer and the schema as stored now."""
    db = coll.db
    with db.transaction():
        # Read, checked and written under the write lock: another process (the app switching the model)
        # may have rewritten the schema since this one opened the collection; its change must survive.
        current = db.collection(coll.name)
        schema = coll.schema
        if current is not None and current[0] == coll.id:
            schema = Schema.from_stored(coll.name, current[1], current[2])
        altered, answer = alter_schema(schema, change, (body for _, body in db.all_bodies(coll.id)))
        stored = altered.stored()
        # The engine's own connection: this module is part of the engine (as model_swap is).
        db._conn.execute("UPDATE collections SET schema = ? WHERE id = ?", (json.dumps(stored), coll.id))
    coll.schema = altered
    coll.filter_cache.clear()
    return {"fields": answer}, json.loads(json.dumps(stored))
