"""What an import is made of: the files found under what the user dropped, and the running tally.

Plain data: the library's import jobs fill it in, the GUI's panel and summary dialog show it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from app.library.problems import EngineProblem


@dataclass(frozen=True)
class SkippedFile:
    """A file that did not make it into the collection, and why, in words a user understands."""

    path: str
    reason: str


def scan_paths(paths: list[str]) -> tuple[list[str], list[SkippedFile]]:
    """Expand dropped files and folders (recursively, as the engine walks them) into image files.

    Everything else found is returned as skipped with a reason, so nothing disappears silently and the
    progress bar counts photos, not sidecar files. Imports the engine, so it belongs on the engine thread.
    """
    from app.engine.files import walk
    from app.engine.images import SUPPORTED_EXTENSIONS

    found: dict[str, None] = {}
    skipped: list[SkippedFile] = []
    for path in walk(paths):
        if path.suffix.lower() in SUPPORTED_EXTENSIONS:
            found.setdefault(str(path), None)
        elif not path.exists():
            skipped.append(SkippedFile(str(path), "file not found"))
        else:
            skipped.append(unsupported(str(path)))
    return list(found), skipped


def unsupported(path: str) -> SkippedFile:
    suffix = os.path.splitext(path)[1]
    return SkippedFile(path, f"not a supported image type ({suffix or 'no extension'})")


def rescan_problems(reports: list[dict]) -> list[SkippedFile]:
    """What a folder rescan left out, for the summary after following folders: other files, files
    that failed before and have not changed, names that cannot be stored."""
    return (
        [unsupported(path) for r in reports for path in r["ignored"]]
        + [
            SkippedFile(f["path"], f"{f['error']} (unchanged since it failed; fix or replace it)")
            for r in reports
            for f in r["known_failures"]
        ]
        + [SkippedFile(f["path"], f["error"]) for r in reports for f in r["failed"]]
    )


@dataclass
class ImportTally:
    """One import's files and how far it got, worked through in chunks."""

    collection: str
    files: list[str]
    skipped: list[SkippedFile]
    cancel: threading.Event
    create_schema: dict | None = None
    position: int = 0
    imported: int = 0
    unchanged: int = 0
    failed: list[SkippedFile] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    error: EngineProblem | None = None
    # Photos a folder rescan found already in the library (not part of ``files``, so not in progress).
    already_there: int = 0

    @property
    def total(self) -> int:
        return len(self.files)

    def next_chunk(self, size: int) -> list[str]:
        return self.files[self.position : self.position + size]

    def record(self, chunk: list[str], results: list[dict]) -> list[str]:
        """Tally one chunk's per-file results; returns the ids that were imported.

        A result list shorter than the chunk means the import was cancelled part-way: files without a
        result were not touched and count as not attempted.
        """
        imported_ids: list[str] = []
        for result in results:
            if result.get("unchanged"):
                self.unchanged += 1
            elif result.get("success"):
                self.imported += 1
                imported_ids.append(str(result["id"]))
            else:
                reason = str(result.get("error") or "could not be imported")
                self.failed.append(SkippedFile(str(result.get("path", "?")), reason))
        self.position += len(results) if len(results) < len(chunk) else len(chunk)
        return imported_ids

    @property
    def finished(self) -> bool:
        return self.position >= self.total or self.cancel.is_set() or self.error is not None

    def summary(self) -> ImportSummary:
        return ImportSummary(
            collection=self.collection,
            total=self.total + self.already_there,
            imported=self.imported,
            unchanged=self.unchanged + self.already_there,
            not_attempted=self.total - self.position,
            problems=[*self.skipped, *self.failed],
            cancelled=self.cancel.is_set() and self.position < self.total,
            error=self.error,
            seconds=time.monotonic() - self.started,
        )


@dataclass(frozen=True)
class ImportSummary:
    """How an import ended: shown in the import panel and, in detail, in the summary dialog."""

    collection: str
    total: int
    imported: int
    unchanged: int
    not_attempted: int
    problems: list[SkippedFile]
    cancelled: bool
    error: EngineProblem | None
    seconds: float

    @property
    def failed(self) -> int:
        """Photos that were tried and could not be imported (unreadable, damaged, ...)."""
        return self.total - self.imported - self.unchanged - self.not_attempted

    @property
    def other_files(self) -> int:
        """Files found that are not photos Photoseek reads: never counted among the photos."""
        return len(self.problems) - self.failed

    def merged(self, later: ImportSummary) -> ImportSummary:
        """This import and one queued after it, as one summary (the panel reports them together)."""
        return ImportSummary(
            collection=later.collection,
            total=self.total + later.total,
            imported=self.imported + later.imported,
            unchanged=self.unchanged + later.unchanged,
            not_attempted=self.not_attempted + later.not_attempted,
            problems=[*self.problems, *later.problems],
            cancelled=self.cancelled or later.cancelled,
            error=later.error or self.error,
            seconds=self.seconds + later.seconds,
        )

    def headline(self) -> str:
        photos = f"{self.total:,} photo{'s' if self.total != 1 else ''}"
        if self.cancelled:
            text = f"Import cancelled: {self.imported:,} of {photos} imported"
        else:
            text = f"Imported {self.imported:,} of {photos}"
        if self.unchanged:
            text += f", {self.unchanged:,} already in the library"
        # imported + already there + failed + not attempted = the photos: the numbers add up.
        if self.failed:
            text += f", {self.failed:,} could not be read"
        if self.other_files:
            text += f"; {self.other_files:,} other file{'s' if self.other_files != 1 else ''} skipped"
        if self.error:
            text += ", stopped by an error"
        return text
