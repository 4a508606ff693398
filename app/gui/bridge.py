"""The one boundary between the window and the library: a serial engine thread that runs
``LibraryService`` calls, and one ``Request`` per call on the GUI thread.

- ``bridge.call("search", name, params, supersede="search")`` returns a ``Request`` at once. Its signals
  say how the call went: ``progress(object)`` for long work, then ``done(result)`` or
  ``failed(EngineProblem)``. ``cancel()`` stops long work after its current step.
- A call whose result is a ``Job`` is stepped on the engine thread one bounded step at a time; after each
  step the runner posts itself the next one behind whatever the GUI queued meanwhile, so a search typed
  during an import is answered between two chunks. Jobs run one after another, in the order asked.
- Supersession lives here and nowhere else: a call made with ``supersede=KEY`` makes every earlier call
  with that key stale. A stale call that has not started is skipped; one that ran is not reported, even
  when it ran before the newer call was made (its answer is dropped on the GUI thread, where the newer
  call was made, so this holds whatever the threads' timing).
- Library events (collections, folders, model state, removed photos) arrive as the bridge's own signals.

torch and open_clip load on the engine thread when the library opens, so the window is up first.
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from app.library.problems import EngineProblem, problem_from_exception

log = logging.getLogger(__name__)

# Bridges whose thread runs. Holding them here means one dropped without shutdown() never destroys a
# running QThread (which aborts the process); at exit any that are left are shut down properly.
_running: set[LibraryBridge] = set()


@atexit.register
def _shutdown_leftovers() -> None:
    for bridge in list(_running):
        bridge.shutdown(timeout_ms=10_000)


class Request(QObject):
    """One call to the library, on the GUI thread. Exactly one of ``done``/``failed`` ends it, unless it
    was superseded or the bridge shut down first."""

    progress = Signal(object)
    done = Signal(object)
    failed = Signal(object)  # EngineProblem

    def __init__(
        self, request_id: int, method: str, cancel_event: threading.Event, supersede: str | None = None
    ) -> None:
        super().__init__()
        self.id = request_id
        self.method = method
        self.supersede = supersede
        self._cancel_event = cancel_event
        self.finished = False

    def cancel(self) -> None:
        """Stop after the current step; what was done stays done (an import's summary still comes)."""
        self._cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()


class _Gate:
    """The newest request id per supersession key, shared by both threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, int] = {}
        self._closed = False

    def advance(self, key: str, request_id: int) -> None:
        with self._lock:
            self._latest[key] = max(self._latest.get(key, 0), request_id)

    def is_current(self, key: str | None, request_id: int) -> bool:
        with self._lock:
            if self._closed:
                return False
            return key is None or request_id >= self._latest.get(key, 0)

    def close(self) -> None:
        with self._lock:
            self._closed = True


@dataclass
class _Call:
    request_id: int
    method: str
    args: tuple
    kwargs: dict
    supersede: str | None
    cancel: threading.Event = field(default_factory=threading.Event)


class _Runner(QObject):
    """Lives on the engine thread and owns the service."""

    replied = Signal(int, str, object)  # request id, "progress" | "done" | "failed", payload
    event = Signal(object)
    _nextStep = Signal()

    def __init__(self, service: Any, gate: _Gate) -> None:
        super().__init__()
        self.service = service
        self._gate = gate
        self._jobs: list[tuple[_Call, Any]] = []
        service.on_event = self.event.emit
        # Queued although sender and receiver share a thread: the next step must go to the back of the
        # event queue, behind any search the GUI posted while the previous step ran.
        self._nextStep.connect(self._step, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def run(self, call: _Call) -> None:
        if not self._gate.is_current(call.supersede, call.request_id):
            return
        try:
            result = getattr(self.service, call.method)(*call.args, **call.kwargs)
        except Exception as exc:
            self._failed(call, exc)
            return
        from app.library.jobs import Job

        if isinstance(result, Job):
            result.bind_cancel(call.cancel)
            result.report = lambda progress, rid=call.request_id: self.replied.emit(rid, "progress", progress)
            self._jobs.append((call, result))
            if len(self._jobs) == 1:
                self._nextStep.emit()
        elif self._gate.is_current(call.supersede, call.request_id):
            self.replied.emit(call.request_id, "done", result)

    @Slot()
    def _step(self) -> None:
        if not self._jobs:
            return
        call, job = self._jobs[0]
        try:
            finished = job.step()
        except Exception as exc:
            self._jobs.pop(0)
            self._failed(call, exc)
        else:
            if finished:
                self._jobs.pop(0)
                self.replied.emit(call.request_id, "done", job.result)
        if self._jobs:
            self._nextStep.emit()

    def _failed(self, call: _Call, exc: Exception) -> None:
        if not self._gate.is_current(call.supersede, call.request_id):
            return
        problem = problem_from_exception(exc)
        log.info("%s failed: %s", call.method, problem.detail)
        self.replied.emit(call.request_id, "failed", problem)

    @Slot()
    def close(self) -> None:
        """The last slot the thread runs: cancel jobs, close the library here (it owns SQLite), end."""
        for _call, job in self._jobs:
            job.cancel()
        self._jobs.clear()
        try:
            if self.service.client is not None:
                self.service.close()
        except Exception:
            log.exception("closing the library failed")
        app = QCoreApplication.instance()
        if app is None or self.thread() is not app.thread():  # never end the GUI thread's loop (tests)
            self.thread().quit()


class LibraryBridge(QObject):
    """The GUI thread's handle on the library. Create, ``start()``, call, ``shutdown()``."""

    opened = Signal(object)  # the collections, once the library is open
    openFailed = Signal(object)  # EngineProblem
    collectionsChanged = Signal(object)  # list of collection dicts
    foldersChanged = Signal(str, object)  # collection, followed folders
    modelStateChanged = Signal(str, str, str, str)  # state, model name, runs on, how it was chosen
    documentsRemoved = Signal(str, object)  # collection, ids
    requestSent = Signal(object)  # every Request, as it is made
    requestFinished = Signal(object)  # every Request, after its done/failed

    _submit = Signal(object)
    _closeRequested = Signal()

    def __init__(self, service: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._next_id = 0
        self._requests: dict[int, Request] = {}
        self._gate = _Gate()
        self._thread = QThread()
        self._thread.setObjectName("photoseek-engine")
        self._runner = _Runner(service, self._gate)
        self._runner.moveToThread(self._thread)
        self._runner.replied.connect(self._on_reply)
        self._runner.event.connect(self._on_event)
        self._submit.connect(self._runner.run)
        self._closeRequested.connect(self._runner.close)
        self._running = False
        self.is_open = False

    def start(self) -> Request:
        """Start the thread and open the library on it; ``opened`` or ``openFailed`` follows."""
        request = self.call("open")
        if not self._running:
            self._running = True
            _running.add(self)
            self._thread.start()
        request.done.connect(self._on_opened)
        request.failed.connect(self.openFailed)
        return request

    def call(self, method: str, *args: Any, supersede: str | None = None, **kwargs: Any) -> Request:
        """Run ``service.<method>(*args, **kwargs)`` on the engine thread (see the module docstring)."""
        self._next_id += 1
        call = _Call(self._next_id, method, args, kwargs, supersede)
        if supersede is not None:
            self._gate.advance(supersede, call.request_id)
        request = Request(call.request_id, method, call.cancel, supersede)
        self._requests[call.request_id] = request
        self._submit.emit(call)
        self.requestSent.emit(request)
        return request

    def cancel_all(self) -> None:
        for request in self._requests.values():
            request.cancel()

    @Slot(object)
    def _on_opened(self, _collections: object) -> None:
        self.is_open = True
        self.opened.emit(_collections)

    @Slot(int, str, object)
    def _on_reply(self, request_id: int, kind: str, payload: object) -> None:
        request = self._requests.get(request_id)
        if request is None or not self._running:
            return
        if kind == "progress":
            request.progress.emit(payload)
            return
        del self._requests[request_id]
        request.finished = True
        if not self._gate.is_current(request.supersede, request_id):
            return  # a newer call with its key was made after this one ran: its answer is not wanted
        (request.done if kind == "done" else request.failed).emit(payload)
        self.requestFinished.emit(request)

    @Slot(object)
    def _on_event(self, event: object) -> None:
        from app.library import service as events

        if not self._running:
            return
        if isinstance(event, events.CollectionsChanged):
            self.collectionsChanged.emit(event.collections)
        elif isinstance(event, events.FoldersChanged):
            self.foldersChanged.emit(event.collection, event.folders)
        elif isinstance(event, events.ModelStateChanged):
            self.modelStateChanged.emit(event.state, event.model, event.runs_on, event.runs_on_detail)
        elif isinstance(event, events.DocumentsRemoved):
            self.documentsRemoved.emit(event.collection, event.ids)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything, close the library on its thread and wait for the thread to end."""
        if not self._running:
            return True
        self._running = False
        self.cancel_all()
        self._gate.close()
        self._closeRequested.emit()
        finished = self._thread.wait(timeout_ms)
        if finished:
            _running.discard(self)
        else:
            log.error("engine thread did not stop within %d ms", timeout_ms)
        return finished


def make_bridge(data_dir: Path, engine_options: dict | None = None) -> LibraryBridge:
    from app.library.service import LibraryService

    return LibraryBridge(LibraryService(Path(data_dir), **(engine_options or {})))


__all__ = ["EngineProblem", "LibraryBridge", "Request", "make_bridge"]
