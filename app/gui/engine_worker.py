"""The engine's thread: one long-lived QThread owns the Engine (model, indexes, database).

The GUI never calls the engine directly. ``EngineClient`` (GUI thread) turns each request into a queued
signal tagged with a request id; ``EngineWorker`` (engine thread) runs it and answers with signals.

- Searches are superseded: the client records the newest search id in a ``SearchGate`` the worker reads,
  so a search that is already stale when its turn comes is skipped, and one that became stale while it
  ran is not reported. The client drops stale answers too, so the grid only ever shows the newest search.
- Imports run in chunks. After each chunk the worker posts itself the next step, so searches queued in
  the meantime run between chunks: typing during an import still gets results.
- Cancelling sets a ``threading.Event`` the engine checks between batches; closing cancels everything,
  closes the engine on its own thread and ends the thread.

torch and open_clip are imported by the first slot that touches the engine, on the engine thread, so the
window is up before the model is loaded.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from app.gui.engine_worker_library import LibrarySlots
from app.gui.import_job import ImportJob, scan_paths
from app.gui.model_setup import install_weights_file, model_config_of, model_of
from app.gui.problems import problem_from_exception

log = logging.getLogger(__name__)

# An import chunk aims to take about this long, so a search typed meanwhile waits at most about this much.
CHUNK_TARGET_SECONDS = 1.0
# Chunks are whole multiples of the engine's import batch (32): a partial batch costs nearly a full one.
CHUNK_STEP = 32
MIN_CHUNK, MAX_CHUNK, FIRST_CHUNK = CHUNK_STEP, 16 * CHUNK_STEP, CHUNK_STEP


class SearchGate:
    """The newest search id, shared by both threads (a lock keeps reads and writes whole)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest = 0

    def advance(self, request_id: int) -> None:
        with self._lock:
            self._latest = max(self._latest, request_id)

    def is_current(self, request_id: int) -> bool:
        with self._lock:
            return request_id >= self._latest

    def close(self) -> None:
        """Make every pending search stale, so shutting down never waits for one."""
        self.advance(sys.maxsize)


