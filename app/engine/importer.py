"""Bulk import: documents stream through validation and image decoding into the model, in order, and are
committed in batches.

Decoding runs ahead of the model on worker threads (the embedder's stream), so a CPU-bound import keeps every
core busy. A batch is reported done only after its transaction committed: a crash loses nothing reported.
Whatever one line raises is that line's error result, and the import goes on; only a library that cannot
be written at all (a full disk) stops it, with that error for every line not stored.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine import dirty_values
from app.engine.collection import Collection
from app.engine.documents import (
    ACTIONS,
    EmbeddingError,
    Prepared,
    error_result,
    parse_line,
    plain_vectors,
    prepare,
    public_view,
)
from app.engine.embedder import ImageInput
from app.engine.errors import ModelUnavailable, RequestMalformed, TypesenseError
from app.engine.images import ImageError
from app.engine.line_errors import check_document, is_store_failure, line_error, store_error

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
    stopped: bool = False  # not stored because the library could not be written


@dataclass
class ImportOutcome:
    """One result per line reached, in input order, and which of them a store failure kept out."""

    results: list[dict]
    stopped: set[int] = field(default_factory=set)  # indexes into ``results``
    stop_error: TypesenseError | None = None


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
    return run_import(coll, docs, params, progress=progress, cancel=cancel).results


def check_params(params: dict) -> tuple[str, int]:
    """The import's action and batch size, or a 400 naming the parameter."""
    action = params.get("action", "create")
    if action not in ACTIONS:
        # Not 0.24.1's "must be a create|update|upsert.": this names the value, and emplace (taken there too).
        raise RequestMalformed(f"The action `{action}` is invalid: use one of {', '.join(ACTIONS)}.")
    batch_size = params.get("batch_size", DEFAULT_BATCH)
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise RequestMalformed("Parameter `batch_size` must be a positive integer.")
    return action, batch_size


