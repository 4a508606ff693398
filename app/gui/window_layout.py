"""The main window's widgets, menus and shortcuts (kept apart from its behaviour in ``main_window`` and
its controllers).

``WindowLayout`` is a mixin for ``MainWindow``: ``build_layout()`` creates the widgets and wires their
signals to the window's methods.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.compute_menu import ComputeMenu
from app.gui.duplicates_dialog import open_duplicates
from app.gui.filter_bar import FilterBar
from app.gui.icons import icon, set_themed_icon
from app.gui.import_panel import ImportPanel
from app.gui.photo_actions import PhotoActions
from app.gui.results_model import ResultsModel
from app.gui.results_view import ResultsView
from app.gui.search_controller import SearchController
from app.gui.search_field import SearchField
from app.gui.settings import MAX_MIN_SIMILARITY
from app.gui.shortcuts_dialog import show_shortcuts
from app.gui.viewer_controller import ViewerController


class WindowLayout:
    """Widget construction for MainWindow (a mixin: ``self`` is the QMainWindow)."""

    def build_layout(self) -> None:
        self.search_field = SearchField()
        self.results_model = ResultsModel(self)
        self.results_view = ResultsView()
        self.results_view.setObjectName("resultsView")
        self.results_view.setModel(self.results_model)
        self.results_view.setAcceptDrops(False)  # drops go to the window: they are imports
        self.search = SearchController(self.bridge, self.results_model, self)
        self.photo_actions = PhotoActions(self.results_view, self.results_model, self)
        # The viewer is a page in place of the grid, not a window: Esc flips back to the grid as it was.
        self.results_stack = QStackedWidget()
        self.results_stack.setObjectName("resultsStack")
        self.results_stack.addWidget(self.results_view)
        self.viewer = ViewerController(
            self.results_stack, self.results_view, self.results_model, self.photo_actions, self
        )
        self.import_panel = ImportPanel()
        self.filter_bar = FilterBar()
        self.collections_list = QListWidget()
        self.collections_list.setObjectName("collectionsList")

        # Left: the collections and their buttons.
        heading = QLabel("Collections")
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        self.new_collection_button = self._tool_button("add", "New collection…", self.new_collection)
        self.delete_collection_button = self._tool_button(
            "remove", "Delete collection…", self.delete_collection
        )
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        buttons.addWidget(self.new_collection_button)
        buttons.addWidget(self.delete_collection_button)
        buttons.addStretch(1)
        self.collections_list.setFrameShape(QListWidget.Shape.NoFrame)
        self.collections_list.setIconSize(QSize(18, 18))
        left = QWidget()
        left.setObjectName("collectionsPanel")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(10, 10, 4, 6)
        left_layout.addWidget(heading)
        left_layout.addWidget(self.collections_list, 1)
        left_layout.addLayout(buttons)

        # Right: search bar, filter bar, grid, import strip.
        self.import_button = QToolButton()
        self.import_button.setObjectName("importButton")
        set_themed_icon(self.import_button, "import")
        self.import_button.setText("Import")
        self.import_button.setToolTip("Import photos (Ctrl+O), or drop them anywhere on the window")
        self.import_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.import_button.setMinimumHeight(32)
        self.import_button.clicked.connect(self.commands.choose_import_files)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search_field, 1)
        top.addWidget(self._build_threshold_control())
        top.addWidget(self.import_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 10, 10, 6)
        right_layout.setSpacing(8)
        right_layout.addLayout(top)
        right_layout.addWidget(self.filter_bar)
        right_layout.addWidget(self.results_stack, 1)
        right_layout.addWidget(self.import_panel)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([200, 900])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        status = self.statusBar()
        status.setObjectName("statusBar")
        self.library_status = QLabel("")
        self.library_status.setObjectName("libraryStatus")
        self.search_status = QLabel("")
        self.search_status.setObjectName("searchStatus")
        for label in (self.library_status, self.search_status):
            label.setContentsMargins(6, 0, 6, 0)
            status.addPermanentWidget(label)

        self._build_menus()
        self._wire_widgets()

    def _build_threshold_control(self) -> QSpinBox:
        """Minimum similarity in whole percent; 0 reads "off". Restored before it is wired, so opening
        the window does not count as a change. A number typed above the maximum becomes the maximum, and
        the status bar says so."""
        from app.gui.percent_spin_box import PercentSpinBox

        control = PercentSpinBox()
        control.setObjectName("thresholdControl")
        control.setRange(0, round(MAX_MIN_SIMILARITY * 100))
        control.setSingleStep(5)
        control.setPrefix("Min. similarity: ")
        control.setSuffix("%")
        control.setSpecialValueText("Min. similarity: off")
        control.setToolTip("Hide photos less similar than this to the search (0% shows every match)")
        control.setMinimumHeight(32)
        control.setValue(round(self.settings.min_similarity * 100))
        self.search.set_min_similarity(control.value() / 100, rerun=False)
        control.valueChanged.connect(lambda percent: self.commands.set_min_similarity(percent))
        control.clamped.connect(
            lambda typed, used: self.statusBar().showMessage(
                f"Min. similarity goes up to {used}%: {typed}% was set to {used}%.", 8000
            )
        )
        self.threshold_control = control
        return control

    def _tool_button(self, icon_name: str, tip: str, slot: Callable[[], object]) -> QToolButton:
        button = QToolButton()
        set_themed_icon(button, icon_name)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def _action(
        self,
        name: str,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        icon_name: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if icon_name:
            set_themed_icon(action, icon_name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        # triggered(bool) would hand ``checked`` to slots whose first parameter means something else.
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work even where the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        a, c = self._action, self.commands
        self.import_files_action = a(
            "importFilesAction",
            "Import Photos…",
            c.choose_import_files,
            QKeySequence.StandardKey.Open,
            "import",
        )
        self.import_folder_action = a(
            "importFolderAction", "Add Folder…", c.choose_import_folder, "Ctrl+Shift+O", "folder"
        )
        self.folders_action = a("foldersAction", "Folders…", self.show_folders)
        self.rescan_action = a(
            "rescanAction", "Rescan Folders", self.rescan_folders, QKeySequence.StandardKey.Refresh
        )
        self.duplicates_action = a("duplicatesAction", "Find Duplicates…", lambda: open_duplicates(self))
        self.model_action = a("modelAction", "Model…", self.show_model, None, "model")
        self.change_model_action = a(
            "changeModelAction", "Change Model…", lambda: self.model_switch.show_chooser()
        )
        self.search_image_action = a(
            "searchByImageAction", "Search by Image…", c.choose_query_image, "Ctrl+I", "image"
        )
        self.paste_image_action = a(
            "pasteImageAction", "Search by Pasted Image", c.paste_image, QKeySequence.StandardKey.Paste
        )
        self.focus_search_action = a(
            "focusSearchAction", "Find", c.focus_search, QKeySequence.StandardKey.Find, "search"
        )
        # "/" as in browsers and mail apps; a text field being typed in keeps it (Qt lets it override).
        self.focus_search_action.setShortcuts([
            QKeySequence(QKeySequence.StandardKey.Find),
            QKeySequence("/"),
        ])
        # One Esc for the window: it leaves the viewer when that is open, else clears the search.
        self.clear_search_action = a("clearSearchAction", "Clear Search", c.escape, "Esc", "close")
        self.new_collection_action = a(
            "newCollectionAction", "New Collection…", self.new_collection, QKeySequence.StandardKey.New, "add"
        )
        self.delete_collection_action = a(
            "deleteCollectionAction", "Delete Collection…", self.delete_collection, None, "trash"
        )
        # Not every platform theme defines the standard Quit key; Ctrl+Q is what people press.
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")]
        quit_action = a("quitAction", "Quit", self.close)
        quit_action.setShortcuts(quit_keys)
        for action in self.photo_actions.all:
            if action not in self.photo_actions.scoped:  # Delete, Ctrl+C...: the grid's and viewer's alone
                self.addAction(action)
        self.zoom_in_action = a(
            "zoomInAction", "Larger Thumbnails", lambda: c.zoom(+1), QKeySequence.StandardKey.ZoomIn
        )
        self.zoom_out_action = a(
            "zoomOutAction", "Smaller Thumbnails", lambda: c.zoom(-1), QKeySequence.StandardKey.ZoomOut
        )

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addActions([self.import_files_action, self.import_folder_action])
        file_menu.addSeparator()
        file_menu.addActions([self.new_collection_action, self.delete_collection_action])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        search_menu = menus.addMenu("&Search")
        search_menu.addActions([self.focus_search_action, self.search_image_action, self.paste_image_action])
        search_menu.addSeparator()
        search_menu.addAction(self.clear_search_action)
        photo_menu = menus.addMenu("&Photo")
        photo_actions = self.photo_actions.all
        photo_menu.addActions(photo_actions[:2])
        photo_menu.addSeparator()
        photo_menu.addActions(photo_actions[2:6])
        photo_menu.addSeparator()
        photo_menu.addActions(photo_actions[6:])
        photo_menu.aboutToShow.connect(self.photo_actions.update_enabled)
        library_menu = menus.addMenu("&Library")
        library_menu.addActions([self.folders_action, self.rescan_action])
        library_menu.addSeparator()
        library_menu.addAction(self.duplicates_action)
        library_menu.addSeparator()
        library_menu.addAction(self.model_action)
        library_menu.addAction(self.change_model_action)
        self.compute_menu = ComputeMenu(self)
        library_menu.addMenu(self.compute_menu.menu)
        library_menu.setToolTipsVisible(True)  # the submenu says why it is greyed out when it is
        view_menu = menus.addMenu("&View")
        view_menu.addActions([self.zoom_in_action, self.zoom_out_action])
        help_menu = menus.addMenu("&Help")
        self.shortcuts_action = a(
            "shortcutsAction",
            "Keyboard Shortcuts",
            lambda: show_shortcuts(self),
            QKeySequence.StandardKey.HelpContents,
        )
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(a("aboutAction", "About Photoseek", c.show_about))

    def _wire_widgets(self) -> None:
        field = self.search_field
        # Words typed beside an image chip refine that image's search ("like this, at night").
        refining = lambda: field.image_label is not None  # noqa: E731
        field.textEdited.connect(lambda text: self.search.set_text(text, refine=refining()))
        field.returnPressed.connect(lambda: self.search.submit_text(field.text(), refine=refining()))
        field.imageQuery.connect(self.search.search_image)
        field.imageCleared.connect(self.search.drop_image)
        field.imageRejected.connect(lambda why: self.statusBar().showMessage(why, 8000))
        field.escapePressed.connect(self.clear_search)
        field.textChanged.connect(lambda text: self.commands.search_text_changed(text))
        self.collections_list.currentItemChanged.connect(lambda *_: self._on_collection_selected())
        self.filter_bar.filterChanged.connect(self.search.set_filter)
        self.filter_bar.optionsWanted.connect(lambda params: self.commands.request_filter_options(params))
        self.search.collectionUpdated.connect(self.filter_bar.on_collection)
        self.photo_actions.findSimilarRequested.connect(self.find_similar)
        self.photo_actions.removeRequested.connect(self.remove_photos)
        self.photo_actions.trashRequested.connect(lambda ids: self.commands.trash_photos(ids))
        self.viewer.opened.connect(self.commands.update_zoom_actions)
        self.viewer.closed.connect(self.commands.update_zoom_actions)
        field.downPressed.connect(lambda: self.commands.enter_results())
        self.photo_actions.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        selection = self.results_view.selectionModel()
        selection.selectionChanged.connect(lambda *_: self.photo_actions.update_enabled())
        self.results_model.modelReset.connect(self.photo_actions.update_enabled)

    # -- small UI behaviours -------------------------------------------------------------------------

    def fill_collections_list(self, collections: list[dict], current: str | None) -> None:
        """Show ``collections`` (sorted by name) with ``current`` selected, without emitting selection
        changes. Counts change often during an import; then the items are updated in place, so a click
        in the list is never lost to a rebuild."""
        widget = self.collections_list
        ordered = sorted(collections, key=lambda c: c["name"].casefold())
        widget.blockSignals(True)
        shown = [widget.item(row).data(Qt.ItemDataRole.UserRole) for row in range(widget.count())]
        if shown != [c["name"] for c in ordered]:
            widget.clear()
            for collection in ordered:
                item = QListWidgetItem(icon("collection"), collection["name"])
                item.setData(Qt.ItemDataRole.UserRole, collection["name"])
                widget.addItem(item)
        for row, collection in enumerate(ordered):
            count = int(collection.get("num_documents", 0))
            widget.item(row).setToolTip(f"{collection['name']}: {count:,} photo{'s' if count != 1 else ''}")
            if collection["name"] == current:
                widget.setCurrentRow(row)
        widget.blockSignals(False)
        self.delete_collection_action.setEnabled(bool(collections))
        self.delete_collection_button.setEnabled(bool(collections))

    def set_drop_highlight(self, on: bool) -> None:
        # Drawn by the app stylesheet (ResultsView[dropTarget="true"]); a property change needs a repolish.
        self.results_view.setProperty("dropTarget", on)
        self.results_view.style().unpolish(self.results_view)
        self.results_view.style().polish(self.results_view)
