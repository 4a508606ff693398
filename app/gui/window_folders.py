"""Followed folders, for MainWindow: follow dropped or chosen folders, rescan them on start, on demand and
when the file-system watcher sees changes, and say when a folder is offline.

``FolderHandling`` is a mixin: ``self`` is the MainWindow (client, search, import panel, status bar).
A rescan's embedding work runs as an import on the engine thread, so it shows in the import panel with
progress and Cancel like any import.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel

from app.gui.folder_watcher import FolderWatcher
from app.gui.folders_dialog import FoldersDialog


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


class FolderHandling:
    def setup_folders(self) -> None:
        self.folder_watcher = FolderWatcher(self)
        self.folder_watcher.rescanRequested.connect(self._on_watcher_rescan)
        self._folders_dialog: FoldersDialog | None = None
        self._folders: list[dict] = []
        self._follow_requests: dict[int, str] = {}  # follows not answered yet -> their collection
        self._watched_collections: list[str] = []
        self._asked_rescans: set[int] = set()  # rescans the user asked for: they always get an answer
        self.folders_status = QLabel()
        self.folders_status.setObjectName("foldersStatus")
        self.folders_status.setTextFormat(Qt.TextFormat.RichText)
        self.folders_status.linkActivated.connect(lambda _link: self.show_folders())
        self.folders_status.hide()
        self.statusBar().addPermanentWidget(self.folders_status)
        self.client.foldersChanged.connect(self._on_folders_changed)
        self.client.foldersScanned.connect(self._on_folders_scanned)
        self.client.folderScanProgress.connect(self._on_scan_progress)

    def follow_folders(self, folders: list[str], collection: str | None = None) -> int | None:
        """Follow folders in ``collection`` (default: the current one, creating "Photos" when there is
        none) and bring them in step; their photos arrive like an import."""
        folders = [str(f) for f in folders if str(f)]
        if not folders:
            return None
        if not self._engine_open:
            self._deferred_imports.append(folders)
            return None
        schema = None
        if collection is None:
            collection, schema = self.import_target(folders[0])
        request_id = self.client.follow_folders(collection, folders, create_schema=schema)
        self._follow_requests[request_id] = collection
        return request_id

    def rescan_folders(self, folders: list[str] | None = None) -> int | None:
        """Rescan the current collection's folders now (F5); the status bar says what it found."""
        collection = self.current_collection()
        if collection is None or not self._engine_open:
            return None
        request_id = self.client.rescan_folders(collection, folders)
        self._asked_rescans.add(request_id)
        return request_id

    def show_folders(self) -> FoldersDialog | None:
        collection = self.current_collection()
        if collection is None:
            return None
        if self._folders_dialog is not None:
            self._folders_dialog.close()
        dialog = FoldersDialog(self.client, collection, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.followRequested.connect(lambda name, folders: self.follow_folders(folders, name))
        dialog.destroyed.connect(lambda: setattr(self, "_folders_dialog", None))
        self._folders_dialog = dialog
        dialog.show()
        return dialog

    def folders_collection_switched(self, name: str | None) -> None:
        """A new current collection: show its folders' state."""
        self._folders = []
        self._update_folders_status()
        if name is not None and self._engine_open:
            self.client.list_folders(name)

    def folders_collections_listed(self, names: list[str]) -> None:
        """Watch every collection's folders, not only the one on screen, and bring them in step when
        first seen; forget deleted collections' folders."""
        for gone in set(self._watched_collections) - set(names):
            self.folder_watcher.set_folders(gone, [])
        for fresh in [n for n in names if n not in self._watched_collections]:
            self.client.list_folders(fresh)
            # What changed while Photoseek was closed (the start-up rescan). A follow that just created
            # the collection rescans it already.
            if fresh not in self._follow_requests.values():
                self.client.rescan_folders(fresh)
        self._watched_collections = list(names)

    @Slot(str, object)
    def _on_watcher_rescan(self, collection: str, roots: list[str]) -> None:
        if self._engine_open and collection in self._watched_collections:
            self.client.rescan_folders(collection, roots)

    @Slot(str, object)
    def _on_folders_changed(self, collection: str, folders: list[dict]) -> None:
        if collection in self._watched_collections:
            self.folder_watcher.set_folders(collection, folders)
        if collection == self.current_collection():
            self._folders = list(folders)
            self._update_folders_status()

    def _update_folders_status(self) -> None:
        offline = [f for f in self._folders if f.get("status") == "offline"]
        if not offline:
            self.folders_status.hide()
            return
        count = len(offline)
        self.folders_status.setText(
            f"<a href='folders'>{count} folder{'s' if count != 1 else ''} offline</a>"
        )
        self.folders_status.setToolTip("\n\n".join(f"{f['path']}\n{f.get('reason', '')}" for f in offline))
        self.folders_status.show()

    @Slot(int, str, int)
    def _on_scan_progress(self, _request_id: int, collection: str, seen: int) -> None:
        # Only walks that outlast one step report progress: a slow or very large drive.
        if collection == self.current_collection():
            self.statusBar().showMessage(f"Checking followed folders: {seen:,} photos so far…", 5000)

    @Slot(int, str, object)
    def _on_folders_scanned(self, request_id: int, collection: str, reports: list[dict]) -> None:
        current = collection == self.current_collection()
        for report in reports:
            self.folder_watcher.add_directories(report["directories"])
        # A rescan asked for by following folders always ends in an import summary, others only when
        # they found photos to add.
        follow = request_id in self._follow_requests and bool(reports)  # a failed follow has none
        self._follow_requests.pop(request_id, None)
        if follow or any(r["to_import"] for r in reports):
            if not self._imports:
                self._import_summary = None
                self.import_panel.start(request_id)
            self._imports[request_id] = (collection, [], None)
            self._update_import_title()
        changed = any(r["removed"] or r["moved"] or r["touched"] for r in reports)
        if current and changed:
            self.search.refresh()
        headline = scan_headline(reports)
        asked = request_id in self._asked_rescans
        self._asked_rescans.discard(request_id)
        if asked and not headline:
            checked = sum(r["unchanged"] for r in reports)
            headline = (
                f"Folders are up to date ({checked:,} photo{'s' if checked != 1 else ''} checked)"
                if reports
                else "No folders are followed: drop a folder on the window to follow it"
            )
        if current and headline:
            self.statusBar().showMessage(headline, 10000)
