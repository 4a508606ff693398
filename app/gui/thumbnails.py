"""Thumbnail loading for the results grid.

Decoding happens on a private thread pool and only ever produces ``QImage`` (``QPixmap`` belongs to the GUI
thread). Finished images wait in a thread-safe queue that a GUI-thread timer drains in short time-boxed
ticks, so a burst of finished thumbnails never freezes scrolling. Pending requests are kept newest-first:
whatever was painted last is what the user is looking at, so it is decoded first, and requests for rows that
scrolled away can be dropped with :meth:`ThumbnailLoader.retain_pending`.

Thumbnails are also written to a disk cache so that reopening a collection does not decode every photo again.

Decoding itself (Qt where it can, Pillow for RAW previews and HEIC) is in ``thumbnail_decode``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QObject,
    QRunnable,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtGui import QImage, QPixmap

from app import paths
from app.gui.thumbnail_decode import decode_base64, decode_bytes, decode_file


class ThumbnailState:
    """Values of the model's ThumbnailStateRole."""

    LOADING = "loading"
    READY = "ready"
    MISSING = "missing"  # nothing to show: no file on disk and no stored image
    ERROR = "error"  # there is an image but it could not be decoded


@dataclass(frozen=True)
class ThumbnailJob:
    """What to thumbnail. ``path`` is tried first; ``image_base64`` is the stored copy, if any."""

    key: str
    size: int
    path: str | None = None
    image_base64: str | None = None


@dataclass(frozen=True)
class ThumbnailResult:
    key: str
    state: str
    image: QImage | None = None
    from_cache: bool = False
    error: str | None = None


def thumbnail_cache_dir() -> Path:
    return paths.cache_dir() / "thumbnails"


def job_key(
    *, size: int, path: str | None = None, doc_id: str | None = None, image_base64: str | None = None
) -> str:
    """In-memory identity of a thumbnail. Cheap enough to compute while painting (no file system access)."""
    if path:
        return f"file:{size}:{path}"
    if image_base64 is not None:
        # str caches its hash, so repeated paints of the same document do not rehash the image data.
        return f"b64:{size}:{doc_id}:{len(image_base64)}:{hash(image_base64):x}"
    raise ValueError("a thumbnail needs a file path or a stored image")


def _read_cached(cache_file: Path) -> QImage | None:
    if not cache_file.is_file():
        return None
    image = QImage(str(cache_file))
    return None if image.isNull() else image


