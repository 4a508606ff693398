"""What the viewer says about a photo beside the picture: file size, camera, when it was taken.

Read on the decoder's worker thread from the file's header (EXIF), never the whole file. Qt-free.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from app.sizes import human_size

_MAKE = 0x010F
_MODEL = 0x0110
_DATE_TIME = 0x0132
_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 0x9003
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
# A TIFF-based RAW keeps IFD0 (make, model) and its EXIF IFD near the start; reading this much is enough.
_RAW_HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class PhotoDetails:
    file_size: int | None = None
    camera: str = ""
    taken: datetime | None = None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip("\x00 ").strip() if value is not None else ""


def _exif(path: str) -> Image.Exif | None:
    with open(path, "rb") as file:
        head = file.read(_RAW_HEADER_BYTES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged header costs the camera line, nothing more
        if head[:4] in _TIFF_MAGIC:
            exif = Image.Exif()
            exif.load(head)
            return exif
        if head[4:8] == b"ftyp":
            from app.engine.images import register_heif

            register_heif()
        with Image.open(path) as img:
            # PngImageFile.getexif() decodes the whole image; the base method reads only the header.
            return Image.Image.getexif(img) if img.format == "PNG" else img.getexif()


def camera_name(make: str, model: str) -> str:
    """ "Canon" + "Canon EOS R5" reads "Canon EOS R5", not "Canon Canon EOS R5"."""
    if model.casefold().startswith(make.casefold()):
        return model
    return f"{make} {model}".strip()


def read_details(path: str) -> PhotoDetails:
    try:
        size: int | None = os.stat(path).st_size
    except OSError:
        size = None
    try:
        exif = _exif(path)
    except Exception:  # an unreadable header must not cost the user the picture
        exif = None
    if exif is None:
        return PhotoDetails(size)
    camera = camera_name(_text(exif.get(_MAKE)), _text(exif.get(_MODEL)))
    taken = None
    try:
        stamp = _text(exif.get_ifd(_EXIF_IFD).get(_DATE_TIME_ORIGINAL)) or _text(exif.get(_DATE_TIME))
        taken = datetime.strptime(stamp, "%Y:%m:%d %H:%M:%S") if stamp else None
    except (ValueError, KeyError, TypeError):
        taken = None
    return PhotoDetails(size, camera, taken)


def describe(
    doc: dict,
    details: PhotoDetails,
    *,
    width: int = 0,
    height: int = 0,
    similarity_percent: int | None = None,
) -> list[tuple[str, str]]:
    """(label, value) pairs for the info strip, in reading order; unknown values are left out."""
    path = doc.get("path") if isinstance(doc.get("path"), str) else None
    folder = doc.get("folder") or (str(Path(path).parent) if path else "")
    rows: list[tuple[str, str]] = []
    if similarity_percent is not None:
        rows.append(("Match", f"{similarity_percent}%"))
    if folder:
        rows.append(("Folder", str(folder)))
    taken = details.taken
    if taken is None and isinstance(doc.get("captured_at"), int):
        taken = datetime.fromtimestamp(doc["captured_at"])  # the import's EXIF date, or the file's time
    if taken is not None:
        rows.append(("Taken", f"{taken.day} {taken:%b %Y, %H:%M}"))
    if details.file_size is not None:
        rows.append(("Size", human_size(details.file_size)))
    width = width or int(doc.get("width") or 0)
    height = height or int(doc.get("height") or 0)
    if width and height:
        rows.append(("Resolution", f"{width} × {height} ({width * height / 1e6:.1f} MP)"))
    if details.camera:
        rows.append(("Camera", details.camera))
    return rows
