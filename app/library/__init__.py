"""The library service: everything the app does with a photo library, without Qt (see ``service``)."""

from app.library.defaults import DEFAULT_COLLECTION, default_collection, photo_schema
from app.library.folder_jobs import FolderScanJob, FolderScanResult, ScanFinished, ScanProgress
from app.library.imports import ImportSummary, SkippedFile
from app.library.jobs import ImportJob, ImportProgress, ImportStarted, Job
from app.library.problems import EngineProblem, problem_from_exception
from app.library.service import (
    CollectionsChanged,
    DocumentsRemoved,
    DownloadJob,
    DownloadProgress,
    FoldersChanged,
    LibraryEvent,
    LibraryService,
    ModelStateChanged,
    SearchPage,
)

__all__ = [
    "DEFAULT_COLLECTION",
    "CollectionsChanged",
    "DocumentsRemoved",
    "DownloadJob",
    "DownloadProgress",
    "EngineProblem",
    "FolderScanJob",
    "FolderScanResult",
    "FoldersChanged",
    "ImportJob",
    "ImportProgress",
    "ImportStarted",
    "ImportSummary",
    "Job",
    "LibraryEvent",
    "LibraryService",
    "ModelStateChanged",
    "ScanFinished",
    "ScanProgress",
    "SearchPage",
    "SkippedFile",
    "default_collection",
    "photo_schema",
    "problem_from_exception",
]
