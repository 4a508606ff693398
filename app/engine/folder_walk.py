"""Listing the images under a followed folder, a little at a time.

Only the disk is read here (directory listings and ``stat``), never the database, and the walk goes in
steps with a time budget, so the thread doing it can answer other requests in between: on a slow network
share, listing tens of thousands of photos takes seconds.
"""

from __future__ import annotations

import contextlib
import os
import time

from app.engine.file_access import not_regular_reason
from app.engine.files import UNSTORABLE_NAME, storable_path
from app.engine.images import SUPPORTED_EXTENSIONS


class FolderWalk:
    """Every supported image under ``folder`` with its stat, hidden entries left out.

    ``unseen`` holds the paths whose contents the walk could not see (a folder that failed to list, a
    symlinked folder, a file whose stat failed): nothing under them may count as deleted.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.found: dict[str, os.stat_result] = {}
        self.unseen: list[str] = []
        self.directories: list[str] = []
        self.ignored: list[str] = []  # files that are not a supported image type
        self.failed: list[dict] = []  # [{"path", "error"}]: images that cannot be stored or read
        self.mounts: list[str] = []  # folders inside that are another drive (a NAS under ~, say)
        self._pending = [folder]
        self._device: int | None = None

    @property
    def done(self) -> bool:
        return not self._pending

    def step(self, deadline: float | None = None) -> bool:
        """List folders until all are listed or ``time.monotonic()`` passes ``deadline`` (at least one
        folder per call). Returns whether the walk is done."""
        while self._pending:
            self._list(self._pending.pop())
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self.done

    def _list(self, current: str) -> None:
        if self._device is None:
            with contextlib.suppress(OSError):
                self._device = os.stat(current).st_dev
        self.directories.append(current)
        try:
            entries = list(os.scandir(current))
        except OSError:
            # Unreadable for now (permissions, a privacy prompt, a flaky share): its photos stay.
            self.unseen.append(current)
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    self._pending.append(entry.path)
                    device = entry.stat(follow_symlinks=False).st_dev
                    if self._device is not None and device != self._device:
                        self.mounts.append(entry.path)
                elif entry.is_symlink() and entry.is_dir():
                    # Not followed (links can loop or reach a whole disk), but photos imported through
                    # the link's path before must not be mistaken for deleted ones.
                    self.unseen.append(entry.path)
                elif os.path.splitext(entry.name)[1].lower() in SUPPORTED_EXTENSIONS:
                    st = entry.stat()  # follows a link: what matters is what would be read
                    irregular = not_regular_reason(st)
                    if irregular is not None:
                        # A pipe or a device named like a photo would hang or flood any reader of it.
                        self.failed.append({"path": entry.path, "error": irregular})
                    elif storable_path(entry.path):
                        self.found[entry.path] = st
                    else:
                        self.failed.append({"path": entry.path, "error": UNSTORABLE_NAME})
                else:
                    self.ignored.append(entry.path)
            except FileNotFoundError:
                continue  # deleted while the folder was being listed
            except OSError:
                self.unseen.append(entry.path)
