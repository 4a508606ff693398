"""Thumbnails for what Qt cannot read: camera RAW (through the preview) and HEIC (through pillow-heif)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QColor, QPixmap
from test_heic import heic_bytes
from test_raw import jpeg, make_cr2, make_dng_without_preview

from app.gui.thumbnails import ThumbnailJob, ThumbnailLoader, ThumbnailState, job_key

WAIT_MS = 30_000
BOX = 128


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "thumbs"


@pytest.fixture
def loader(qtbot, cache_dir: Path) -> Iterator[ThumbnailLoader]:
    made = ThumbnailLoader(cache_dir=cache_dir)
    yield made
    made.shutdown()


def file_job(path: Path) -> ThumbnailJob:
    return ThumbnailJob(job_key(size=BOX, path=str(path)), BOX, path=str(path))


def stored_job(doc_id: str, data: bytes) -> ThumbnailJob:
    text = base64.b64encode(data).decode("ascii")
    return ThumbnailJob(job_key(size=BOX, doc_id=doc_id, image_base64=text), BOX, image_base64=text)


def load(qtbot, loader: ThumbnailLoader, job: ThumbnailJob) -> QPixmap:
    with qtbot.waitSignal(loader.thumbnailReady, timeout=WAIT_MS, check_params_cb=lambda k: k == job.key):
        loader.request(job)
    pixmap = loader.pixmap(job.key)
    assert pixmap is not None
    return pixmap


def centre(pixmap: QPixmap) -> QColor:
    return pixmap.toImage().pixelColor(pixmap.width() // 2, pixmap.height() // 2)


def is_red(c: QColor) -> bool:
    return c.red() > 170 and c.green() < 90 and c.blue() < 90


def test_raw_thumbnail_is_its_preview_and_is_cached(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    path = tmp_path / "IMG_1234.CR2"
    # Qt's own TIFF reader would show IFD0 of a real CR2; here the preview (red) is the one to show, not the
    # green thumbnail.
    path.write_bytes(make_cr2(jpeg("red", "circle", 320), jpeg("green", "square", 80)))
    pixmap = load(qtbot, loader, file_job(path))
    assert (pixmap.width(), pixmap.height()) == (BOX, BOX)
    assert is_red(centre(pixmap)), centre(pixmap).getRgb()
    assert loader.stats["decoded"] == 1

    again = ThumbnailLoader(cache_dir=loader.cache_dir)
    try:
        cached = load(qtbot, again, file_job(path))
        assert (again.stats["decoded"], again.stats["cache_hits"]) == (0, 1)
        assert (cached.width(), cached.height()) == (BOX, BOX) and is_red(centre(cached))
    finally:
        again.shutdown()


def test_raw_thumbnail_follows_the_raw_orientation(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    wide = Image.new("RGB", (400, 200), (220, 35, 35))
    buffer = io.BytesIO()
    wide.save(buffer, "JPEG")
    path = tmp_path / "portrait.cr2"
    path.write_bytes(make_cr2(buffer.getvalue(), jpeg("green", "square", 64), orientation=6))
    pixmap = load(qtbot, loader, file_job(path))
    assert (pixmap.width(), pixmap.height()) == (BOX // 2, BOX)


def test_heic_file_and_stored_heic_get_thumbnails(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    data = heic_bytes("red", "circle", size=256)
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(data)
    for job in (file_job(path), stored_job("phone", data)):
        pixmap = load(qtbot, loader, job)
        assert (pixmap.width(), pixmap.height()) == (BOX, BOX)
        assert is_red(centre(pixmap)), centre(pixmap).getRgb()


def test_stored_raw_gets_a_thumbnail(qtbot, loader: ThumbnailLoader) -> None:
    data = make_cr2(jpeg("red", "circle", 200), jpeg("green", "square", 64))
    pixmap = load(qtbot, loader, stored_job("raw", data))
    assert (pixmap.width(), pixmap.height()) == (BOX, BOX) and is_red(centre(pixmap))


def test_raw_without_preview_fails_with_the_reason(qtbot, loader: ThumbnailLoader, tmp_path: Path) -> None:
    path = tmp_path / "empty.dng"
    path.write_bytes(make_dng_without_preview())
    job = file_job(path)
    with qtbot.waitSignal(loader.thumbnailFailed, timeout=WAIT_MS) as failed:
        loader.request(job)
    assert failed.args == [job.key, ThumbnailState.ERROR]
    assert "RAW file (DNG) has no embedded preview image" in (loader.error(job.key) or "")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_path_that_became_a_pipe_or_a_device_fails_instead_of_hanging(
    qtbot, loader: ThumbnailLoader, tmp_path: Path, kind: str
) -> None:
    # A document's file may be replaced by anything after import; a thumbnail thread stuck on a FIFO (or
    # reading /dev/zero without end) would never come back to the pool.
    import os

    path = tmp_path / f"{kind}.jpg"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    job = file_job(path)
    with qtbot.waitSignal(loader.thumbnailFailed, timeout=WAIT_MS) as failed:
        loader.request(job)
    assert failed.args == [job.key, ThumbnailState.ERROR]
    assert "not a regular file" in (loader.error(job.key) or "")
