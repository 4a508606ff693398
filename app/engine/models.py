"""Model registry: what a ``model_config`` names, where its weights live, and how they get there.

Pure metadata; the downloader is app.engine.weights_download. torch and open_clip are imported lazily, and
only for ``openclip/...`` names, so the GUI can list and check models without paying for torch's import.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import paths
from app.engine.errors import ModelUnavailable

if TYPE_CHECKING:
    from app.engine.weights_check import WeightsCheck


TS_CLIP_NAME = "ts/clip-vit-b-p32"
TINY_NAME = "photoseek/tiny-shapes"
OPENCLIP_PREFIX = "openclip/"
TINY_DIR_ENV = "PHOTOSEEK_TINY_MODEL_DIR"
BASE_URL_ENV = "PHOTOSEEK_MODEL_BASE_URL"
DEFAULT_BASE_URL = "https://huggingface.co"

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_SUPPORTED_HINT = f"Use `{TS_CLIP_NAME}`, `{TINY_NAME}` or `openclip/<architecture>/<pretrained tag>`."

# open_clip's registry entry for ViT-B-32/openai, copied so that `ts/clip-vit-b-p32` needs no torch import.
# The OpenAI URL carries the file's sha256 as its second-to-last path component.
_BUILTIN_PRETRAINED = {
    ("ViT-B-32", "openai"): {
        "hf_hub": "timm/vit_base_patch32_clip_224.openai/",
        "url": "https://openaipublic.azureedge.net/clip/models/"
        "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    }
}
_CHUNK = 1 << 20
_DOWNLOADED_FROM = "# downloaded from"


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build, preprocess for and cache one model; hashable, so it keys caches."""

    name: str  # as the user wrote it in model_config.model_name
    arch: str  # open_clip model name (``local-dir:<dir>`` for photoseek/tiny-shapes)
    pretrained: str | None  # open_clip pretrained tag
    dims: int
    model_path: Path | None  # model_config.model_path: a local weights file that wins over everything
    local_dir: Path | None  # photoseek/tiny-shapes: config + weights directory
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    quick_gelu: bool = False  # OpenAI's weights were trained with QuickGELU; the arch config alone says GELU


@dataclass(frozen=True)
class WeightsSource:
    url: str
    path: Path  # where the download lands in the cache
    sha256: str | None  # known in advance (OpenAI URLs); otherwise recorded when downloaded


def resolve_model(model_config: dict) -> ModelSpec:
    """Turn a Typesense ``model_config`` into a ModelSpec, or raise ValueError naming what is wrong."""
    if not isinstance(model_config, dict):
        raise ValueError("`model_config` must be an object with a `model_name`.")
    name = model_config.get("model_name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("`model_config.model_name` must be a non-empty string.")
    model_path = _model_path(model_config.get("model_path"))

    if name == TS_CLIP_NAME:
        return ModelSpec(name, "ViT-B-32", "openai", 512, model_path, None, 224, CLIP_MEAN, CLIP_STD, True)
    if name == TINY_NAME:
        return _tiny_spec(name, model_path)
    if name.startswith(OPENCLIP_PREFIX):
        return _openclip_spec(name, model_path)
    raise ValueError(f"Model `{name}` is not supported. {_SUPPORTED_HINT}")


def _model_path(value: object) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ValueError("`model_config.model_path` must be a path to a weights file.")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"`model_config.model_path` `{path}` is not a file.")
    return path.resolve()


