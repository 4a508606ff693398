"""Followed folders in the window: follow dropped or chosen folders, rescan them on start, on demand (F5)
and when the file-system watcher sees changes, and say when a folder is offline.

A follow or rescan is one library request; when it finds photos to embed, the imports controller shows
that part in the import panel with progress and Cancel like any import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QLabel

from app.gui.bridge import Request
from app.gui.folder_watcher import FolderWatcher
from app.gui.folders_dialog import FoldersDialog
from app.library.folder_jobs import FolderScanResult, ScanFinished, ScanProgress
from app.library.problems import EngineProblem

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow


def scan_headline(reports: list[dict]) -> str:
    """One status-bar line saying what a rescan changed (empty when nothing did)."""
    moved = sum(len(r["moved"]) for r in reports)
    removed = sum(len(r["removed"]) for r in reports)
    new = sum(len(r["to_import"]) for r in reports)
    offline = [r["folder"] for r in reports if r["status"] == "offline"]
    parts = []
    if new:
        parts.append(f"{new} new or changed photo{'s' if new != 1 else ''} to add")
    if moved:
        parts.append(f"{moved} moved or renamed")
    if removed:
        parts.append(f"{removed} deleted from disk and removed")
    if offline:
        parts.append(
            f"{Path(offline[0]).name or offline[0]} is offline, its photos are kept"
            if len(offline) == 1
            else f"{len(offline)} folders offline, their photos are kept"
        )
    return "Folders: " + "; ".join(parts) if parts else ""


class FoldersController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.watcher = FolderWatcher(self)
        self.watcher.rescanRequested.connect(self._on_watcher_rescan)
        self.dialog: FoldersDialog | None = None
        self._folders: list[dict] = []  # the current collection's
        self._watched_collections: list[str] = []
        self._creating: set[str] = set()  # collections a follow is creating: it rescans them itself
        self.status = QLabel()
        self.status.setObjectName("foldersStatus")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.linkActivated.connect(lambda _link: self.show_dialog())
        self.status.hide()
        window.statusBar().addPermanentWidget(self.status)
        window.bridge.foldersChanged.connect(self._on_folders_changed)

    def follow(self, folders: list[str], collection: str | None = None) -> Request | None:
        """Follow folders in ``collection`` (default: the current one, creating the default collection
        when there is none) and bring them in step; their photos arrive like an import."""
        folders = [str(f) for f in folders if str(f)]
        window = self._window
        if not folders or not window.bridge.is_open:
            return None
        schema = None
        if collection is None:
            collection, schema = window.imports.target(folders[0])
        if schema is not None:
            self._creating.add(collection)
        request = window.bridge.call("follow_folders", collection, folders, schema)
        self._watch_request(request, collection, asked=True)
        window.imports.track(request, collection, [], None)
        return request

    def rescan(
        self, collection: str | None = None, folders: list[str] | None = None, *, asked: bool = False
    ) -> Request | None:
        """Rescan a collection's followed folders (default: the current one's). ``asked``: the user
        asked (F5), so the status bar answers even when nothing changed."""
        window = self._window
        collection = collection or window.current_collection()
        if collection is None or not window.bridge.is_open:
            return None
        request = window.bridge.call("rescan_folders", collection, folders)
        self._watch_request(request, collection, asked=asked)
        window.imports.track(request, collection, [], None, reports_import=False)
        return request

    def _watch_request(self, request: Request, collection: str, *, asked: bool) -> None:
        request.progress.connect(lambda progress: self._on_progress(collection, progress, asked))
        request.done.connect(lambda result: self._on_done(collection, result))
        request.failed.connect(lambda problem: self._on_failed(collection, problem, asked))

    def show_dialog(self) -> FoldersDialog | None:
        window = self._window
        collection = window.current_collection()
        if collection is None:
            return None
        if self.dialog is not None:
            self.dialog.close()
        dialog = FoldersDialog(window.bridge, collection, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.followRequested.connect(lambda name, folders: self.follow(folders, name))
        dialog.rescanRequested.connect(lambda name: self.rescan(name, asked=True))
        dialog.destroyed.connect(lambda: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.show()
        return dialog

    def collection_switched(self, name: str | None) -> None:
        """A new current collection: show its folders' state."""
        self._folders = []
        self._update_status()
        if name is not None and self._window.bridge.is_open:
            self._window.bridge.call("folders", name)

    def collections_listed(self, names: list[str]) -> None:
        """Watch every collection's folders, not only the one on screen, and bring them in step when
        first seen; forget deleted collections' folders."""
        for gone in set(self._watched_collections) - set(names):
            self.watcher.set_folders(gone, [])
        for fresh in [n for n in names if n not in self._watched_collections]:
            self._window.bridge.call("folders", fresh)
            # What changed while Photoseek was closed (the start-up rescan). A follow that just created
            # the collection rescans it already.
            if fresh not in self._creating:
                self.rescan(fresh)
        self._watched_collections = list(names)

    @Slot(str, object)
    def _on_watcher_rescan(self, collection: str, roots: list[str]) -> None:
        if collection in self._watched_collections:
            self.rescan(collection, roots)

    @Slot(str, object)
    def _on_folders_changed(self, collection: str, folders: list[dict]) -> None:
        if collection in self._watched_collections:
            self.watcher.set_folders(collection, folders)
        if collection == self._window.current_collection():
            self._folders = list(folders)
            self._update_status()

    def _update_status(self) -> None:
        offline = [f for f in self._folders if f.get("status") == "offline"]
        if not offline:
            self.status.hide()
            return
        count = len(offline)
        self.status.setText(f"<a href='folders'>{count} folder{'s' if count != 1 else ''} offline</a>")
        self.status.setToolTip("\n\n".join(f"{f['path']}\n{f.get('reason', '')}" for f in offline))
        self.status.show()

    def _on_progress(self, collection: str, progress: object, asked: bool) -> None:
        window = self._window
        current = collection == window.current_collection()
        if isinstance(progress, ScanProgress):
            # Only walks that outlast one step report progress: a slow or very large drive.
            if current:
                window.statusBar().showMessage(
                    f"Checking followed folders: {progress.seen:,} photos so far…", 5000
                )
        elif isinstance(progress, ScanFinished):
            reports = progress.reports
            for report in reports:
                self.watcher.add_directories(report["directories"])
            changed = any(r["removed"] or r["moved"] or r["touched"] for r in reports)
            if current and changed:
                window.search.refresh()
            headline = scan_headline(reports)
            if asked and not headline:
                checked = sum(r["unchanged"] for r in reports)
                headline = (
                    f"Folders are up to date ({checked:,} photo{'s' if checked != 1 else ''} checked)"
                    if reports
                    else "No folders are followed: drop a folder on the window to follow it"
                )
            if current and headline:
                window.statusBar().showMessage(headline, 10000)

    def _on_done(self, collection: str, _result: FolderScanResult) -> None:
        self._creating.discard(collection)

    def _on_failed(self, collection: str, problem: EngineProblem, asked: bool) -> None:
        self._creating.discard(collection)
        if asked or collection == self._window.current_collection():
            self._window.statusBar().showMessage(f"Could not rescan the folders: {problem.message}", 10000)
