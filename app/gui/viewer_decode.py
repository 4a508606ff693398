"""Decoding photos for the built-in viewer, off the GUI thread, with a small cache for the photos around the
one shown (so stepping to the next one finds it decoded already).

Two sizes exist per photo: a *screen* decode that fits the screen (what "fit to window" shows, and what
is decoded ahead), and a *full* decode at the file's own resolution, made only when the user zooms to 100%
and only for the photo shown. A 50 MP photo is then 200 MB of pixels once, never several of them in the
prefetch cache; a 12 MP photo shown to fit a 1920 px screen costs 10 MB.

Decoding is the thumbnails' path (``thumbnail_decode``): Qt where it can (EXIF orientation applied),
Pillow for camera RAW previews and HEIC.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections import OrderedDict
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QRunnable, QSize, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageIOHandler, QImageReader

from app.engine.file_access import NotAPhotoFile
from app.engine.images import image_format, image_info
from app.gui.thumbnail_decode import decode_base64, decode_bytes, decode_file
from app.gui.viewer_info import PhotoDetails, read_details

# Bigger screen decodes are pointless (no screen is wider), smaller ones look soft on any laptop.
MIN_SCREEN_BOX = 1024
MAX_SCREEN_BOX = 4096
# The engine refuses images above this (image_input.MAX_PIXELS); the viewer does not try either.
MAX_FULL_PIXELS = 100_000_000


@dataclass(frozen=True)
class PhotoSource:
    """What to show: a file, or (for collections that keep copies) the stored base64 image."""

    doc_id: str
    path: str | None = None
    image_base64: str | None = None

    def key(self, box: int) -> tuple[str, int]:
        return (self.path or f"doc:{self.doc_id}", box)


@dataclass
class DecodedPhoto:
    source: PhotoSource
    box: int  # 0 = full resolution
    image: QImage | None = None
    source_size: QSize = field(default_factory=QSize)  # the picture's own size, after EXIF rotation
    details: PhotoDetails = field(default_factory=PhotoDetails)
    missing: bool = False
    error: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.source.key(self.box)


def _source_size(path: str) -> QSize:
    """The picture's size from its header, as shown (a 90° EXIF rotation swaps the sides)."""
    reader = QImageReader(path)
    size = reader.size()
    if not size.isValid():
        return QSize()
    if reader.transformation() & QImageIOHandler.Transformation.TransformationRotate90:
        size.transpose()
    return size


def _size_with_pillow(path: str) -> QSize:
    with open(path, "rb") as file:
        try:
            data: bytes | mmap.mmap = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            data = file.read()
    try:
        _, width, height = image_info(memoryview(data) if isinstance(data, mmap.mmap) else data)
    except (OSError, ValueError):
        return QSize()
    finally:
        if isinstance(data, mmap.mmap):
            with contextlib.suppress(BufferError):
                data.close()
    return QSize(width, height)


def decode_photo(source: PhotoSource, box: int) -> DecodedPhoto:
    """Decode ``source`` to fit a ``box`` x ``box`` square (0: its full size). Never raises: a missing file
    or an unreadable one comes back as ``missing`` or ``error``."""
    result = DecodedPhoto(source, box)
    try:
        if source.path and os.path.lexists(source.path):
            result.details = read_details(source.path)
            with open(source.path, "rb") as file:
                fmt = image_format(file.read(32))
            # A RAW is shown as its preview and a HEIC through Pillow (as the thumbnails are): their size is
            # Pillow's, whatever a Qt plugin would make of the file.
            size = _size_with_pillow(source.path) if fmt in ("TIFF", "HEIF") else _source_size(source.path)
            wanted = box or max(size.width(), size.height(), 1)
            if not box and size.width() * size.height() > MAX_FULL_PIXELS:
                wanted = MAX_SCREEN_BOX
            image = decode_file(source.path, wanted)
        elif source.image_base64:
            data = decode_base64(source.image_base64)
            _, width, height = image_info(data)
            size = QSize(width, height)
            image = decode_bytes(data, box or max(width, height))
        else:
            result.missing = True
            return result
        result.image = image
        result.source_size = size if size.isValid() else image.size()
    except FileNotFoundError:
        result.missing = True
    except (OSError, ValueError, NotAPhotoFile) as exc:
        result.error = str(exc) or type(exc).__name__
    except MemoryError:
        result.error = "Not enough memory to show this photo."
    return result


class _Relay(QObject):
    done = Signal(object)  # DecodedPhoto; emitted on a worker thread, delivered on the GUI thread


class _DecodeTask(QRunnable):
    def __init__(self, source: PhotoSource, box: int, relay: _Relay) -> None:
        super().__init__()
        self._source, self._box, self._relay = source, box, relay

    def run(self) -> None:
        try:
            result = decode_photo(self._source, self._box)
        except Exception as exc:  # never lose an answer: the viewer waits for one per request
            result = DecodedPhoto(self._source, self._box, error=f"{type(exc).__name__}: {exc}")
        self._relay.done.emit(result)


class ViewerDecoder(QObject):
    """Decodes on its own two threads; ``decoded(DecodedPhoto)`` on the GUI thread for every request.

    Screen decodes are kept (least recently used first out) so the photos around the shown one are ready;
    a full decode is kept only for the photo it was made for.
    """

    decoded = Signal(object)

    def __init__(self, parent: QObject | None = None, *, keep: int = 5) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)  # the shown photo and one neighbour at once
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._cache: OrderedDict[tuple[str, int], DecodedPhoto] = OrderedDict()
        self._full: DecodedPhoto | None = None
        self._in_flight: set[tuple[str, int]] = set()
        self._keep = keep
        self._closed = False

    def cached(self, source: PhotoSource, box: int) -> DecodedPhoto | None:
        if box == 0:
            full = self._full
            return full if full is not None and full.key == source.key(0) else None
        found = self._cache.get(source.key(box))
        if found is not None:
            self._cache.move_to_end(found.key)
        return found

    def request(self, source: PhotoSource, box: int) -> bool:
        """Decode ``source`` unless it is cached or under way; True when a decode was started."""
        key = source.key(box)
        if self._closed or key in self._in_flight or self.cached(source, box) is not None:
            return False
        self._in_flight.add(key)
        self._pool.start(_DecodeTask(source, box, self._relay))
        return True

    def is_busy(self, source: PhotoSource, box: int) -> bool:
        return source.key(box) in self._in_flight

    def forget(self, source: PhotoSource) -> None:
        """Drop what is kept of ``source`` (its file was trashed, or changed on disk)."""
        for key in [k for k, v in self._cache.items() if v.source == source]:
            del self._cache[key]
        if self._full is not None and self._full.source == source:
            self._full = None

    def drop_full(self) -> None:
        """Free the full-resolution decode (the viewer moved on, or closed)."""
        self._full = None

    def clear(self) -> None:
        self._cache.clear()
        self._full = None

    def shutdown(self) -> None:
        self._closed = True
        self._pool.clear()
        self._pool.waitForDone()
        self.clear()

    def _on_done(self, result: DecodedPhoto) -> None:
        self._in_flight.discard(result.key)
        if self._closed:
            return
        if result.box == 0:
            self._full = result
        else:
            self._cache[result.key] = result
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        with contextlib.suppress(RuntimeError):  # the viewer is being torn down
            self.decoded.emit(result)
