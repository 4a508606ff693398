"""Engine-thread slots for library upkeep, mixed into ``EngineWorker``: followed folders (list, follow,
rescan, unfollow) and near-duplicates (find, move to the trash).

A mixin rather than a second QObject: these slots share the worker's engine, import queue and signals,
and Qt runs them on the worker's thread like its own (the receiver of a bound method is the worker).
"""

from __future__ import annotations

import contextlib
import os
import threading

from PySide6.QtCore import Slot

from app.gui.import_job import ImportJob, rescan_problems

# A rescan walks the disk this long at a time before queued searches get their turn.
RESCAN_STEP_SECONDS = 0.25


class LibrarySlots:
    """Slots of ``EngineWorker`` (see there for the signals and helpers they use)."""

    @Slot(int, str, float)
    def find_duplicates(self, request_id: int, collection: str, threshold: float) -> None:
        if self._engine is None:
            return
        try:
            groups = self._engine.collections[collection].documents.find_duplicates(threshold=threshold)
            hidden = {
                f["name"]
                for f in self._collections.get(collection, {}).get("fields", [])
                if f.get("type") in ("image", "float[]")
            }
            for group in groups:
                # Stored images (base64) and vectors are large and of no use to the view: leave them here.
                group["documents"] = [
                    {k: v for k, v in doc.items() if k not in hidden} for doc in group["documents"]
                ]
        except Exception as exc:
            self._fail(request_id, "duplicates", exc, collection)
            return
        self.duplicatesFound.emit(request_id, groups)

    @Slot(int, str, object)
    def trash_documents(self, request_id: int, collection: str, ids: list[str]) -> None:
        """Move the photos' files to the system trash and remove them from the collection."""
        if self._engine is None:
            return
        try:
            results = self._engine.collections[collection].documents.trash_files(list(ids))
        except Exception as exc:
            self._fail(request_id, "trash", exc, collection)
            return
        removed = [r["id"] for r in results if r["success"]]
        self.documentsTrashed.emit(request_id, results)
        if removed:
            self.documentsRemoved.emit(request_id, removed)
            self.collectionsChanged.emit(self._refresh_collections())

    # -- followed folders ------------------------------------------------------------------------------

    @Slot(int, str)
    def list_folders(self, request_id: int, collection: str) -> None:
        if self._engine is None:
            return
        try:
            self.foldersChanged.emit(collection, self._engine.collections[collection].folders.retrieve())
        except Exception as exc:
            self._fail(request_id, "folders", exc, collection)

    @Slot(int, str, object, object, object)
    def follow_folders(
        self, request_id: int, collection: str, paths: list[str], create_schema: object, cancel: object
    ) -> None:
        """Follow folders (creating the collection first when asked) and bring them in step at once."""
        if self._engine is None:
            return
        from app.engine.errors import ObjectAlreadyExists
        from app.engine.folders import normalize_folder

        try:
            if create_schema and collection not in {c["name"] for c in self._refresh_collections()}:
                self._engine.collections.create(create_schema)
                self.collectionsChanged.emit(self._refresh_collections())
            folders = self._engine.collections[collection].folders
            for path in paths:
                # Dropped again, or inside a followed folder: the rescan below covers it.
                with contextlib.suppress(ObjectAlreadyExists):
                    folders.add(path)
            wanted = [normalize_folder(p) for p in paths]
            roots = [
                f["path"]
                for f in folders.retrieve()
                if any(w == f["path"] or w.startswith(f["path"].rstrip(os.sep) + os.sep) for w in wanted)
            ]
        except Exception as exc:
            self._fail(request_id, "follow", exc, collection)
            self.foldersScanned.emit(request_id, collection, [])
            return
        self._rescan(request_id, collection, roots, cancel, report=True)

    @Slot(int, str, object, object)
    def rescan_folders(self, request_id: int, collection: str, paths: object, cancel: object) -> None:
        self._rescan(request_id, collection, paths, cancel, report=False)

    def _rescan(
        self, request_id: int, collection: str, paths: object, cancel: object, *, report: bool
    ) -> None:
        """Apply what changed on disk; files that need embedding then import in chunks like an import.
        With ``report`` (the user asked for these folders) an import summary comes even when nothing
        needed embedding, so dropping a folder again says it is up to date."""
        assert isinstance(cancel, threading.Event)
        if self._engine is None:
            return
        try:
            folders = self._engine.collections[collection].folders
            rescan = folders.begin_scan(list(paths) if paths is not None else None)
        except Exception as exc:
            self._fail(request_id, "rescan", exc, collection)
            self.foldersScanned.emit(request_id, collection, [])
            return
        self._rescans.append((request_id, collection, rescan, cancel, report))
        if len(self._rescans) == 1:
            self._nextRescanStep.emit()

    @Slot()
    def _rescan_step(self) -> None:
        """Walk the first queued rescan's folders for a moment, then let queued searches run (as import
        chunks do); once walked, apply what changed."""
        if not self._rescans or self._engine is None:
            return
        request_id, collection, rescan, cancel, report = self._rescans[0]
        try:
            done = cancel.is_set() or rescan.step(RESCAN_STEP_SECONDS)
            if done:
                self._rescans.pop(0)
                reports = [] if cancel.is_set() else [s.to_dict() for s in rescan.finish()]
                listing = self._engine.collections[collection].folders.retrieve()
        except Exception as exc:
            self._rescans.pop(0)
            self._fail(request_id, "rescan", exc, collection)
            self.foldersScanned.emit(request_id, collection, [])
            done = False
        else:
            if done:
                self._rescanned(request_id, collection, reports, listing, cancel, report)
            else:
                self.folderScanProgress.emit(request_id, collection, rescan.files_seen)
        if self._rescans:
            self._nextRescanStep.emit()

    def _rescanned(
        self,
        request_id: int,
        collection: str,
        reports: list[dict],
        listing: list[dict],
        cancel: threading.Event,
        report: bool,
    ) -> None:
        # A rescan right after a follow (the new collection's start-up rescan) finds the same new files:
        # those already waiting in a queued import are left to it.
        queued = {p for job in self._jobs if job.collection == collection for p in job.files[job.position :]}
        for folder_report in reports:
            folder_report["to_import"] = [p for p in folder_report["to_import"] if p not in queued]
        todo = [path for folder_report in reports for path in folder_report["to_import"]]
        self.foldersChanged.emit(collection, listing)  # first: the GUI watches what the scan walked
        self.foldersScanned.emit(request_id, collection, reports)
        if any(r["removed"] or r["moved"] or r["touched"] for r in reports):
            self.collectionsChanged.emit(self._refresh_collections())
        if (todo or report) and not cancel.is_set():
            known = sum(r["unchanged"] + r["touched"] + len(r["moved"]) for r in reports)
            # Only a follow lists the other files it found: on every later rescan they would be noise.
            skipped = rescan_problems(reports) if report else []
            self._jobs.append(ImportJob(request_id, collection, todo, skipped, cancel, already_there=known))
            self.importStarted.emit(request_id, len(todo))
            if len(self._jobs) == 1:
                self._nextImportStep.emit()

    @Slot(int, str, str, bool)
    def unfollow_folder(self, request_id: int, collection: str, path: str, remove_photos: bool) -> None:
        if self._engine is None:
            return
        from app.engine.folders import normalize_folder

        # Photos of this folder still waiting to be embedded must not arrive after it is gone.
        prefix = normalize_folder(path).rstrip(os.sep) + os.sep
        for job in self._jobs:
            if job.collection == collection:
                waiting = job.files[job.position :]
                job.files[job.position :] = [p for p in waiting if not p.startswith(prefix)]
        try:
            folders = self._engine.collections[collection].folders
            folders.delete(path, remove_photos=remove_photos)
            self.foldersChanged.emit(collection, folders.retrieve())
            self.collectionsChanged.emit(self._refresh_collections())
        except Exception as exc:
            self._fail(request_id, "unfollow", exc, collection)
