"""Importing, for MainWindow: start imports (creating the default collection when needed), queue them,
follow their progress, refresh the grid as photos arrive and report how each one ended.

``ImportHandling`` is a mixin: ``self`` is the MainWindow, which owns the client, panel and search.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot

from app.gui.collection_dialog import photo_schema
from app.gui.import_job import ImportSummary
from app.gui.import_panel import ImportSummaryDialog
from app.resources import default_model

DEFAULT_COLLECTION = "Photos"


class ImportHandling:
    def import_paths(self, paths_: list[str]) -> int | None:
        """Import files into the current collection and follow folders (see window_folders), creating
        the default "Photos" collection when there is none. Returns the request id of the file import,
        or of following the folders when only folders came (None until the engine is open, in which
        case it starts as soon as it is)."""
        paths_ = [str(p) for p in paths_ if str(p)]
        folders = [p for p in paths_ if Path(p).is_dir()]
        if folders and self._engine_open:
            # A dropped folder becomes part of the library: it is followed, so later changes on disk
            # reach the collection without importing it again.
            follow_id = self.follow_folders(folders)
            paths_ = [p for p in paths_ if p not in folders]
            if not paths_:
                return follow_id
        if not paths_:
            return None
        if not self._engine_open:
            self._deferred_imports.append(paths_)
            self.import_panel.start(0)
            return None
        collection, schema = self.import_target(paths_[0])
        return self._start_import(collection, paths_, schema)

    def import_target(self, first_path: str) -> tuple[str, dict | None]:
        """The collection new photos go to, with the schema to create it with when there is none yet
        (the default "Photos"); remembers where the photos came from for the next file dialog."""
        self.settings.last_import_dir = str(Path(first_path).parent)
        collection = self.current_collection()
        if collection is not None:
            return collection, None
        self._select_when_listed = DEFAULT_COLLECTION
        return DEFAULT_COLLECTION, photo_schema(DEFAULT_COLLECTION, default_model())

    def _start_import(self, collection: str, paths_: list[str], schema: dict | None) -> int:
        request_id = self.client.import_paths(collection, paths_, create_schema=schema)
        if not self._imports:
            self._import_summary = None
            self.import_panel.start(request_id)
        self._imports[request_id] = (collection, paths_, schema)
        self._update_import_title()
        return request_id

    def _update_import_title(self) -> None:
        queued = len(self._imports) - 1
        waiting = f"{queued} more import{'s' if queued != 1 else ''} waiting" if queued else ""
        self.import_panel.setToolTip(waiting)

    def cancel_import(self, request_id: int | None = None) -> None:
        """Stop the running import (and any queued after it) after the current batch."""
        if request_id in (None, 0):
            self._deferred_imports.clear()  # dropped before the engine was even open
        for pending in list(self._imports) if request_id in (None, 0) else [request_id]:
            self.client.cancel(pending)
        if self._imports:
            self.import_panel.cancelling()
        else:
            self.import_panel.hide()

    @Slot(int, object)
    def _on_import_batch(self, _request_id: int, imported_ids: list[str]) -> None:
        if imported_ids and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _grid_can_refresh(self, *, final: bool) -> bool:
        # New photos appear while importing, but never yank the grid away from someone looking at it.
        view = self.results_view
        scrolled = view.verticalScrollBar().value() > 0 and not final
        busy = view.selectionModel() is not None and view.selectionModel().hasSelection()
        return self.search.query.is_library and not scrolled and not busy

    def _refresh_after_import(self) -> None:
        if self._grid_can_refresh(final=False):
            self.search.refresh()

    @Slot(int, object)
    def _on_import_finished(self, request_id: int, summary: ImportSummary) -> None:
        if self._imports.pop(request_id, None) is None:
            return
        if self._import_summary is not None:
            summary = self._import_summary.merged(summary)
        if self._imports:
            self._import_summary = summary
            next_id = next(iter(self._imports))
            self.import_panel.start(next_id)
            self._update_import_title()
            return
        self._import_summary = None
        self._refresh_timer.stop()
        current = summary.collection == self.search.collection_name
        if current and summary.imported and self._grid_can_refresh(final=True):
            # Report the end once the grid shows the new photos, so "done" means "you can see them".
            self._finishing = summary
            self.search.refresh()
        else:
            self._complete_import(summary)

    def _complete_import(self, summary: ImportSummary) -> None:
        self._finishing = None
        self.import_panel.finish(summary)
        self.statusBar().showMessage(summary.headline(), 10000)
        self._update_empty_text()
        self.importFinished.emit(summary)

    def show_import_details(self, summary: ImportSummary | None = None) -> None:
        summary = summary or self.import_panel.summary
        if summary is not None and summary.problems:
            dialog = ImportSummaryDialog(summary, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()
