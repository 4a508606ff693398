"""A download is a weights file only once it is checked: an HTML page answering 200, or a body cut short
without a Content-Length, is refused before it is moved into place, and no hash is ever recorded for it.
TorchScript archives (which carry code) load only as a pinned official file or the user's own model_path.

Served from a local HTTP server on 127.0.0.1 only, with the trained tiny-shapes model standing in for a hub
model (it loads in a moment), reached through PHOTOSEEK_MODEL_BASE_URL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import models
from app.engine.embedder import load_embedder
from app.engine.errors import ModelUnavailable
from app.engine.models import ModelSpec, download_weights, resolve_model, weights_path
from app.engine.weights_check import WeightsFileError, check_weights_file, load_model, official_sha256s

HUB_REPO = "photoseek/tiny-shapes"
SAFETENSORS = f"/{HUB_REPO}/resolve/main/open_clip_model.safetensors"
PICKLE = f"/{HUB_REPO}/resolve/main/open_clip_pytorch_model.bin"
HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please log in.</body></html>\n"
NOT_WEIGHTS = "the server answered with something that is not a weights file (an HTML page?)"

pytestmark = pytest.mark.usefixtures("fresh_embedders")  # in conftest.py, with ``tiny``


@pytest.fixture
def tiny_bytes(tiny) -> bytes:
    return (tiny.local_dir / "open_clip_model.safetensors").read_bytes()


@pytest.fixture
def hub_tiny(tiny, monkeypatch) -> ModelSpec:
    """The tiny model as a hub model: downloadable, with no pinned sha256 (like any hf_hub entry)."""
    monkeypatch.setitem(models._BUILTIN_PRETRAINED, (tiny.arch, "hub"), {"hf_hub": f"{HUB_REPO}/"})
    return dataclasses.replace(tiny, name="test/tiny-hub", pretrained="hub", local_dir=None)


class _Server:
    """Answers each path from ``routes``: (status, body, send Content-Length?); anything else is a 404."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, bool]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the connection closes after each answer: the body's end

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                status, body, with_length = server.routes.get(self.path, (404, b"not found", True))
                self.send_response(status)
                kind = "text/html" if body.startswith(b"<") else "application/octet-stream"
                self.send_header("Content-Type", kind)
                if with_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


@pytest.fixture
def server(monkeypatch) -> Iterator[_Server]:
    with _Server() as running:
        monkeypatch.setenv(models.BASE_URL_ENV, running.url)
        yield running


def _nothing_kept(spec: ModelSpec) -> None:
    """No file, no sidecar, no partial download left in the model's cache folder; no hash recorded."""
    cache = weights_path(spec).parent
    assert not cache.exists() or list(cache.iterdir()) == []
    assert official_sha256s(spec) == set()


def _download(spec: ModelSpec) -> Path:
    return download_weights(spec, timeout=10)


# --- what the server answers ----------------------------------------------------------------------------


def test_an_html_page_answering_200_is_refused_and_nothing_is_recorded(hub_tiny, server):
    server.routes[SAFETENSORS] = (200, HTML, True)
    server.routes[PICKLE] = (200, HTML, False)
    with pytest.raises(ModelUnavailable, match=r"not a weights file \(an HTML page\?\)") as caught:
        _download(hub_tiny)
    assert NOT_WEIGHTS in caught.value.message
    _nothing_kept(hub_tiny)


def test_a_body_cut_short_without_content_length_is_refused_then_fetched_again(hub_tiny, server, tiny_bytes):
    server.routes[SAFETENSORS] = (200, tiny_bytes[: len(tiny_bytes) // 2], False)
    with pytest.raises(ModelUnavailable, match="cut short"):
        _download(hub_tiny)
    _nothing_kept(hub_tiny)
    # The next try is a new download (nothing was kept), and a whole file is accepted.
    server.routes[SAFETENSORS] = (200, tiny_bytes, False)
    path = _download(hub_tiny)
    assert path.read_bytes() == tiny_bytes


def test_a_zip_cut_short_is_refused(hub_tiny, server, tiny):
    import torch
    from safetensors.torch import load_file

    buffer = io.BytesIO()
    torch.save(load_file(str(tiny.local_dir / "open_clip_model.safetensors")), buffer)
    server.routes[PICKLE] = (200, buffer.getvalue()[:-5000], False)
    with pytest.raises(ModelUnavailable, match="cut short"):
        _download(hub_tiny)
    _nothing_kept(hub_tiny)


def test_a_good_hub_file_is_checked_recorded_and_loads(hub_tiny, server, tiny_bytes):
    server.routes[SAFETENSORS] = (200, tiny_bytes, True)
    calls: list[tuple[int, int | None]] = []
    path = download_weights(hub_tiny, timeout=10, progress=lambda done, total: calls.append((done, total)))
    assert path == weights_path(hub_tiny) and path.read_bytes() == tiny_bytes
    size = len(tiny_bytes)
    assert calls[0] == (0, size) and calls[-1] == (size, size) and len(calls) > 2
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".part")] == []
    if os.name == "posix":  # the folders the download made are owner-only
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    sha = hashlib.sha256(tiny_bytes).hexdigest()
    assert models.recorded_download_sha256(path) == sha
    assert check_weights_file(hub_tiny, path).official
    assert not load_embedder(hub_tiny).random_weights
    # Accepted once: not fetched again.
    server.routes.clear()
    assert _download(hub_tiny) == path


