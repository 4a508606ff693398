"""Bulk import: documents stream through validation and image decoding into the model, in order, and are
committed in batches.

Decoding runs ahead of the model on worker threads (the embedder's stream), so a CPU-bound import keeps every
core busy. A batch is reported done only after its transaction committed: a crash loses nothing reported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.collection import Collection
from app.engine.documents import (
    ACTIONS,
    EmbeddingError,
    Prepared,
    error_result,
    parse_line,
    prepare,
    public_view,
)
from app.engine.embedder import ImageInput
from app.engine.errors import RequestMalformed, TypesenseError
from app.engine.images import ImageError

Progress = Callable[[int, "int | None"], None]
DEFAULT_BATCH = 64


@dataclass(eq=False)
class _Entry:
    raw: Any
    doc: dict | None = None
    prepared: Prepared | None = None
    error: TypesenseError | None = None
    deferred: bool = False  # update/emplace: needs the stored document, done on the committing thread
    remaining: int = 0
    image_vectors: dict[str, list[np.ndarray]] = field(default_factory=dict)


def _flag(params: dict, key: str) -> bool:
    value = params.get(key, False)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def import_documents(
    coll: Collection,
    docs: Iterable[Any],
    params: dict | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[dict]:
    params = dict(params or {})
    action = params.get("action", "create")
    if action not in ACTIONS:
        raise RequestMalformed(f"The action `{action}` is invalid: use one of {', '.join(ACTIONS)}.")
    batch_size = params.get("batch_size", DEFAULT_BATCH)
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise RequestMalformed("Parameter `batch_size` must be a positive integer.")
    total = len(docs) if isinstance(docs, Sized) else None
    run = _ImportRun(coll, action, batch_size, _flag(params, "return_id"), _flag(params, "return_doc"))
    for entry in run.entries(docs):
        run.batch.append(entry)
        if len(run.batch) >= batch_size:
            run.flush()
            if progress:
                progress(len(run.results), total)
            if cancel is not None and cancel.is_set():
                break
    if run.batch:
        run.flush()
        if progress:
            progress(len(run.results), total)
    return run.results


class _ImportRun:
    def __init__(self, coll: Collection, action: str, batch_size: int, return_id: bool, return_doc: bool):
        self.coll = coll
        self.action = action
        self.batch_size = batch_size
        self.return_id = return_id
        self.return_doc = return_doc
        self.batch: list[_Entry] = []
        self.results: list[dict] = []
        models = {json.dumps(e.model_config, sort_keys=True) for e in coll.schema.embeds}
        # One model for every embedding field (the usual case) lets images stream through it in order.
        self.stream_field = coll.schema.embeds[0].field if len(models) == 1 else None

    def _produce(self, docs: Iterable[Any]) -> Iterator[tuple[tuple[_Entry, str | None], ImageInput | None]]:
        """Validate and base64-decode each line; yields image items, or a passthrough for imageless lines."""
        for raw in docs:
            entry = _Entry(raw)
            try:
                entry.doc = parse_line(raw)
                if self.action in ("update", "emplace"):
                    entry.deferred = True
                else:
                    entry.prepared = prepare(self.coll.schema, entry.doc)
            except TypesenseError as exc:
                entry.error = exc
            images = entry.prepared.images if entry.prepared and self.stream_field else []
            entry.remaining = len(images)
            if not images:
                yield (entry, None), None
            for fname, data in images:
                yield (entry, fname), data

    def entries(self, docs: Iterable[Any]) -> Iterator[_Entry]:
        """Lines in input order, each once all of its images are embedded."""
        produced = self._produce(docs)
        if self.stream_field is None:
            for (entry, _), _data in produced:
                yield entry
            return
        stream = self.coll.embedder(self.stream_field).embed_image_stream(produced, batch_size=16)
        try:
            for (entry, fname), result in stream:
                if fname is not None:
                    if isinstance(result, ImageError):
                        if entry.error is None:
                            entry.error = EmbeddingError(f"Error while processing image: {result}")
                    else:
                        entry.image_vectors.setdefault(fname, []).append(result)
                    entry.remaining -= 1
                    if entry.remaining:
                        continue
                yield entry
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        ready: list[tuple[_Entry, Prepared, str]] = []
        ready_ids: set[str] = set()
        for entry in batch:
            if entry.error is not None:
                continue
            try:
                if entry.deferred:
                    assert entry.doc is not None
                    doc_id = entry.doc.get("id")
                    if isinstance(doc_id, str) and doc_id in ready_ids:
                        # An earlier line of this batch writes the same document: commit it first, so that
                        # this update merges into it rather than into the older stored version.
                        self._write(ready)
                        ready, ready_ids = [], set()
                    p, is_new = self.coll.resolve_partial(entry.doc, self.action)
                    entry.prepared = p
                    entry.image_vectors = self.coll.embed_images_now(p)
                    ready.append((entry, p, "create" if is_new else self.action))
                else:
                    assert entry.prepared is not None
                    if entry.prepared.images and not entry.image_vectors:
                        entry.image_vectors = self.coll.embed_images_now(entry.prepared)
                    ready.append((entry, entry.prepared, self.action))
                if entry.prepared.doc_id is not None:
                    ready_ids.add(entry.prepared.doc_id)
            except TypesenseError as exc:
                entry.error = exc
        self._write(ready)
        for entry in batch:
            self.results.append(self._result(entry))

    def _write(self, ready: list[tuple[_Entry, Prepared, str]]) -> None:
        """Embed the texts of ``ready`` documents and store them in one transaction."""
        if not ready:
            return
        image_vectors = {i: entry.image_vectors for i, (entry, _, _) in enumerate(ready)}
        self.coll.embed_prepared([p for _, p, _ in ready], image_vectors)
        outcomes = self.coll.write([(p, action) for _, p, action in ready])
        for (entry, _, _), outcome in zip(ready, outcomes, strict=True):
            if isinstance(outcome, TypesenseError):
                entry.error = outcome

    def _result(self, entry: _Entry) -> dict:
        if entry.error is not None:
            result = error_result(entry.error)
            if self.return_doc:
                result["document"] = self._echo(entry)
            return result
        assert entry.prepared is not None
        result = {"success": True}
        if self.return_id:
            result["id"] = entry.prepared.doc_id
        if self.return_doc:
            stored = {**(entry.doc or {}), "id": entry.prepared.doc_id}
            result["document"] = public_view(self.coll.schema, stored)
        return result

    def _echo(self, entry: _Entry) -> Any:
        # The raw line, minus store:false values: those must never leave the engine again.
        if entry.doc is not None:
            return json.dumps(public_view(self.coll.schema, entry.doc))
        return entry.raw if isinstance(entry.raw, str) else repr(entry.raw)
