"""Reading what the user dropped or pasted: local file paths, or one image to search with."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QImage

# Raw image formats some apps put on the clipboard instead of (or beside) a decoded image.
_RAW_IMAGE_FORMATS = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")
MAX_QUERY_IMAGE_BYTES = 64 * 1024 * 1024


def local_paths(mime: QMimeData | None) -> list[str]:
    """The local files and folders named by a drop or paste (remote URLs are left out)."""
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def image_path_in(mime: QMimeData | None) -> str | None:
    """The single image file a drop or paste names, if that is what it is."""
    # The engine thread has normally imported this already, so it costs the GUI thread nothing.
    from app.engine.images import SUPPORTED_EXTENSIONS

    files = [p for p in local_paths(mime) if Path(p).suffix.lower() in SUPPORTED_EXTENSIONS]
    return files[0] if len(files) == 1 and Path(files[0]).is_file() else None


class QueryImageError(ValueError):
    """The dropped or pasted thing cannot be used as a query image; the message says why."""


def query_image_from(mime: QMimeData | None) -> tuple[bytes, str] | None:
    """``(image bytes, label)`` for searching by image, or None when ``mime`` holds no image at all.

    An image file wins over pixel data (apps often put both, and the file is the original). Pixel data
    is encoded as PNG so the engine receives a normal image file.
    """
    if mime is None:
        return None
    path = image_path_in(mime)
    if path is not None:
        return read_query_image(path), Path(path).name
    for fmt in _RAW_IMAGE_FORMATS:
        if mime.hasFormat(fmt):
            data = bytes(mime.data(fmt).data())
            if data:
                return data, "Pasted image"
    if mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return png_bytes(image), "Pasted image"
    return None


def read_query_image(path: str) -> bytes:
    try:
        size = Path(path).stat().st_size
        if size > MAX_QUERY_IMAGE_BYTES:
            raise QueryImageError(f"{Path(path).name} is too large to search with ({size // 2**20} MB).")
        return Path(path).read_bytes()
    except OSError as exc:
        raise QueryImageError(f"{Path(path).name} could not be read: {exc.strerror or exc}.") from exc


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())
