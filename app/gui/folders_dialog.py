"""The "Folders" dialog: which folders the collection follows, whether each is online, and how many photos
came from it; add, remove and rescan folders."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.bridge import LibraryBridge, Request


def _when(timestamp: int | None) -> str:
    if not timestamp:
        return "not yet"
    age = time.time() - timestamp
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def status_text(folder: dict) -> str:
    if folder.get("status") == "offline":
        return "Offline – photos kept"
    if folder.get("status") == "new":
        return "Waiting for first scan"
    if folder.get("reason"):
        return "Partly offline – photos kept"  # a drive mounted inside it is not connected
    return "Up to date"


class FoldersDialog(QDialog):
    """Lists the followed folders of one collection; every change goes through the library bridge."""

    followRequested = Signal(str, object)  # collection, list of folder paths
    rescanRequested = Signal(str)  # collection

    def __init__(self, bridge: LibraryBridge, collection: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Folders – {collection}")
        self.setObjectName("foldersDialog")
        self.resize(720, 360)
        self._bridge = bridge
        self._collection = collection
        self._folders: list[dict] = []
        self._question: QMessageBox | None = None  # "stop following?" while it is open

        intro = QLabel(
            "Photoseek keeps these folders in step: new photos are added, edited ones updated, deleted "
            "ones removed and renamed ones followed. Files are never changed."
        )
        intro.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("foldersList")
        self.tree.setHeaderLabels(["Folder", "Photos", "Status", "Last scan"])
        self.tree.setRootIsDecorated(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a path's end names the folder
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.empty_label = QLabel("No folders followed yet. Add one, or drop a folder on the window.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.add_button = QPushButton("Add Folder…")
        self.remove_button = QPushButton("Remove…")
        self.rescan_button = QPushButton("Rescan All")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.rescan_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)

        self.add_button.clicked.connect(self._choose_folder)
        self.remove_button.clicked.connect(self._remove_selected)
        self.rescan_button.clicked.connect(self._rescan)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        bridge.foldersChanged.connect(self._on_folders)
        bridge.call("folders", collection)
        self._show([])

    @property
    def folders(self) -> list[dict]:
        return list(self._folders)

    @Slot(str, object)
    def _on_folders(self, collection: str, folders: list[dict]) -> None:
        if collection == self._collection:
            self._show(folders)

    def _show(self, folders: list[dict]) -> None:
        selected = self.selected_path()
        self._folders = list(folders)
        self.tree.clear()
        for folder in folders:
            item = QTreeWidgetItem(
                [
                    folder["path"],
                    str(folder.get("documents", 0)),
                    status_text(folder),
                    _when(folder.get("last_scan")),
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, folder["path"])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if folder.get("reason"):
                for column in range(4):
                    item.setToolTip(column, folder["reason"])
            if folder.get("status") == "offline":
                item.setIcon(2, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            self.tree.addTopLevelItem(item)
            if folder["path"] == selected:
                item.setSelected(True)
        self.tree.setVisible(bool(folders))
        self.empty_label.setVisible(not folders)
        self._update_buttons()

    def selected_path(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected_path() is not None)
        self.rescan_button.setEnabled(bool(self._folders))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Follow a folder")
        if folder:
            self.followRequested.emit(self._collection, [folder])

    def _remove_selected(self) -> None:
        path = self.selected_path()
        if path is None:
            return
        count = next((f.get("documents", 0) for f in self._folders if f["path"] == path), 0)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Stop following folder")
        box.setText(f"Stop following {path}?")
        box.setInformativeText(
            f"Its {count} photos can leave the collection or stay in it. The files on disk are not touched."
        )
        remove = box.addButton("Remove Photos", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep Photos", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button: object) -> None:
            if button in (remove, keep):
                self.unfollow(path, remove_photos=button is remove)

        # Window-modal and without a nested event loop: the engine's answers keep flowing meanwhile, and
        # the box goes with this dialog if the dialog is closed first.
        box.buttonClicked.connect(answered)
        box.open()
        self._question = box

    def unfollow(self, path: str, *, remove_photos: bool) -> Request:
        request = self._bridge.call("unfollow_folder", self._collection, path, remove_photos)
        request.failed.connect(lambda problem: self._show_problem(problem.message))
        return request

    def _show_problem(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Folders", message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _rescan(self) -> None:
        self.rescanRequested.emit(self._collection)
