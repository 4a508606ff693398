"""Model names, weight locations and the weights download (against a local HTTP server only)."""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app import paths
from app.engine import models
from app.engine.errors import ModelUnavailable
from app.engine.models import (
    ModelSpec,
    download_weights,
    resolve_model,
    verify_cached_weights,
    weights_available,
    weights_path,
)
from app.engine.weights_check import official_sha256s

HUB_DIR = "timm/vit_base_patch32_clip_224.openai/resolve/main"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PHOTOSEEK_CACHE_DIR", raising=False)
    monkeypatch.delenv(models.BASE_URL_ENV, raising=False)
    monkeypatch.delenv(models.TINY_DIR_ENV, raising=False)


# --- resolve_model ----------------------------------------------------------------------------------


def test_ts_clip_is_openai_vit_b_32_without_importing_torch():
    code = (
        "import sys\n"
        "from app.engine.models import resolve_model\n"
        "spec = resolve_model({'model_name': 'ts/clip-vit-b-p32'})\n"
        "print(spec.arch, spec.pretrained, spec.dims, spec.image_size, spec.quick_gelu)\n"
        "print('torch' in sys.modules, 'open_clip' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=paths.repo_root(), capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "ViT-B-32 openai 512 224 True"
    assert out[1] == "False False"


def test_builtin_table_matches_open_clip_registry():
    import open_clip

    cfg = open_clip.get_pretrained_cfg("ViT-B-32", "openai")
    builtin = models._BUILTIN_PRETRAINED[("ViT-B-32", "openai")]
    assert builtin["hf_hub"] == cfg["hf_hub"]
    assert builtin["url"] == cfg["url"]
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    assert spec.mean == tuple(cfg["mean"]) and spec.std == tuple(cfg["std"])


def test_openclip_names_any_architecture_and_tag():
    spec = resolve_model({"model_name": "openclip/ViT-L-14/openai"})
    assert (spec.arch, spec.pretrained, spec.dims, spec.image_size) == ("ViT-L-14", "openai", 768, 224)
    assert spec.quick_gelu
    spec = resolve_model({"model_name": "openclip/ViT-B-32/LAION2B-S34B-B79K"})
    assert spec.pretrained == "laion2b_s34b_b79k" and spec.dims == 512 and not spec.quick_gelu
    assert spec.name == "openclip/ViT-B-32/LAION2B-S34B-B79K"


def test_openclip_vit_b_32_openai_shares_the_ts_weights_cache():
    ts = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    oc = resolve_model({"model_name": "openclip/ViT-B-32/openai"})
    assert weights_path(ts) == weights_path(oc)
    assert (ts.arch, ts.pretrained, ts.dims, ts.mean, ts.std, ts.quick_gelu) == (
        oc.arch,
        oc.pretrained,
        oc.dims,
        oc.mean,
        oc.std,
        oc.quick_gelu,
    )


def test_unknown_name_lists_the_supported_ones():
    with pytest.raises(ValueError) as err:
        resolve_model({"model_name": "foo/bar"})
    assert str(err.value) == (
        "Model `foo/bar` is not supported. Use `ts/clip-vit-b-p32`, `photoseek/tiny-shapes` or "
        "`openclip/<architecture>/<pretrained tag>`."
    )


@pytest.mark.parametrize("config", [None, "ts/clip-vit-b-p32", {}, {"model_name": ""}, {"model_name": 3}])
def test_model_config_without_a_name_is_rejected(config):
    with pytest.raises(ValueError, match=r"model_name|model_config"):
        resolve_model(config)


def test_unknown_architecture_suggests_close_names():
    with pytest.raises(ValueError, match=r"no architecture `ViT-B-33`.*`ViT-B-32`"):
        resolve_model({"model_name": "openclip/ViT-B-33/openai"})


def test_unknown_tag_lists_known_tags():
    with pytest.raises(ValueError, match=r"`nope` is not a pretrained tag of `ViT-B-32`.*openai"):
        resolve_model({"model_name": "openclip/ViT-B-32/nope"})


def test_openclip_without_tag_needs_model_path(tmp_path):
    with pytest.raises(ValueError, match="needs a pretrained tag"):
        resolve_model({"model_name": "openclip/ViT-B-32"})
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"x")
    spec = resolve_model({"model_name": "openclip/ViT-B-32", "model_path": str(weights)})
    assert spec.pretrained is None and spec.model_path == weights.resolve()
    assert weights_path(spec) == weights.resolve()


