"""Photoseek's main window: collections on the left, the search field on top, the results grid in the
middle, import progress underneath and the model/library/search state in the status bar.

Everything that touches the engine goes through ``EngineClient``; the window only reacts to its signals,
so it stays responsive while the model loads, photos import or a search runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from app import paths
from app.gui.collection_dialog import CollectionDialog, model_label
from app.gui.engine_client import EngineClient
from app.gui.engine_worker import model_of
from app.gui.icons import app_icon
from app.gui.import_job import ImportSummary
from app.gui.mime import QueryImageError, local_paths, read_query_image
from app.gui.model_dialog import ModelDialog
from app.gui.problems import MODEL_MISSING, EngineProblem
from app.gui.search_controller import Query
from app.gui.settings import Settings
from app.gui.window_folders import FolderHandling
from app.gui.window_imports import ImportHandling
from app.gui.window_layout import WindowLayout
from app.resources import default_model

log = logging.getLogger(__name__)

EMPTY_LIBRARY_TEXT = "Drop photos or folders here to start\n\nor choose File › Import Photos… (Ctrl+O)"
# During an import the grid re-lists at most this often, so scrolling and typing stay smooth.
IMPORT_REFRESH_MS = 1000


class MainWindow(QMainWindow, WindowLayout, ImportHandling, FolderHandling):
    """The app's window over an engine in ``data_dir`` (default: ``app.paths.data_dir()``)."""

    engineOpened = Signal()
    importFinished = Signal(object)  # ImportSummary, after the grid was refreshed
    resultsShown = Signal(object)  # Query, once its first page is in the grid

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        engine_options: dict | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
        self.settings = settings if settings is not None else Settings()
        self.setWindowTitle("Photoseek")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        # No Qt parent: the client must outlive the window's C++ side until its thread has stopped.
        self.client = EngineClient(self.data_dir, engine_options=engine_options)
        self._collections: dict[str, dict] = {}
        self._engine_open = False
        self._deferred_imports: list[list[str]] = []
        # Imports not finished yet: request id -> (collection, paths, schema to create it with).
        self._imports: dict[int, tuple[str, list[str], dict | None]] = {}
        self._import_summary: ImportSummary | None = None  # imports finished while others still queued
        self._finishing: ImportSummary | None = None  # finished, waiting for the grid to show it
        self._select_when_listed: str | None = None
        self._model_dialog: ModelDialog | None = None
        self._retry_after_model: list[tuple[str, object]] = []
        self._closed = False
        self._search_ms = 0.0
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(IMPORT_REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_after_import)

        self.build_layout()
        self.setup_folders()
        self._connect_engine()
        self._restore_geometry()
        self.restore_zoom()
        self.results_view.setEmptyText("Opening your library…")
        self.client.start()

    # -- engine answers ------------------------------------------------------------------------------

    def _connect_engine(self) -> None:
        client = self.client
        client.opened.connect(self._on_opened)
        client.collectionsChanged.connect(self._on_collections)
        client.importStarted.connect(self.import_panel.set_total)
        client.importProgress.connect(self.import_panel.set_progress)
        client.importBatch.connect(self._on_import_batch)
        client.importFinished.connect(self._on_import_finished)
        client.documentsRemoved.connect(self._on_documents_removed)
        client.modelState.connect(self._on_model_state)
        client.failed.connect(self._on_failed)
        self.search.searchCompleted.connect(self._on_search_completed)
        self.search.searchFailed.connect(self._on_search_failed)
        self.search.countUpdated.connect(self._show_search_count)

    @property
    def engine_open(self) -> bool:
        return self._engine_open

    @Slot(object)
    def _on_opened(self, collections: list[dict]) -> None:
        self._engine_open = True
        preferred = self.settings.last_collection
        self._select_when_listed = preferred if any(c["name"] == preferred for c in collections) else None
        self._on_collections(collections)
        self.engineOpened.emit()
        for batch in self._deferred_imports:
            self.import_paths(batch)
        self._deferred_imports.clear()

    @Slot(object)
    def _on_collections(self, collections: list[dict]) -> None:
        self._collections = {c["name"]: c for c in collections}
        wanted = self._select_when_listed or self.current_collection()
        if wanted not in self._collections:
            wanted = min(self._collections, key=str.casefold, default=None)  # the sidebar's first
        self._select_when_listed = None
        self.fill_collections_list(collections, wanted)
        self.folders_collections_listed(list(self._collections))
        current = self._collections.get(wanted) if wanted else None
        if current is not None and current["name"] == self.search.collection_name:
            self.search.update_collection(current)
        else:
            # The first collection appearing (the first import created it) keeps what was typed already.
            self._switch_collection(current, keep_query=self.search.collection_name is None)
        self._update_library_status()

    def _switch_collection(self, collection: dict | None, *, keep_query: bool = False) -> None:
        if not keep_query:
            self.search_field.clear_image()
            self.search_field.clear()
        self.search.set_collection(collection, keep_query=keep_query)
        name = collection["name"] if collection else None
        self.folders_collection_switched(name)
        self.settings.last_collection = name
        self.setWindowTitle(f"{name} – Photoseek" if name else "Photoseek")
        self._update_empty_text()
        self._update_library_status()
        if collection is not None:
            model = model_of(collection)
            self.model_status.setText(f"Model: {model_label(model)}" if model else "No model")
            self.client.warm_up(collection["name"])
        else:
            self.model_status.setText(f"Model: {model_label(default_model())}")

    def current_collection(self) -> str | None:
        item = self.collections_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    @Slot()
    def _on_collection_selected(self) -> None:
        name = self.current_collection()
        if name is not None and name != self.search.collection_name:
            self._switch_collection(self._collections.get(name))

    @Slot(str, str)
    def _on_model_state(self, state: str, model: str) -> None:
        label = model_label(model)
        text = {
            "loading": f"Model: {label} – loading…",
            "ready": f"Model: {label} – ready",
            "missing": f"Model: {label} – not downloaded yet",
        }.get(state, f"Model: {label}")
        self.model_status.setText(text)

    def _update_library_status(self) -> None:
        collection = self._collections.get(self.search.collection_name or "")
        if collection is None:
            self.library_status.setText("No photos yet")
        else:
            count = int(collection.get("num_documents", 0))
            self.library_status.setText(f"{count:,} photo{'s' if count != 1 else ''}")

    def _update_empty_text(self, query: Query | None = None) -> None:
        query = query or self.search.query
        collection = self._collections.get(self.search.collection_name or "")
        if collection is None or int(collection.get("num_documents", 0)) == 0:
            self.results_view.setEmptyText(EMPTY_LIBRARY_TEXT)
        elif self.search.filter_by:
            what = "" if query.is_library else f" and {query.describe()}"
            self.results_view.setEmptyText(f"No photos match the filters{what}.")
        elif query.is_library:
            self.results_view.setEmptyText("This collection is empty.")
        else:
            self.results_view.setEmptyText(f"No photos match {query.describe()}.")

    @Slot(object, float, int)
    def _on_search_completed(self, query: Query, elapsed_ms: float, found: int) -> None:
        if self._finishing is not None:
            self._complete_import(self._finishing)
        self._update_empty_text(query)
        self._search_ms = elapsed_ms
        self._show_search_count(query, found)
        if query.similar_to is None:
            self.search_field.restore_placeholder()
        self.results_view.scrollToTop()  # a new search starts at its best match, the library at its newest
        self.resultsShown.emit(query)

    @Slot(object, int)
    def _show_search_count(self, query: Query, found: int) -> None:
        # The unfiltered library listing's size is already in library_status; a count would repeat it.
        more = "+" if self.search.more_possible else ""
        searched = f"Search: {self._search_ms:,.0f} ms · {found:,}{more} found"
        self.search_status.setText("" if query.is_library and not self.search.filter_by else searched)

    @Slot(object, object)
    def _on_search_failed(self, query: Query, problem: EngineProblem) -> None:
        if self._finishing is not None:
            self._complete_import(self._finishing)
        if problem.kind == MODEL_MISSING:
            self._offer_model(problem, ("search", None))
            self.results_view.setEmptyText("The model is needed before searching. See the dialog.")
            return
        self.results_view.setEmptyText(f"Could not search for {query.describe()}:\n{problem.message}")
        self.statusBar().showMessage(problem.message, 8000)

    @Slot(int, str, object)
    def _on_failed(self, request_id: int, operation: str, problem: EngineProblem) -> None:
        if operation in ("search", "download", "duplicates", "trash", "facets"):
            return  # the search controller, the model dialog and the duplicates window report these
        if problem.kind == MODEL_MISSING:
            retry = self._imports.get(request_id) if operation == "import" else None
            self._offer_model(problem, ("import", retry) if retry else ("warm_up", None))
            return
        if operation == "open":
            self.results_view.setEmptyText(f"Photoseek could not open its library:\n{problem.message}")
        elif operation == "import":
            pass  # the import panel shows it with the summary
        else:
            self.show_error("Photoseek", problem.message)

    def show_error(self, title: str, text: str) -> None:
        """A non-blocking warning box (the event loop, and the engine's answers, keep flowing)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- model download ------------------------------------------------------------------------------

    def _offer_model(self, problem: EngineProblem, retry: tuple[str, object]) -> None:
        model = problem.model or default_model()
        self._retry_after_model.append(retry)
        self._on_model_state("missing", model)
        if self._model_dialog is not None and self._model_dialog.isVisible():
            return
        dialog = ModelDialog(model, self.client, self)
        dialog.modelReady.connect(self._on_model_ready)
        dialog.finished.connect(lambda _result: self._retry_after_model.clear())
        self._model_dialog = dialog
        dialog.open()

    @Slot(str)
    def _on_model_ready(self, model: str) -> None:
        retries, self._retry_after_model = self._retry_after_model, []
        self.statusBar().showMessage(f"The model {model_label(model)} is ready.", 5000)
        if self.search.collection_name:
            self.client.warm_up(self.search.collection_name)
        for kind, payload in retries:
            if kind == "import" and isinstance(payload, tuple):
                collection, paths_, schema = payload
                if paths_:
                    self._start_import(collection, paths_, schema)
                else:  # the photos a folder rescan found: rescanning finds them again
                    self.client.rescan_folders(collection)
            elif kind == "search":
                self.search.refresh()

    # -- drag and drop -------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.set_drop_highlight(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self.set_drop_highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.set_drop_highlight(False)
        dropped = local_paths(event.mimeData())
        if not dropped:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(dropped)

    # -- search by image, similar, remove ------------------------------------------------------------

    def search_by_image(self, data: bytes, label: str) -> None:
        self.search_field.show_image(data, label)
        self.search.search_image(data, label)

    @Slot(str, str, str)
    def find_similar(self, doc_id: str, label: str = "", path: str = "") -> None:
        """Show photos like document ``doc_id``; its picture (read from ``path``) goes in the search chip."""
        self.search_field.clear()
        self.search_field.clear_image()
        try:
            picture = read_query_image(path) if path else None
        except QueryImageError:
            picture = None  # moved or deleted: the search still works from its stored embedding
        if picture is not None:
            self.search_field.show_image(picture, label or doc_id)
        else:
            self.search_field.setPlaceholderText(f"Photos like {label or doc_id} (Esc to go back)")
        self.search.find_similar(doc_id, label)

    @Slot(list)
    def remove_photos(self, ids: list[str]) -> None:
        name = self.search.collection_name
        if name and ids:
            self.client.remove_documents(name, ids)

    @Slot(int, object)
    def _on_documents_removed(self, _request_id: int, ids: list[str]) -> None:
        self.results_model.remove_ids(ids)
        self.photo_actions.update_enabled()
        self.statusBar().showMessage(f"Removed {len(ids)} photo{'s' if len(ids) != 1 else ''}.", 5000)

    def clear_search(self) -> None:
        self.search_field.clear()
        self.search_field.clear_image()
        self.search.clear()

    # -- collections ---------------------------------------------------------------------------------

    def new_collection(self) -> CollectionDialog:
        dialog = CollectionDialog(set(self._collections), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def create() -> None:
            schema = dialog.schema()
            self._select_when_listed = schema["name"]
            self.client.create_collection(schema)

        dialog.accepted.connect(create)
        dialog.open()
        return dialog

    def delete_collection(self) -> None:
        name = self.current_collection()
        if name is None:
            return
        count = int(self._collections.get(name, {}).get("num_documents", 0))
        answer = QMessageBox.question(
            self,
            "Delete Collection",
            f"Delete the collection “{name}” ({count:,} photo{'s' if count != 1 else ''})?\n\n"
            "Your photo files stay where they are; only Photoseek's index of them is removed.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.client.delete_collection(name)

    # -- closing -------------------------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry = self.settings.get_bytes("window_geometry")
        if not geometry or not self.restoreGeometry(QByteArray(geometry)):
            self.resize(1100, 720)
        splitter = self.settings.get_bytes("splitter_state")
        if splitter:
            self.splitter.restoreState(QByteArray(splitter))

    def shutdown(self) -> None:
        """Save settings, cancel running work, stop the engine and thumbnail threads. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._refresh_timer.stop()
        self.search.stop()
        self.settings.set_bytes("window_geometry", bytes(self.saveGeometry().data()))
        self.settings.set_bytes("splitter_state", bytes(self.splitter.saveState().data()))
        self.settings.save()
        self.client.shutdown()
        self.results_model.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
