"""Importing image files from disk: folders walked recursively, one document per file.

A file's document id is derived from its absolute path, so importing the same file again updates it in
place (or skips it when its size and modification time are unchanged) instead of duplicating it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from app.engine.collection import Collection
from app.engine.errors import RequestMalformed, TypesenseError
from app.engine.file_access import (
    MAX_FILE_BYTES,
    hash_regular,
    not_regular_reason,
    read_regular,
    too_large_reason,
)
from app.engine.images import SUPPORTED_EXTENSIONS, image_info
from app.engine.importer import Progress, run_import
from app.engine.line_errors import is_store_failure

log = logging.getLogger(__name__)


def file_doc_id(path: Path) -> str:
    return hashlib.sha1(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:20]


UNSTORABLE_NAME = (
    "The file name is not valid UTF-8 (written by an old camera or another system?): rename the file "
    "and Photoseek will pick it up."
)

_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 36867


def storable_path(path: str) -> bool:
    """Whether the path can be stored: SQLite keeps text as UTF-8, so a name that is not (an old camera's,
    another system's) would fail the whole batch it is written in."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def content_hash(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def file_content_hash(path: Path) -> str:
    """Raises OSError for anything but a regular file: a pipe or a device named like a photo must never
    be waited on or read without end."""
    return hash_regular(path)


def stored_form(data: bytes) -> bytes:
    """What a collection that keeps images stores for a file: the file itself, except for a camera RAW,
    whose largest embedded preview is kept instead of 20-60 MB of sensor data nothing here can show."""
    from app.engine.raw import parse_raw

    try:
        found = parse_raw(data) if data[:4] in (b"II*\x00", b"MM\x00*") else None
        if found is not None and found.previews:
            return found.preview_bytes(data, found.previews[0])
    except Exception:
        pass  # a damaged RAW is reported by the embedding step, with its reason
    return data


def file_type_of(path: Path) -> str:
    """Lowercase extension without the dot; ``jpeg`` and ``jpg`` are one type to users."""
    ext = path.suffix.lower().lstrip(".")
    return "jpg" if ext == "jpeg" else ext


def exif_captured_at(data: bytes) -> int | None:
    """EXIF DateTimeOriginal as unix seconds (camera clocks carry no zone: read as local time), or None."""
    from PIL import Image

    try:
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            # TIFF-based camera RAW files are no image Pillow opens, but their header is EXIF already.
            exif = Image.Exif()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a damaged header only costs the date: no noise
                exif.load(bytes(data))
        else:
            with Image.open(io.BytesIO(data)) as img:
                # PngImageFile.getexif() decodes the whole image; the base method reads only the header.
                exif = Image.Image.getexif(img) if img.format == "PNG" else img.getexif()
        raw = exif.get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL)
        if isinstance(raw, bytes):
            raw = raw.decode("ascii", "replace")
        if not isinstance(raw, str):
            return None
        return int(datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S").timestamp())
    except Exception:
        # A broken or odd EXIF block must not cost the user the photo: the file time stands in.
        return None


def file_metadata(path: Path, data: bytes, st: os.stat_result) -> dict:
    """What users filter a photo library by: folder, type, size in pixels, when it was taken."""
    meta: dict = {"folder": str(path.parent), "file_type": file_type_of(path)}
    try:
        _, width, height = image_info(data)
    except Exception:
        # The import reports the bad image itself; the metadata just leaves the size out.
        pass
    else:
        meta["width"] = width
        meta["height"] = height
    captured = exif_captured_at(data) if data else None
    meta["captured_at"] = captured if captured is not None else int(st.st_mtime)
    return meta


def walk(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file under ``paths`` (files as given, folders recursively, hidden entries left out), sorted."""
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        try:
            is_dir = path.is_dir()
        except OSError:  # a name too long for the file system: it becomes that file's own error
            is_dir = False
        if is_dir:
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path


def import_files(
    coll: Collection,
    files: Iterable[str | Path],
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[dict]:
    """Import image files; one result per file found: ``{"success", "path", "id"}`` or with ``"error"``."""
    image_fields = [f["name"] for f in coll.schema.fields if f["type"] == "image"]
    if not image_fields:
        raise RequestMalformed(f"Collection `{coll.name}` has no `image` field to import files into.")
    image_field = image_fields[0]
    stored_image = image_field not in coll.schema.unstored
    results: list[dict] = []
    todo: list[tuple[Path, str, os.stat_result]] = []
    # (path, size, mtime, error): remembered so that a folder rescan does not try a broken file again
    # until it changes.
    failures: list[tuple[str, int, float, str]] = []
    for path in walk(files):
        try:
            st = path.stat()
        except OSError as exc:
            error = f"Cannot read the file: {exc.strerror}"
            results.append({"success": False, "path": str(path), "error": error})
            continue
        if not storable_path(str(path)):
            results.append({"success": False, "path": str(path), "error": UNSTORABLE_NAME})
            continue
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            results.append(
                {
                    "success": False,
                    "path": str(path),
                    "skipped": True,
                    "error": f"Not a supported image type ({path.suffix or 'no extension'})",
                }
            )
            continue
        refused = not_regular_reason(st) or too_large_reason(st.st_size, MAX_FILE_BYTES)
        if refused is not None:
            results.append({"success": False, "path": str(path), "error": refused})
            failures.append((str(path), st.st_size, st.st_mtime, refused))
            continue
        doc_id = file_doc_id(path)
        found = coll.db.get(coll.id, doc_id)
        if found and found[1].get("file_size") == st.st_size and found[1].get("file_mtime") == st.st_mtime:
            results.append({"success": True, "path": str(path), "id": doc_id, "unchanged": True})
            continue
        todo.append((path, doc_id, st))
    total = len(results) + len(todo)
    skipped = len(results)
    unreadable: dict[int, str] = {}

    def document(path: Path, doc_id: str, st: os.stat_result) -> dict:
        data = read_regular(path, MAX_FILE_BYTES)
        image: str | bytes = base64.b64encode(stored_form(data)).decode("ascii") if stored_image else data
        return {
            "id": doc_id,
            "name": path.name,
            "path": str(path),
            "file_size": st.st_size,
            "file_mtime": st.st_mtime,
            # Lets a rescan recognise this photo after a rename or move without embedding it again.
            **({"content_hash": content_hash(data)} if data else {}),
            **file_metadata(path, data, st),
            image_field: image,
        }

    def documents() -> Iterator[dict]:
        for n, (path, doc_id, st) in enumerate(todo):
            try:
                yield document(path, doc_id, st)
            except Exception as exc:
                unreadable[n] = _unreadable_reason(exc)
                # An empty image fails this line in the importer, which keeps the results in step.
                yield {"id": doc_id, "name": path.name, "path": str(path), image_field: ""}

    def report(done: int, _total: int | None) -> None:
        if progress:
            progress(skipped + done, total)

    if progress:
        progress(skipped, total)
    outcome = run_import(
        coll, documents(), {"action": "upsert", "batch_size": 32}, progress=report, cancel=cancel
    )
    outcomes = outcome.results
    # A cancelled import has fewer outcomes than files: the files never reached are left out. One that
    # stopped because the library could not be written gives every file it did not store that reason.
    if outcome.stop_error is not None:
        outcomes = outcomes + [{"success": False, "error": outcome.stop_error.message}] * (
            len(todo) - len(outcomes)
        )
    stopped = outcome.stopped | set(range(len(outcome.results), len(outcomes)))
    for n, ((path, doc_id, st), result) in enumerate(zip(todo, outcomes, strict=False)):
        entry = {"success": result["success"], "path": str(path), "id": doc_id}
        if not result["success"]:
            entry["error"] = unreadable.get(n, result["error"])
            if n not in stopped:
                failures.append((str(path), st.st_size, st.st_mtime, entry["error"]))
        results.append(entry)
    _remember(coll, failures, [r["path"] for r in results if r["success"] and not r.get("unchanged")])
    return results


def move_to_trash(path: str) -> str | None:
    """Moves the file to the system trash (never a permanent delete); None when it went, else why not."""
    from send2trash import send2trash
    from send2trash.exceptions import TrashPermissionError

    try:
        send2trash(path)
    except (OSError, TrashPermissionError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return f"Could not move to the trash: {reason}"
    return None


def _unreadable_reason(exc: Exception) -> str:
    if isinstance(exc, TypesenseError):  # an OSError too (the typesense client's errors are), not the disk's
        return exc.message
    if isinstance(exc, OSError):
        return f"Cannot read the file: {exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return "Cannot read the file: not enough memory."
    return f"Cannot read the file ({type(exc).__name__}: {exc})"


def _remember(coll: Collection, failures: list[tuple[str, int, float, str]], imported: list[str]) -> None:
    try:
        coll.db.record_failures(coll.id, failures)
        coll.db.clear_failures(coll.id, imported)
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        # A full disk costs only the memory of failures: those files are tried again next time, and the
        # results in hand (what was stored, what was not and why) still reach the caller.
        log.warning("Could not record which files failed to import: %s", exc)


def trash_files(coll: Collection, ids: Iterable[str]) -> list[dict]:
    """Move each document's file to the system trash, then remove the document from the collection.

    Never deletes a file permanently: where the trash cannot take it (no trash on that drive, no
    permission) the file stays, the photo stays in the collection and the result says why. A file already
    gone from disk is only removed from the collection. Only a photo file Photoseek imported is ever
    moved: a document's ``path`` is just a stored string, which any import line can set to anything.
    """
    ids = list(ids)
    results: list[dict] = []
    for doc_id in ids:
        found = coll.db.get(coll.id, doc_id)
        if found is None:
            results.append({"success": False, "id": doc_id, "error": f"No photo with id {doc_id}."})
            continue
        path = found[1].get("path")
        entry: dict = {"id": doc_id, "path": path}
        present = isinstance(path, str) and bool(path) and os.path.lexists(path)
        refused = _not_imported_reason(doc_id, found[1]) if present else None
        if refused == _GONE:
            present = False  # a link whose photo is gone: nothing to trash, the listing goes
        elif refused is not None:
            results.append({**entry, "success": False, "error": refused})
            continue
        kept = _same_file_kept_elsewhere(coll, found[1], set(ids))
        if kept is not None:
            # One file reached by two paths (a symlink, a hard link) is one photo listed twice: trashing
            # "the copy" would trash the photo being kept. Only the extra listing goes.
            entry["trashed"] = False
            entry["note"] = f"Same file as {kept}, which is kept: only removed from the collection."
        elif present:
            assert isinstance(path, str)
            problem = move_to_trash(path)
            if problem is not None:
                results.append({**entry, "success": False, "error": problem})
                continue
            entry["trashed"] = True
        else:
            entry["trashed"] = False
        coll.delete_document(doc_id)
        results.append({**entry, "success": True})
    return results


_GONE = "gone"


def _not_imported_reason(doc_id: str, body: dict) -> str | None:
    """Why the file ``body`` names is not one to move to the trash, or None when it is the photo file this
    document was imported from: a photo type, a regular file, the path the id was derived from (as
    import_files derives it), and the size and time (or the bytes) it had then. ``_GONE`` when the path
    is a link to nothing."""
    path = body["path"]
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        return f"Not moved to the trash: {os.path.basename(path)} is not a photo file."
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return _GONE
    except OSError as exc:
        return f"Not moved to the trash: the file cannot be checked ({exc.strerror or exc})."
    irregular = not_regular_reason(st)
    if irregular is not None:
        return f"Not moved to the trash. {irregular}"
    if not os.path.isabs(path) or doc_id != file_doc_id(Path(path)) or "file_size" not in body:
        return (
            "Not moved to the trash: this file was not imported by Photoseek (the photo was added with "
            "a path, not from the file), so Photoseek leaves it alone."
        )
    if st.st_size == body.get("file_size") and st.st_mtime == body.get("file_mtime"):
        return None
    try:
        same = st.st_size == body.get("file_size") and hash_regular(path) == body.get("content_hash")
    except OSError:
        same = False
    if same:
        return None
    return (
        "Not moved to the trash: the file has changed since Photoseek imported it. Rescan its folder "
        "(or import it again), then try again."
    )


def _same_file_kept_elsewhere(coll: Collection, body: dict, leaving: set[str]) -> str | None:
    """The path of a document that stays and is the very same file as ``body``'s, if there is one."""
    digest, path = body.get("content_hash"), body.get("path")
    if not digest or not isinstance(path, str):
        return None
    for other_id, other_path in coll.db.paths_with_hash(coll.id, digest):
        if other_id in leaving or other_path == path:
            continue
        try:
            if os.path.samefile(path, other_path):
                return other_path
        except OSError:
            continue
    return None
