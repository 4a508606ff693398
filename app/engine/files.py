"""Importing image files from disk: folders walked recursively, one document per file.

A file's document id is derived from its absolute path, so importing the same file again updates it in
place (or skips it when its size and modification time are unchanged) instead of duplicating it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from app.engine.collection import Collection
from app.engine.errors import RequestMalformed
from app.engine.images import SUPPORTED_EXTENSIONS, image_info
from app.engine.importer import Progress, import_documents


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
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
        if path.is_dir():
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
        doc_id = file_doc_id(path)
        found = coll.db.get(coll.id, doc_id)
        if found and found[1].get("file_size") == st.st_size and found[1].get("file_mtime") == st.st_mtime:
            results.append({"success": True, "path": str(path), "id": doc_id, "unchanged": True})
            continue
        todo.append((path, doc_id, st))
    total = len(results) + len(todo)
    skipped = len(results)
    unreadable: dict[int, str] = {}

    def documents() -> Iterator[dict]:
        for n, (path, doc_id, st) in enumerate(todo):
            try:
                data = path.read_bytes()
            except OSError as exc:
                unreadable[n] = f"Cannot read the file: {exc.strerror}"
                data = b""
            image: str | bytes = base64.b64encode(stored_form(data)).decode("ascii") if stored_image else data
            yield {
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

    def report(done: int, _total: int | None) -> None:
        if progress:
            progress(skipped + done, total)

    if progress:
        progress(skipped, total)
    outcomes = import_documents(
        coll, documents(), {"action": "upsert", "batch_size": 32}, progress=report, cancel=cancel
    )
    # A cancelled import has fewer outcomes than files: the files never reached are left out.
    failures: list[tuple[str, int, float, str]] = []
    for n, ((path, doc_id, st), outcome) in enumerate(zip(todo, outcomes, strict=False)):
        entry = {"success": outcome["success"], "path": str(path), "id": doc_id}
        if not outcome["success"]:
            entry["error"] = unreadable.get(n, outcome["error"])
            failures.append((str(path), st.st_size, st.st_mtime, entry["error"]))
        results.append(entry)
    # Remembered so that a folder rescan does not try a broken file again until it changes.
    coll.db.record_failures(coll.id, failures)
    coll.db.clear_failures(coll.id, [r["path"] for r in results if r["success"] and not r.get("unchanged")])
    return results


def trash_files(coll: Collection, ids: Iterable[str]) -> list[dict]:
    """Move each document's file to the system trash, then remove the document from the collection.

    Never deletes a file permanently: where the trash cannot take it (no trash on that drive, no
    permission) the file stays, the photo stays in the collection and the result says why. A file already
    gone from disk is only removed from the collection.
    """
    from send2trash import send2trash
    from send2trash.exceptions import TrashPermissionError

    ids = list(ids)
    results: list[dict] = []
    for doc_id in ids:
        found = coll.db.get(coll.id, doc_id)
        if found is None:
            results.append({"success": False, "id": doc_id, "error": f"No photo with id {doc_id}."})
            continue
        path = found[1].get("path")
        entry: dict = {"id": doc_id, "path": path}
        kept = _same_file_kept_elsewhere(coll, found[1], set(ids))
        if kept is not None:
            # One file reached by two paths (a symlink, a hard link) is one photo listed twice: trashing
            # "the copy" would trash the photo being kept. Only the extra listing goes.
            entry["trashed"] = False
            entry["note"] = f"Same file as {kept}, which is kept: only removed from the collection."
        elif isinstance(path, str) and path and os.path.lexists(path):
            try:
                send2trash(path)
            except (OSError, TrashPermissionError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                results.append({**entry, "success": False, "error": f"Could not move to the trash: {reason}"})
                continue
            entry["trashed"] = True
        else:
            entry["trashed"] = False
        coll.delete_document(doc_id)
        results.append({**entry, "success": True})
    return results


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
