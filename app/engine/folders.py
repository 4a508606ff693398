"""Folders a collection follows, kept in step with the disk.

A rescan compares the image files under each followed folder with the documents whose path lies there:

- same size and modification time: nothing is read. Only directory listings and ``stat`` calls are
  made, which is why rescanning 20,000 unchanged photos takes a fraction of a second, not minutes;
- size or time changed: the content hash decides. The same bytes (a touched or copied-back file) only
  refresh the stored metadata; different bytes are embedded again;
- a new path whose bytes match a document whose file vanished (same size, same content hash) is that
  photo renamed or moved: the document takes the new path and id and keeps its embedding;
- other new files are embedded; documents whose file vanished are removed.

A followed folder that is missing or unreadable (an unplugged drive, a network share that is down) is
reported offline and its photos are kept. So is an empty folder that photos were indexed from when it is
no longer on the drive it was on (an unmounted mount point is an empty folder on the parent's drive), and
a drive that was mounted inside a followed folder and is not now: deleting a whole library because a
drive was not plugged in is the one mistake a photo library must not make. Hidden files and folders are
not part of a followed folder, as with imports.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.engine.collection import Collection
from app.engine.errors import ObjectAlreadyExists, ObjectNotFound, RequestMalformed
from app.engine.files import file_content_hash, file_doc_id, file_type_of, import_files
from app.engine.folder_walk import FolderWalk
from app.engine.importer import Progress


@dataclass
class FolderScan:
    """What one rescan found and did in one followed folder."""

    folder: str
    status: str = "online"  # "online" or "offline"
    reason: str = ""
    unchanged: int = 0
    touched: int = 0  # changed time, same bytes: metadata refreshed, embedding kept
    moved: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path), embedding kept
    removed: list[str] = field(default_factory=list)  # paths whose documents were removed
    to_import: list[str] = field(default_factory=list)  # new or changed files that need embedding
    directories: list[str] = field(default_factory=list)  # every folder walked (for watching)
    ignored: list[str] = field(default_factory=list)  # files that are not a supported image type
    unplugged: list[str] = field(default_factory=list)  # drives inside the folder, not connected now
    imported: int = 0
    failed: list[dict] = field(default_factory=list)  # [{"path", "error"}] from embedding
    # Files that failed before and have not changed since: not tried again, [{"path", "error"}].
    known_failures: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "folder": self.folder,
            "status": self.status,
            "reason": self.reason,
            "unchanged": self.unchanged,
            "touched": self.touched,
            "moved": [list(pair) for pair in self.moved],
            "removed": list(self.removed),
            "to_import": list(self.to_import),
            "directories": list(self.directories),
            "ignored": list(self.ignored),
            "unplugged": list(self.unplugged),
            "imported": self.imported,
            "failed": list(self.failed),
            "known_failures": list(self.known_failures),
        }


def normalize_folder(path: str | Path) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(str(path))))


def _is_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def list_folders(coll: Collection) -> list[dict]:
    """Followed folders with their last scan's status and how many photos came from each."""
    return [
        {
            **{k: v for k, v in source.items() if k not in ("device", "mounts")},
            "documents": coll.db.count_under(coll.id, source["path"]),
            "watch": _watchable(source["path"]),
        }
        for source in coll.db.sources(coll.id)
    ]


def _watchable(folder: str) -> str | None:
    """The folder a file-system watcher should watch for it: itself, or while it is missing its nearest
    existing parent, where its drive reappears (a GUI must not probe possibly dead drives itself)."""
    path = folder
    while True:
        if os.path.isdir(path):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def follow(coll: Collection, path: str | Path) -> dict:
    """Start following a folder (it is scanned by the next rescan). A folder inside a followed one is
    refused; following a folder that holds followed ones replaces them."""
    folder = normalize_folder(path)
    if not os.path.isdir(folder):
        raise RequestMalformed(f"`{folder}` is not a folder that exists.")
    for source in coll.db.sources(coll.id):
        if _is_under(folder, source["path"]):
            raise ObjectAlreadyExists(
                f"`{folder}` is already followed as part of `{source['path']}`."
                if folder != source["path"]
                else f"`{folder}` is already followed."
            )
    for source in coll.db.sources(coll.id):
        if _is_under(source["path"], folder):
            coll.db.remove_source(coll.id, source["path"])
    coll.db.add_source(coll.id, folder, int(time.time()))
    return next(f for f in list_folders(coll) if f["path"] == folder)


def unfollow(coll: Collection, path: str | Path, *, remove_photos: bool = True) -> int:
    """Stop following a folder; its photos leave the collection unless ``remove_photos`` is False (the
    files on disk are never touched). Returns the number of photos removed."""
    folder = normalize_folder(path)
    if folder not in {s["path"] for s in coll.db.sources(coll.id)}:
        raise ObjectNotFound(f"Collection `{coll.name}` does not follow `{folder}`.")
    labels = [row[0] for row in coll.db.file_rows(coll.id, folder)] if remove_photos else []
    coll.delete_labels(labels)
    coll.db.remove_source(coll.id, folder)
    return len(labels)