@pytest.mark.parametrize("name", ["openclip/", "openclip//openai", "openclip/ViT-B-32/openai/x"])
def test_malformed_openclip_names(name):
    with pytest.raises(ValueError, match="is not supported"):
        resolve_model({"model_name": name})


def test_model_path_must_be_an_existing_file(tmp_path):
    missing = tmp_path / "nowhere.bin"
    with pytest.raises(ValueError, match=re.escape(f"`{missing}` is not a file")):
        resolve_model({"model_name": "ts/clip-vit-b-p32", "model_path": str(missing)})
    with pytest.raises(ValueError, match="is not a file"):
        resolve_model({"model_name": "ts/clip-vit-b-p32", "model_path": str(tmp_path)})
    with pytest.raises(ValueError, match="model_path"):
        resolve_model({"model_name": "ts/clip-vit-b-p32", "model_path": 12})


def test_model_path_is_used_as_the_weights(tmp_path):
    weights = tmp_path / "clip.pt"
    weights.write_bytes(b"x")
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32", "model_path": str(weights)})
    assert weights_path(spec) == weights.resolve() and weights_available(spec)
    assert download_weights(spec) == weights.resolve()


def _write_tiny_config(directory: Path) -> None:
    directory.mkdir(parents=True)
    config = {
        "model_cfg": {
            "embed_dim": 48,
            "vision_cfg": {"image_size": 64, "layers": 1, "width": 32, "patch_size": 16},
            "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
        },
        "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    }
    (directory / "open_clip_config.json").write_text(json.dumps(config))


def test_tiny_shapes_reads_its_directory_config(tmp_path, monkeypatch):
    directory = tmp_path / "tiny"
    _write_tiny_config(directory)
    monkeypatch.setenv(models.TINY_DIR_ENV, str(directory))
    spec = resolve_model({"model_name": "photoseek/tiny-shapes"})
    assert (spec.dims, spec.image_size, spec.mean, spec.std) == (48, 64, (0.5,) * 3, (0.25,) * 3)
    assert spec.local_dir == directory.resolve() and spec.arch == f"local-dir:{directory.resolve()}"
    assert weights_path(spec) == directory.resolve() / "open_clip_model.safetensors"
    assert not weights_available(spec)


def test_tiny_shapes_defaults_to_the_repo_copy():
    assert models.tiny_model_dir() == paths.repo_root() / "tests" / "models" / "tiny-shapes"


def test_missing_tiny_model_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv(models.TINY_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(ModelUnavailable, match=r"open_clip_config\.json` is missing"):
        resolve_model({"model_name": "photoseek/tiny-shapes"})


# --- weights cache ----------------------------------------------------------------------------------


def test_weights_are_cached_under_models_dir(tmp_path):
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    expected = tmp_path / "data" / "cache" / "models" / "ViT-B-32" / "openai" / "open_clip_model.safetensors"
    assert weights_path(spec) == expected
    assert not weights_available(spec)
    # A file the user copied in by hand under any of the download names counts.
    fallback = expected.with_name("ViT-B-32.pt")
    fallback.parent.mkdir(parents=True)
    fallback.write_bytes(b"weights")
    assert weights_available(spec) and weights_path(spec) == fallback


def test_a_cached_file_is_refused_only_if_it_cannot_be_read(tmp_path):
    """Its hash alone never condemns a file (a fine-tuned one differs too): only unreadable bytes do.
    tests/test_weights_check.py covers files that do load."""
    spec = resolve_model({"model_name": "openclip/ViT-B-32/laion2b_s34b_b79k"})
    path = weights_path(spec)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"flipped bits")
    with pytest.raises(ModelUnavailable, match="could not be read: it is damaged or not a weights file"):
        verify_cached_weights(spec, path)
    # A check records nothing: only a download may say what the official file's hash is.
    assert not path.with_name(path.name + ".sha256").exists()


def test_openai_files_are_official_by_the_hash_in_their_url():
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    assert official_sha256s(spec) == {"40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"}
    path = weights_path(spec).with_name("ViT-B-32.pt")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the real file")
    with pytest.raises(
        ModelUnavailable, match=r"ViT-B-32\.pt` for model `ts/clip-vit-b-p32` could not be read"
    ):
        verify_cached_weights(spec, path)


# --- download (local HTTP server only: the tests never reach beyond 127.0.0.1) ----------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate_to: int | None = None  # send only this many bytes while announcing the full length

    def log_message(self, *args):
        pass

    def copyfile(self, source, outputfile):
        if self.truncate_to is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(self.truncate_to))
        self.close_connection = True


