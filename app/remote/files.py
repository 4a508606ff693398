"""Image files into a server library, and photos' files to the system trash.

The files are read, checked and embedded here (app.engine.files' rules and messages); the server gets
one document per distinct content: its id is the sha1 of the file's bytes, so importing a file again,
from this desktop or another, writes the same document. A file whose content is already there is not
embedded again: only its path and file details are brought up to date.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

from app.engine.errors import ObjectNotFound, TypesenseError
from app.engine.file_access import (
    MAX_FILE_BYTES,
    hash_regular,
    not_regular_reason,
    read_regular,
    too_large_reason,
)
from app.engine.files import UNSTORABLE_NAME, file_metadata, move_to_trash, storable_path, walk
from app.engine.images import SUPPORTED_EXTENSIONS
from app.engine.importer import Progress
from app.engine.schema import Schema
from app.remote.connection import Connection
from app.remote.embedding import EmbedderFor, content_id, image_fields, server_documents

BATCH = 32


def _read_failure(exc: Exception) -> str:
    if isinstance(exc, TypesenseError):
        return exc.message
    if isinstance(exc, OSError):
        return f"Cannot read the file: {exc.strerror or exc}"
    return f"Cannot read the file ({type(exc).__name__}: {exc})"


def import_files(
    conn: Connection,
    name: str,
    schema: Schema,
    files: Iterable[str | Path],
    embedder_for: EmbedderFor,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[dict]:
    """One result per file found: ``{"success", "path", "id"}``, with ``"error"`` when it failed."""
    from app.engine.errors import RequestMalformed

    images = sorted(image_fields(schema))
    if not images:
        raise RequestMalformed(f"Collection `{name}` has no `image` field to import files into.")
    results: list[dict] = []
    todo: list[tuple[Path, os.stat_result]] = []
    for path in walk(files):
        try:
            st = path.stat()
        except OSError as exc:
            results.append(
                {"success": False, "path": str(path), "error": f"Cannot read the file: {exc.strerror}"}
            )
            continue
        if not storable_path(str(path)):
            results.append({"success": False, "path": str(path), "error": UNSTORABLE_NAME})
        elif path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            error = f"Not a supported image type ({path.suffix or 'no extension'})"
            results.append({"success": False, "path": str(path), "skipped": True, "error": error})
        elif refused := not_regular_reason(st) or too_large_reason(st.st_size, MAX_FILE_BYTES):
            results.append({"success": False, "path": str(path), "error": refused})
        else:
            todo.append((path, st))
    total = len(results) + len(todo)
    if progress:
        progress(len(results), total)
    for start in range(0, len(todo), BATCH):
        if cancel is not None and cancel.is_set():
            break
        results += _import_batch(conn, name, schema, images[0], todo[start : start + BATCH], embedder_for)
        if progress:
            progress(len(results), total)
    return results


def _import_batch(
    conn: Connection,
    name: str,
    schema: Schema,
    image_field: str,
    batch: list[tuple[Path, os.stat_result]],
    embedder_for: EmbedderFor,
) -> list[dict]:
    entries: list[dict] = []
    docs: list[dict] = []
    for path, st in batch:
        try:
            data = read_regular(path, MAX_FILE_BYTES)
        except Exception as exc:
            entries.append({"success": False, "path": str(path), "error": _read_failure(exc)})
            continue
        doc_id = content_id(data)
        doc = {
            "id": doc_id,
            "name": path.name,
            "path": str(path),
            "file_size": st.st_size,
            "file_mtime": st.st_mtime,
            "content_hash": doc_id,
            **file_metadata(path, data, st),
        }
        entries.append({"success": True, "path": str(path), "id": doc_id})
        docs.append({**doc, image_field: data})
    known = _stored_paths(conn, name, [d["id"] for d in docs])
    new = [d for d in docs if d["id"] not in known]
    moved = [
        {k: v for k, v in d.items() if k != image_field}
        for d in docs
        if known.get(d["id"], d["path"]) != d["path"]
    ]
    outcome: dict[str, dict] = {}
    prepared = server_documents(schema, new, embedder_for) if new else []
    sendable = [p for p in prepared if isinstance(p, dict)]
    for doc, p in zip(new, prepared, strict=True):
        if isinstance(p, TypesenseError):
            outcome[doc["id"]] = {"success": False, "error": p.message}
    for action, lines in (("upsert", sendable), ("update", moved)):
        if lines:
            answer = conn.import_documents(name, lines, {"action": action})
            for line, result in zip(lines, answer, strict=True):
                if not result.get("success"):
                    outcome[line["id"]] = {"success": False, "error": str(result.get("error", "Not stored."))}
    for entry in entries:
        doc_id = str(entry.get("id"))
        if doc_id in outcome:
            entry.update(outcome[doc_id])
        elif doc_id in known and known[doc_id] == entry["path"]:
            entry["unchanged"] = True
    return entries


def _stored_paths(conn: Connection, name: str, ids: list[str]) -> dict[str, str]:
    """id -> stored path of the ids already on the server (one search, filtered by content hash)."""
    if not ids:
        return {}
    params = {
        "collection": name,
        "q": "*",
        "filter_by": f"content_hash:=[{','.join(ids)}]",
        "include_fields": "id,path",
        "per_page": min(len(ids), 250),
    }
    answer = conn.call(lambda c: c.multi_search.perform({"searches": [params]}, {}))
    hits = answer["results"][0].get("hits", [])
    return {h["document"]["id"]: str(h["document"].get("path", "")) for h in hits}


def trash_files(conn: Connection, name: str, ids: Iterable[str]) -> list[dict]:
    """Move each photo's file to the system trash, then remove its document (app.engine.files'
    trash_files, for a server library). A file is moved only while its bytes are still the ones the
    document was made from (the id is their sha1): never a file that changed, or one the path now names
    that Photoseek did not import. A file already gone only loses its document."""

    results: list[dict] = []
    for doc_id in ids:
        try:
            body = conn.document(name, doc_id)
        except ObjectNotFound:
            results.append({"success": False, "id": doc_id, "error": f"No photo with id {doc_id}."})
            continue
        path = body.get("path")
        entry: dict = {"id": doc_id, "path": path}
        present = isinstance(path, str) and os.path.isabs(path) and os.path.lexists(path)
        if present:
            assert isinstance(path, str)
            refused = _not_this_photo(doc_id, path)
            if refused is not None:
                results.append({**entry, "success": False, "error": refused})
                continue
            problem = move_to_trash(path)
            if problem is not None:
                results.append({**entry, "success": False, "error": problem})
                continue
        entry["trashed"] = present
        conn.delete_document(name, doc_id)
        results.append({**entry, "success": True})
    return results


def _not_this_photo(doc_id: str, path: str) -> str | None:
    if os.path.splitext(path)[1].lower() not in SUPPORTED_EXTENSIONS:
        return f"Not moved to the trash: {os.path.basename(path)} is not a photo file."
    try:
        irregular = not_regular_reason(os.stat(path))
        if irregular is not None:
            return f"Not moved to the trash. {irregular}"
        same = hash_regular(path) == doc_id
    except OSError as exc:
        return f"Not moved to the trash: the file cannot be checked ({exc.strerror or exc})."
    if same:
        return None
    return (
        "Not moved to the trash: the file has changed since Photoseek imported it (or is another file "
        "now). Import it again, then try again."
    )
