"""The ``folders`` object of a collection in the client object model: followed folders (a Photoseek
extension; see app.engine.folders)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.engine import client_checks as checks
from app.engine.client_checks import owned
from app.engine.importer import Progress

if TYPE_CHECKING:
    from app.engine.client import Engine


class Folders:
    """Folders the collection follows."""

    def __init__(self, engine: Engine, collection: str) -> None:
        self._engine = engine
        self._name = collection

    @owned
    def retrieve(self) -> list[dict]:
        from app.engine import folders

        return folders.list_folders(self._engine._collection(self._name))

    @owned
    def add(self, path: str | Path) -> dict:
        from app.engine import folders

        return folders.follow(self._engine._collection(self._name), checks.path_arg(path, "path", "folder"))

    @owned
    def delete(self, path: str | Path, *, remove_photos: bool = True) -> dict:
        from app.engine import folders

        path = checks.path_arg(path, "path", "folder")
        removed = folders.unfollow(self._engine._collection(self._name), path, remove_photos=remove_photos)
        return {"folder": folders.normalize_folder(path), "removed": removed}

    @owned
    def scan(self, paths: list[str] | None = None, *, cancel: threading.Event | None = None) -> list[dict]:
        """Apply removals, moves and metadata changes; list the files still to embed (``to_import``)."""
        from app.engine import folders

        checks.callbacks_arg(cancel=cancel)
        chosen = _folder_list(paths)
        return [s.to_dict() for s in folders.scan(self._engine._collection(self._name), chosen, cancel)]

    @owned
    def begin_scan(self, paths: list[str] | None = None):
        """A scan to run a step at a time: ``step(seconds)`` until it returns True, then ``finish()``
        (see folders.Rescan). For callers that must stay responsive while a slow drive is walked."""
        from app.engine import folders

        return folders.Rescan(self._engine._collection(self._name), _folder_list(paths))

    @owned
    def sync(
        self,
        paths: list[str] | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[dict]:
        """Rescan followed folders (all, or ``paths``) and embed what is new or changed."""
        from app.engine import folders

        checks.callbacks_arg(progress, cancel)
        coll = self._engine._collection(self._name)
        chosen = _folder_list(paths)
        return [s.to_dict() for s in folders.sync(coll, chosen, progress=progress, cancel=cancel)]


def _folder_list(paths: Any) -> list[str] | None:
    return None if paths is None else checks.paths_arg(paths, "paths", "folder")
