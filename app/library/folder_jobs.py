"""Following and rescanning folders as one job: walk the disk in short steps, apply what changed, then
embed new and changed photos as an import (see ``jobs.ImportJob``) inside the same job.

The caller gets one request for what the user did ("follow these folders", F5): progress while the disk
is walked, the walk's findings, import progress, and one result at the end.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from app.library.imports import ImportSummary, ImportTally, rescan_problems
from app.library.jobs import ChunkPacer, ImportJob, Job

# A rescan walks the disk this long at a time before queued searches get their turn.
RESCAN_STEP_SECONDS = 0.25


@dataclass(frozen=True)
class ScanProgress:
    """Photos seen so far by a walk that outlasted one step (a slow or very large drive)."""

    seen: int


@dataclass(frozen=True)
class ScanFinished:
    """What the walk found, one report per folder (see ``app.engine.folders.FolderScan.to_dict``)."""

    reports: list[dict]


@dataclass(frozen=True)
class FolderScanResult:
    reports: list[dict]
    # The import of what the walk found; None when nothing needed embedding and nobody asked for one.
    summary: ImportSummary | None

    @property
    def checked(self) -> int:
        return sum(r["unchanged"] for r in self.reports)


class FolderScanJob(Job[FolderScanResult]):
    """Rescans a collection's followed folders (all, or ``paths``); with ``follow`` first follows them.

    ``report_import``: the user asked for these folders, so the result carries an import summary even
    when nothing needed embedding ("dropping a folder again says it is up to date").
    """

    def __init__(
        self,
        service: Any,
        collection: str,
        paths: list[str] | None,
        pacer: ChunkPacer,
        *,
        follow: bool = False,
        create_schema: dict | None = None,
        report_import: bool = False,
    ) -> None:
        super().__init__()
        self.collection = collection
        self._service = service
        self._paths = paths
        self._pacer = pacer
        self._follow = follow
        self._create_schema = create_schema
        self._report_import = report_import
        self._rescan: Any = None
        self._reports: list[dict] = []
        self.import_job: ImportJob | None = None

    def _step(self) -> bool:
        if self.import_job is not None:
            return self._import_step(self.import_job)
        if self.cancelled:
            self.result = FolderScanResult([], None)
            return True
        if self._rescan is None:
            self._begin()
            return False
        if not self._rescan.step(RESCAN_STEP_SECONDS):
            self.report(ScanProgress(self._rescan.files_seen))
            return False
        return self._walked()

    def _begin(self) -> None:
        folders = self._service.folder_client(self.collection, self._create_schema)
        paths = self._paths
        if self._follow and paths is not None:
            from app.engine.errors import ObjectAlreadyExists
            from app.engine.folders import normalize_folder

            for path in paths:
                # Dropped again, or inside a followed folder: the rescan below covers it.
                with contextlib.suppress(ObjectAlreadyExists):
                    folders.add(path)
            wanted = [normalize_folder(p) for p in paths]
            paths = [
                f["path"]
                for f in folders.retrieve()
                if any(w == f["path"] or w.startswith(f["path"].rstrip(os.sep) + os.sep) for w in wanted)
            ]
        self._rescan = folders.begin_scan(paths)

    def _walked(self) -> bool:
        reports = [] if self.cancelled else [s.to_dict() for s in self._rescan.finish()]
        self._reports = reports
        self._service.folders_rescanned(self.collection, reports)
        self.report(ScanFinished(reports))
        todo = [path for r in reports for path in r["to_import"]]
        if not (todo or self._report_import) or self.cancelled:
            self.result = FolderScanResult(reports, None)
            return True
        known = sum(r["unchanged"] + r["touched"] + len(r["moved"]) for r in reports)
        # Only a follow lists the other files it found: on every later rescan they would be noise.
        skipped = rescan_problems(reports) if self._report_import else []
        tally = ImportTally(self.collection, todo, skipped, self.cancel_event, already_there=known)
        self.import_job = ImportJob(self._service, tally, self._pacer)
        self.import_job.report = self.report
        return False

    def _import_step(self, job: ImportJob) -> bool:
        if not job.step():
            return False
        self.result = FolderScanResult(self._reports, job.result)
        return True