def run_import(
    coll: Collection,
    docs: Iterable[Any],
    params: dict | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ImportOutcome:
    """``import_documents``, also saying which lines a store failure stopped (they are not the lines'
    fault: a file import must not remember those files as broken)."""
    params = dict(params or {})
    action, batch_size = check_params(params)
    total = len(docs) if isinstance(docs, Sized) else None
    run = _ImportRun(coll, action, batch_size, _flag(params, "return_id"), _flag(params, "return_doc"))
    run.dirty = dirty_values.mode(coll.schema, params)
    entries = run.entries(docs)
    try:
        for entry in entries:
            run.batch.append(entry)
            if len(run.batch) >= batch_size:
                run.flush()
                if progress:
                    progress(len(run.results), total)
                if run.stop_error is not None or (cancel is not None and cancel.is_set()):
                    break
        if run.batch and run.stop_error is None:
            run.flush()
            if progress:
                progress(len(run.results), total)
    finally:
        entries.close()
    if run.stop_error is not None:
        # Lines already read in but not stored, and for a list the lines not read yet (cheap: nothing is
        # decoded), fail with the store's error. An open-ended stream is not drained: that could mean
        # reading every remaining file from disk just to fail it.
        run.fail_unstored(drain=total is not None)
        if progress:
            progress(len(run.results), total)
    stopped = {i for i, entry in enumerate(run.done) if entry.stopped}
    return ImportOutcome(run.results, stopped, run.stop_error)


class _ImportRun:
    def __init__(self, coll: Collection, action: str, batch_size: int, return_id: bool, return_doc: bool):
        self.coll = coll
        self.action = action
        self.batch_size = batch_size
        self.return_id = return_id
        self.return_doc = return_doc
        self.batch: list[_Entry] = []
        self.results: list[dict] = []
        self.done: list[_Entry] = []  # the entries behind ``results``
        # Read in but not yet handed to a batch: images in flight on the decode threads.
        self.reading: collections.deque[_Entry] = collections.deque()
        self.source: Iterator[Any] = iter(())
        self.stop_error: TypesenseError | None = None
        self.dirty = dirty_values.REJECT
        models = {json.dumps(e.model_config, sort_keys=True) for e in coll.schema.embeds}
        # One model for every embedding field (the usual case) lets images stream through it in order.
        self.stream_field = coll.schema.embeds[0].field if len(models) == 1 else None

    def _produce(self) -> Iterator[tuple[tuple[_Entry, str | None], ImageInput | None]]:
        """Validate and base64-decode each line; yields image items, or a passthrough for imageless lines."""
        for raw in self.source:
            entry = _Entry(raw)
            self.reading.append(entry)
            try:
                entry.doc = dirty_values.apply(self.coll.schema, parse_line(raw), self.dirty)
                arrays = plain_vectors(self.coll.schema, entry.doc)
                # A flat list of floats holds nothing the line check looks for; walking 512 numbers one by
                # one in Python cost more than everything else an import of vectors does.
                rest = {k: v for k, v in entry.doc.items() if k not in arrays} if arrays else entry.doc
                check_document(rest)
                if self.action in ("update", "emplace"):
                    entry.deferred = True
                else:
                    entry.prepared = prepare(self.coll.schema, entry.doc, arrays=arrays)
            except Exception as exc:
                entry.error = line_error(exc)
            images = entry.prepared.images if entry.prepared and self.stream_field else []
            entry.remaining = len(images)
            if not images:
                yield (entry, None), None
            for fname, data in images:
                yield (entry, fname), data

    def entries(self, docs: Iterable[Any]) -> Generator[_Entry, None, None]:
        """Lines in input order, each once all of its images are embedded."""
        self.source = iter(docs)
        produced = self._produce()
        if self.stream_field is None:
            for (entry, _), _data in produced:
                yield self._handed_over(entry)
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
                yield self._handed_over(entry)
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    def _handed_over(self, entry: _Entry) -> _Entry:
        # Lines come out in the order they went in, so the one handed over is the oldest still reading.
        if self.reading and self.reading[0] is entry:
            self.reading.popleft()
        return entry

    def fail_unstored(self, *, drain: bool) -> None:
        """After a store failure: every line read in and not stored fails with the store's error."""
        left = [*self.batch, *self.reading]
        if drain:
            left.extend(_Entry(raw) for raw in self.source)
        self.batch = []
        self.reading.clear()
        for entry in left:
            if entry.error is None:
                entry.error, entry.stopped = self.stop_error, True
            self._record(entry)

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        ready: list[tuple[_Entry, Prepared, str]] = []
        ready_ids: set[str] = set()
        for entry in batch:
            if entry.error is not None:
                continue
            if self.stop_error is not None:
                # The library stopped taking writes earlier in this batch: nothing more is tried.
                entry.error, entry.stopped = self.stop_error, True
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
                        if self.stop_error is not None:
                            entry.error, entry.stopped = self.stop_error, True
                            continue
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
            except Exception as exc:
                entry.error = line_error(exc)
        self._write(ready)
        for entry in batch:
            self._record(entry)

    def _record(self, entry: _Entry) -> None:
        self.results.append(self._result(entry))
        self.done.append(entry)

    def _write(self, ready: list[tuple[_Entry, Prepared, str]]) -> None:
        """Embed the texts of ``ready`` documents and store them in one transaction.

        A batch that fails as a whole is written again one document at a time, so that a value only the
        database refuses fails its own line; a library that cannot be written stops the import.
        """
        if not ready:
            return
        seq = self._seq()
        if self.stop_error is not None:
            for entry, _, _ in ready:
                entry.error, entry.stopped = self.stop_error, True
            return
        try:
            image_vectors = {i: entry.image_vectors for i, (entry, _, _) in enumerate(ready)}
            self.coll.embed_prepared([p for _, p, _ in ready], image_vectors)
            outcomes = self.coll.write([(p, action) for _, p, action in ready])
        except ModelUnavailable:
            raise  # no line can be embedded: the caller offers the download
        except Exception as exc:
            if is_store_failure(exc):
                self.stop_error = store_error(exc)
            if self._seq() not in (seq, None):
                # The transaction committed and what failed came after it (saving an index file, say):
                # the documents are stored, and the index catches up from the database when reopened.
                return
            if self.stop_error is not None:
                for entry, _, _ in ready:
                    entry.error, entry.stopped = self.stop_error, True
            elif len(ready) == 1:
                ready[0][0].error = line_error(exc)
            else:
                for item in ready:
                    self._write([item])
            return
        for (entry, _, _), outcome in zip(ready, outcomes, strict=True):
            if isinstance(outcome, TypesenseError):
                entry.error = outcome

    def _seq(self) -> int | None:
        """The database's change counter, which every stored document moves; None (and the import
        stopped) when the database cannot even be read."""
        try:
            return self.coll.db.current_seq()
        except Exception as exc:
            if not is_store_failure(exc):
                raise
            self.stop_error = self.stop_error or store_error(exc)
            return None

    def _result(self, entry: _Entry) -> dict:
        # Typesense's lines: a failed one always echoes its document; return_id and return_doc add to a
        # successful one only.
        if entry.error is not None:
            return {**error_result(entry.error), "document": self._echo(entry)}
        assert entry.prepared is not None
        result: dict[str, Any] = {"success": True}
        if self.return_id:
            result["id"] = entry.prepared.doc_id
        if self.return_doc:
            result["document"] = self._stored(entry.prepared)
        return result

    def _stored(self, p: Prepared) -> dict:
        """The document as stored (an update's merged result), with its vectors, as Typesense returns it."""
        doc = {**p.body, "id": p.doc_id}
        for fname, vec in p.vectors.items():
            doc[fname] = np.asarray(vec, dtype=np.float32).tolist()
        return public_view(self.coll.schema, doc)

    def _echo(self, entry: _Entry) -> Any:
        # The line as it came (the client sends a dict as json.dumps of it), minus store:false values:
        # those must never leave the engine again.
        try:
            hidden = self.coll.schema.unstored
            if isinstance(entry.raw, (str, bytes)) and not (entry.doc and hidden.intersection(entry.doc)):
                return entry.raw if isinstance(entry.raw, str) else entry.raw.decode("utf-8", "replace")
            doc = entry.raw if isinstance(entry.raw, dict) else entry.doc
            if isinstance(doc, dict):
                return json.dumps(public_view(self.coll.schema, doc))
            return repr(entry.raw)
        except (RecursionError, ValueError, TypeError):
            # A document too deep (or too odd) to write out is not echoed: the error says what is wrong.
            return "(the document cannot be shown)"
