"""What can be done to the selected photos: find similar, open, show in folder, copy path, remove.

The same QActions serve the right-click menu, the main menu and the keyboard, and always act on the grid's
current selection, so they behave the same wherever they are triggered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from app.gui.icons import set_themed_icon
from app.gui.results_model import ResultsModel
from app.gui.results_view import ResultsView

# Opening more files than this at once is almost always a slip of the mouse.
MAX_OPEN_AT_ONCE = 20


def is_photo_path(path: str) -> bool:
    """Whether ``path`` names a photo type. A document's path is only a stored string, which any import
    line can set: opening it hands it to the system's default app, so a script or a .desktop file it
    names would run."""
    from app.engine.images import SUPPORTED_EXTENSIONS

    return os.path.splitext(path)[1].lower() in SUPPORTED_EXTENSIONS


def reveal_in_file_manager(path: str) -> bool:
    """Show ``path`` selected in the system file manager (or its folder, where selecting is not offered)."""
    if sys.platform == "darwin":
        return subprocess.run(["open", "-R", path], check=False).returncode == 0
    if sys.platform == "win32":
        subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
        return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))


class PhotoActions(QObject):
    """Actions on the grid's selection. ``findSimilarRequested(id, label)`` and ``removeRequested(ids)`` are
    for the window to carry out (they need the engine); the rest act directly."""

    findSimilarRequested = Signal(str, str, str)  # document id, name, path ("" if none)
    removeRequested = Signal(list)
    message = Signal(str)  # a short note for the status bar

    def __init__(self, view: ResultsView, model: ResultsModel, parent: QWidget) -> None:
        super().__init__(parent)
        self._view = view
        self._model = model
        self._parent = parent

        def make(name: str, text: str, icon_name: str, slot: Callable[[], None]) -> QAction:
            action = QAction(text, parent)
            set_themed_icon(action, icon_name)
            action.setObjectName(name)
            action.triggered.connect(slot)
            return action

        self.find_similar = make("findSimilarAction", "Find Similar Photos", "similar", self._find_similar)
        self.open = make("openPhotoAction", "Open", "open", self._open)
        self.show_in_folder = make("showInFolderAction", "Show in Folder", "folder", self._show_in_folder)
        self.copy_path = make("copyPathAction", "Copy Path", "copy", self._copy_path)
        self.remove = make("removePhotosAction", "Remove from Collection…", "trash", self._remove)
        self.remove.setShortcut(QKeySequence.StandardKey.Delete)
        self.find_similar.setShortcut(QKeySequence("Ctrl+Shift+F"))
        # Delete must keep deleting characters in the search field: only the grid gets it as "remove".
        self.remove.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        view.addAction(self.remove)
        view.activatedDocument.connect(lambda _doc_id: self._open())
        view.contextMenuRequestedFor.connect(self.show_menu)
        self.update_enabled()

    @property
    def all(self) -> list[QAction]:
        return [self.find_similar, self.open, self.show_in_folder, self.copy_path, self.remove]

    # -- selection -------------------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        selection = self._view.selectionModel()
        if selection is None:
            return []
        return sorted({index.row() for index in selection.selectedIndexes()})

    def selected_documents(self) -> list[dict]:
        return [self._model.document(row) for row in self.selected_rows()]

    def _primary_document(self) -> dict | None:
        """The photo an action about one photo means: the current one if selected, else the first."""
        rows = self.selected_rows()
        if not rows:
            return None
        current = self._view.currentIndex()
        row = current.row() if current.isValid() and current.row() in rows else rows[0]
        return self._model.document(row)

    def update_enabled(self) -> None:
        rows = self.selected_rows()
        paths = [d.get("path") for d in self.selected_documents()] if rows else []
        self.find_similar.setEnabled(bool(rows))
        self.remove.setEnabled(bool(rows))
        has_files = any(isinstance(p, str) and p for p in paths)
        self.open.setEnabled(has_files)
        self.show_in_folder.setEnabled(has_files)
        self.copy_path.setEnabled(has_files)
        self.remove.setText("Remove from Collection…" if len(rows) <= 1 else f"Remove {len(rows)} Photos…")
        self.copy_path.setText("Copy Path" if len(rows) <= 1 else "Copy Paths")
        self.open.setText("Open" if len(rows) <= 1 else f"Open {min(len(rows), MAX_OPEN_AT_ONCE)} Photos")

    def show_menu(self, _ids: list, global_pos: QPoint) -> None:
        self.update_enabled()
        if not self.selected_rows():
            return
        menu = QMenu(self._parent)
        menu.setObjectName("photoContextMenu")
        menu.addAction(self.find_similar)
        menu.addSeparator()
        menu.addAction(self.open)
        menu.addAction(self.show_in_folder)
        menu.addAction(self.copy_path)
        menu.addSeparator()
        menu.addAction(self.remove)
        menu.exec(global_pos)
        menu.deleteLater()

    # -- the actions -----------------------------------------------------------------------------------

    def _find_similar(self) -> None:
        doc = self._primary_document()
        if doc is not None:
            path = doc.get("path")
            label = str(doc.get("name") or doc["id"])
            self.findSimilarRequested.emit(str(doc["id"]), label, path if isinstance(path, str) else "")

    def _paths(self) -> list[str]:
        paths = (d.get("path") for d in self.selected_documents())
        return [p for p in paths if isinstance(p, str) and p]

    def _open(self) -> None:
        missing = 0
        refused: list[str] = []
        for path in self._paths()[:MAX_OPEN_AT_ONCE]:
            if not is_photo_path(path):
                refused.append(Path(path).name)
                continue
            if not Path(path).exists():
                missing += 1
                continue
            if not Path(path).is_file():
                refused.append(Path(path).name)  # a pipe or a device named like a photo
                continue
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))
        notes = []
        if refused:
            names = refused[0] if len(refused) == 1 else f"{len(refused)} files"
            notes.append(f"Not opened: {names} {'is' if len(refused) == 1 else 'are'} not a photo file.")
        if missing:
            were = "files are" if missing > 1 else "file is"
            notes.append(f"{missing} {were} no longer where it was imported from.")
        if notes:
            self.message.emit(" ".join(notes))

    def _show_in_folder(self) -> None:
        doc = self._primary_document()
        path = doc.get("path") if doc else None
        if not isinstance(path, str) or not path:
            return
        if not is_photo_path(path):
            self.message.emit(f"Not shown: {Path(path).name} is not a photo file.")
            return
        if not Path(path).parent.exists():
            self.message.emit(f"The folder {Path(path).parent} no longer exists.")
            return
        reveal_in_file_manager(path)

    def _copy_path(self) -> None:
        paths = self._paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
            self.message.emit("Copied the path." if len(paths) == 1 else f"Copied {len(paths)} paths.")

    def _remove(self) -> None:
        docs = self.selected_documents()
        if not docs:
            return
        if len(docs) == 1:
            question = f"Remove “{docs[0].get('name') or docs[0]['id']}” from this collection?"
        else:
            question = f"Remove {len(docs)} photos from this collection?"
        answer = QMessageBox.question(
            self._parent,
            "Remove Photos",
            f"{question}\n\nThe files on your disk are not touched; they just stop showing up in searches.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.removeRequested.emit([str(d["id"]) for d in docs])