def test_a_good_pickle_file_is_the_fallback(hub_tiny, server, tiny):
    import torch
    from safetensors.torch import load_file

    buffer = io.BytesIO()
    torch.save(load_file(str(tiny.local_dir / "open_clip_model.safetensors")), buffer)
    server.routes[PICKLE] = (200, buffer.getvalue(), False)
    path = _download(hub_tiny)
    assert path.name == "open_clip_pytorch_model.bin" and weights_path(hub_tiny) == path
    assert server.requests == [SAFETENSORS, PICKLE]
    assert not load_embedder(hub_tiny).random_weights


def test_a_hub_file_for_another_architecture_is_refused_unrecorded(hub_tiny, server):
    import torch
    from safetensors.torch import save_file

    other = {"layer0.weight": torch.zeros(4, 4)}
    buffer = Path(weights_path(hub_tiny).parent.parent / "other.safetensors")
    buffer.parent.mkdir(parents=True, exist_ok=True)
    save_file(other, str(buffer))
    server.routes[SAFETENSORS] = (200, buffer.read_bytes(), True)
    buffer.unlink()
    with pytest.raises(ModelUnavailable, match="does not fit model"):
        _download(hub_tiny)
    _nothing_kept(hub_tiny)


def test_an_html_page_an_older_version_accepted_is_fetched_again(hub_tiny, server, tiny_bytes):
    """Older versions kept the page and recorded its hash: the model could never load, and the download
    was never tried again because a file was there."""
    path = weights_path(hub_tiny)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HTML)
    models._write_sidecar(path, hashlib.sha256(HTML).hexdigest(), f"{server.url}{SAFETENSORS}")
    server.routes[SAFETENSORS] = (200, tiny_bytes, True)
    assert _download(hub_tiny) == path
    assert path.read_bytes() == tiny_bytes
    assert models.recorded_download_sha256(path) == hashlib.sha256(tiny_bytes).hexdigest()


# --- TorchScript: code, so only from a pinned official file or the user's own model_path ------------------


def _torchscript(tiny: ModelSpec, path: Path) -> Path:
    """The tiny model's tensors in a TorchScript archive (as OpenAI ships its .pt files)."""
    import warnings

    import torch
    from safetensors.torch import load_file

    root = torch.nn.Module()
    for name, tensor in load_file(str(tiny.local_dir / "open_clip_model.safetensors")).items():
        *parents, leaf = name.split(".")
        module = root
        for part in parents:
            if not hasattr(module, part):
                module.add_module(part, torch.nn.Module())
            module = getattr(module, part)
        module.register_buffer(leaf, tensor.clone())
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(root), str(path))
    return path


def test_a_torchscript_download_from_the_hub_is_refused(hub_tiny, tiny, server, tmp_path):
    archive = _torchscript(tiny, tmp_path / "script.pt").read_bytes()
    server.routes[SAFETENSORS] = (200, archive, True)
    with pytest.raises(ModelUnavailable, match="TorchScript"):
        _download(hub_tiny)
    _nothing_kept(hub_tiny)


def test_a_torchscript_file_in_the_cache_is_not_loaded_without_a_pinned_hash(hub_tiny, tiny):
    path = _torchscript(tiny, weights_path(hub_tiny))
    with pytest.raises(WeightsFileError, match="TorchScript") as caught:
        load_model(hub_tiny, path)
    assert caught.value.problem == "untrusted code"
    with pytest.raises(WeightsFileError, match="TorchScript"):
        check_weights_file(hub_tiny, path)


def test_a_torchscript_file_the_user_names_as_model_path_loads(tiny, tmp_path):
    path = _torchscript(tiny, tmp_path / "mine.pt")
    spec = resolve_model({"model_name": models.TINY_NAME, "model_path": str(path)})
    assert load_model(spec, path) is not None
    assert not load_embedder(spec).random_weights


def test_a_pinned_official_torchscript_file_loads(tiny, tmp_path, monkeypatch):
    source = _torchscript(tiny, tmp_path / "official.pt")
    sha = models.file_sha256(source)
    url = f"https://openaipublic.azureedge.net/clip/models/{sha}/tiny.pt"
    monkeypatch.setitem(models._BUILTIN_PRETRAINED, (tiny.arch, "openai-test"), {"url": url})
    spec = dataclasses.replace(tiny, name="test/tiny-openai", pretrained="openai-test", local_dir=None)
    path = weights_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.read_bytes())
    assert check_weights_file(spec, path).official
    assert load_model(spec, path) is not None
    # A configured mirror hides OpenAI's URL from the download candidates, not the hash it pins.
    monkeypatch.setenv(models.BASE_URL_ENV, "http://127.0.0.1:9")
    assert load_model(spec, path) is not None
