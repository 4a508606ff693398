"""The engine, exposed through the object model of Typesense's Python client.

``typesense.Client(...)`` and ``Engine(data_dir)`` answer the same calls with the same dicts, so scripts
written for a Typesense server run against a local photo library by swapping the client object.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast, overload

from app import paths
from app.engine import by_filter, dirty_values
from app.engine import client_checks as checks
from app.engine.client_checks import owned
from app.engine.client_folders import Folders
from app.engine.collection import Collection, EngineContext
from app.engine.duplicates import DEFAULT_THRESHOLD, find_duplicate_groups
from app.engine.errors import (
    ClientError,
    MissingCollection,
    ObjectAlreadyExists,
    ObjectNotFound,
    RequestMalformed,
    TypesenseError,
)
from app.engine.importer import Progress, check_params, import_documents
from app.engine.schema import Schema, parse_schema
from app.engine.search import search
from app.engine.storage import Database

log = logging.getLogger(__name__)

DB_NAME = "photoseek.db"
SEARCH_MISSING = "Not found."  # a search's 404 for a missing collection, in Typesense's words


class Engine:
    """A Photoseek library in ``data_dir``: one SQLite file plus index files.

    Not thread-safe: the thread that opens an Engine owns it (the GUI opens it on its worker thread), and
    a call from any other thread raises WrongThread.
    """

    def __init__(self, data_dir: str | Path | None = None, *, allow_random_weights: bool = False) -> None:
        if data_dir is None:
            self.data_dir = paths.data_dir()
        else:
            self.data_dir = Path(checks.path_arg(data_dir, "data_dir", "folder"))
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise RequestMalformed(f"Parameter `data_dir` is a file (`{self.data_dir}`): a folder is needed.")
        # Raises here, naming the folder, where it cannot be created (paths.data_dir() leaves that to us).
        paths.make_private_dirs(self.data_dir)
        self._owner = threading.current_thread()
        self.allow_random_weights = allow_random_weights
        self.db = Database(self.data_dir / DB_NAME)
        self._ctx = EngineContext(self.db, self.data_dir / "indexes", self._embedder_for)
        self._open: dict[str, Collection] = {}
        self._opened_schemas: dict[str, dict] = {}  # each open collection's schema as stored then
        self._seen_version = self.db.data_version()  # SQLite says when another process wrote
        # Embedders are shared process-wide; the engine only remembers which ones it started threads in.
        # Weak: a model dropped from the process-wide cache (the device was switched, a weights file
        # replaced) must be able to go, with its hundreds of MB, while this engine stays open.
        self._embedders: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self.collections = Collections(self)
        self.multi_search = MultiSearch(self)

    # -- internals shared by the client objects ------------------------------------------------------

    def _embedder_for(self, model_config: dict):
        from app.engine.embedder import load_embedder
        from app.engine.models import resolve_model

        spec = resolve_model(model_config)
        embedder = load_embedder(spec, allow_random_weights=self.allow_random_weights)
        self._embedders[id(embedder)] = embedder
        return embedder

    def _model_dims(self, model_config: dict) -> int:
        from app.engine.models import resolve_model

        return resolve_model(model_config).dims

    def _collection(self, name: str, missing: str = "Not Found") -> Collection:
        """The open collection ``name``; ``missing`` is the 404's message (Typesense 0.24.1 words it
        differently by route: "Not Found", "Not found." for searches, another for a collection delete)."""
        coll = self._open.get(name)
        if coll is not None:
            version = self.db.data_version()
            if version == self._seen_version:
                return coll
            # Another process wrote: it may have deleted this collection, or made a new one of that name.
            self._seen_version = version
            current = self.db.collection(name)
            # Same id but another schema: another process switched its model (app.engine.model_swap).
            # Kept open, this process would embed with the old model and write vectors of the old width.
            if current is not None and current[0] == coll.id and current[1] == self._opened_schemas.get(name):
                return coll
            self._open.pop(name, None)
        found = self.db.collection(name)
        if found is None:
            raise MissingCollection(missing, name)
        cid, schema_dict, created = found
        schema = Schema.from_stored(name, schema_dict, created)
        coll = Collection(self._ctx, cid, schema)
        self._open[name] = coll
        self._opened_schemas[name] = schema_dict
        return coll

    def close(self) -> None:
        """Save index files and close the database. Safe to call twice."""
        checks.check_thread(self._owner)
        for coll in self._open.values():
            try:
                coll.close()
            except OSError:
                log.exception("Could not save the index of %s", coll.name)
        self._open.clear()
        # A closed engine leaves no decode threads behind (they restart on the next embedding).
        for embedder in list(self._embedders.values()):
            embedder.close()
        self._embedders.clear()
        if self.db is not None:
            self.db.close()
            self.db = None  # type: ignore[assignment]

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Collections:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @owned
    def create(self, schema: dict) -> dict:
        engine = self._engine
        parsed = parse_schema(schema, engine._model_dims)
        if engine.db.collection(parsed.name) is not None:
            raise ObjectAlreadyExists(f"A collection with name `{parsed.name}` already exists.")
        parsed.created_at = int(time.time())
        stored = parsed.stored()
        engine.db.add_collection(parsed.name, stored, parsed.created_at)
        return engine._collection(parsed.name).to_dict()

    @owned
    def retrieve(self) -> list[dict]:
        return [self._engine._collection(name).to_dict() for _, name, _, _ in self._engine.db.collections()]

    def __getitem__(self, name: str) -> CollectionClient:
        return CollectionClient(self._engine, checks.name_arg(name, "collection name"))

    @owned
    def __contains__(self, name: object) -> bool:
        if not isinstance(name, (str, int)) or isinstance(name, bool):
            return False
        return self._engine.db.collection(str(name)) is not None


class CollectionClient:
    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self.name = name
        self.documents = Documents(engine, name)
        self.folders = Folders(engine, name)

    @owned
    def retrieve(self) -> dict:
        return self._engine._collection(self.name).to_dict()

    @owned
    def update(self, schema_change: dict) -> dict:
        """Typesense's collection alter: add fields; drop them with ``{"name": x, "drop": true}``."""
        from app.engine.collection_alter import alter_collection

        engine = self._engine
        answer, _stored = alter_collection(engine._collection(self.name), schema_change)
        # Opened again on next use, from the schema as stored: if another process switched the model
        # meanwhile, the collection open here still embeds with the old one.
        engine._open.pop(self.name, None)
        return answer

    @owned
    def delete(self) -> dict:
        engine = self._engine
        coll = engine._collection(self.name, f"No collection with name `{self.name}` found.")
        summary = coll.to_dict()
        coll.drop_index_files()
        engine.db.delete_collection(coll.id)
        engine._open.pop(self.name, None)
        return summary