def _write_cached(cache_file: Path, image: QImage) -> None:
    """Write atomically, so another loader (or another app instance) never reads half a file."""
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=cache_file.suffix)
    os.close(fd)
    try:
        fmt = "PNG" if image.hasAlphaChannel() else "JPG"
        if not image.save(tmp, fmt, 90):
            raise OSError(f"could not write thumbnail cache file {tmp}")
        os.replace(tmp, cache_file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _cache_file(cache_dir: Path, identity: str) -> Path:
    digest = hashlib.sha1(identity.encode("utf-8", "surrogatepass")).hexdigest()
    # Two levels keep directories small for large libraries; the suffix is only a hint, readers sniff content.
    return cache_dir / digest[:2] / f"{digest}.thumb"


def load_thumbnail(job: ThumbnailJob, cache_dir: Path | None) -> ThumbnailResult:
    """Produce the thumbnail for ``job``. Runs on a worker thread: QImage only, never QPixmap."""
    try:
        identity: str | None = None
        data: bytes | None = None
        if job.path:
            try:
                st = os.stat(job.path)
                identity = f"{job.path}\0{st.st_size}\0{st.st_mtime_ns}\0{job.size}"
            except FileNotFoundError:
                identity = None
        if identity is None:
            if job.image_base64 is None:
                return ThumbnailResult(job.key, ThumbnailState.MISSING, error="file not found")
            data = decode_base64(job.image_base64)
            identity = f"b64\0{hashlib.sha1(data).hexdigest()}\0{job.size}"

        cache_file = _cache_file(cache_dir, identity) if cache_dir is not None else None
        if cache_file is not None:
            cached = _read_cached(cache_file)
            if cached is not None:
                return ThumbnailResult(job.key, ThumbnailState.READY, cached, from_cache=True)

        image = decode_file(job.path, job.size) if data is None else decode_bytes(data, job.size)

        if cache_file is not None:
            # A read-only or full cache only costs speed next time.
            with contextlib.suppress(OSError):
                _write_cached(cache_file, image)
        return ThumbnailResult(job.key, ThumbnailState.READY, image)
    except FileNotFoundError:
        return ThumbnailResult(job.key, ThumbnailState.MISSING, error="file not found")
    except (OSError, ValueError) as exc:
        return ThumbnailResult(job.key, ThumbnailState.ERROR, error=str(exc))


class _ThumbnailTask(QRunnable):
    def __init__(self, job: ThumbnailJob, cache_dir: Path | None, results: queue.SimpleQueue) -> None:
        super().__init__()
        self._job = job
        self._cache_dir = cache_dir
        self._results = results

    def run(self) -> None:
        try:
            result = load_thumbnail(self._job, self._cache_dir)
        except Exception as exc:  # never lose a slot: the GUI waits for one result per started job
            reason = f"{type(exc).__name__}: {exc}"
            result = ThumbnailResult(self._job.key, ThumbnailState.ERROR, error=reason)
        self._results.put(result)


class ThumbnailLoader(QObject):
    """Loads thumbnails off the GUI thread and keeps the recent ones as QPixmaps.

    ``thumbnailReady(key)`` fires on the GUI thread once :meth:`pixmap` has the image;
    ``thumbnailFailed(key, state)`` when there is nothing to show (``missing``) or decoding failed
    (``error``).
    """

    thumbnailReady = Signal(str)
    thumbnailFailed = Signal(str, str)

    DRAIN_INTERVAL_MS = 30
    DRAIN_BUDGET_S = 0.006

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        cache_dir: Path | None = None,
        disk_cache: bool = True,
        max_threads: int | None = None,
        memory_budget_bytes: int = 96 * 1024 * 1024,
        max_pending: int = 400,
    ) -> None:
        super().__init__(parent)
        # Without a disk cache every thumbnail is decoded from the original each session.
        self._cache_dir: Path | None = None
        if disk_cache:
            self._cache_dir = Path(cache_dir) if cache_dir is not None else thumbnail_cache_dir()
        self._pool = QThreadPool(self)
        ideal = max(1, QThreadPool.globalInstance().maxThreadCount() - 1)
        self._pool.setMaxThreadCount(max_threads or min(4, ideal))
        self._results: queue.SimpleQueue[ThumbnailResult] = queue.SimpleQueue()
        self._pending: OrderedDict[str, ThumbnailJob] = OrderedDict()  # newest last
        self._in_flight: set[str] = set()
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()  # LRU, most recent last
        self._pixmap_bytes = 0
        self._memory_budget = memory_budget_bytes
        self._failures: OrderedDict[str, tuple[str, str | None]] = OrderedDict()  # key -> (state, reason)
        self._max_pending = max_pending
        self._closed = False
        self.stats = {"requested": 0, "started": 0, "decoded": 0, "cache_hits": 0, "dropped": 0}

        self._drain_timer = QTimer(self)
        self._drain_timer.setInterval(self.DRAIN_INTERVAL_MS)
        self._drain_timer.timeout.connect(self._drain)

    @property
    def cache_dir(self) -> Path | None:
        return self._cache_dir

    def pixmap(self, key: str) -> QPixmap | None:
        pix = self._pixmaps.get(key)
        if pix is not None:
            self._pixmaps.move_to_end(key)
        return pix

    def state(self, key: str) -> str:
        if key in self._pixmaps:
            return ThumbnailState.READY
        failure = self._failures.get(key)
        return failure[0] if failure else ThumbnailState.LOADING

    def error(self, key: str) -> str | None:
        """Why ``key`` failed, for tooltips; None when it did not."""
        failure = self._failures.get(key)
        return failure[1] if failure else None

    def request(self, job: ThumbnailJob) -> None:
        """Ask for ``job``; asking again for a pending job moves it to the front of the queue."""
        key = job.key
        if self._closed or key in self._pixmaps or key in self._in_flight or key in self._failures:
            return
        if key in self._pending:
            self._pending.move_to_end(key)
        else:
            self._pending[key] = job
            self.stats["requested"] += 1
            if len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)
                self.stats["dropped"] += 1
        self._start_jobs()

    def retain_pending(self, keys: set[str] | frozenset[str]) -> None:
        """Forget pending requests whose key is not in ``keys`` (rows that scrolled out of view)."""
        for key in [k for k in self._pending if k not in keys]:
            del self._pending[key]
            self.stats["dropped"] += 1

    def cancel_pending(self) -> None:
        """Forget every request not yet started, e.g. when the results are replaced."""
        self.stats["dropped"] += len(self._pending)
        self._pending.clear()

    def is_waiting(self, key: str) -> bool:
        """Whether ``key`` is queued or being loaded."""
        return key in self._pending or key in self._in_flight

    def pending_count(self) -> int:
        return len(self._pending)

    def in_flight_count(self) -> int:
        return len(self._in_flight)

    def is_idle(self) -> bool:
        return not self._pending and not self._in_flight and self._results.empty()

    def forget_failures(self) -> None:
        """Let failed thumbnails be retried (after the user restored a file, say)."""
        self._failures.clear()

    def shutdown(self) -> None:
        """Stop loading and wait for worker threads, so none outlives the window (or a test)."""
        self._closed = True
        self._drain_timer.stop()
        self._pending.clear()
        self._pool.clear()
        self._pool.waitForDone()
        while not self._results.empty():
            self._results.get_nowait()
        self._in_flight.clear()

    def active_thread_count(self) -> int:
        return self._pool.activeThreadCount()

    def _start_jobs(self) -> None:
        free = self._pool.maxThreadCount() - len(self._in_flight)
        while free > 0 and self._pending:
            key, job = self._pending.popitem(last=True)
            self._in_flight.add(key)
            self.stats["started"] += 1
            self._pool.start(_ThumbnailTask(job, self._cache_dir, self._results))
            free -= 1
        if self._in_flight and not self._drain_timer.isActive():
            self._drain_timer.start()

    def _drain(self) -> None:
        deadline = time.perf_counter() + self.DRAIN_BUDGET_S
        while time.perf_counter() < deadline:
            try:
                result = self._results.get_nowait()
            except queue.Empty:
                break
            self._in_flight.discard(result.key)
            self._deliver(result)
        if not self._closed:
            self._start_jobs()
        if not self._in_flight and self._results.empty():
            self._drain_timer.stop()

    def _deliver(self, result: ThumbnailResult) -> None:
        if result.state == ThumbnailState.READY and result.image is not None:
            self.stats["cache_hits" if result.from_cache else "decoded"] += 1
            self._store(result.key, QPixmap.fromImage(result.image))
            self.thumbnailReady.emit(result.key)
        else:
            self._failures[result.key] = (result.state, result.error)
            while len(self._failures) > 20_000:
                self._failures.popitem(last=False)
            self.thumbnailFailed.emit(result.key, result.state)

    def _store(self, key: str, pix: QPixmap) -> None:
        old = self._pixmaps.pop(key, None)
        if old is not None:
            self._pixmap_bytes -= _pixmap_bytes(old)
        self._pixmaps[key] = pix
        self._pixmap_bytes += _pixmap_bytes(pix)
        # Keep at least a screenful even if one thumbnail alone exceeds the budget.
        while self._pixmap_bytes > self._memory_budget and len(self._pixmaps) > 64:
            _, evicted = self._pixmaps.popitem(last=False)
            self._pixmap_bytes -= _pixmap_bytes(evicted)


def _pixmap_bytes(pix: QPixmap) -> int:
    return pix.width() * pix.height() * max(1, pix.depth() // 8)