def tiny_model_dir() -> Path:
    """Where photoseek/tiny-shapes lives: the packaged app points PHOTOSEEK_TINY_MODEL_DIR at its copy."""
    override = os.environ.get(TINY_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return paths.repo_root() / "tests" / "models" / "tiny-shapes"


def _tiny_spec(name: str, model_path: Path | None) -> ModelSpec:
    directory = tiny_model_dir()
    config_file = directory / "open_clip_config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        model_cfg = config["model_cfg"]
        dims = int(model_cfg["embed_dim"])
    except FileNotFoundError:
        raise ModelUnavailable(f"Model `{name}` is not installed: `{config_file}` is missing.") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"Model `{name}` has a broken config `{config_file}`: {exc}") from exc
    preprocess = config.get("preprocess_cfg") or {}
    size = preprocess.get("size", model_cfg.get("vision_cfg", {}).get("image_size", 224))
    return ModelSpec(
        name=name,
        arch=f"local-dir:{directory}",
        pretrained=None,
        dims=dims,
        model_path=model_path,
        local_dir=directory,
        image_size=_square_size(size, name),
        mean=tuple(preprocess.get("mean", CLIP_MEAN)),
        std=tuple(preprocess.get("std", CLIP_STD)),
        quick_gelu=bool(model_cfg.get("quick_gelu", False)),
    )


def _openclip_spec(name: str, model_path: Path | None) -> ModelSpec:
    parts = name[len(OPENCLIP_PREFIX) :].split("/")
    if len(parts) not in (1, 2) or not all(parts):
        raise ValueError(f"Model `{name}` is not supported. {_SUPPORTED_HINT}")
    arch, tag = parts[0], (parts[1] if len(parts) == 2 else None)

    import open_clip  # lazy: pulls in torch

    if arch not in open_clip.list_models():
        import difflib

        close = difflib.get_close_matches(arch, open_clip.list_models(), n=3)
        hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
        raise ValueError(f"Model `{name}`: open_clip has no architecture `{arch}`.{hint}")
    tags = open_clip.list_pretrained_tags_by_model(arch)
    pretrained_cfg: dict = {}
    if tag is None:
        if model_path is None:
            raise ValueError(
                f"Model `{name}` needs a pretrained tag (`openclip/{arch}/<tag>`; known tags: "
                f"{', '.join(tags) or 'none'}) or `model_config.model_path`."
            )
    else:
        tag = tag.lower().replace("-", "_")  # open_clip's own tag normalisation
        if tag not in tags:
            raise ValueError(
                f"Model `{name}`: `{tag}` is not a pretrained tag of `{arch}`. "
                f"Known tags: {', '.join(tags) or 'none'}."
            )
        pretrained_cfg = open_clip.get_pretrained_cfg(arch, tag)
    model_cfg = open_clip.get_model_config(arch)
    return ModelSpec(
        name=name,
        arch=arch,
        pretrained=tag,
        dims=int(model_cfg["embed_dim"]),
        model_path=model_path,
        local_dir=None,
        image_size=_square_size(model_cfg["vision_cfg"].get("image_size", 224), name),
        mean=tuple(pretrained_cfg.get("mean", CLIP_MEAN)),
        std=tuple(pretrained_cfg.get("std", CLIP_STD)),
        quick_gelu=bool(model_cfg.get("quick_gelu") or pretrained_cfg.get("quick_gelu")),
    )


def _square_size(size: Any, name: str) -> int:  # a JSON config value
    if isinstance(size, (list, tuple)):
        if len(size) != 2 or size[0] != size[1]:
            raise ValueError(f"Model `{name}` takes non-square {size} images; only square ones are handled.")
        size = size[0]
    return int(size)


def _pretrained_cfg(arch: str, tag: str) -> dict:
    builtin = _BUILTIN_PRETRAINED.get((arch, tag))
    if builtin is not None:
        return builtin
    import open_clip

    return open_clip.get_pretrained_cfg(arch, tag)


def _hub_filenames(hub_entry: str) -> tuple[str, list[str]]:
    """Split open_clip's ``org/repo/[file]`` hub entry into repo id and files to try, safetensors first."""
    repo, filename = posixpath.split(hub_entry)
    if not filename:
        return repo, ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    if filename.endswith((".bin", ".pth")):
        return repo, [filename.rsplit(".", 1)[0] + ".safetensors", filename]
    return repo, [filename]


