"""The documents a ``filter_by`` selects, as Typesense reads and writes them in bulk: delete (and truncate),
update, and export.

Checked against a real Typesense 0.24.1 server: parameter errors and their order, an empty filter deleting
nothing, export in insertion order with ``include_fields``/``exclude_fields``. ``truncate`` and update by
filter came after 0.24.1 and follow the current Typesense documentation and server source.
"""

from __future__ import annotations

import json
from typing import Any

from app.engine.collection import Collection
from app.engine.errors import RequestMalformed
from app.engine.filter_by import parse_filter
from app.engine.importer import DEFAULT_BATCH, import_documents

_MAX_BATCH = 2**32 - 1  # Typesense reads batch_size as a uint32


def flag(params: dict, key: str) -> bool:
    """A boolean parameter as the client sends it (``True`` becomes ``"true"`` on the wire)."""
    value = params.get(key)
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _batch_size(params: dict) -> int:
    value = params.get("batch_size", 1_000_000_000)
    text = value.strip() if isinstance(value, str) else ""
    if text and len(text) <= 20 and text.isascii() and text.isdigit():  # int() fails on 4,300+ digits
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_BATCH:
        raise RequestMalformed("Parameter `batch_size` must be a positive integer.")
    return value


def _filter_text(params: dict) -> str:
    text = params.get("filter_by")
    if text is None:
        raise RequestMalformed("Parameter `filter_by` must be provided.")
    if not isinstance(text, str):
        raise RequestMalformed("Parameter `filter_by` must be a string.")
    return text


def matching_labels(coll: Collection, text: str) -> list[int]:
    """Labels of the readable documents ``text`` matches, oldest first; a blank filter matches none."""
    if not text.strip():
        return []
    matches = parse_filter(text, coll.schema.by_name)
    return [label for label, body in coll.db.all_bodies(coll.id, oldest_first=True) if matches(body)]


def delete_matching(coll: Collection, params: dict) -> dict:
    """``DELETE /collections/:c/documents``: ``{"num_deleted": n}``.

    ``truncate: true`` removes every document and keeps the collection. The deletion is one transaction
    and one pass over each index, whatever ``batch_size`` says (Typesense uses it to let other writes in
    between batches; here nothing else can run meanwhile).
    """
    if flag(params, "truncate"):
        return {"num_deleted": remove_labels(coll, coll.db.labels(coll.id))}
    text = _filter_text(params)
    _batch_size(params)
    labels = matching_labels(coll, text)
    shown: dict[str, Any] = {}
    if labels and (flag(params, "return_doc") or flag(params, "return_id")):
        docs = [coll.with_vectors(label, body) for label, body in coll.db.bodies(labels).items()]
        if flag(params, "return_doc"):
            shown["documents"] = docs
        if flag(params, "return_id"):
            shown["ids"] = [doc["id"] for doc in docs]
    return {"num_deleted": remove_labels(coll, labels), **shown}


def remove_labels(coll: Collection, labels: list[int]) -> int:
    """Delete documents in one transaction, then from each vector index in one pass; how many."""
    if not labels:
        return 0
    coll.catch_up_foreign()
    with coll.db.transaction():
        coll.db.delete_many(coll.id, labels)
    coll._count = None  # its cached count (Collection.delete_labels drops it the same way)
    coll.indexes.delete(labels)
    coll.save_indexes()
    return len(labels)


def update_matching(coll: Collection, changes: Any, params: dict) -> dict:
    """``PATCH /collections/:c/documents?filter_by=...``: the partial update applied to every matching
    document as an ``update`` import would apply it; ``{"num_updated": n}`` counts those that took it
    (one that refuses the change, a wrong type say, is left as it was and not counted, as in Typesense)."""
    text = _filter_text(params)
    if not isinstance(changes, dict):
        raise RequestMalformed("Bad JSON: not a properly formed document.")
    if not text.strip():
        return {"num_updated": 0}
    if text.strip() == "*":
        ids = [body["id"] for _, body in coll.db.all_bodies(coll.id, oldest_first=True)]
    else:
        ids = list(coll.db.doc_ids(matching_labels(coll, text)).values())
    if not ids:
        return {"num_updated": 0}
    lines = [{**changes, "id": doc_id} for doc_id in ids]
    results = import_documents(coll, lines, {"action": "update", "batch_size": DEFAULT_BATCH})
    return {"num_updated": sum(1 for r in results if r.get("success"))}


def _field_names(params: dict, key: str) -> set[str] | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        names = [str(v) for v in value]
    elif isinstance(value, str):
        names = value.split(",")
    else:
        raise RequestMalformed(f"Parameter `{key}` must be a comma separated list of field names.")
    return {name.strip() for name in names if name.strip()}


def pruner(params: dict):
    """``include_fields``/``exclude_fields`` applied to one document (exclusion wins, as in Typesense)."""
    include = _field_names(params, "include_fields")
    exclude = _field_names(params, "exclude_fields") or set()

    def prune(doc: dict) -> dict:
        return {k: v for k, v in doc.items() if (include is None or k in include) and k not in exclude}

    return prune


def dump(doc: Any) -> str:
    """One JSON document as Typesense writes it: keys sorted, no spaces, UTF-8 as is."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def export(coll: Collection, params: dict) -> str:
    """``GET /collections/:c/documents/export``: JSONL in insertion order (an upsert keeps a document's
    place), optionally filtered and pruned."""
    return "\n".join(export_lines(coll, params))


def export_lines(coll: Collection, params: dict, after: int = 0, limit: int = -1) -> list[str]:
    """The export's lines for the documents stored after label ``after`` (at most ``limit`` of them
    looked at): `photoseek serve` sends a large export a page at a time, so that it never sits whole in
    memory and searches are answered between pages."""
    text = params.get("filter_by")
    if text is not None and not isinstance(text, str):
        raise RequestMalformed("Parameter `filter_by` must be a string.")
    matches = parse_filter(text, coll.schema.by_name) if text and text.strip() else None
    prune = pruner(params)
    return [
        dump(prune(coll.with_vectors(label, body)))
        for label, body in coll.db.all_bodies(coll.id, oldest_first=True, after=after, limit=limit)
        if matches is None or matches(body)
    ]


def last_label(coll: Collection, after: int, limit: int) -> int | None:
    """The last label of the page ``export_lines(coll, params, after, limit)`` looked at; None past the
    end (a page of damaged or filtered-out documents still moves the export on)."""
    row = coll.db._conn.execute(
        "SELECT max(label) FROM (SELECT label FROM documents WHERE collection_id = ? AND label > ? "
        "ORDER BY label LIMIT ?)",
        (coll.id, after, limit),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])
