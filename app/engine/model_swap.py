"""Giving a collection another embedding model without a moment where searches have nothing to answer.

The new model's vectors are computed into a shadow file beside the library (``model-switch/c<id>.sqlite``)
while the collection keeps its model, schema and vectors, so every search meanwhile answers from the old
ones. ``commit`` then replaces the vectors and the schema's model in one SQLite transaction and drops the
index files (rebuilt from SQLite, at the new width, by the next search). A crash or a cancel before the
commit leaves the collection exactly as it was; the shadow file lets a later switch to the same model
resume, recomputing only documents written since (their change sequence moved).

The image a document is embedded from is its stored image (``store: true``) or the file its ``path``
names; a photo imported from base64 with ``store: false`` has neither, and cannot be embedded again.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app import paths
from app.engine.documents import combine, prepare
from app.engine.errors import RequestMalformed, TypesenseError
from app.engine.file_access import read_regular
from app.engine.images import ImageError
from app.engine.schema import Schema, parse_schema
from app.engine.vector_check import vector_problem

if TYPE_CHECKING:
    from app.engine.client import Engine
    from app.engine.collection import Collection

SHADOW_DIR = "model-switch"
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class NotReembedded:
    """A document the new model cannot embed, and why (shown to the user before and after a switch)."""

    id: str
    label: str  # its file name, or its id where it has none
    reason: str


NO_IMAGE = "its image was not kept (added with `store: false`) and it has no file to read it from again"


class ModelSwap:
    """One collection's switch to ``model_config``. Owned by the engine's thread, like the Engine."""

    def __init__(self, engine: Engine, collection: str, model_config: dict) -> None:
        self.engine = engine
        self.name = collection
        self.coll: Collection = engine._collection(collection)
        self.model_config = dict(model_config)
        self.fields = [e.field for e in self.coll.schema.embeds]
        if not self.fields:
            raise RequestMalformed(f"Collection `{collection}` has no embedding field: no model to switch.")
        self.schema = self._switched_schema()
        self.path = engine.data_dir / SHADOW_DIR / f"c{self.coll.id}.sqlite"

    def _switched_schema(self, old: Schema | None = None) -> Schema:
        old = old or self.coll.schema
        dims = self.engine._model_dims(self.model_config)
        fields = json.loads(json.dumps(old.fields))
        for f in fields:
            if f["name"] in self.fields:
                f["embed"]["model_config"] = dict(self.model_config)
                f["num_dim"] = dims
        # With the rest of what is stored (token_separators, symbols_to_index): a switch keeps them.
        raw = {**old.stored(), "name": old.name, "fields": fields}
        try:
            parsed = parse_schema(raw, self.engine._model_dims)
        except ValueError as exc:
            raise RequestMalformed(str(exc)) from exc
        parsed.created_at = old.created_at
        return parsed

    @property
    def dims(self) -> int:
        return self.schema.vector_fields[self.fields[0]]

    # -- the shadow file -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def shadow(self) -> Iterator[sqlite3.Connection]:
        """The shadow file, fresh when it was made for another model (or is damaged)."""
        paths.make_private_dirs(self.path.parent)
        wanted = json.dumps(self.model_config, sort_keys=True)
        for attempt in (1, 2):
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (label INTEGER NOT NULL, field TEXT NOT NULL, "
                    "seq INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (label, field))"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS failed (label INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
                    "doc_id TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL)"
                )
                row = conn.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
                if row is None or row[0] != wanted:
                    with conn:
                        conn.execute("BEGIN")
                        conn.execute("DELETE FROM vectors")
                        conn.execute("DELETE FROM failed")
                        conn.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?)", (wanted,))
            except sqlite3.DatabaseError:
                conn.close()
                if attempt == 2:
                    raise
                self.discard()  # a damaged shadow costs only its vectors: start again
                continue
            try:
                yield conn
            finally:
                conn.close()
            return

    def discard(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # -- what needs doing ------------------------------------------------------------------------------

    def _documents(self, labels: list[int] | None = None) -> list[tuple[int, int, str, dict]]:
        """(label, seq, doc id, body) of the readable documents holding a vector in a switched field (of
        ``labels`` only, when given), in label order."""
        marks = ",".join("?" * len(self.fields))
        query = (
            "SELECT d.label, d.seq, d.doc_id, d.body FROM documents d WHERE d.collection_id = ? AND "
            f"EXISTS (SELECT 1 FROM vectors v WHERE v.label = d.label AND v.field IN ({marks}))"
        )
        conn = self.coll.db._conn  # the engine's own connection: this module is part of the engine
        if labels is None:
            rows = conn.execute(query + " ORDER BY d.label", (self.coll.id, *self.fields)).fetchall()
        else:
            rows = []
            for start in range(0, len(labels), 500):  # under SQLite's limit on bound variables
                chunk = labels[start : start + 500]
                rows += conn.execute(
                    query + f" AND d.label IN ({','.join('?' * len(chunk))}) ORDER BY d.label",
                    (self.coll.id, *self.fields, *chunk),
                ).fetchall()
        found = []
        for label, seq, doc_id, text in rows:
            try:
                body = json.loads(text)
            except ValueError:
                continue  # a damaged row: listed by the collection as damaged, left as it is
            if isinstance(body, dict):
                found.append((label, seq, doc_id, body))
        return found

    def sources(self) -> tuple[int, list[NotReembedded]]:
        """How many documents will be embedded again, and those that cannot be (no image, file gone)."""
        documents = self._documents()
        cannot = []
        for _label, _seq, doc_id, body in documents:
            reason = self._source_problem(body)
            if reason is not None:
                cannot.append(NotReembedded(doc_id, _label_of(doc_id, body), reason))
        return len(documents), cannot

    def _source_problem(self, body: dict) -> str | None:
        for image_field in self._image_sources():
            if body.get(image_field):
                continue
            path = body.get("path")
            if not isinstance(path, str) or not path:
                return NO_IMAGE
            if not Path(path).is_file():
                return f"its file is missing: {path}"
        return None

    def _image_sources(self) -> list[str]:
        by_name = self.schema.by_name
        return sorted(
            {s for e in self.schema.embeds if e.field in self.fields for s in e.sources
             if by_name[s]["type"] == "image"}
        )  # fmt: skip

    def todo(self, conn: sqlite3.Connection) -> list[int]:
        """Labels still to embed: no shadow vector, or one from before the document last changed (a
        failure at the document's current state is not tried again)."""
        done = dict(conn.execute("SELECT label, MIN(seq) FROM vectors GROUP BY label").fetchall())
        failed = dict(conn.execute("SELECT label, seq FROM failed").fetchall())
        return [
            label
            for label, seq, _id, _body in self._documents()
            if done.get(label) != seq and failed.get(label) != seq
        ]

    def failures(self, conn: sqlite3.Connection) -> list[NotReembedded]:
        current = {label: seq for label, seq, _id, _body in self._documents()}
        rows = conn.execute("SELECT label, seq, doc_id, name, reason FROM failed ORDER BY label").fetchall()
        return [NotReembedded(d, n, r) for label, seq, d, n, r in rows if current.get(label) == seq]

    # -- embedding -------------------------------------------------------------------------------------

    def embed(self, conn: sqlite3.Connection, labels: list[int]) -> list[NotReembedded]:
        """Compute the new vectors of ``labels`` into the shadow file; returns those that failed."""
        batch = self._documents(list(labels))
        prepared: list[tuple[int, int, str, dict, Any]] = []
        failed: list[tuple[int, int, NotReembedded]] = []
        for label, seq, doc_id, body in batch:
            try:
                doc = {k: v for k, v in body.items() if k not in self.schema.vector_fields}
                for image_field in self._image_sources():
                    if not doc.get(image_field):
                        doc[image_field] = _read_image(body)
                prepared.append((label, seq, doc_id, body, prepare(self.schema, doc)))
            except Exception as exc:
                failed.append((label, seq, NotReembedded(doc_id, _label_of(doc_id, body), _reason(exc))))
        vectors: dict[int, dict[str, np.ndarray]] = {label: {} for label, *_ in prepared}
        for fname in self.fields:
            spec = next(e for e in self.schema.embeds if e.field == fname)
            embedder: Any = self.engine._embedder_for(spec.model_config)
            images = [(i, data) for i, it in enumerate(prepared) for f, data in it[4].images if f == fname]
            results = embedder.embed_images([data for _, data in images]) if images else []
            per_doc: dict[int, list[np.ndarray]] = {}
            broken: dict[int, str] = {}
            for (i, _), result in zip(images, results, strict=True):
                if isinstance(result, ImageError):
                    broken[i] = f"its image cannot be read: {result}"
                else:
                    per_doc.setdefault(i, []).append(result)
            texts = [(i, item[4].texts[fname]) for i, item in enumerate(prepared) if fname in item[4].texts]
            embedded = embedder.embed_texts([t for _, t in texts]) if texts else []
            text_vecs = dict(zip([i for i, _ in texts], embedded, strict=True))
            for i, (label, seq, doc_id, body, _p) in enumerate(prepared):
                if i in broken:
                    failed.append((label, seq, NotReembedded(doc_id, _label_of(doc_id, body), broken[i])))
                elif i in per_doc or i in text_vecs:
                    vec = combine(text_vecs.get(i), per_doc.get(i, []))
                    problem = vector_problem(vec)
                    if problem is None:
                        vectors[label][fname] = vec
                    else:
                        reason = f"the new model gave no usable vector ({problem})"
                        failed.append((label, seq, NotReembedded(doc_id, _label_of(doc_id, body), reason)))
        failed_labels = {label for label, _seq, _n in failed}
        with conn:
            conn.execute("BEGIN")
            for label, seq, _doc_id, _body, _p in prepared:
                if label in failed_labels:
                    continue
                for fname, vec in vectors[label].items():
                    conn.execute(
                        "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                        (label, fname, seq, np.asarray(vec, dtype=np.float32).tobytes()),
                    )
                conn.execute("DELETE FROM failed WHERE label = ?", (label,))
            for label, seq, item in failed:
                conn.execute("DELETE FROM vectors WHERE label = ?", (label,))
                conn.execute(
                    "INSERT OR REPLACE INTO failed VALUES (?, ?, ?, ?, ?)",
                    (label, seq, item.id, item.label, item.reason),
                )
        return [item for _label, _seq, item in failed]

    # -- the switch ------------------------------------------------------------------------------------

    def commit(self, conn: sqlite3.Connection, remove_ids: set[str]) -> list[str]:
        """Swap the new vectors and model in, in one transaction; remove ``remove_ids`` in it too.

        Raises ``Stale`` (having changed nothing) when a document still lacks a current new vector: the
        caller embeds ``todo`` again and retries. Returns the ids removed.
        """
        db = self.coll.db
        shadow: dict[int, list[tuple[int, str, bytes]]] = {}
        for label, fname, seq, blob in conn.execute("SELECT label, field, seq, vector FROM vectors"):
            shadow.setdefault(label, []).append((seq, fname, blob))
        removed: list[str] = []
        # Files first: after a crash just past the commit, a saved index of the old model's vectors would
        # otherwise load as the new model's whenever both have the same width (ViT-B/32 and B/16 do).
        self.coll.indexes.unlink_files()
        with db.transaction():
            documents = self._documents()  # read under the write lock: nobody writes in between
            stale = []
            writes = []
            removals = []
            for label, seq, doc_id, _body in documents:
                if doc_id in remove_ids:
                    removals.append((label, doc_id))
                    continue
                rows = shadow.get(label, [])
                if not rows or any(row_seq != seq for row_seq, _f, _b in rows):
                    stale.append(label)
                    continue
                writes += [(blob, label, fname) for _s, fname, blob in rows]
            if stale:
                raise Stale(len(stale))
            conn_main = db._conn
            for label, doc_id in removals:
                db.delete(self.coll.id, label)
                removed.append(doc_id)
            conn_main.executemany("UPDATE vectors SET vector = ? WHERE label = ? AND field = ?", writes)
            # The schema as stored now, read under the write lock: another process may have altered the
            # collection (added a field) since this switch began, and that change must survive it.
            current = db.collection(self.name)
            if current is not None and current[0] == self.coll.id:
                self.schema = self._switched_schema(Schema.from_stored(self.name, current[1], current[2]))
            stored = json.dumps(self.schema.stored())
            conn_main.execute("UPDATE collections SET schema = ? WHERE id = ?", (stored, self.coll.id))
        # The old indexes hold the old model's vectors (another width, another space): rebuilt from SQLite.
        self.coll.drop_index_files()
        self.engine._open.pop(self.name, None)
        return removed


class Stale(Exception):
    """Documents changed (or arrived) since their new vectors were computed."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} documents changed during the switch")
        self.count = count


def _read_image(body: dict) -> bytes:
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise LookupError(NO_IMAGE)
    if not Path(path).is_file():
        raise FileNotFoundError(f"its file is missing: {path}")
    return read_regular(Path(path), MAX_FILE_BYTES)


def _reason(exc: Exception) -> str:
    if isinstance(exc, LookupError):
        return str(exc.args[0]) if exc.args else NO_IMAGE
    if isinstance(exc, FileNotFoundError) and exc.args and str(exc.args[0]).startswith("its file"):
        return str(exc.args[0])
    # Before OSError: the engine's errors are the typesense client's, which are OSErrors.
    if isinstance(exc, TypesenseError):
        return f"it cannot be embedded: {exc.message}"
    if isinstance(exc, OSError):
        return f"its file cannot be read: {exc.strerror or exc}"
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"it cannot be embedded: {message}"


def _label_of(doc_id: str, body: dict) -> str:
    path = body.get("path")
    if isinstance(path, str) and path:
        return path
    name = body.get("name")
    return name if isinstance(name, str) and name else doc_id
