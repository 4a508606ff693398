"""Long library work as steppable jobs: each ``step()`` does a bounded piece and says whether it is done.

Whoever runs a job (the GUI's engine thread, a test, a script) decides what happens between steps; the
GUI answers searches there, so typing stays quick while a thousand photos import. A job reports progress
through ``report`` and stops after the current step once ``cancel()`` was called; what it finished stays
finished.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.library.imports import ImportSummary, ImportTally
from app.library.problems import problem_from_exception

Result = TypeVar("Result")

# An import chunk aims to take about this long, so a search typed meanwhile waits at most about this much.
CHUNK_TARGET_SECONDS = 1.0
# Chunks are whole multiples of the engine's import batch (32): a partial batch costs nearly a full one.
CHUNK_STEP = 32
MIN_CHUNK, MAX_CHUNK, FIRST_CHUNK = CHUNK_STEP, 16 * CHUNK_STEP, CHUNK_STEP


@dataclass(frozen=True)
class ImportStarted:
    """The photos an import will embed (rescans say this once their walk is over)."""

    total: int


@dataclass(frozen=True)
class ImportProgress:
    done: int
    total: int
    imported_ids: list[str] = field(default_factory=list)  # new in the library since the last report


class Job(Generic[Result]):
    """One long request. Subclasses implement ``_step``; ``result`` is set once ``step`` returned True."""

    def __init__(self) -> None:
        self.cancel_event = threading.Event()
        self.report: Callable[[object], None] = lambda _progress: None
        self.result: Result | None = None
        self.done = False

    def cancel(self) -> None:
        self.cancel_event.set()

    def bind_cancel(self, event: threading.Event) -> None:
        """Make ``event`` (the caller's, e.g. a GUI request's Cancel) the one this job stops on."""
        if self.cancel_event.is_set():
            event.set()
        self.cancel_event = event

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def step(self) -> bool:
        if not self.done:
            self.done = self._step()
        return self.done

    def _step(self) -> bool:
        raise NotImplementedError

    def run(self) -> Result | None:
        """Step to the end without pause (the CLI and tests, where nothing waits in between)."""
        while not self.step():
            pass
        return self.result


class ChunkPacer:
    """Sizes import chunks so that one takes about ``CHUNK_TARGET_SECONDS`` on this computer."""

    def __init__(self) -> None:
        self.size = FIRST_CHUNK

    def measured(self, files: int, seconds: float) -> None:
        if files <= 0:
            return
        per_file = seconds / files
        wanted = int(CHUNK_TARGET_SECONDS / per_file) if per_file > 0 else MAX_CHUNK
        self.size = max(MIN_CHUNK, min(MAX_CHUNK, wanted // CHUNK_STEP * CHUNK_STEP))


class ImportJob(Job[ImportSummary]):
    """Embeds a list of image files a chunk per step. Never fails as a whole: an error stops the import
    and is part of its summary, next to what was imported before it."""

    def __init__(self, service: Any, tally: ImportTally, pacer: ChunkPacer) -> None:
        super().__init__()
        self.cancel_event = tally.cancel
        self.tally = tally
        self._service = service
        self._pacer = pacer
        self._announced = False

    def bind_cancel(self, event: threading.Event) -> None:
        super().bind_cancel(event)
        self.tally.cancel = event  # the engine checks the tally's event between batches

    @property
    def collection(self) -> str:
        return self.tally.collection

    def waiting_files(self) -> list[str]:
        return self.tally.files[self.tally.position :]

    def drop_waiting(self, keep: Callable[[str], bool]) -> None:
        """Forget files not imported yet that ``keep`` refuses (their folder was unfollowed)."""
        tally = self.tally
        tally.files[tally.position :] = [p for p in tally.files[tally.position :] if keep(p)]

    def _step(self) -> bool:
        tally = self.tally
        if not self._announced:
            self._announced = True
            self.report(ImportStarted(tally.total))
        if tally.finished:
            return self._finish()
        try:
            self._service.ensure_collection(tally.collection, tally.create_schema)
            tally.create_schema = None
            chunk = tally.next_chunk(self._pacer.size)
            done_before = tally.position
            started = time.perf_counter()

            def progress(done: int, _total: int | None) -> None:
                self.report(ImportProgress(done_before + done, tally.total))

            with self._service.embedding(tally.collection):
                results = self._service.import_files(
                    tally.collection, chunk, progress=progress, cancel=tally.cancel
                )
            self._pacer.measured(len(results), time.perf_counter() - started)
        except Exception as exc:
            tally.error = problem_from_exception(exc)
            return self._finish()
        imported_ids = tally.record(chunk, results)
        self.report(ImportProgress(tally.position, tally.total, imported_ids))
        return self._finish() if tally.finished else False

    def _finish(self) -> bool:
        self.result = self.tally.summary()
        self._service.import_finished(self.tally.collection)
        return True