class Documents:
    def __init__(self, engine: Engine, collection: str) -> None:
        self._engine = engine
        self._name = collection

    def _coll(self) -> Collection:
        return self._engine._collection(self._name)

    @owned
    def create(self, document: dict, params: dict | None = None) -> dict:
        return _write(self._coll(), document, params, "create")

    @owned
    def upsert(self, document: dict, params: dict | None = None) -> dict:
        return _write(self._coll(), document, params, "upsert")

    @owned
    def update(self, document: dict, params: dict | None = None) -> dict:
        """With ``filter_by`` (Typesense's update by query): ``{"num_updated": n}``. Without it, a
        Photoseek extension: the document whose ``id`` the body names is updated and returned."""
        params = checks.params_arg(params, "The parameters")
        if "filter_by" in params or not (isinstance(document, dict) and "id" in document):
            return by_filter.update_matching(self._coll(), document, params)
        return _write(self._coll(), document, params, "update")

    @owned
    def delete(self, params: dict | None = None) -> dict:
        """Typesense's delete by query: ``{"filter_by": ..., "batch_size": n}`` or ``{"truncate": True}``;
        returns ``{"num_deleted": n}``."""
        params = checks.params_arg(params, "The delete parameters")
        return by_filter.delete_matching(self._coll(), params)

    # Overloads so that each caller gets the result type its input gives. Lines of JSON text in a list
    # import like dicts (the CLI sends them that way so that line numbers survive); a bare str is JSONL.
    @overload
    def import_(
        self,
        documents: str | bytes,
        params: dict | None = None,
        batch_size: int | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> str: ...

    @overload
    def import_(
        self,
        documents: Iterable[dict] | list[str],
        params: dict | None = None,
        batch_size: int | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[dict]: ...

    @owned
    def import_(
        self,
        documents: str | bytes | Iterable[dict] | list[str],
        params: dict | None = None,
        batch_size: int | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[dict] | str:
        """Typesense's import: a list of dicts gives a list of result dicts; JSONL text gives JSONL text."""
        checks.callbacks_arg(progress, cancel)
        params = dict(checks.params_arg(params, "The import parameters"))
        if batch_size is not None:
            params["batch_size"] = batch_size
        if "batch_size" in params:
            params["batch_size"] = checks.batch_size_arg(params["batch_size"])
        kind = checks.import_body_kind(documents)
        if isinstance(documents, list) and not documents:
            check_params(params)
            # The official client refuses this itself, before asking the server anything.
            raise ClientError("Cannot import an empty list of documents.")
        coll = self._coll()
        if kind == "text":
            body = cast("str | bytes | bytearray | memoryview", documents)
            try:
                text = body if isinstance(body, str) else bytes(body).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RequestMalformed(f"The import body is not UTF-8 text (byte {exc.start}).") from None
            # Only "\n" ends a JSONL line: str.splitlines() would also cut at U+2028 inside JSON strings.
            lines = [line for line in text.split("\n") if line.strip()]
            results = import_documents(coll, lines, params, progress=progress, cancel=cancel)
            return "\n".join(by_filter.dump(r) for r in results)
        return import_documents(coll, documents, params, progress=progress, cancel=cancel)

    @owned
    def import_files(
        self,
        files: Iterable[str | Path],
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[dict]:
        from app.engine.files import import_files

        checks.callbacks_arg(progress, cancel)
        checked = checks.paths_arg(files, "files", "file")
        return import_files(self._coll(), checked, progress=progress, cancel=cancel)

    @owned
    def trash_files(self, ids: Iterable[str]) -> list[dict]:
        """Move the documents' files to the system trash and remove the documents (see files.trash_files)."""
        from app.engine.files import trash_files

        return trash_files(self._coll(), checks.ids_arg(ids))

    @owned
    def search(self, search_parameters: dict) -> dict:
        return search(self._engine._collection(self._name, SEARCH_MISSING), search_parameters)

    @owned
    def export(self, params: dict | None = None) -> str:
        """The stored documents as JSONL in insertion order, as Typesense exports them; ``filter_by``,
        ``include_fields`` and ``exclude_fields`` as there (store:false fields were never stored)."""
        params = checks.params_arg(params, "The export parameters")
        return by_filter.export(self._coll(), params)

    @owned
    def export_page(
        self, params: dict | None = None, after: int = 0, limit: int = 1000
    ) -> tuple[str, int | None]:
        """Photoseek extension: one page of ``export`` (the documents stored after the position ``after``,
        at most ``limit`` looked at) and the position the next page starts from (None: the end)."""
        params = checks.params_arg(params, "The export parameters")
        coll = self._coll()
        lines = by_filter.export_lines(coll, params, after, limit)
        return "\n".join(lines), by_filter.last_label(coll, after, limit)

    @owned
    def find_duplicates(
        self,
        *,
        field: str | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        limit_groups: int | None = None,
    ) -> list[dict]:
        """Groups of near-identical documents (see app.engine.duplicates), largest groups first."""
        if limit_groups is not None and (
            isinstance(limit_groups, bool) or not isinstance(limit_groups, int) or limit_groups < 0
        ):
            raise RequestMalformed(f"limit_groups must be a non-negative integer, got {limit_groups!r}.")
        groups = find_duplicate_groups(self._coll(), field, threshold)
        return groups if limit_groups is None else groups[:limit_groups]

    def __getitem__(self, doc_id: str) -> DocumentClient:
        return DocumentClient(self._engine, self._name, checks.name_arg(doc_id, "document id"))


class DocumentClient:
    def __init__(self, engine: Engine, collection: str, doc_id: str) -> None:
        self._engine = engine
        self._collection = collection
        self.id = doc_id

    @owned
    def retrieve(self, params: dict | None = None) -> dict:
        params = checks.params_arg(params, "The parameters")
        return by_filter.pruner(params)(self._engine._collection(self._collection).retrieve(self.id))

    @owned
    def update(self, document: dict, params: dict | None = None) -> dict:
        document = _require_dict(document)
        if "id" in document and document["id"] != self.id:
            raise RequestMalformed("The `id` of the resource does not match the `id` in the JSON body.")
        coll = self._engine._collection(self._collection)
        return _write(coll, {**document, "id": self.id}, params, "update")

    @owned
    def delete(self, params: dict | None = None) -> dict:
        """The deleted document; with ``ignore_not_found`` (newer Typesense) a missing one gives
        ``{"id": ...}`` instead of a 404."""
        params = checks.params_arg(params, "The parameters")
        coll = self._engine._collection(self._collection)
        if by_filter.flag(params, "ignore_not_found") and coll.db.label_of(coll.id, self.id) is None:
            return {"id": self.id}
        return coll.delete_document(self.id)


class MultiSearch:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @owned
    def perform(self, search_queries: dict, common_params: dict | None = None) -> dict:
        if not isinstance(search_queries, dict) or not isinstance(search_queries.get("searches"), list):
            raise RequestMalformed("Missing or malformed `searches` array in the request body.")
        common = checks.params_arg(common_params, "The common search parameters")
        results = []
        for one in search_queries["searches"]:
            params = {**common, **(one if isinstance(one, dict) else {})}
            try:
                if not isinstance(one, dict):
                    raise RequestMalformed("Each search must be a JSON object.")
                name = params.get("collection")
                if not isinstance(name, str):
                    raise ObjectNotFound(SEARCH_MISSING)  # Typesense: no collection is one not found
                results.append(search(self._engine._collection(name, SEARCH_MISSING), params))
            except TypesenseError as exc:
                results.append(exc.to_dict())
        return {"results": results}


def _write(coll: Collection, document: Any, params: dict | None, action: str) -> dict:
    """One document written as ``action``, ``dirty_values`` applied first; the stored document."""
    params = checks.params_arg(params, "The parameters")
    doc = dirty_values.apply(coll.schema, _require_dict(document), dirty_values.mode(coll.schema, params))
    return coll.write_one(doc, action)


def _require_dict(document: Any) -> dict:
    if not isinstance(document, dict):
        raise RequestMalformed("The document must be a JSON object.")
    return document