def weights_sources(spec: ModelSpec, base_url: str | None = None) -> list[WeightsSource]:
    """Download candidates in preference order (hub safetensors, hub pickle, then the registry URL)."""
    if spec.pretrained is None:
        return []
    cfg = _pretrained_cfg(spec.arch, spec.pretrained)
    cache = paths.models_dir() / spec.arch / spec.pretrained
    override = base_url or os.environ.get(BASE_URL_ENV)
    sources = []
    if cfg.get("hf_hub"):
        repo, filenames = _hub_filenames(cfg["hf_hub"])
        base = (override or DEFAULT_BASE_URL).rstrip("/")
        sources += [WeightsSource(f"{base}/{repo}/resolve/main/{f}", cache / f, None) for f in filenames]
    # With a mirror configured, stay on it: never fall through to a host the user steered away from.
    if cfg.get("url") and not override:
        url = cfg["url"]
        sources.append(WeightsSource(url, cache / url.split("/")[-1], _url_sha256(url)))
    return sources


def _url_sha256(url: str) -> str | None:
    parts = url.split("/")
    return parts[-2] if "openaipublic" in url and len(parts) > 1 and len(parts[-2]) == 64 else None


def pinned_sha256s(spec: ModelSpec) -> set[str]:
    """The sha256s of the official files known before any download (OpenAI's URLs carry theirs), whether
    or not a mirror is configured: a file with one of these is the official file, wherever it came from."""
    if spec.pretrained is None:
        return set()
    sha = _url_sha256(str(_pretrained_cfg(spec.arch, spec.pretrained).get("url") or ""))
    return {sha} if sha else set()


def weights_path(spec: ModelSpec) -> Path | None:
    """The weights file in use, or where the first download candidate would land; None if nothing fits."""
    if spec.model_path is not None:
        return spec.model_path
    if spec.local_dir is not None:
        return spec.local_dir / "open_clip_model.safetensors"
    sources = weights_sources(spec)
    for source in sources:
        if source.path.is_file():
            return source.path
    return sources[0].path if sources else None


def weights_available(spec: ModelSpec) -> bool:
    path = weights_path(spec)
    return path is not None and path.is_file()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_cached_weights(spec: ModelSpec, path: Path) -> WeightsCheck:
    """Same as ``weights_check.check_weights_file``, kept for callers written before it existed.

    A file with another hash than the official one is no longer refused: it is refused only if it does
    not load into the model's architecture.
    """
    from app.engine.weights_check import check_weights_file

    return check_weights_file(spec, path)


def recorded_download_sha256(path: Path) -> str | None:
    """The sha256 a download into ``path`` recorded: the official file's, whatever is at ``path`` now.

    Sidecars without the "downloaded from" line were written by older versions, which also recorded the
    hash of whatever file they first found, fine-tuned or not: they prove nothing about the official file.
    """
    try:
        lines = _sidecar(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if not any(line.startswith(_DOWNLOADED_FROM) for line in lines):
        return None
    words = next((line.split() for line in lines if line and not line.startswith("#")), [])
    sha256 = words[0].lower() if words else ""
    return sha256 if len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256) else None


def _write_sidecar(path: Path, sha256: str, url: str) -> None:
    # sha256sum's format, so `sha256sum -c` can check the file by hand too (it skips "#" lines).
    _sidecar(path).write_text(f"{sha256}  {path.name}\n{_DOWNLOADED_FROM} {url}\n", encoding="utf-8")


def download_weights(
    spec: ModelSpec,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 30,
    base_url: str | None = None,
) -> Path:
    """Fetch the spec's weights into the cache (or return them if already there) and return the path.

    ``progress(done_bytes, total_bytes_or_None)`` is called from this thread; setting ``cancel`` stops the
    transfer. What arrives is checked before it is kept (see app.engine.weights_download). Failures raise
    ModelUnavailable explaining how to install the file by hand.
    """
    from app.engine.weights_download import download

    return download(spec, progress=progress, cancel=cancel, timeout=timeout, base_url=base_url)
