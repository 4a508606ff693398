"""One collection: its documents in SQLite, its vector indexes, and writes that keep both in step."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.engine.documents import EmbeddingError, Prepared, combine, prepare, public_view
from app.engine.errors import ObjectAlreadyExists, ObjectNotFound, RequestMalformed
from app.engine.images import ImageError
from app.engine.index import VectorIndex
from app.engine.schema import Schema
from app.engine.storage import Database

log = logging.getLogger(__name__)

# Saving a big index costs a second or so; do it when enough changed, or on close. A crash in between
# costs only a catch-up replay from SQLite on the next open.
SAVE_AFTER_CHANGES = 5000
SAVE_AFTER_SECONDS = 60.0


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
        self._indexes: dict[str, VectorIndex] = {}
        self._unsaved: dict[str, int] = {}
        self._last_save = time.monotonic()
        self._pending_index: list[tuple[int, dict[str, np.ndarray | None]]] = []
        self._count: int | None = None
        # (filter_by text, change seq) -> matching labels newest first; see search._matching_labels.
        self.filter_cache: dict[tuple[str, int], list[int]] = {}

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def name(self) -> str:
        return self.schema.name

    def count(self) -> int:
        """Number of documents. Cached: COUNT(*) over 100k rows costs milliseconds on every search."""
        if self._count is None:
            self._count = self.db.count(self.id)
        return self._count

    def to_dict(self) -> dict:
        return self.schema.to_dict(self.count())

    # -- indexes -------------------------------------------------------------------------------------

    def index_path(self, fname: str) -> Path:
        return self.ctx.index_dir / f"c{self.id}.{fname}.hnsw"

    def index(self, fname: str) -> VectorIndex:
        """The field's index, loaded from disk and caught up, or rebuilt from SQLite."""
        idx = self._indexes.get(fname)
        if idx is not None:
            return idx
        dims = self.schema.vector_fields[fname]
        loaded = VectorIndex.load(self.index_path(fname), dims)
        idx, changes = None, 0
        if loaded is not None:
            idx, changes = self._catch_up(fname, *loaded)
        if idx is None:
            if loaded is not None or self.index_path(fname).exists():
                log.info("Index for %s.%s is unusable; rebuilding from the database", self.name, fname)
            idx = VectorIndex(dims, capacity=max(1024, self.count()))
            changes = 0
            for labels, vectors in self.db.vectors_since(self.id, fname, 0):
                idx.add(labels, vectors, num_threads=-1)
                changes += len(labels)
        self._indexes[fname] = idx
        self._unsaved[fname] = changes
        if changes:
            self.save_indexes(force=True)
        return idx

    def _catch_up(self, fname: str, idx: VectorIndex, meta: dict) -> tuple[VectorIndex | None, int]:
        """Replay what the database changed since ``idx`` was saved; None if it belongs to another state."""
        since = meta.get("seq")
        if meta.get("collection_id") != self.id or not isinstance(since, int):
            return None, 0
        # An index ahead of the database (a database restored from a backup) holds labels the database
        # may hand out again for other documents: only a rebuild is safe.
        if since > self.db.current_seq():
            return None, 0
        dead = self.db.tombstones_since(self.id, since)
        if dead:
            idx.delete(dead)
        changes = len(dead)
        for labels, vectors in self.db.vectors_since(self.id, fname, since):
            idx.add(labels, vectors, num_threads=-1)
            changes += len(labels)
        if not np.array_equal(idx.labels(), self.db.vector_labels(self.id, fname)):
            return None, 0
        return idx, changes

    def save_indexes(self, *, force: bool = False) -> None:
        due = force or time.monotonic() - self._last_save > SAVE_AFTER_SECONDS
        seq = self.db.current_seq()
        for fname, idx in self._indexes.items():
            unsaved = self._unsaved.get(fname, 0)
            if unsaved and (due or unsaved >= SAVE_AFTER_CHANGES):
                self.index_path(fname).parent.mkdir(parents=True, exist_ok=True)
                idx.save(self.index_path(fname), meta={"collection_id": self.id, "seq": seq})
                self._unsaved[fname] = 0
        if due:
            self._last_save = time.monotonic()

    def drop_index_files(self) -> None:
        for fname in self.schema.vector_fields:
            for path in (self.index_path(fname), self.index_path(fname).with_suffix(".hnsw.json")):
                path.unlink(missing_ok=True)
        self._indexes.clear()

    def _index_put_many(self, written: list[tuple[int, dict[str, np.ndarray | None]]]) -> None:
        """Apply a committed batch to the indexes: one bulk add per field (hnswlib adds in parallel)."""
        for fname in self.schema.vector_fields:
            # A batch may write one document twice: only its last state counts.
            final = {label: vecs[fname] for label, vecs in written if fname in vecs}
            added = [(label, vec) for label, vec in final.items() if vec is not None]
            removed = [label for label, vec in final.items() if vec is None]
            if not added and not removed:
                continue
            idx = self.index(fname)
            if removed:
                idx.delete(removed)
            if added:
                idx.add([label for label, _ in added], np.stack([vec for _, vec in added]), num_threads=-1)
            self._unsaved[fname] = self._unsaved.get(fname, 0) + len(added) + len(removed)

    def _index_delete(self, label: int) -> None:
        for fname in self.schema.vector_fields:
            self.index(fname).delete([label])
            self._unsaved[fname] = self._unsaved.get(fname, 0) + 1

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
        merged = {**found[1], **doc}
        return prepare(self.schema, merged, partial=True, touched=frozenset(doc)), False

    def store(self, p: Prepared, action: str) -> str:
        """Write one prepared, embedded document (inside the caller's transaction). Returns its id."""
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

    def _fresh_id(self) -> str:
        while True:
            candidate = self.db.take_doc_id(self.id)
            if self.db.label_of(self.id, candidate) is None:
                return candidate

    def write(self, prepared: list[tuple[Prepared, str]]) -> list[str | Exception]:
        """Store a batch in one transaction, then update the indexes. Per-document errors are returned."""
        results: list[str | Exception] = []
        self._pending_index = []
        self._count = None
        with self.db.transaction():
            for p, action in prepared:
                try:
                    results.append(self.store(p, action))
                except (ObjectAlreadyExists, RequestMalformed) as exc:
                    results.append(exc)
        self._index_put_many(self._pending_index)
        self._pending_index = []
        self.save_indexes()
        return results

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
        self.db.delete(self.id, label)
        self._count = None
        self._index_delete(label)
        self.save_indexes()
        return doc

    def delete_labels(self, labels: list[int]) -> None:
        """Remove many documents in one transaction (a folder rescan's deleted files)."""
        if not labels:
            return
        self._count = None
        with self.db.transaction():
            for label in labels:
                self.db.delete(self.id, label)
        for fname in self.schema.vector_fields:
            self.index(fname).delete(labels)
            self._unsaved[fname] = self._unsaved.get(fname, 0) + len(labels)
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
        self.save_indexes(force=True)