def _offline_reason(folder: str) -> str | None:
    try:
        with os.scandir(folder):
            return None
    except FileNotFoundError:
        return "The folder is not there: if it is on a drive or share, connect it and rescan."
    except NotADirectoryError:
        return "This path is no longer a folder."
    except PermissionError:
        return "Photoseek is not allowed to read this folder."
    except OSError as exc:
        return f"The folder cannot be read: {exc.strerror or exc}."


def _classify(
    coll: Collection,
    walk: FolderWalk,
    source: dict,
    scan: FolderScan,
    moves_pool: dict,
) -> tuple[list, list]:
    """Compare one walked folder with its documents. Returns (new paths with stat, vanished rows)."""
    mounts = source["mounts"]
    folder, found = walk.folder, walk.found
    # A drive that was mounted inside the folder at the last scan and is not now (its mount point is
    # an empty folder on this drive, or gone): its photos are offline, not deleted.
    scan.unplugged = [m for m in mounts if m not in walk.mounts]
    unseen = walk.unseen + scan.unplugged
    if scan.unplugged:
        scan.reason = "Not connected, photos kept: " + ", ".join(scan.unplugged)
    scan.directories, scan.ignored = list(walk.directories), list(walk.ignored)
    scan.failed.extend(walk.failed)
    rows = coll.db.file_rows(coll.id, folder)
    if not found and rows and not _same_drive(folder, source["device"]):
        scan.status = "offline"
        scan.reason = (
            f"The folder is empty, but {len(rows)} photos were indexed from it: if it is on a drive "
            "that is not mounted, connect it and rescan. The photos are kept."
        )
        scan.directories.clear()
        return [], []
    known = {row[2]: row for row in rows}
    failures = coll.db.failures_under(coll.id, folder)
    gone_failures = [path for path in failures if path not in found]
    if gone_failures:
        coll.db.clear_failures(coll.id, gone_failures)
    touched: list[tuple[int, str, dict]] = []
    new: list[tuple[str, os.stat_result]] = []
    for path, st in found.items():
        row = known.pop(path, None)
        failure = failures.get(path)
        if failure is not None and failure[0] == st.st_size and failure[1] == st.st_mtime:
            scan.known_failures.append({"path": path, "error": failure[2]})
        elif row is None:
            new.append((path, st))
        elif row[3] == st.st_size and row[4] == st.st_mtime:
            scan.unchanged += 1
        elif row[5] and _hash_or_none(path) == row[5]:
            label, doc_id = row[0], row[1]
            stored = coll.db.get(coll.id, doc_id)
            if stored is not None:
                touched.append(
                    (label, doc_id, {**stored[1], "file_size": st.st_size, "file_mtime": st.st_mtime})
                )
                scan.touched += 1
        else:
            scan.to_import.append(path)
    coll.rewrite_bodies(touched)
    vanished = [row for path, row in known.items() if not any(_is_under(path, d) for d in unseen)]
    for row in vanished:
        if row[5]:
            moves_pool.setdefault((row[3], row[5]), []).append(row)
    return new, vanished


def _same_drive(folder: str, device: int | None) -> bool:
    """Whether ``folder`` is still on the drive it was on at its last good scan. An unmounted mount point
    is an empty folder on the parent's drive: emptiness there means "not connected", not "deleted"."""
    return device is not None and _device(folder) == device


def _hash_or_none(path: str) -> str | None:
    try:
        return file_content_hash(Path(path))
    except OSError:
        return None