@pytest.fixture
def weights_server(tmp_path):
    """A real weights file (random tensors, safetensors) served over HTTP on 127.0.0.1."""
    import torch
    from safetensors.torch import save_file

    root = tmp_path / "hub"
    (root / HUB_DIR).mkdir(parents=True)
    generator = torch.Generator().manual_seed(1)
    tensors = {f"layer{i}.weight": torch.randn(256, 1024, generator=generator) for i in range(3)}
    weights = root / HUB_DIR / "open_clip_model.safetensors"
    save_file(tensors, str(weights))
    handler = type("Handler", (_Handler,), {"truncate_to": None})

    def make_handler(*args, **kwargs):
        return handler(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", weights, handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# A download's progress, its record and the pickle fallback: tests/test_reliability_models.py serves real
# (tiny-model) weights for those; random tensors are now refused, as a hub file must load strictly.


def test_cancelled_download_keeps_only_a_part_to_continue_from(weights_server):
    base_url, _, _ = weights_server
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    cancel = threading.Event()

    def progress(done, total):
        if done > 0:
            cancel.set()

    with pytest.raises(ModelUnavailable, match="was cancelled"):
        download_weights(spec, base_url=base_url, progress=progress, cancel=cancel)
    assert not weights_available(spec)
    # Only the partial file (and its address), for the next download to continue: no weights, no hash.
    name = weights_path(spec).name
    assert sorted(p.name for p in weights_path(spec).parent.iterdir()) == [f"{name}.part", f"{name}.part.url"]


def test_truncated_download_is_rejected(weights_server):
    base_url, _, handler = weights_server
    handler.truncate_to = 100_000
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    with pytest.raises(ModelUnavailable, match="connection closed after 100000 of"):
        download_weights(spec, base_url=base_url)
    assert not weights_available(spec)
    # What arrived waits as a partial file for the next download to continue (tests/test_download_resume.py).
    assert sorted(p.suffix for p in weights_path(spec).parent.iterdir()) == [".part", ".url"]


def test_unreachable_hub_explains_how_to_install_offline(monkeypatch):
    base_url = _closed_port_url()
    monkeypatch.setenv(models.BASE_URL_ENV, base_url)
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    url = f"{base_url}/{HUB_DIR}/open_clip_model.safetensors"
    with pytest.raises(ModelUnavailable) as err:
        download_weights(spec, timeout=5)
    message = err.value.message
    assert message.startswith("Could not download the weights for `ts/clip-vit-b-p32` (")
    assert "refused" in message.lower()
    assert (
        f"To install them offline, download {url} on another machine and set model_config.model_path "
        f"to the file, or copy it to {weights_path(spec)}." in message
    )
    assert not weights_available(spec)


def test_missing_file_on_the_server_is_an_http_error(weights_server):
    base_url, served, _ = weights_server
    served.unlink()
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    with pytest.raises(ModelUnavailable, match="HTTP 404"):
        download_weights(spec, base_url=base_url)


def test_a_mirror_never_falls_through_to_other_hosts():
    spec = resolve_model({"model_name": "ts/clip-vit-b-p32"})
    assert [s.url.split("/")[2] for s in models.weights_sources(spec, "http://127.0.0.1:9")] == [
        "127.0.0.1:9",
        "127.0.0.1:9",
    ]
    default = models.weights_sources(spec)
    assert default[0].url == f"https://huggingface.co/{HUB_DIR}/open_clip_model.safetensors"
    assert default[-1].sha256 == "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"


def test_local_models_have_nothing_to_download(tmp_path, monkeypatch):
    directory = tmp_path / "tiny"
    _write_tiny_config(directory)
    monkeypatch.setenv(models.TINY_DIR_ENV, str(directory))
    spec = resolve_model({"model_name": "photoseek/tiny-shapes"})
    with pytest.raises(ModelUnavailable, match="are missing"):
        download_weights(spec)
    assert isinstance(spec, ModelSpec)
