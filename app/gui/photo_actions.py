"""What can be done to the selected photos: view, find similar, open with the system viewer, show in
folder, copy, copy path, move to trash, remove from the collection.

The same QActions serve the right-click menu, the main menu, the viewer's toolbar and the keyboard, and
always act on the grid's current selection (the viewer keeps the photo it shows selected there), so they
behave the same wherever they are triggered.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from app.gui.icons import set_themed_icon
from app.gui.results_model import ResultsModel
from app.gui.results_view import ResultsView
from app.gui.thumbnail_decode import decode_file

# Opening more files than this at once is almost always a slip of the mouse.
MAX_OPEN_AT_ONCE = 20
# Copy puts the picture itself on the clipboard too, at most this large (pasting a 50 MP photo into a chat
# or a document gains nothing over this, and costs a second of decoding).
COPY_IMAGE_BOX = 4096


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
    """Actions on the grid's selection. ``findSimilarRequested(id, label)``, ``trashRequested(ids)`` and
    ``removeRequested(ids)`` are for the window to carry out (they need the engine), ``viewRequested(row)``
    for the viewer; the rest act directly."""

    findSimilarRequested = Signal(str, str, str)  # document id, name, path ("" if none)
    removeRequested = Signal(list)
    trashRequested = Signal(list)
    viewRequested = Signal(int)  # the grid row to show in the viewer
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

        self.view = make("viewPhotoAction", "View Photo", "image", self._view_photo)
        self.find_similar = make("findSimilarAction", "Find Similar Photos", "similar", self._find_similar)
        self.open = make("openPhotoAction", "Open With System Viewer", "open", self._open)
        self.show_in_folder = make("showInFolderAction", "Show in Folder", "folder", self._show_in_folder)
        self.copy = make("copyPhotoAction", "Copy", "copy", self._copy)
        self.copy_path = make("copyPathAction", "Copy Path", "copy", self._copy_path)
        self.trash = make("trashPhotosAction", "Move to Trash…", "trash", self._trash)
        self.remove = make("removePhotosAction", "Remove from Collection…", "remove", self._remove)
        keys = Qt.Key
        self.view.setShortcuts([QKeySequence(k) for k in (keys.Key_Return, keys.Key_Enter, keys.Key_Space)])
        self.find_similar.setShortcut(QKeySequence("Ctrl+Shift+F"))
        self.open.setShortcut(QKeySequence("Ctrl+E"))
        self.show_in_folder.setShortcut(QKeySequence("Ctrl+Return"))
        self.copy.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_path.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.trash.setShortcut(QKeySequence.StandardKey.Delete)
        self.remove.setShortcut(QKeySequence("Shift+Del"))
        # Return, Space, Ctrl+C and Delete keep their meaning in the search field: only the grid (and the
        # viewer, which adds these actions to itself) takes them as photo actions.
        for action in self.scoped:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            view.addAction(action)
        view.activatedDocument.connect(lambda _doc_id: self._view_photo())
        view.contextMenuRequestedFor.connect(self.show_menu)
        self.update_enabled()

    @property
    def all(self) -> list[QAction]:
        """In menu order."""
        return [
            self.view,
            self.find_similar,
            self.open,
            self.show_in_folder,
            self.copy,
            self.copy_path,
            self.trash,
            self.remove,
        ]

    @property
    def scoped(self) -> list[QAction]:
        """The actions whose keys only the grid and the viewer take."""
        return [self.view, self.copy, self.trash, self.remove]

    # -- selection -------------------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        selection = self._view.selectionModel()
        if selection is None:
            return []
        return sorted({index.row() for index in selection.selectedIndexes()})

    def selected_documents(self) -> list[dict]:
        return [self._model.document(row) for row in self.selected_rows()]

    def _primary_row(self) -> int | None:
        """The photo an action about one photo means: the current one if selected, else the first."""
        rows = self.selected_rows()
        if not rows:
            return None
        current = self._view.currentIndex()
        return current.row() if current.isValid() and current.row() in rows else rows[0]

    def _primary_document(self) -> dict | None:
        row = self._primary_row()
        return None if row is None else self._model.document(row)

    def update_enabled(self) -> None:
        rows = self.selected_rows()
        paths = [d.get("path") for d in self.selected_documents()] if rows else []
        self.view.setEnabled(bool(rows))
        self.find_similar.setEnabled(bool(rows))
        self.remove.setEnabled(bool(rows))
        has_files = any(isinstance(p, str) and p for p in paths)
        self.open.setEnabled(has_files)
        self.show_in_folder.setEnabled(has_files)
        self.copy.setEnabled(has_files)
        self.copy_path.setEnabled(has_files)
        self.trash.setEnabled(has_files)
        self.remove.setText("Remove from Collection…" if len(rows) <= 1 else f"Remove {len(rows)} Photos…")
        self.trash.setText("Move to Trash…" if len(rows) <= 1 else f"Move {len(rows)} Photos to Trash…")
        self.copy_path.setText("Copy Path" if len(rows) <= 1 else "Copy Paths")
        several = f" {min(len(rows), MAX_OPEN_AT_ONCE)} Photos" if len(rows) > 1 else ""
        self.open.setText(f"Open{several} With System Viewer")

    def show_menu(self, _ids: list, global_pos: QPoint) -> None:
        self.update_enabled()
        if not self.selected_rows():
            return
        menu = QMenu(self._parent)
        menu.setObjectName("photoContextMenu")
        menu.addAction(self.view)
        menu.addAction(self.find_similar)
        menu.addSeparator()
        menu.addAction(self.open)
        menu.addAction(self.show_in_folder)
        menu.addAction(self.copy)
        menu.addAction(self.copy_path)
        menu.addSeparator()
        menu.addAction(self.trash)
        menu.addAction(self.remove)
        menu.exec(global_pos)
        menu.deleteLater()

    # -- the actions -----------------------------------------------------------------------------------

    def _view_photo(self) -> None:
        row = self._primary_row()
        if row is not None:
            self.viewRequested.emit(row)

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
        failed: list[str] = []
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
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
                failed.append(Path(path).name)
        notes = []
        if failed:
            names = f"“{failed[0]}”" if len(failed) == 1 else f"{len(failed)} photos"
            suffix = Path(failed[0]).suffix.lower() or "these"
            notes.append(
                f"Could not open {names}: this computer has no application set up to open {suffix} files "
                "(or it failed to start). Set a default image viewer in your system settings, or use "
                "Show in Folder."
            )
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
        if not reveal_in_file_manager(path):
            self.message.emit(f"Could not show the folder {Path(path).parent}: no file manager answered.")

    def _copy_path(self) -> None:
        paths = self._paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
            self.message.emit("Copied the path." if len(paths) == 1 else f"Copied {len(paths)} paths.")

    def _copy(self) -> None:
        """The files (a file manager pastes them) and the first one's picture (an editor or a chat does)."""
        paths = [p for p in self._paths() if is_photo_path(p) and Path(p).is_file()]
        if not paths:
            self.message.emit("Nothing copied: the file is no longer where it was imported from.")
            return
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
        mime.setText("\n".join(paths))
        with contextlib.suppress(OSError, ValueError):  # the files alone are still worth pasting
            mime.setImageData(decode_file(paths[0], COPY_IMAGE_BOX))
        QGuiApplication.clipboard().setMimeData(mime)
        self.message.emit("Copied the photo." if len(paths) == 1 else f"Copied {len(paths)} photos.")

    def _trash(self) -> None:
        docs = [d for d in self.selected_documents() if isinstance(d.get("path"), str) and d.get("path")]
        many = len(docs) > 1
        detail = (
            f"The file{'s go' if many else ' goes'} to the system trash (you can restore it from there) and "
            "leaves this collection."
        )
        if self._confirm(docs, "Move to Trash", "Move {} to the trash?", detail):
            self.trashRequested.emit([str(d["id"]) for d in docs])

    def _remove(self) -> None:
        docs = self.selected_documents()
        detail = "The files on your disk are not touched; they just stop showing up in searches."
        if self._confirm(docs, "Remove Photos", "Remove {} from this collection?", detail):
            self.removeRequested.emit([str(d["id"]) for d in docs])

    def _confirm(self, docs: list[dict], title: str, question: str, detail: str) -> bool:
        """Ask before acting on ``docs``; ``question`` names them at its ``{}``. False when there are none."""
        if not docs:
            return False
        what = f"“{docs[0].get('name') or docs[0]['id']}”" if len(docs) == 1 else f"{len(docs)} photos"
        answer = QMessageBox.question(
            self._parent,
            title,
            f"{question.format(what)}\n\n{detail}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes
