"""One collection: its documents in SQLite, its vector indexes, and writes that keep both in step."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.engine.documents import EmbeddingError, Prepared, combine, prepare, public_view
from app.engine.errors import ObjectAlreadyExists, ObjectNotFound, RequestMalformed
from app.engine.field_indexes import SAVE_AFTER_CHANGES, SAVE_AFTER_SECONDS, FieldIndexes
from app.engine.images import ImageError
from app.engine.index import VectorIndex
from app.engine.schema import Schema
from app.engine.storage import DAMAGED, Database
from app.engine.storage_schema import encode
from app.engine.vector_check import vector_problem, vector_problems
from app.engine.vector_search import AllowedLabels

__all__ = ["SAVE_AFTER_CHANGES", "SAVE_AFTER_SECONDS", "Collection", "EngineContext"]

log = logging.getLogger(__name__)


@dataclass
class EngineContext:
    """What collections share: the database, where index files go, and how to get a model."""

    db: Database
    index_dir: Path
    embedder_for: Callable[[dict], object]  # model_config -> Embedder


class Collection:
    def __init__(self, ctx: EngineContext, collection_id: int, schema: Schema) -> None:
        self.ctx = ctx
        self.id = collection_id
        self.schema = schema
        self.indexes = FieldIndexes(
            ctx.db, ctx.index_dir, collection_id, schema.name, schema.vector_fields, self.count
        )
        self._pending_index: list[tuple[int, dict[str, np.ndarray | None]]] = []
        self._count: int | None = None
        self._damaged_scanned = False
        # Another process (the CLI beside the app) or another Engine may write to the same library: this
        # changes when one did, and then caches and indexes catch up before they answer.
        self._seen_version = ctx.db.data_version()
        # (filter_by text, change seq) -> the documents it matches; see search._matching_labels.
        self.filter_cache: dict[tuple[str, int], AllowedLabels] = {}

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def name(self) -> str:
        return self.schema.name

    def count(self) -> int:
        """Number of documents. Cached: COUNT(*) over 100k rows costs milliseconds on every search."""
        self.catch_up_foreign()
        if self._count is None:
            self._count = self.db.count(self.id)
        return self._count

    def to_dict(self) -> dict:
        out = self.schema.to_dict(self.count())
        damaged = self.damaged_documents()
        if damaged:
            # A Photoseek extension, there only when something needs the user: documents that cannot be
            # read or searched by vector, which they can delete (or replace) by id.
            out["damaged_documents"] = damaged
        return out

    def damaged_documents(self) -> list[dict]:
        """[{"id", "reason"}] of documents whose stored JSON or vector is damaged."""
        if not self._damaged_scanned:
            self.db.find_damaged(self.id)
            self._damaged_scanned = True
        found = {doc_id: why for cid, doc_id, why in self.db.damaged.values() if cid == self.id}
        for fname in self.schema.vector_fields:
            skipped = self.indexes.known_skipped(fname)
            if skipped:
                for label, doc_id in self.db.doc_ids(list(skipped)).items():
                    found.setdefault(doc_id, skipped[label])
        return [{"id": doc_id, "reason": why} for doc_id, why in sorted(found.items())]

    def catch_up_foreign(self) -> None:
        """If another connection wrote since we last looked, drop the count and catch the indexes up."""
        version = self.db.data_version()
        if version != self._seen_version:
            self._seen_version = version
            self._count = None
            self.indexes.replay_foreign()

    # -- indexes -------------------------------------------------------------------------------------

    def index_path(self, fname: str) -> Path:
        return self.indexes.path(fname)

    def index(self, fname: str) -> VectorIndex:
        """The field's index, loaded from disk and caught up, or rebuilt from SQLite."""
        self.catch_up_foreign()
        return self.indexes.get(fname)

    def save_indexes(self, *, force: bool = False) -> None:
        self.indexes.save(force=force)

    def drop_index_files(self) -> None:
        self.indexes.drop_files()

    # -- embedding -----------------------------------------------------------------------------------

    def embedder(self, fname: str):
        spec = next(e for e in self.schema.embeds if e.field == fname)
        return self.ctx.embedder_for(spec.model_config)

    def embed_prepared(self, items: list[Prepared], image_vectors: dict[int, dict[str, list]]) -> None:
        """Fill ``vectors`` of each prepared doc from its texts and already-computed image embeddings."""
        for spec in self.schema.embeds:
            wanted = [i for i, p in enumerate(items) if spec.field in p.texts]
            text_vecs: dict[int, np.ndarray] = {}
            if wanted:
                out = self.embedder(spec.field).embed_texts([items[i].texts[spec.field] for i in wanted])
                text_vecs = dict(zip(wanted, out, strict=True))
            for i, p in enumerate(items):
                images = image_vectors.get(i, {}).get(spec.field, [])
                if i in text_vecs or images:
                    p.vectors[spec.field] = combine(text_vecs.get(i), images)

    def embed_images_now(self, p: Prepared) -> dict[str, list]:
        """Embed one document's images synchronously (single-document writes)."""
        found: dict[str, list] = {}
        for fname, data in p.images:
            (result,) = self.embedder(fname).embed_images([data])
            if isinstance(result, ImageError):
                raise EmbeddingError(f"Error while processing image: {result}")
            found.setdefault(fname, []).append(result)
        return found

    # -- writes --------------------------------------------------------------------------------------

    def resolve_partial(self, doc: dict, action: str) -> tuple[Prepared, bool]:
        """Prepare an update/emplace against the stored document. Returns (prepared, is_new)."""
        doc_id = doc.get("id")
        if doc_id is None:
            if action == "update":
                raise RequestMalformed("For update, the `id` key must be provided.")
            return prepare(self.schema, doc), True
        if not isinstance(doc_id, str):
            raise RequestMalformed("Document's `id` field should be a string.")
        found = self.db.get(self.id, doc_id)
        if found is None:
            if action == "update":
                raise ObjectNotFound(f"Could not find a document with id: {doc_id}")
            return prepare(self.schema, doc), True
        if DAMAGED in found[1]:
            raise RequestMalformed(
                f"The stored document `{doc_id}` is damaged ({found[1][DAMAGED]}), so there is nothing to "
                "update: replace it with an upsert, or delete it."
            )
        merged = {**found[1], **doc}
        return prepare(self.schema, merged, partial=True, touched=frozenset(doc)), False

    def store(self, p: Prepared, action: str) -> str:
        """Write one prepared, embedded document (inside the caller's transaction). Returns its id."""
        for fname, vec in p.vectors.items():
            # Computed embeddings too: a model can give NaN, and the index would refuse it after the commit.
            problem = vector_problem(vec)
            if problem is not None:
                raise RequestMalformed(f"Field `{fname}` {problem}.")
        if p.doc_id is None:
            p.doc_id = self._fresh_id()
            p.body = {"id": p.doc_id, **p.body}
        elif action == "create" and self.db.label_of(self.id, p.doc_id) is not None:
            raise ObjectAlreadyExists(f"A document with id {p.doc_id} already exists.")
        vectors: dict[str, np.ndarray | None] = dict(p.vectors)
        if action in ("create", "upsert"):
            # A full replace drops embeddings the new document no longer has.
            for fname in self.schema.vector_fields:
                vectors.setdefault(fname, None)
        label = self.db.put(self.id, p.doc_id, p.body, vectors)
        self._pending_index.append((label, vectors))
        return p.doc_id

    def _store_alone(self, p: Prepared, action: str) -> str | Exception:
        try:
            with self.db.savepoint():
                return self.store(p, action)
        except (ObjectAlreadyExists, RequestMalformed) as exc:
            return exc
        except (ValueError, sqlite3.IntegrityError, sqlite3.InterfaceError) as exc:
            return RequestMalformed(f"The document cannot be stored: {exc}.")

    def _store_all_new(self, prepared: list[tuple[Prepared, str]]) -> list[str] | None:
        """The whole batch in a few statements, when every document is new, named and storable (a fresh
        import); None, having written nothing, when any is not: each is then written alone, and fails
        alone, by ``store``."""
        ids = [p.doc_id for p, _ in prepared]
        if len(prepared) < 2 or any(action not in ("create", "upsert") for _, action in prepared):
            return None
        if any(doc_id is None for doc_id in ids) or len(set(ids)) != len(ids):
            return None
        try:
            for fname in self.schema.vector_fields:
                given = [p.vectors[fname] for p, _ in prepared if fname in p.vectors]
                # One check for the batch; `store` checks each again and names the one that is wrong.
                if given and vector_problems(np.stack(given)):
                    return None
            rows = [(str(p.doc_id), encode(p.body), dict(p.vectors)) for p, _ in prepared]
        except (ValueError, TypeError, RecursionError):
            return None
        if self.db.existing_ids(self.id, [doc_id for doc_id, _, _ in rows]):
            return None
        try:
            with self.db.savepoint():
                labels = self.db.put_new(self.id, rows)
        except (ValueError, sqlite3.IntegrityError, sqlite3.InterfaceError):
            return None
        for label, (p, _) in zip(labels, prepared, strict=True):
            vectors: dict[str, np.ndarray | None] = dict(p.vectors)
            for fname in self.schema.vector_fields:
                vectors.setdefault(fname, None)
            self._pending_index.append((label, vectors))
        return [doc_id for doc_id, _, _ in rows]

    def _fresh_id(self) -> str:
        while True:
            candidate = self.db.take_doc_id(self.id)
            if self.db.label_of(self.id, candidate) is None:
                return candidate

    def write(self, prepared: list[tuple[Prepared, str]]) -> list[str | Exception]:
        """Store a batch in one transaction, then update the indexes. Per-document errors are returned.

        A document the database refuses fails alone (its part of the transaction is undone); a library
        that cannot be written raises (DiskFull, LibraryBusy) with nothing of the batch stored.
        """
        self.catch_up_foreign()
        results: list[str | Exception] = []
        self._pending_index = []
        self._count = None
        try:
            with self.db.transaction():
                fast = self._store_all_new(prepared)
                results.extend(fast if fast is not None else (self._store_alone(p, a) for p, a in prepared))
            self._indexes_follow(self._pending_index)
        finally:
            self._pending_index = []
        self.save_indexes()
        return results

    def _indexes_follow(self, written: list[tuple[int, dict[str, np.ndarray | None]]]) -> None:
        """Apply our own committed changes; when no other connection wrote meanwhile, the indexes now hold
        everything up to the current change sequence."""
        seen = self._seen_version
        self.indexes.apply(written)
        if self.db.data_version() == seen:
            self.indexes.mark_synced()

    def write_one(self, doc: dict, action: str) -> dict:
        """create/upsert/update/emplace of a single document; returns the stored document."""
        if action in ("update", "emplace"):
            p, is_new = self.resolve_partial(doc, action)
            if is_new:
                action = "create"
        else:
            p = prepare(self.schema, doc)
        self.embed_prepared([p], {0: self.embed_images_now(p)})
        (result,) = self.write([(p, action)])
        if isinstance(result, Exception):
            raise result
        return self.retrieve(result)

    def retrieve(self, doc_id: str) -> dict:
        found = self.db.get(self.id, doc_id)
        if found is None:
            raise ObjectNotFound(f"Could not find a document with id: {doc_id}")
        label, body = found
        return self.with_vectors(label, body)

    def with_vectors(self, label: int, body: dict) -> dict:
        """The document as Typesense returns it: stored fields plus embedding arrays."""
        doc = dict(body)
        for fname in self.schema.vector_fields:
            if fname in self.schema.unstored:
                continue
            vec = self.db.vector(label, fname)
            if vec is not None:
                doc[fname] = [float(x) for x in vec]
        return public_view(self.schema, doc)

    def delete_document(self, doc_id: str) -> dict:
        doc = self.retrieve(doc_id)
        label = self.db.label_of(self.id, doc_id)
        assert label is not None
        self.catch_up_foreign()
        self.db.delete(self.id, label)
        self._count = None
        self.indexes.delete([label])
        self.save_indexes()
        return doc

    def delete_labels(self, labels: list[int]) -> None:
        """Remove many documents in one transaction (a folder rescan's deleted files)."""
        if not labels:
            return
        self.catch_up_foreign()
        self._count = None
        with self.db.transaction():
            for label in labels:
                self.db.delete(self.id, label)
        self.indexes.delete(labels)
        self.save_indexes()

    def rewrite_bodies(self, changes: list[tuple[int, str, dict]]) -> None:
        """Give documents new ids and bodies while keeping their embeddings (moved or touched files).

        The label stays, so the index needs no change: a moved photo is not embedded again.
        """
        if not changes:
            return
        with self.db.transaction():
            for label, doc_id, body in changes:
                self.db.rekey(label, doc_id, body)

    def close(self) -> None:
        self.indexes.save(force=True, final=True)