class EngineWorker(QObject, LibrarySlots):
    """Runs on the engine thread. Every slot catches its errors and reports them as ``failed``."""

    opened = Signal(object)  # list of collection dicts
    collectionsChanged = Signal(object)  # list of collection dicts
    searchFinished = Signal(int, object)  # request id, Typesense search result (+ "elapsed_ms")
    importStarted = Signal(int, int)  # request id, number of image files found
    importProgress = Signal(int, int, int)  # request id, files done, total
    importBatch = Signal(int, object)  # request id, ids imported by this chunk
    importFinished = Signal(int, object)  # request id, ImportSummary
    documentsRemoved = Signal(int, object)  # request id, ids removed
    duplicatesFound = Signal(int, object)  # request id, groups (see Engine find_duplicates)
    documentsTrashed = Signal(int, object)  # request id, one result dict per id (see trash_files)
    facetsFinished = Signal(int, str, object)  # request id, collection, search result with facet_counts
    foldersChanged = Signal(str, object)  # collection, followed folders (see Engine folders.retrieve)
    foldersScanned = Signal(int, str, object)  # request id, collection, one report per rescanned folder
    downloadProgress = Signal(int, int, int)  # request id, bytes done, total (0 = unknown)
    downloadFinished = Signal(int, str)  # request id, model name
    failed = Signal(int, str, object)  # request id, operation, EngineProblem
    modelState = Signal(str, str)  # "idle" | "loading" | "ready" | "missing", model name
    folderScanProgress = Signal(int, str, int)  # request id, collection, photos seen so far (long walks)
    _nextImportStep = Signal()
    _nextRescanStep = Signal()

    def __init__(self, data_dir: Path, gate: SearchGate, engine_options: dict | None = None) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._gate = gate
        self._engine_options = engine_options or {}
        self._engine: Any = None
        self._collections: dict[str, dict] = {}
        self._jobs: list[ImportJob] = []
        self._chunk_size = FIRST_CHUNK
        self._warm_models: set[str] = set()
        # Queued even though sender and receiver share a thread: the step must go to the back of the
        # event queue, behind any search the GUI posted while the previous chunk ran.
        self._nextImportStep.connect(self._import_step, Qt.ConnectionType.QueuedConnection)
        self._nextRescanStep.connect(self._rescan_step, Qt.ConnectionType.QueuedConnection)
        self._rescans: list[tuple] = []  # (request id, collection, Rescan, cancel event, report)

    # -- helpers ---------------------------------------------------------------------------------------

    def _fail(
        self, request_id: int, operation: str, exc: BaseException, collection: str | None = None
    ) -> None:
        model = model_of(self._collections.get(collection or ""))
        problem = problem_from_exception(exc, model=model)
        log.info("%s failed: %s", operation, problem.detail)
        if problem.kind == "model_missing" and model:
            self.modelState.emit("missing", model)
        self.failed.emit(request_id, operation, problem)

    def _refresh_collections(self) -> list[dict]:
        listing = self._engine.collections.retrieve()
        self._collections = {c["name"]: c for c in listing}
        return listing

    def _announce_model(self, collection: str) -> None:
        """Say "loading" before the first call that needs a collection's model, "ready" after it worked."""
        model = model_of(self._collections.get(collection))
        if model and model not in self._warm_models:
            self.modelState.emit("loading", model)

    def _model_worked(self, collection: str) -> None:
        model = model_of(self._collections.get(collection))
        if model and model not in self._warm_models:
            self._warm_models.add(model)
            self.modelState.emit("ready", model)

    # -- slots -----------------------------------------------------------------------------------------

    @Slot()
    def open(self) -> None:
        try:
            from app.engine import Engine  # torch & co. load here, on the engine thread

            self._engine = Engine(self._data_dir, **self._engine_options)
            self.opened.emit(self._refresh_collections())
        except Exception as exc:
            self._fail(0, "open", exc)

    @Slot(int)
    def list_collections(self, request_id: int) -> None:
        if self._engine is None:
            return
        try:
            self.collectionsChanged.emit(self._refresh_collections())
        except Exception as exc:
            self._fail(request_id, "collections", exc)

    @Slot(int, object)
    def create_collection(self, request_id: int, schema: dict) -> None:
        if self._engine is None:
            return
        try:
            self._engine.collections.create(schema)
            self.collectionsChanged.emit(self._refresh_collections())
        except Exception as exc:
            self._fail(request_id, "create_collection", exc)

    @Slot(int, str)
    def delete_collection(self, request_id: int, name: str) -> None:
        if self._engine is None:
            return
        try:
            self._engine.collections[name].delete()
            self.collectionsChanged.emit(self._refresh_collections())
        except Exception as exc:
            self._fail(request_id, "delete_collection", exc)

    @Slot(int, str, object)
    def search(self, request_id: int, collection: str, params: dict) -> None:
        if self._engine is None or not self._gate.is_current(request_id):
            return
        started = time.perf_counter()
        embeds = params.get("q", "*") != "*" or "image:" in str(params.get("vector_query", ""))
        try:
            if embeds:
                self._announce_model(collection)
            searches = {"searches": [{"collection": collection, **params}]}
            response = self._engine.multi_search.perform(searches, {})
            result = response["results"][0]
            if "error" in result:
                from app.engine.errors import error_for

                raise error_for(int(result.get("code", 400)), str(result["error"]))
            if embeds:
                self._model_worked(collection)
        except Exception as exc:
            if self._gate.is_current(request_id):
                self._fail(request_id, "search", exc, collection)
            return
        if self._gate.is_current(request_id):
            result["elapsed_ms"] = (time.perf_counter() - started) * 1000.0
            self.searchFinished.emit(request_id, result)

    @Slot(int, str, object)
    def facets(self, request_id: int, collection: str, params: dict) -> None:
        """A facet-only search (the filter bar's choices): never superseded by, nor superseding, searches."""
        if self._engine is None:
            return
        try:
            searches = {"searches": [{"collection": collection, **params, "per_page": 0}]}
            result = self._engine.multi_search.perform(searches, {})["results"][0]
            if "error" in result:
                from app.engine.errors import error_for

                raise error_for(int(result.get("code", 400)), str(result["error"]))
        except Exception as exc:
            self._fail(request_id, "facets", exc, collection)
            return
        self.facetsFinished.emit(request_id, collection, result)

    @Slot(int, str, object)
    def remove_documents(self, request_id: int, collection: str, ids: list[str]) -> None:
        if self._engine is None:
            return
        removed: list[str] = []
        try:
            documents = self._engine.collections[collection].documents
            for doc_id in ids:
                documents[doc_id].delete()
                removed.append(doc_id)
        except Exception as exc:
            self._fail(request_id, "remove", exc, collection)
        if removed:
            self.documentsRemoved.emit(request_id, removed)
            self.collectionsChanged.emit(self._refresh_collections())

    @Slot(int, str, object, object, object)
    def start_import(
        self, request_id: int, collection: str, paths: list[str], create_schema: object, cancel: object
    ) -> None:
        assert isinstance(cancel, threading.Event)
        files, skipped = scan_paths(paths)
        job = ImportJob(request_id, collection, files, skipped, cancel, create_schema=create_schema or None)
        self._jobs.append(job)
        self.importStarted.emit(request_id, job.total)
        if len(self._jobs) == 1:
            self._nextImportStep.emit()

    @Slot()
    def _import_step(self) -> None:
        if not self._jobs or self._engine is None:
            return
        job = self._jobs[0]
        if not job.finished:
            self._run_chunk(job)
        if job.finished:
            self._jobs.pop(0)
            try:
                self.collectionsChanged.emit(self._refresh_collections())
            except Exception as exc:
                self._fail(job.request_id, "collections", exc)
            self.importFinished.emit(job.request_id, job.summary())
        if self._jobs:
            self._nextImportStep.emit()

    def _run_chunk(self, job: ImportJob) -> None:
        try:
            if job.create_schema and job.collection not in {c["name"] for c in self._refresh_collections()}:
                self._engine.collections.create(job.create_schema)
                self.collectionsChanged.emit(self._refresh_collections())
            job.create_schema = None
            self._announce_model(job.collection)
            chunk = job.next_chunk(self._chunk_size)
            done_before = job.position

            def progress(done: int, _total: int | None) -> None:
                # Called after each committed batch: the library's photo count moves with the bar.
                self.collectionsChanged.emit(self._refresh_collections())
                self.importProgress.emit(job.request_id, done_before + done, job.total)

            started = time.perf_counter()
            documents = self._engine.collections[job.collection].documents
            results = documents.import_files(chunk, progress=progress, cancel=job.cancel)
            elapsed = time.perf_counter() - started
        except Exception as exc:
            job.error = problem_from_exception(exc).message
            self._fail(job.request_id, "import", exc, job.collection)
            return
        imported_ids = job.record(chunk, results)
        if imported_ids:
            self._model_worked(job.collection)
        self.importProgress.emit(job.request_id, job.position, job.total)
        self.importBatch.emit(job.request_id, imported_ids)
        if results:
            per_file = elapsed / len(results)
            wanted = int(CHUNK_TARGET_SECONDS / per_file) if per_file > 0 else MAX_CHUNK
            self._chunk_size = max(MIN_CHUNK, min(MAX_CHUNK, wanted // CHUNK_STEP * CHUNK_STEP))

    @Slot(int, str)
    def warm_up(self, request_id: int, collection: str) -> None:
        """Load a collection's model before its first search; "missing" if its weights are not here."""
        config = model_config_of(self._collections.get(collection))
        if self._engine is None or config is None or config["model_name"] in self._warm_models:
            return
        name = str(config["model_name"])
        try:
            from app.engine import models
            from app.engine.embedder import load_embedder

            spec = models.resolve_model(config)
            allow_random = bool(self._engine_options.get("allow_random_weights"))
            if not allow_random and not models.weights_available(spec):
                self.modelState.emit("missing", name)
                return
            self.modelState.emit("loading", name)
            load_embedder(spec, allow_random_weights=allow_random)
            self._warm_models.add(name)
            self.modelState.emit("ready", name)
        except Exception as exc:
            self._fail(request_id, "warm_up", exc, collection)

    @Slot(int, str, object, object)
    def fetch_model(self, request_id: int, model_name: str, local_file: object, cancel: object) -> None:
        """Download the model's weights, or install ``local_file`` (a path) when the user has them."""
        assert isinstance(cancel, threading.Event)
        try:
            if local_file:
                install_weights_file(model_name, Path(str(local_file)), cancel)
            else:
                from app.engine import models

                def progress(done: int, total: int | None) -> None:
                    self.downloadProgress.emit(request_id, int(done), int(total or 0))

                models.download_weights(
                    models.resolve_model({"model_name": model_name}), progress=progress, cancel=cancel
                )
        except Exception as exc:
            if not cancel.is_set():
                self.failed.emit(request_id, "download", problem_from_exception(exc, model=model_name))
            return
        if not cancel.is_set():
            self.modelState.emit("idle", model_name)
            self.downloadFinished.emit(request_id, model_name)

    @Slot()
    def close(self) -> None:
        """Last slot the thread runs: cancel imports, close the engine here (it owns SQLite), end the loop."""
        for job in self._jobs:
            job.cancel.set()
        self._rescans.clear()
        self._jobs.clear()
        try:
            if self._engine is not None:
                self._engine.close()
        except Exception:
            log.exception("closing the engine failed")
        self._engine = None
        app = QCoreApplication.instance()
        if app is None or self.thread() is not app.thread():  # never end the GUI thread's loop (tests)
            self.thread().quit()
