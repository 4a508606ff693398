"""Watches every collection's followed folders and asks for a rescan when something changes.

``QFileSystemWatcher`` is not recursive, so every folder a rescan walked is watched (the engine's scan
reports them, so no folder tree is ever walked on the GUI thread). Changes are debounced: copying 500
photos in fires hundreds of notifications and should cost one rescan, started once the copy went quiet.
An offline folder's nearest existing parent is watched instead (the engine names it, as ``watch``), so
plugging its drive back in brings it back without the user asking. Nothing here touches the disk: a
dead network share must not freeze the window.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

# inotify allows 8192 watches per user on many systems, shared with every other program: a library with
# more folders than this is still rescanned on start and on demand, just not watched below this depth.
MAX_WATCHED = 4000
DEBOUNCE_MS = 1500


def _root_of(path: str, roots: list[str]) -> str | None:
    inside = [r for r in roots if path == r or path.startswith(r.rstrip(os.sep) + os.sep)]
    return max(inside, key=len, default=None)


class FolderWatcher(QObject):
    """Emits ``rescanRequested(collection, roots)`` a moment after files change under followed folders."""

    rescanRequested = Signal(str, object)  # collection, list of its followed folder paths

    def __init__(self, parent: QObject | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_changed)
        self._folders: dict[str, list[dict]] = {}  # collection -> its followed folders
        self._pending: dict[str, set[str]] = {}  # collection -> roots that changed
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._flush)

    def roots(self, collection: str | None = None) -> list[str]:
        chosen = self._folders if collection is None else {collection: self._folders.get(collection, [])}
        return sorted(f["path"] for folders in chosen.values() for f in folders)

    def watched(self) -> list[str]:
        return self._watcher.directories()

    def set_interval(self, milliseconds: int) -> None:
        self._timer.setInterval(milliseconds)

    def set_folders(self, collection: str, folders: list[dict]) -> None:
        """A collection's followed folders, as the engine lists them (``[]`` forgets the collection)."""
        if folders:
            self._folders[collection] = list(folders)
        else:
            self._folders.pop(collection, None)
        roots = self.roots()
        wanted_parents = {f.get("watch") for fs in self._folders.values() for f in fs if _offline(f)}
        drop = [d for d in self._watcher.directories() if not _root_of(d, roots) and d not in wanted_parents]
        if drop:
            self._watcher.removePaths(drop)
        self._add([f.get("watch") or f["path"] for f in folders if f.get("watch") or not _offline(f)])

    def add_directories(self, directories: list[str]) -> None:
        """Folders a rescan walked: watch them (only those under followed folders)."""
        roots = self.roots()
        self._add([d for d in directories if _root_of(d, roots)])

    def _add(self, directories: list[str]) -> None:
        present = set(self._watcher.directories())
        room = MAX_WATCHED - len(present)
        fresh = [d for d in dict.fromkeys(directories) if d not in present][: max(0, room)]
        if fresh:
            self._watcher.addPaths(fresh)

    @Slot(str)
    def _on_changed(self, path: str) -> None:
        for collection, folders in self._folders.items():
            roots = [f["path"] for f in folders]
            root = _root_of(path, roots)
            # A change in an offline folder's parent may be its drive coming back.
            offline = [f["path"] for f in folders if _offline(f) and f.get("watch") == path]
            for changed in ([root] if root else []) + offline:
                self._pending.setdefault(collection, set()).add(changed)
        if self._pending:
            self._timer.start()  # restarting it is the debounce

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for collection, roots in pending.items():
            self.rescanRequested.emit(collection, sorted(roots))


def _offline(folder: dict) -> bool:
    return folder.get("status") == "offline"
