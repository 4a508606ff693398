"""RemoteLibrary: a Photoseek library on a Typesense server or cluster, in the engine's object model.

``RemoteLibrary(["http://a:8108", "http://b:8108"], api_key)`` answers the calls app.library.service
makes of an ``Engine`` (``collections``, ``collections[name].documents``, ``multi_search``) with the same
dicts. CLIP runs here, on the desktop, with the engine's models; the server stores vectors and metadata
only, never an image (see app.remote.schemas for the collections it holds).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from app.engine.documents import error_result
from app.engine.errors import ObjectAlreadyExists, ObjectNotFound, RequestMalformed, TypesenseError
from app.engine.importer import Progress
from app.engine.schema import Schema
from app.remote import schemas
from app.remote.connection import Connection
from app.remote.embedding import image_fields, server_documents
from app.remote.search import RemoteSearch


class RemoteLibrary:
    """Checks the nodes and the key at once: an unreachable server or a refused key raises here, naming
    the node URLs (never the key)."""

    def __init__(
        self,
        nodes: Sequence[str],
        api_key: str,
        *,
        allow_random_weights: bool = False,
        timeout_s: float = 10.0,
        num_retries: int = 3,
        retry_interval_s: float = 0.5,
    ) -> None:
        self.conn = Connection(
            nodes, api_key, timeout_s=timeout_s, num_retries=num_retries, retry_interval_s=retry_interval_s
        )
        self.allow_random_weights = allow_random_weights
        self.collections = RemoteCollections(self)
        self.multi_search = RemoteMultiSearch(self)
        self.conn.call(lambda c: c.collections.retrieve())

    def __repr__(self) -> str:
        return f"RemoteLibrary({self.conn.urls})"

    def embedder_for(self, model_config: dict) -> Any:
        from app.engine.embedder import load_embedder
        from app.engine.models import resolve_model

        return load_embedder(resolve_model(model_config), allow_random_weights=self.allow_random_weights)

    def photo_schemas(self) -> dict[str, dict]:
        """Collection name -> its SCHEMAS_COLLECTION document (none before the first collection)."""
        try:
            text = self.conn.call(lambda c: c.collections[schemas.SCHEMAS_COLLECTION].documents.export())
        except ObjectNotFound:
            return {}
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        return {str(d.get("collection")): d for d in docs}

    def photo_schema(self, name: str) -> Schema | None:
        """The Photoseek schema of ``name``; None for a collection made on the server by other means."""
        try:
            doc = self.conn.call(
                lambda c: (
                    c.collections[schemas.SCHEMAS_COLLECTION]
                    .documents[schemas.schema_doc_id(name)]
                    .retrieve()
                )
            )
        except ObjectNotFound:
            return None
        return schemas.schema_from_document(doc, 0)

    def close(self) -> None:
        """Nothing is held open between calls (the client's HTTP sessions close with it)."""

    def __enter__(self) -> RemoteLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteCollections:
    def __init__(self, library: RemoteLibrary) -> None:
        self._lib = library

    def create(self, schema: dict) -> dict:
        lib = self._lib
        parsed = schemas.parse_photo_schema(schema)
        if parsed.name == schemas.SCHEMAS_COLLECTION:
            raise RequestMalformed(
                f"`{parsed.name}` is where Photoseek keeps its schemas: choose another name."
            )
        if not parsed.embeds and not image_fields(parsed):
            # Nothing to compute or leave out here: a plain collection, exactly as asked.
            return lib.conn.call(lambda c: c.collections.create(schema))
        with contextlib.suppress(ObjectAlreadyExists):
            lib.conn.call(lambda c: c.collections.create(schemas.SCHEMAS_SCHEMA))
        created = lib.conn.call(lambda c: c.collections.create(schemas.server_schema(parsed)))
        record = schemas.schema_document(parsed)
        try:
            lib.conn.call(lambda c: c.collections[schemas.SCHEMAS_COLLECTION].documents.upsert(record))
        except TypesenseError:
            # Without its schema the collection would be a plain one to every desktop: none at all instead.
            lib.conn.call(lambda c: c.collections[parsed.name].delete())
            raise
        return schemas.photo_collection_dict(parsed, created)

    def retrieve(self) -> list[dict]:
        lib = self._lib
        listing = lib.conn.call(lambda c: c.collections.retrieve())
        kept = lib.photo_schemas()
        out = []
        for server in listing:
            name = server.get("name")
            if name == schemas.SCHEMAS_COLLECTION:
                continue
            parsed = schemas.schema_from_document(kept[name], 0) if name in kept else None
            out.append(server if parsed is None else schemas.photo_collection_dict(parsed, server))
        return out

    def __getitem__(self, name: str) -> RemoteCollection:
        if not isinstance(name, str) or not name:
            raise RequestMalformed("A collection name must be a non-empty string.")
        return RemoteCollection(self._lib, name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(c["name"] == name for c in self.retrieve())


class RemoteCollection:
    def __init__(self, library: RemoteLibrary, name: str) -> None:
        self._lib = library
        self.name = name
        self.documents = RemoteDocuments(library, name)

    def retrieve(self) -> dict:
        server = self._lib.conn.call(lambda c: c.collections[self.name].retrieve())
        parsed = self._lib.photo_schema(self.name)
        return server if parsed is None else schemas.photo_collection_dict(parsed, server)

    def delete(self) -> dict:
        summary = self.retrieve()
        self._lib.conn.call(lambda c: c.collections[self.name].delete())
        try:
            doc_id = schemas.schema_doc_id(self.name)
            self._lib.conn.call(
                lambda c: c.collections[schemas.SCHEMAS_COLLECTION].documents[doc_id].delete()
            )
        except ObjectNotFound:
            pass
        return summary


class RemoteDocuments:
    def __init__(self, library: RemoteLibrary, name: str) -> None:
        self._lib = library
        self._name = name

    def _schema(self) -> Schema:
        parsed = self._lib.photo_schema(self._name)
        if parsed is None:
            self._lib.conn.call(lambda c: c.collections[self._name].retrieve())  # the server's 404 if missing
            raise RequestMalformed(
                f"Collection `{self._name}` has no Photoseek schema: write to it directly."
            )
        return parsed

    def search(self, search_parameters: dict) -> dict:
        lib = self._lib
        return RemoteSearch(lib.conn, self._name, lib.photo_schema(self._name), lib.embedder_for).search(
            search_parameters
        )

    def import_(
        self,
        documents: Iterable[dict] | list[str] | str | bytes,
        params: dict | None = None,
        batch_size: int | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[dict] | str:
        """Typesense's import; image fields are embedded here and never sent. Lines that fail before the
        server (a bad image, a missing field) get the engine's error in their place in the results."""
        as_text = isinstance(documents, (str, bytes))
        if isinstance(documents, (str, bytes)):
            text = documents if isinstance(documents, str) else documents.decode("utf-8", "replace")
            # Only "\n" ends a JSONL line (as in the engine): U+2028 may sit inside a JSON string.
            lines: list[Any] = [line for line in text.split("\n") if line.strip()]
        else:
            lines = list(documents)
        if not lines:
            raise RequestMalformed("Cannot import an empty list of documents.")
        params = dict(params or {})
        size = batch_size or int(params.pop("batch_size", 0) or 40)
        schema = self._schema()
        results: list[dict] = []
        for start in range(0, len(lines), size):
            if cancel is not None and cancel.is_set():
                break
            ready = server_documents(schema, lines[start : start + size], self._lib.embedder_for)
            sendable = [d for d in ready if isinstance(d, dict)]
            answers = iter(self._lib.conn.import_documents(self._name, sendable, params) if sendable else [])
            for item in ready:
                results.append(error_result(item) if isinstance(item, TypesenseError) else next(answers))
            if progress:
                progress(len(results), len(lines))
        return "\n".join(json.dumps(r) for r in results) if as_text else results

    def import_files(
        self,
        files: Iterable[str | Path],
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[dict]:
        from app.remote.files import import_files

        return import_files(
            self._lib.conn,
            self._name,
            self._schema(),
            files,
            self._lib.embedder_for,
            progress=progress,
            cancel=cancel,
        )

    def trash_files(self, ids: Iterable[str]) -> list[dict]:
        from app.remote.files import trash_files

        return trash_files(self._lib.conn, self._name, list(ids))

    def export(self, params: dict | None = None) -> str:
        return self._lib.conn.call(lambda c: c.collections[self._name].documents.export(params or {}))

    def __getitem__(self, doc_id: str) -> RemoteDocument:
        return RemoteDocument(self._lib, self._name, doc_id)


class RemoteDocument:
    def __init__(self, library: RemoteLibrary, collection: str, doc_id: str) -> None:
        self._lib = library
        self._collection = collection
        self.id = doc_id

    def retrieve(self) -> dict:
        return self._lib.conn.call(lambda c: c.collections[self._collection].documents[self.id].retrieve())

    def delete(self) -> dict:
        return self._lib.conn.call(lambda c: c.collections[self._collection].documents[self.id].delete())


class RemoteMultiSearch:
    def __init__(self, library: RemoteLibrary) -> None:
        self._lib = library

    def perform(self, search_queries: dict, common_params: dict | None = None) -> dict:
        if not isinstance(search_queries, dict) or not isinstance(search_queries.get("searches"), list):
            raise RequestMalformed("Missing or malformed `searches` array in the request body.")
        results = []
        for one in search_queries["searches"]:
            params = {**(common_params or {}), **(one if isinstance(one, dict) else {})}
            try:
                name = params.pop("collection", None)
                if not isinstance(name, str):
                    raise ObjectNotFound("Not found.")
                results.append(self._lib.collections[name].documents.search(params))
            except TypesenseError as exc:
                results.append(exc.to_dict())
        return {"results": results}
