"""Decoding one thumbnail to a ``QImage``, on a worker thread (never a ``QPixmap``: that is GUI-thread only).

Qt decodes what it can, straight to the wanted size. Camera RAW files (TIFFs to Qt, which would show a tiny
thumbnail or nothing) and HEIC (which Qt rarely has a plugin for) are decoded with Pillow through the
engine's image loader instead: the RAW's embedded preview, pillow-heif for HEIC.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import mmap
import os
from collections.abc import Iterator

from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QImageReader

from app.engine import raw
from app.engine.file_access import NotAPhotoFile, not_regular_reason, read_regular
from app.engine.images import image_format, load_image


def _fit(size: QSize, box: int) -> QSize:
    """Scale ``size`` to fit a ``box`` x ``box`` square, keeping aspect and never enlarging."""
    if size.width() <= box and size.height() <= box:
        return QSize(size)
    return size.scaled(box, box, Qt.AspectRatioMode.KeepAspectRatio)


def _decode_scaled(reader: QImageReader, box: int) -> QImage:
    reader.setAutoTransform(True)  # EXIF orientation
    original = reader.size()
    if original.isValid() and not original.isEmpty():
        # Formats such as JPEG decode straight to the smaller size, which is much faster than scaling after.
        # Fitting into a square box is unaffected by the EXIF rotation swapping width and height.
        reader.setScaledSize(_fit(original, box))
    image = reader.read()
    if image.isNull():
        raise ValueError(reader.errorString() or "unreadable image")
    if image.width() > box or image.height() > box:
        image = image.scaled(
            box, box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return image


@functools.cache
def _qt_reads_heif() -> bool:
    return bool({b"heic", b"heif"} & {bytes(f).lower() for f in QImageReader.supportedImageFormats()})


def _needs_pillow(data: bytes | memoryview, fmt: str | None) -> bool:
    if fmt == "HEIF":
        return not _qt_reads_heif()
    return fmt == "TIFF" and raw.parse_raw(data) is not None


@contextlib.contextmanager
def _mapped(path: str) -> Iterator[bytes | memoryview]:
    """The file's bytes as a read-only memory map: a RAW's preview is then all that is read of it."""
    with open(path, "rb") as file:
        try:
            mapped: mmap.mmap | None = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # empty files, and file systems that cannot map
            mapped, data = None, read_regular(path)
    if mapped is None:
        yield data
        return
    view = memoryview(mapped)
    try:
        yield view
    finally:
        # A view still referenced elsewhere (a traceback) blocks closing; the map then goes with the view.
        with contextlib.suppress(BufferError):
            view.release()
            mapped.close()


def _decode_with_pillow(data: bytes | memoryview, box: int) -> QImage:
    """RAW previews, HEIC and whatever Qt cannot read; an ImageError (a ValueError) says why not."""
    img = load_image(data, min_side=box)  # RGB; JPEG previews decode at a reduced scale
    img.thumbnail((box, box), Image.Resampling.LANCZOS)
    pixels = img.tobytes()
    # That QImage borrows ``pixels``; the copy owns its memory, so it outlives this frame.
    return QImage(pixels, img.width, img.height, 3 * img.width, QImage.Format.Format_RGB888).copy()


def decode_file(path: str, box: int) -> QImage:
    # A document's path may name a FIFO or a device by now: opening one would hang this thread for ever.
    reason = not_regular_reason(os.stat(path))
    if reason is not None:
        raise NotAPhotoFile(reason)
    with open(path, "rb") as file:
        fmt = image_format(file.read(32))
    if fmt in ("TIFF", "HEIF"):
        with _mapped(path) as data:
            if _needs_pillow(data, fmt):
                return _decode_with_pillow(data, box)
    try:
        return _decode_scaled(QImageReader(path), box)
    except ValueError:
        # No Qt plugin for it, or Qt disagrees with the file: if Pillow fails too, its reason is clearer.
        with _mapped(path) as data:
            return _decode_with_pillow(data, box)


def decode_bytes(data: bytes, box: int) -> QImage:
    if not _needs_pillow(data, image_format(data)):
        buffer = QBuffer()
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        try:
            return _decode_scaled(QImageReader(buffer), box)
        except ValueError:
            pass
        finally:
            buffer.close()
    return _decode_with_pillow(data, box)


def decode_base64(text: str) -> bytes:
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]  # tolerate data URLs pasted into documents
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"stored image is not valid base64: {exc}") from exc
