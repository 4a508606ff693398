"""Photoseek's main window: collections on the left, the search field on top, the results grid in the
middle, import progress underneath and the model/library/search state in the status bar.

The window reaches the library only through its ``LibraryBridge`` (one request object per call). Work is
split between composed controllers, each owning its own requests: ``search`` (the grid's query),
``imports`` (the import panel), ``folders`` (followed folders and rescans) and ``model`` (the model's
state and download). The window itself keeps the collections and wires the parts together.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from app import paths
from app.gui.bridge import LibraryBridge, Request, make_bridge
from app.gui.collection_dialog import CollectionDialog
from app.gui.folders_controller import FoldersController
from app.gui.icons import app_icon
from app.gui.imports_controller import ImportsController
from app.gui.mime import QueryImageError, local_paths, read_query_image
from app.gui.model_controller import ModelController
from app.gui.model_switch_controller import ModelSwitchController
from app.gui.search_controller import Query
from app.gui.settings import Settings
from app.gui.window_commands import WindowCommands
from app.gui.window_layout import WindowLayout
from app.library.problems import MODEL_MISSING, EngineProblem

log = logging.getLogger(__name__)

EMPTY_LIBRARY_TEXT = "Drop photos or folders here to start\n\nor choose File › Import Photos… (Ctrl+O)"


class MainWindow(QMainWindow, WindowLayout):
    """The app's window over a library in ``data_dir`` (default: ``app.paths.data_dir()``)."""

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
        # No Qt parent: the bridge must outlive the window's C++ side until its thread has stopped.
        self.bridge: LibraryBridge = make_bridge(self.data_dir, engine_options)
        self._collections: dict[str, dict] = {}
        self._select_when_listed: str | None = None
        self._closed = False
        self._search_ms = 0.0

        self.commands = WindowCommands(self)
        self.build_layout()
        self.imports = ImportsController(self)
        self.folders = FoldersController(self)
        self.model = ModelController(self)
        self.model_switch = ModelSwitchController(self)
        self.model_status = self.model.status
        self.model_status.setText("Model: starting…")
        self.model_status.setContentsMargins(6, 0, 6, 0)
        self.statusBar().insertPermanentWidget(0, self.model_status)
        self.imports.finished.connect(self.importFinished)
        self.model.declined.connect(lambda _model: self._show_model_needed())
        self._connect_library()
        self._restore_geometry()
        self.commands.restore_zoom()
        self.results_view.setEmptyText("Opening your library…")
        self.bridge.start()
        # After start(): the library's first call once open is then the saved choice of where the model
        # runs, ahead of any warm-up.
        self.compute_menu.apply_at_start()

    # -- library answers -----------------------------------------------------------------------------

    def _connect_library(self) -> None:
        bridge = self.bridge
        bridge.opened.connect(self._on_opened)
        bridge.openFailed.connect(self._on_open_failed)
        bridge.collectionsChanged.connect(self._on_collections)
        bridge.documentsRemoved.connect(self._on_documents_removed)
        self.search.searchCompleted.connect(self._on_search_completed)
        self.search.searchFailed.connect(self._on_search_failed)
        self.search.countUpdated.connect(self._show_search_count)

    @property
    def engine_open(self) -> bool:
        return self.bridge.is_open

    def collection(self, name: str | None) -> dict | None:
        return self._collections.get(name or "")

    def select_when_listed(self, name: str) -> None:
        """Make ``name`` the current collection once it appears (a collection being created)."""
        self._select_when_listed = name

    @Slot(object)
    def _on_opened(self, collections: list[dict]) -> None:
        preferred = self.settings.last_collection
        self._select_when_listed = preferred if any(c["name"] == preferred for c in collections) else None
        self._on_collections(collections)
        self.engineOpened.emit()
        self.imports.start_deferred()

    @Slot(object)
    def _on_open_failed(self, problem: EngineProblem) -> None:
        self.results_view.setEmptyText(f"Photoseek could not open its library:\n{problem.message}")

    @Slot(object)
    def _on_collections(self, collections: list[dict]) -> None:
        self._collections = {c["name"]: c for c in collections}
        wanted = self._select_when_listed or self.current_collection()
        if wanted not in self._collections:
            wanted = min(self._collections, key=str.casefold, default=None)  # the sidebar's first
        self._select_when_listed = None
        self.fill_collections_list(collections, wanted)
        self.folders.collections_listed(list(self._collections))
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
        self.folders.collection_switched(name)
        self.settings.last_collection = name
        self.setWindowTitle(f"{name} – Photoseek" if name else "Photoseek")
        self.update_empty_text()
        self._update_library_status()
        self.model.warm_up(collection)

    def current_collection(self) -> str | None:
        item = self.collections_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    @Slot()
    def _on_collection_selected(self) -> None:
        name = self.current_collection()
        if name is not None and name != self.search.collection_name:
            self._switch_collection(self._collections.get(name))

    def _update_library_status(self) -> None:
        collection = self._collections.get(self.search.collection_name or "")
        if collection is None:
            self.library_status.setText("No photos yet")
        else:
            count = int(collection.get("num_documents", 0))
            self.library_status.setText(f"{count:,} photo{'s' if count != 1 else ''}")

    def update_empty_text(self, query: Query | None = None) -> None:
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
        self.update_empty_text(query)
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
        self.search_status.setText("")
        if problem.kind == MODEL_MISSING:
            if self.model.offer(problem, self.search.refresh):
                self.results_view.setEmptyText("Searching needs the model. See the dialog.")
            else:
                self._show_model_needed()
            return
        self.results_view.setEmptyText(f"Could not search for {query.describe()}:\n{problem.message}")
        self.statusBar().showMessage(problem.message, 8000)

    def _show_model_needed(self) -> None:
        if self.results_model.rowCount() == 0 and not self.search.query.is_library:
            self.results_view.setEmptyText(
                "Searching needs the model, which is not on this computer yet.\n"
                "Choose Library › Model… to download it or to use a file you already have."
            )

    def show_error(self, title: str, text: str) -> None:
        """A non-blocking warning box (the event loop, and the library's answers, keep flowing)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- what the menus and the grid ask for -----------------------------------------------------------

    def import_paths(self, paths_: list[str]) -> Request | None:
        return self.imports.import_paths(paths_)

    def rescan_folders(self) -> Request | None:
        """Library › Rescan Folders (F5): the status bar always answers."""
        return self.folders.rescan(asked=True)

    def show_folders(self):
        return self.folders.show_dialog()

    def show_model(self):
        return self.model.show_dialog()

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
            request = self.bridge.call("remove_documents", name, ids)
            request.failed.connect(lambda problem: self.show_error("Remove Photos", problem.message))

    @Slot(str, object)
    def _on_documents_removed(self, collection: str, ids: list[str]) -> None:
        if collection != self.search.collection_name:
            return
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
            request = self.bridge.call("create_collection", schema)
            request.failed.connect(lambda problem: self.show_error("New Collection", problem.message))

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
            request = self.bridge.call("delete_collection", name)
            request.failed.connect(lambda problem: self.show_error("Delete Collection", problem.message))

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
        self.search.stop()
        self.settings.set_bytes("window_geometry", bytes(self.saveGeometry().data()))
        self.settings.set_bytes("splitter_state", bytes(self.splitter.saveState().data()))
        self.settings.save()
        self.bridge.shutdown()
        self.viewer.shutdown()
        self.results_model.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