class Rescan:
    """One rescan of some followed folders, in three parts: ``__init__`` reads which folders and which are
    offline, ``step`` walks the disk a little at a time (no database work), ``finish`` compares and
    applies what changed. Folders are compared together so that a photo moved from one followed folder
    to another keeps its embedding too.
    """

    def __init__(self, coll: Collection, folders: list[str] | None = None) -> None:
        self.coll = coll
        sources = {s["path"]: s for s in coll.db.sources(coll.id)}
        chosen = list(sources)
        if folders is not None:
            wanted = {normalize_folder(f) for f in folders}
            unknown = wanted - set(chosen)
            if unknown:
                raise ObjectNotFound(f"Collection `{coll.name}` does not follow `{sorted(unknown)[0]}`.")
            chosen = [f for f in chosen if f in wanted]
        self.scans: list[FolderScan] = []
        self._walks: list[tuple[FolderScan, FolderWalk, dict]] = []
        for folder in chosen:
            entry = FolderScan(folder)
            self.scans.append(entry)
            reason = _offline_reason(folder)
            if reason is not None:
                entry.status, entry.reason = "offline", reason
            else:
                self._walks.append((entry, FolderWalk(folder), sources[folder]))

    @property
    def files_seen(self) -> int:
        return sum(len(walk.found) for _, walk, _ in self._walks)

    def step(self, seconds: float | None = None) -> bool:
        """Walk for about ``seconds`` (None: to the end). Returns whether every folder is walked."""
        deadline = None if seconds is None else time.monotonic() + seconds
        for _, walk, _ in self._walks:
            walk.step(deadline)  # a walk already done returns at once
            if deadline is not None and time.monotonic() >= deadline:
                break
        return all(walk.done for _, walk, _ in self._walks)

    def finish(self) -> list[FolderScan]:
        """Apply removals, moves and metadata refreshes; list what needs embedding (``to_import``)."""
        coll = self.coll
        # A folder unfollowed while it was being walked is left alone.
        still = {s["path"] for s in coll.db.sources(coll.id)}
        scans = [entry for entry in self.scans if entry.folder in still]
        moves_pool: dict[tuple, list] = {}
        new_by_scan: list[tuple[FolderScan, list]] = []
        vanished_all: list[tuple[FolderScan, list]] = []
        walked = {entry.folder: walk for entry, walk, _ in self._walks}
        for entry, walk, source in self._walks:
            if entry.folder in still:
                new, vanished = _classify(coll, walk, source, entry, moves_pool)
                new_by_scan.append((entry, new))
                vanished_all.append((entry, vanished))
        moved_labels = _apply_moves(coll, new_by_scan, moves_pool)
        gone: list[int] = []
        for entry, vanished in vanished_all:
            for row in vanished:
                if row[0] not in moved_labels:
                    gone.append(row[0])
                    entry.removed.append(row[2])
        coll.delete_labels(gone)
        now = int(time.time())
        for entry in scans:
            online = entry.status == "online"
            device = _device(entry.folder) if online else None
            # Drives mounted inside are remembered while connected, and while not (until unfollowed).
            folder_walk = walked.get(entry.folder)
            mounts = None
            if online and folder_walk is not None:
                mounts = sorted(set(folder_walk.mounts) | set(entry.unplugged))
            coll.db.mark_source(coll.id, entry.folder, now, entry.status, entry.reason, device, mounts)
        return scans


def _apply_moves(coll: Collection, new_by_scan: list[tuple[FolderScan, list]], moves_pool: dict) -> set[int]:
    """Re-key vanished photos to the new paths holding their bytes; other new files are to be embedded.
    Returns the labels that moved."""
    moved_labels: set[int] = set()
    rewrites: list[tuple[int, str, dict]] = []
    vanished_sizes = {size for size, _ in moves_pool}
    for entry, new in new_by_scan:
        for path, st in new:
            # Only a new file the size of a vanished photo is read and hashed: most are never opened.
            digest = _hash_or_none(path) if st.st_size in vanished_sizes else None
            candidates = [
                row for row in moves_pool.get((st.st_size, digest), []) if row[0] not in moved_labels
            ]
            if not candidates or coll.db.label_of(coll.id, file_doc_id(Path(path))) is not None:
                entry.to_import.append(path)
                continue
            row = candidates[0]
            stored = coll.db.get(coll.id, row[1])
            if stored is None:
                entry.to_import.append(path)
                continue
            moved_labels.add(row[0])
            rewrites.append((row[0], file_doc_id(Path(path)), _moved_body(stored[1], Path(path), st)))
            entry.moved.append((row[2], path))
    coll.rewrite_bodies(rewrites)
    return moved_labels


def scan(
    coll: Collection, folders: list[str] | None = None, cancel: threading.Event | None = None
) -> list[FolderScan]:
    """Bring the collection in step with its followed folders, except for embedding (see Rescan).
    Cancelled while walking, it changes nothing and returns no reports."""
    rescan = Rescan(coll, folders)
    cancelled = cancel.is_set if cancel is not None else lambda: False
    while not cancelled() and not rescan.step(0.5):
        pass
    return [] if cancelled() else rescan.finish()


def _device(folder: str) -> int | None:
    try:
        return os.stat(folder).st_dev
    except OSError:
        return None


def _moved_body(body: dict, path: Path, st: os.stat_result) -> dict:
    return {
        **body,
        "id": file_doc_id(path),
        "name": path.name,
        "path": str(path),
        "folder": str(path.parent),
        "file_type": file_type_of(path),
        "file_size": st.st_size,
        "file_mtime": st.st_mtime,
    }


def sync(
    coll: Collection,
    folders: list[str] | None = None,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[FolderScan]:
    """``scan``, then embed the new and changed files; each scan says what was imported or failed."""
    scans = scan(coll, folders, cancel)
    todo = [path for entry in scans for path in entry.to_import]
    if not todo or (cancel is not None and cancel.is_set()):
        return scans
    owner = {path: entry for entry in scans for path in entry.to_import}
    for result in import_files(coll, todo, progress=progress, cancel=cancel):
        entry = owner.get(result["path"])
        if entry is None:
            continue
        if result["success"]:
            entry.imported += 1
        else:
            entry.failed.append({"path": result["path"], "error": result.get("error", "")})
    return scans
