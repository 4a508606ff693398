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
        self._follow_requests: set[int] = set()
        self.folders_status = QLabel()
        self.folders_status.setObjectName("foldersStatus")
        self.folders_status.setTextFormat(Qt.TextFormat.RichText)
        self.folders_status.linkActivated.connect(lambda _link: self.show_folders())
        self.folders_status.hide()
        self.statusBar().addPermanentWidget(self.folders_status)
        self.client.foldersChanged.connect(self._on_folders_changed)
        self.client.foldersScanned.connect(self._on_folders_scanned)

    def follow_folders(self, folders: list[str]) -> int | None:
        """Follow folders in the current collection (creating "Photos" when there is none) and bring
        them in step; their photos arrive like an import."""
        folders = [str(f) for f in folders if str(f)]
        if not folders:
            return None
        if not self._engine_open:
            self._deferred_imports.append(folders)
            return None
        collection, schema = self.import_target(folders[0])
        request_id = self.client.follow_folders(collection, folders, create_schema=schema)
        self._follow_requests.add(request_id)
        return request_id

    def rescan_folders(self, folders: list[str] | None = None) -> int | None:
        collection = self.current_collection()
        if collection is None or not self._engine_open:
            return None
        return self.client.rescan_folders(collection, folders)

    def show_folders(self) -> FoldersDialog | None:
        collection = self.current_collection()
        if collection is None:
            return None
        if self._folders_dialog is not None:
            self._folders_dialog.close()
        dialog = FoldersDialog(self.client, collection, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.followRequested.connect(self.follow_folders)
        dialog.destroyed.connect(lambda: setattr(self, "_folders_dialog", None))
        self._folders_dialog = dialog
        dialog.show()
        return dialog

    def folders_collection_switched(self, name: str | None) -> None:
        """A new current collection: watch its folders and bring them in step (the start-up rescan)."""
        self.folder_watcher.clear()
        self._folders = []
        self._update_folders_status()
        if name is not None and self._engine_open:
            self.client.list_folders(name)
            if not self._follow_requests:  # a follow that created the collection rescans it already
                self.client.rescan_folders(name)

    @Slot(object)
    def _on_watcher_rescan(self, roots: list[str]) -> None:
        self.rescan_folders(roots)

    @Slot(str, object)
    def _on_folders_changed(self, collection: str, folders: list[dict]) -> None:
        if collection != self.current_collection():
            return
        self._folders = list(folders)
        self.folder_watcher.set_folders(folders)
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

    @Slot(int, str, object)
    def _on_folders_scanned(self, request_id: int, collection: str, reports: list[dict]) -> None:
        current = collection == self.current_collection()
        if current:
            for report in reports:
                self.folder_watcher.add_directories(report["directories"])
        # A rescan asked for by following folders always ends in an import summary, others only when
        # they found photos to add.
        follow = request_id in self._follow_requests and bool(reports)  # a failed follow has none
        self._follow_requests.discard(request_id)
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
        if current and headline:
            self.statusBar().showMessage(headline, 10000)
