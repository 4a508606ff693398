"""Watches the current collection's followed folders and asks for a rescan when something changes.

``QFileSystemWatcher`` is not recursive, so every folder a rescan walked is watched (the engine's scan
reports them, so no folder tree is ever walked on the GUI thread). Changes are debounced: copying 500
photos in fires hundreds of notifications and should cost one rescan, started once the copy went quiet.
An offline folder's nearest existing parent is watched instead, so plugging its drive back in brings it
back without the user asking.
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


def _existing_parent(path: str) -> str | None:
    parent = os.path.dirname(path)
    while parent and parent != path:
        if os.path.isdir(parent):
            return parent
        path, parent = parent, os.path.dirname(parent)
    return None


class FolderWatcher(QObject):
    """Emits ``rescanRequested(roots)`` a moment after files change under followed folders."""

    rescanRequested = Signal(object)  # list of followed folder paths

    def __init__(self, parent: QObject | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_changed)
        self._roots: list[str] = []
        self._offline: dict[str, str] = {}  # watched parent -> offline root
        self._pending: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._flush)

    @property
    def roots(self) -> list[str]:
        return list(self._roots)

    def watched(self) -> list[str]:
        return self._watcher.directories()

    def clear(self) -> None:
        self._timer.stop()
        self._pending.clear()
        self._roots = []
        self._offline = {}
        dirs = self._watcher.directories()
        if dirs:
            self._watcher.removePaths(dirs)

    def set_folders(self, folders: list[dict]) -> None:
        """The followed folders (as the engine lists them); forgets watches outside them."""
        self._roots = sorted(f["path"] for f in folders)
        keep = [d for d in self._watcher.directories() if _root_of(d, self._roots)]
        drop = [d for d in self._watcher.directories() if d not in keep]
        if drop:
            self._watcher.removePaths(drop)
        self._offline = {}
        for folder in folders:
            if folder.get("status") == "offline" or not os.path.isdir(folder["path"]):
                parent = _existing_parent(folder["path"])
                if parent:
                    self._offline[parent] = folder["path"]
                    self._add([parent])
            else:
                self._add([folder["path"]])

    def add_directories(self, directories: list[str]) -> None:
        """Folders a rescan walked: watch them (only those under followed folders)."""
        self._add([d for d in directories if _root_of(d, self._roots)])

    def _add(self, directories: list[str]) -> None:
        present = set(self._watcher.directories())
        room = MAX_WATCHED - len(present)
        fresh = [d for d in directories if d not in present][: max(0, room)]
        if fresh:
            self._watcher.addPaths(fresh)

    @Slot(str)
    def _on_changed(self, path: str) -> None:
        root = self._offline.get(path) or _root_of(path, self._roots)
        if root is None:
            return
        self._pending.add(root)
        self._timer.start()  # restarting it is the debounce

    def _flush(self) -> None:
        roots, self._pending = sorted(self._pending), set()
        if roots:
            self.rescanRequested.emit(roots)
