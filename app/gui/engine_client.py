"""The GUI thread's handle on the engine thread (see ``engine_worker`` for how the two cooperate).

Every method returns a request id at once and never waits for the engine; answers arrive as signals.
"""

from __future__ import annotations

import atexit
import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.gui.engine_worker import EngineWorker, SearchGate
from app.gui.problems import EngineProblem

log = logging.getLogger(__name__)

# Clients whose thread runs. Holding them here means a client dropped without shutdown() never destroys a
# running QThread (which aborts the process); at exit any that are left are shut down properly.
_running_clients: set[EngineClient] = set()


@atexit.register
def _shutdown_leftovers() -> None:
    for client in list(_running_clients):
        client.shutdown(timeout_ms=10_000)


class EngineClient(QObject):
    """The GUI thread's handle on the engine thread. Methods return a request id at once."""

    opened = Signal(object)
    collectionsChanged = Signal(object)
    searchFinished = Signal(int, object)  # only answers to the newest search arrive here
    importStarted = Signal(int, int)
    importProgress = Signal(int, int, int)
    importBatch = Signal(int, object)
    importFinished = Signal(int, object)
    documentsRemoved = Signal(int, object)
    duplicatesFound = Signal(int, object)  # request id, groups of near-identical photos
    documentsTrashed = Signal(int, object)  # request id, [{"id", "path", "success", "error"?}]
    facetsFinished = Signal(int, str, object)  # request id, collection, result with facet_counts
    foldersChanged = Signal(str, object)  # collection, [{"path", "status", "reason", "documents", ...}]
    foldersScanned = Signal(int, str, object)  # request id, collection, reports (imports follow)
    folderScanProgress = Signal(int, str, int)  # request id, collection, photos seen (slow walks only)
    downloadProgress = Signal(int, int, int)
    downloadFinished = Signal(int, str)
    failed = Signal(int, str, object)
    modelState = Signal(str, str)

    _openRequested = Signal()
    _listRequested = Signal(int)
    _createRequested = Signal(int, object)
    _deleteRequested = Signal(int, str)
    _searchRequested = Signal(int, str, object)
    _removeRequested = Signal(int, str, object)
    _importRequested = Signal(int, str, object, object, object)
    _duplicatesRequested = Signal(int, str, float)
    _trashRequested = Signal(int, str, object)
    _facetsRequested = Signal(int, str, object)
    _listFoldersRequested = Signal(int, str)
    _followRequested = Signal(int, str, object, object, object)
    _rescanRequested = Signal(int, str, object, object)
    _unfollowRequested = Signal(int, str, str, bool)
    _warmUpRequested = Signal(int, str)
    _fetchModelRequested = Signal(int, str, object, object)
    _closeRequested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None, *, engine_options: dict | None = None):
        super().__init__(parent)
        self._next_id = 0
        self._latest_search = 0
        self._cancels: dict[int, threading.Event] = {}
        self._follows: set[int] = set()
        self._gate = SearchGate()
        self._thread = QThread()
        self._thread.setObjectName("photoseek-engine")
        self._worker = EngineWorker(Path(data_dir), self._gate, engine_options)
        self._worker.moveToThread(self._thread)
        self._running = False

        worker = self._worker
        for name in (
            "opened", "collectionsChanged", "importStarted", "importProgress", "importBatch",
            "documentsRemoved", "downloadProgress", "modelState", "duplicatesFound", "documentsTrashed",
            "foldersChanged", "facetsFinished", "folderScanProgress",
        ):  # fmt: skip
            getattr(worker, name).connect(getattr(self, name))
        worker.searchFinished.connect(self._on_search_finished)
        worker.importFinished.connect(self._on_import_finished)
        worker.downloadFinished.connect(self._on_download_finished)
        worker.failed.connect(self._on_failed)
        self._openRequested.connect(worker.open)
        self._listRequested.connect(worker.list_collections)
        self._createRequested.connect(worker.create_collection)
        self._deleteRequested.connect(worker.delete_collection)
        self._searchRequested.connect(worker.search)
        self._removeRequested.connect(worker.remove_documents)
        self._importRequested.connect(worker.start_import)
        self._duplicatesRequested.connect(worker.find_duplicates)
        self._trashRequested.connect(worker.trash_documents)
        self._facetsRequested.connect(worker.facets)
        self._listFoldersRequested.connect(worker.list_folders)
        self._followRequested.connect(worker.follow_folders)
        self._rescanRequested.connect(worker.rescan_folders)
        self._unfollowRequested.connect(worker.unfollow_folder)
        worker.foldersScanned.connect(self._on_folders_scanned)
        self._warmUpRequested.connect(worker.warm_up)
        self._fetchModelRequested.connect(worker.fetch_model)
        self._closeRequested.connect(worker.close)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def start(self) -> None:
        """Start the thread and open the engine on it; ``opened`` or ``failed(op="open")`` follows."""
        if self._running:
            return
        self._running = True
        _running_clients.add(self)
        self._thread.start()
        self._openRequested.emit()

    def refresh_collections(self) -> int:
        request_id = self._new_id()
        self._listRequested.emit(request_id)
        return request_id

    def create_collection(self, schema: dict) -> int:
        request_id = self._new_id()
        self._createRequested.emit(request_id, schema)
        return request_id

    def delete_collection(self, name: str) -> int:
        request_id = self._new_id()
        self._deleteRequested.emit(request_id, name)
        return request_id

    def search(self, collection: str, params: dict, *, continues: int | None = None) -> int:
        """Run a search; it supersedes every earlier one. ``continues`` (the current search's id) asks
        for another page of that search instead, without superseding it."""
        if continues is not None and continues == self._latest_search:
            request_id = continues
        else:
            request_id = self._new_id()
            self._latest_search = request_id
            self._gate.advance(request_id)
        self._searchRequested.emit(request_id, collection, dict(params))
        return request_id

    def remove_documents(self, collection: str, ids: list[str]) -> int:
        request_id = self._new_id()
        self._removeRequested.emit(request_id, collection, list(ids))
        return request_id

    def find_duplicates(self, collection: str, threshold: float) -> int:
        """Group near-identical photos (cosine distance <= threshold); ``duplicatesFound`` answers."""
        request_id = self._new_id()
        self._duplicatesRequested.emit(request_id, collection, float(threshold))
        return request_id

    def trash_documents(self, collection: str, ids: list[str]) -> int:
        """Move the photos' files to the system trash (never deleting them) and drop them from the
        collection; ``documentsTrashed`` reports each one, ``documentsRemoved`` lists those removed."""
        request_id = self._new_id()
        self._trashRequested.emit(request_id, collection, list(ids))
        return request_id

    def facets(self, collection: str, params: dict) -> int:
        """Count values (``facet_by``) over what ``params`` match; ``facetsFinished`` answers. Unlike
        ``search`` it never supersedes the grid's search and is never superseded."""
        request_id = self._new_id()
        self._facetsRequested.emit(request_id, collection, dict(params))
        return request_id

    def list_folders(self, collection: str) -> int:
        request_id = self._new_id()
        self._listFoldersRequested.emit(request_id, collection)
        return request_id

    def follow_folders(self, collection: str, paths: list[str], *, create_schema: dict | None = None) -> int:
        """Follow folders and rescan them: ``foldersScanned``, then import signals for new photos."""
        request_id = self._new_id()
        self._cancels[request_id] = threading.Event()
        self._follows.add(request_id)
        self._followRequested.emit(
            request_id, collection, [str(p) for p in paths], create_schema, self._cancels[request_id]
        )
        return request_id

    def rescan_folders(self, collection: str, paths: list[str] | None = None) -> int:
        """Rescan followed folders (all when ``paths`` is None); cancellable like an import."""
        request_id = self._new_id()
        self._cancels[request_id] = threading.Event()
        chosen = None if paths is None else [str(p) for p in paths]
        self._rescanRequested.emit(request_id, collection, chosen, self._cancels[request_id])
        return request_id

    def unfollow_folder(self, collection: str, path: str, *, remove_photos: bool = True) -> int:
        request_id = self._new_id()
        self._unfollowRequested.emit(request_id, collection, str(path), bool(remove_photos))
        return request_id

    def import_paths(self, collection: str, paths: list[str], *, create_schema: dict | None = None) -> int:
        """Import image files and folders (recursively). ``create_schema`` creates the collection first
        when it does not exist yet."""
        request_id = self._new_id()
        cancel = threading.Event()
        self._cancels[request_id] = cancel
        self._importRequested.emit(request_id, collection, [str(p) for p in paths], create_schema, cancel)
        return request_id

    def warm_up(self, collection: str) -> int:
        """Load the collection's model now (modelState reports "loading", "ready" or "missing")."""
        request_id = self._new_id()
        self._warmUpRequested.emit(request_id, collection)
        return request_id

    def fetch_model(self, model_name: str, local_file: str | None = None) -> int:
        """Download the model's weights, or install them from ``local_file``; cancellable with ``cancel``."""
        request_id = self._new_id()
        cancel = threading.Event()
        self._cancels[request_id] = cancel
        self._fetchModelRequested.emit(request_id, model_name, local_file, cancel)
        return request_id

    def cancel(self, request_id: int) -> None:
        """Stop an import or download after its current batch; what was done stays done."""
        event = self._cancels.get(request_id)
        if event is not None:
            event.set()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything, close the engine on its thread and wait for the thread to end."""
        if not self._running:
            return True
        self._running = False
        for event in self._cancels.values():
            event.set()
        self._gate.close()
        self._closeRequested.emit()
        finished = self._thread.wait(timeout_ms)
        if finished:
            _running_clients.discard(self)
        else:
            log.error("engine thread did not stop within %d ms", timeout_ms)
        return finished

    # -- answers from the worker -----------------------------------------------------------------------

    @Slot(int, object)
    def _on_search_finished(self, request_id: int, result: dict) -> None:
        if request_id == self._latest_search and self._running:
            self.searchFinished.emit(request_id, result)

    @Slot(int, str, object)
    def _on_folders_scanned(self, request_id: int, collection: str, reports: list[dict]) -> None:
        follow = request_id in self._follows and bool(reports)  # a failed follow has no reports
        self._follows.discard(request_id)
        if not follow and not any(r["to_import"] for r in reports):
            self._cancels.pop(request_id, None)  # no import follows to end it
        self.foldersScanned.emit(request_id, collection, reports)

    @Slot(int, object)
    def _on_import_finished(self, request_id: int, summary: object) -> None:
        self._cancels.pop(request_id, None)
        self.importFinished.emit(request_id, summary)

    @Slot(int, str)
    def _on_download_finished(self, request_id: int, model_name: str) -> None:
        self._cancels.pop(request_id, None)
        self.downloadFinished.emit(request_id, model_name)

    @Slot(int, str, object)
    def _on_failed(self, request_id: int, operation: str, problem: EngineProblem) -> None:
        if operation == "search" and request_id != self._latest_search:
            return
        if operation == "download":
            self._cancels.pop(request_id, None)
        self.failed.emit(request_id, operation, problem)
