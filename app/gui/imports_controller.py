"""Imports in the window: start them (creating the default collection when needed), show the running one
in the import panel, refresh the grid as photos arrive and report how each one ended.

Folder follows and rescans that find photos to embed report through here too (``track``), so the panel
shows one queue of work with one Cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from app.gui.bridge import Request
from app.gui.import_panel import ImportSummaryDialog
from app.library.defaults import DEFAULT_COLLECTION, photo_schema
from app.library.folder_jobs import FolderScanResult
from app.library.imports import ImportSummary
from app.library.jobs import ImportProgress, ImportStarted
from app.library.problems import MODEL_MISSING, EngineProblem
from app.resources import default_model

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

# During an import the grid re-lists at most this often, so scrolling and typing stay smooth.
IMPORT_REFRESH_MS = 1000


@dataclass
class _Tracked:
    request: Request
    collection: str
    paths: list[str]  # what to import again after the model arrives ([] for folder work: rescan instead)
    schema: dict | None
    reports_import: bool = True  # a rescan reports only when it found photos to add


class ImportsController(QObject):
    finished = Signal(object)  # ImportSummary, once the grid shows what it brought

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._queue: list[_Tracked] = []  # requests in the order the library runs them
        self._summary: ImportSummary | None = None  # finished while others still queued
        self._finishing: ImportSummary | None = None  # finished, waiting for the grid to show it
        self._deferred: list[list[str]] = []  # dropped before the library was open
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(IMPORT_REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_grid)
        panel = window.import_panel
        panel.cancelRequested.connect(self.cancel)
        panel.detailsRequested.connect(self.show_details)
        window.search.searchCompleted.connect(self._grid_answered)
        window.search.searchFailed.connect(self._grid_answered)

    @property
    def busy(self) -> bool:
        return bool(self._queue)

    # -- starting ----------------------------------------------------------------------------------------

    def import_paths(self, paths: list[str]) -> Request | None:
        """Import files into the current collection and follow folders, creating the default collection
        when there is none. Returns the file import's request, or the follow's when only folders came
        (None until the library is open: then it starts as soon as it is)."""
        paths = [str(p) for p in paths if str(p)]
        if not paths:
            return None
        if not self._window.bridge.is_open:
            self._deferred.append(paths)
            self._window.import_panel.start()
            return None
        folders = [p for p in paths if Path(p).is_dir()]
        files = [p for p in paths if p not in folders]
        follow = self._window.folders.follow(folders) if folders else None
        if not files:
            return follow
        collection, schema = self.target(files[0])
        return self.start_import(collection, files, schema)

    def start_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for paths in deferred:
            self.import_paths(paths)
        if deferred and not self._queue:
            self._window.import_panel.hide()

    def target(self, first_path: str) -> tuple[str, dict | None]:
        """The collection new photos go to, with the schema to create it with when there is none yet;
        remembers where the photos came from for the next file dialog."""
        window = self._window
        window.settings.last_import_dir = str(Path(first_path).parent)
        collection = window.current_collection()
        if collection is not None:
            return collection, None
        window.select_when_listed(DEFAULT_COLLECTION)
        return DEFAULT_COLLECTION, photo_schema(DEFAULT_COLLECTION, default_model())

    def start_import(self, collection: str, paths: list[str], schema: dict | None) -> Request:
        request = self._window.bridge.call("import_paths", collection, paths, schema)
        self.track(request, collection, paths, schema)
        return request

    def track(
        self,
        request: Request,
        collection: str,
        paths: list[str],
        schema: dict | None = None,
        *,
        reports_import: bool = True,
    ) -> None:
        """Show ``request`` (an import, or folder work whose result may carry an import) in the panel."""
        tracked = _Tracked(request, collection, paths, schema, reports_import)
        request.progress.connect(lambda progress: self._on_progress(tracked, progress))
        request.done.connect(lambda result: self._on_done(tracked, result))
        request.failed.connect(lambda problem: self._on_failed(tracked, problem))
        if reports_import:
            self._enqueue(tracked)

    def _enqueue(self, tracked: _Tracked) -> None:
        if tracked in self._queue:
            return
        if not self._queue:
            self._summary = None
            self._window.import_panel.start()
        self._queue.append(tracked)
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        queued = len(self._queue) - 1
        waiting = f"{queued} more import{'s' if queued != 1 else ''} waiting" if queued > 0 else ""
        self._window.import_panel.setToolTip(waiting)

    def cancel(self) -> None:
        """Stop the running import (and any queued after it) after the current batch."""
        self._deferred.clear()  # dropped before the library was even open
        for tracked in self._queue:
            tracked.request.cancel()
        if self._queue:
            self._window.import_panel.cancelling()
        else:
            self._window.import_panel.hide()

    # -- answers -----------------------------------------------------------------------------------------

    def _current(self, tracked: _Tracked) -> bool:
        return bool(self._queue) and self._queue[0] is tracked

    def _on_progress(self, tracked: _Tracked, progress: object) -> None:
        panel = self._window.import_panel
        if isinstance(progress, ImportStarted):
            if not tracked.reports_import and progress.total:
                tracked.reports_import = True  # a rescan that found photos to add
                self._enqueue(tracked)
            if self._current(tracked):
                panel.set_total(progress.total)
        elif isinstance(progress, ImportProgress):
            if self._current(tracked):
                panel.set_progress(progress.done, progress.total)
            if progress.imported_ids and not self._refresh_timer.isActive():
                self._refresh_timer.start()

    def _on_done(self, tracked: _Tracked, result: object) -> None:
        summary = result.summary if isinstance(result, FolderScanResult) else result
        if not isinstance(summary, ImportSummary) or tracked not in self._queue:
            return
        if summary.error is not None and summary.error.kind == MODEL_MISSING:
            self._window.model.offer(summary.error, lambda: self._retry(tracked))
        self._ended(tracked, summary)

    def _on_failed(self, tracked: _Tracked, problem: EngineProblem) -> None:
        # The request failed before importing anything (a folder that cannot be followed, say).
        if tracked not in self._queue:
            return
        self._window.show_error("Photoseek", problem.message)
        self._queue.remove(tracked)
        if self._queue:
            self._update_tooltip()
        elif self._summary is not None:
            summary, self._summary = self._summary, None
            self._complete(summary)
        else:
            self._window.import_panel.hide()

    def _retry(self, tracked: _Tracked) -> None:
        if tracked.paths:
            self.start_import(tracked.collection, tracked.paths, tracked.schema)
        else:  # the photos a folder rescan found: rescanning finds them again
            self._window.folders.rescan(tracked.collection)

    def _ended(self, tracked: _Tracked, summary: ImportSummary) -> None:
        self._queue.remove(tracked)
        if self._summary is not None:
            summary = self._summary.merged(summary)
        if self._queue:
            self._summary = summary
            self._window.import_panel.start()
            self._update_tooltip()
            return
        self._summary = None
        self._refresh_timer.stop()
        window = self._window
        current = summary.collection == window.search.collection_name
        if current and summary.imported and self._grid_can_refresh(final=True):
            # Report the end once the grid shows the new photos, so "done" means "you can see them".
            self._finishing = summary
            window.search.refresh()
        else:
            self._complete(summary)

    def _grid_answered(self, *_args: object) -> None:
        if self._finishing is not None:
            self._complete(self._finishing)

    def _complete(self, summary: ImportSummary) -> None:
        self._finishing = None
        window = self._window
        window.import_panel.finish(summary)
        window.statusBar().showMessage(summary.headline(), 10000)
        window.update_empty_text()
        self.finished.emit(summary)

    # -- the grid while importing ------------------------------------------------------------------------

    def _grid_can_refresh(self, *, final: bool) -> bool:
        # New photos appear while importing, but never yank the grid away from someone looking at it.
        view = self._window.results_view
        scrolled = view.verticalScrollBar().value() > 0 and not final
        busy = view.selectionModel() is not None and view.selectionModel().hasSelection()
        return self._window.search.query.is_library and not scrolled and not busy

    @Slot()
    def _refresh_grid(self) -> None:
        if self._grid_can_refresh(final=False):
            self._window.search.refresh()

    def show_details(self, summary: ImportSummary | None = None) -> None:
        summary = summary or self._window.import_panel.summary
        if summary is not None and summary.problems:
            dialog = ImportSummaryDialog(summary, self._window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()
