"""An interrupted download continues where it stopped: the partial file stays beside the target with its
URL, the next download asks for the rest with ``Range: bytes=N-`` and the whole file is checked before
it is kept. A server without range support gets a fresh download; a resumed file that fails its check is
discarded and the message says so.

Served from a real HTTP server on 127.0.0.1 only, with the trained tiny-shapes model's weights standing in
for a hub model (see tests/test_reliability_models.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from download_server import RangeServer

from app.engine import models
from app.engine.errors import ModelUnavailable
from app.engine.models import ModelSpec, download_weights, recorded_download_sha256, weights_path
from app.engine.weights_download import partial_path

HUB_REPO = "photoseek/tiny-shapes"
SAFETENSORS = f"/{HUB_REPO}/resolve/main/open_clip_model.safetensors"

pytestmark = pytest.mark.usefixtures("fresh_embedders")


@pytest.fixture
def tiny_bytes(tiny) -> bytes:
    return (tiny.local_dir / "open_clip_model.safetensors").read_bytes()


@pytest.fixture
def server(tiny_bytes, monkeypatch) -> Iterator[RangeServer]:
    running = RangeServer(tiny_bytes)
    monkeypatch.setenv(models.BASE_URL_ENV, running.url)
    yield running
    running.close()


@pytest.fixture
def hub_tiny(tiny, monkeypatch) -> ModelSpec:
    """The tiny model as a hub model: downloadable, no pinned sha256, checked by loading it strictly."""
    monkeypatch.setitem(models._BUILTIN_PRETRAINED, (tiny.arch, "hub"), {"hf_hub": f"{HUB_REPO}/"})
    return dataclasses.replace(tiny, name="test/tiny-hub", pretrained="hub", local_dir=None)


def _cut_download(spec: ModelSpec, server: RangeServer, cut_after: int) -> Path:
    """A first download whose connection drops after ``cut_after`` bytes; returns the kept partial file."""
    server.cut_after = cut_after
    with pytest.raises(ModelUnavailable, match="connection closed after") as caught:
        download_weights(spec, timeout=10)
    assert "continues from" in caught.value.message
    server.cut_after = None
    part = partial_path(weights_path(spec))
    assert part.stat().st_size == cut_after
    return part


def test_a_dropped_connection_is_continued_with_a_range_request(hub_tiny, server, tiny_bytes) -> None:
    half = len(tiny_bytes) // 2
    _cut_download(hub_tiny, server, half)
    seen: list[tuple[int, int | None]] = []

    path = download_weights(hub_tiny, timeout=10, progress=lambda done, total: seen.append((done, total)))

    assert server.range_headers[-1] == f"bytes={half}-" and server.statuses[-1] == 206
    assert seen[0] == (half, len(tiny_bytes))  # the bar starts where the first try stopped
    assert path.read_bytes() == tiny_bytes
    assert recorded_download_sha256(path) == hashlib.sha256(tiny_bytes).hexdigest()
    assert not partial_path(path).exists()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]


def test_a_server_without_range_support_gets_a_fresh_download(hub_tiny, server, tiny_bytes) -> None:
    _cut_download(hub_tiny, server, len(tiny_bytes) // 3)
    server.ranges = False

    path = download_weights(hub_tiny, timeout=10)

    assert server.range_headers[-1] is not None and server.statuses[-1] == 200
    assert path.read_bytes() == tiny_bytes  # started again, not appended to the part
    assert not partial_path(path).exists()


def test_stop_keeps_the_part_and_says_where_the_next_download_continues(hub_tiny, server, tiny_bytes):
    cancel = threading.Event()

    def progress(done: int, total: int | None) -> None:
        if done > 0:
            cancel.set()

    with pytest.raises(ModelUnavailable, match=r"cancelled\. The next download continues from \d"):
        download_weights(hub_tiny, timeout=10, progress=progress, cancel=cancel)
    part = partial_path(weights_path(hub_tiny))
    kept = part.stat().st_size
    assert 0 < kept < len(tiny_bytes)

    path = download_weights(hub_tiny, timeout=10)
    assert server.range_headers[-1] == f"bytes={kept}-"
    assert path.read_bytes() == tiny_bytes


def test_a_part_from_another_address_is_not_continued(hub_tiny, server, tiny_bytes) -> None:
    part = _cut_download(hub_tiny, server, 4096)
    part.with_name(part.name + ".url").write_text("http://elsewhere.invalid/file\n", encoding="utf-8")

    path = download_weights(hub_tiny, timeout=10)

    assert server.range_headers[-1] is None
    assert path.read_bytes() == tiny_bytes


def test_a_resumed_file_that_fails_its_checksum_is_discarded(tiny, tiny_bytes, monkeypatch) -> None:
    # A pinned file (its sha256 in its URL, as OpenAI's are): the hash covers the bytes kept from the
    # first try too, so a part damaged on disk is caught when the resumed download ends.
    running = RangeServer(tiny_bytes)
    try:
        sha = hashlib.sha256(tiny_bytes).hexdigest()
        url = f"{running.url}/openaipublic/{sha}/tiny.pt"
        monkeypatch.setitem(models._BUILTIN_PRETRAINED, (tiny.arch, "pinned"), {"url": url})
        spec = dataclasses.replace(tiny, name="test/tiny-pinned", pretrained="pinned", local_dir=None)
        part = _cut_download(spec, running, len(tiny_bytes) // 2)
        damaged = bytearray(part.read_bytes())
        damaged[100] ^= 0xFF
        part.write_bytes(bytes(damaged))

        with pytest.raises(ModelUnavailable, match="sha256 mismatch") as caught:
            download_weights(spec, timeout=10)

        assert running.statuses[-1] == 206
        assert "the downloaded file was discarded" in caught.value.message
        target = weights_path(spec)
        assert not target.exists() and not part.exists()
        assert not part.with_name(part.name + ".url").exists()
        # Discarded means the next try starts from the first byte, and gets the good file.
        assert download_weights(spec, timeout=10).read_bytes() == tiny_bytes
        assert running.range_headers[-1] is None
    finally:
        running.close()
