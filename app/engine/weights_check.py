"""Reading a weights file into a model, and telling a usable file from a broken one.

A file is usable when its tensors load strictly into the model's architecture: the same names and the same
shapes. Its sha256 only says whether it is the *official* file; a fine-tuned file has another hash and is
just as usable. The file's format is read from its bytes, never from its extension, so a file is judged
the same whether it is called .safetensors, .bin or .pt.

torch and open_clip are imported inside functions: importing this module stays cheap.
"""

from __future__ import annotations

import json
import logging
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from app.engine.errors import ModelUnavailable
from app.engine.models import (
    ModelSpec,
    file_sha256,
    pinned_sha256s,
    recorded_download_sha256,
    weights_sources,
)

if TYPE_CHECKING:
    import torch

RANDOM_WEIGHTS_SEED = 0
Problem = Literal["damaged", "wrong architecture", "missing tensors", "untrusted code"]

_TORCHSCRIPT_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")
_NAMES_SHOWN = 3
# A safetensors file starts with its JSON header's length; anything larger is not a real header.
_MAX_SAFETENSORS_HEADER = 100 << 20
NOT_WEIGHTS = "the server answered with something that is not a weights file (an HTML page?)"
CUT_SHORT = "the download was cut short: the file ends before its data does"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class WeightsCheck:
    """A weights file that loads strictly into its model, and whether it is the official one."""

    path: Path
    sha256: str
    official: bool  # its bytes are the official file's
    # False when no official hash is known here (a hub file copied in by hand, a bare architecture): then
    # ``official`` is False only for want of proof, and the description says so instead of "not official".
    official_hash_known: bool
    description: str  # one or two sentences for the user


class WeightsFileError(ModelUnavailable):
    """A weights file that cannot be used for its model; ``problem`` says why in a word or two."""

    def __init__(self, message: str, problem: Problem) -> None:
        super().__init__(message)
        self.problem: Problem = problem


def official_sha256s(spec: ModelSpec) -> set[str]:
    """The sha256 of every file known to be official for ``spec`` (empty when none is known).

    Known in advance for OpenAI's files (their URLs carry it), recorded when Photoseek downloads a file,
    and for photoseek/tiny-shapes the hash of its own directory's weights.
    """
    if spec.local_dir is not None:
        own = spec.local_dir / "open_clip_model.safetensors"
        return {file_sha256(own)} if own.is_file() else set()
    hashes = pinned_sha256s(spec)
    for source in weights_sources(spec):
        recorded = recorded_download_sha256(source.path)
        hashes.update(h for h in (source.sha256, recorded) if h)
    return hashes


def check_weights_file(spec: ModelSpec, path: Path) -> WeightsCheck:
    """Whether ``path`` holds weights ``spec``'s model can use, and whether they are the official file.

    A file with an official hash is accepted without loading it. Any other file is loaded strictly into
    the model's architecture (seconds for a large model): one that loads is accepted as not official
    (e.g. fine-tuned); one that does not raises WeightsFileError naming the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelUnavailable(f"The weights file `{path}` for model `{spec.name}` does not exist.")
    sha256 = file_sha256(path)
    official = official_sha256s(spec)
    if sha256 in official:
        return WeightsCheck(path, sha256, True, True, f"The official weights of `{spec.name}`.")
    load_model(spec, path)
    if official:
        description = (
            f"Not the official weights file of `{spec.name}` (e.g. fine-tuned): its sha256 differs, "
            "but it fits the model's architecture."
        )
    else:
        description = (
            f"Fits the architecture of `{spec.name}`; no official sha256 is known here to tell whether "
            "it is the official file."
        )
    return WeightsCheck(
        path, sha256, official=False, official_hash_known=bool(official), description=description
    )


def load_model(spec: ModelSpec, path: Path | None) -> torch.nn.Module:
    """``spec``'s model with the weights in ``path`` (strictly), or seeded random weights for None.

    The file is read before the model is built, so a damaged file is refused without paying for the build.
    """
    if path is None:
        return _new_model(spec)
    tensors, scripted = _read(path, spec)
    model = _new_model(spec)
    _fit(model, tensors, scripted, path, spec)
    return model


def _new_model(spec: ModelSpec) -> torch.nn.Module:
    import open_clip
    import torch

    # Seeded so that a random model embeds the same way in every process: vectors stored by one run stay
    # comparable with queries made by the next.
    with _QuietRandomInit(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        model: torch.nn.Module = open_clip.create_model(
            spec.arch, pretrained=None, load_weights=False, force_quick_gelu=spec.quick_gelu
        )
    return model


class _QuietRandomInit(logging.Filter):
    """Drop open_clip's "no weights" warnings while we build a model we are about to fill ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "initialized randomly" not in message and "no CLIP weights found" not in message

    def __enter__(self) -> None:
        logging.getLogger().addFilter(self)

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeFilter(self)


def _damaged(path: Path, spec: ModelSpec, detail: str) -> WeightsFileError:
    return WeightsFileError(
        f"The weights file `{path}` for model `{spec.name}` could not be read: it is damaged or not a "
        f"weights file ({detail[:300]}). Use a .safetensors, .bin or .pt state dict; if it was downloaded, "
        "delete it and download it again.",
        "damaged",
    )


def _reason(exc: Exception) -> str:
    text = str(exc)
    # torch wraps the actual reason in advice about weights_only=False, which would run the file's code.
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1].split("\n\nCheck the documentation", 1)[0].split(". ", 1)[0]
    return f"{type(exc).__name__}: {' '.join(text.split())}"


def download_problem(path: Path) -> str | None:
    """Why a downloaded ``path`` cannot be a whole weights file, read from its bytes alone; None if it may be.

    Downloads come as safetensors or as torch's zip format (TorchScript included); a file in neither
    (typically a web page) is refused, and so is one shorter than its own header or index says.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
        if _is_safetensors_head(head):
            header_length = int.from_bytes(head[:8], "little")
            f.seek(8)
            raw = f.read(header_length)
            if len(raw) < header_length:
                return CUT_SHORT
            try:
                header = json.loads(raw)
                ends = [int(e["data_offsets"][1]) for k, e in header.items() if k != "__metadata__"]
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                return NOT_WEIGHTS
            return CUT_SHORT if size < 8 + header_length + max(ends, default=0) else None
    if head.startswith(_ZIP_MAGIC):
        # A zip's index is at its end: without it the file was cut short.
        return None if zipfile.is_zipfile(path) else CUT_SHORT
    return NOT_WEIGHTS


def _is_safetensors_head(head: bytes) -> bool:
    header_length = int.from_bytes(head[:8], "little")
    return len(head) == 9 and head[8:] == b"{" and header_length < _MAX_SAFETENSORS_HEADER


def _may_run_code(spec: ModelSpec, path: Path) -> bool:
    """Whether a TorchScript archive (code as well as tensors) may be loaded: only the file the user named
    as model_config.model_path, or one whose sha256 is pinned as official in advance. A recorded download
    hash does not count: a hub file has no pin, and whoever served it chose its bytes."""
    if spec.model_path is not None and Path(path).resolve() == spec.model_path:
        return True
    pinned = pinned_sha256s(spec)
    return bool(pinned) and file_sha256(path) in pinned


def _format_of(path: Path) -> Literal["safetensors", "torchscript", "torch"]:
    with open(path, "rb") as f:
        head = f.read(9)
    if _is_safetensors_head(head):
        return "safetensors"
    if zipfile.is_zipfile(path):
        # OpenAI's original .pt files are TorchScript archives, which torch.load refuses with weights_only.
        with zipfile.ZipFile(path) as archive:
            if any(name.endswith("/constants.pkl") for name in archive.namelist()):
                return "torchscript"
    return "torch"


def _read(path: Path, spec: ModelSpec) -> tuple[dict[str, torch.Tensor], bool]:
    """The file's tensors by name, and whether they came from a TorchScript archive."""
    import torch

    try:
        kind = _format_of(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise _damaged(path, spec, _reason(exc)) from exc
    if kind == "torchscript" and not _may_run_code(spec, path):
        raise WeightsFileError(
            f"The weights file `{path}` for model `{spec.name}` is a TorchScript archive, which carries code "
            "of its own: Photoseek loads one only when it is the official file (known by its sha256) or when "
            "you name it as model_config.model_path yourself. Use a .safetensors file instead, or set "
            "model_config.model_path to this file if you trust where it came from.",
            "untrusted code",
        )
    try:
        if kind == "safetensors":
            from safetensors.torch import load_file

            loaded: object = load_file(str(path), device="cpu")
        elif kind == "torchscript":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "torch.jit.load is deprecated"
                loaded = torch.jit.load(str(path), map_location="cpu").state_dict()
        else:
            # An open file, not the path: torch.load would pick its reader by a .safetensors extension.
            with open(path, "rb") as f:
                loaded = torch.load(f, map_location="cpu", weights_only=True)
    except Exception as exc:  # every reader has its own exceptions; all mean the bytes are unusable
        raise _damaged(path, spec, _reason(exc)) from exc
    # open_clip's training checkpoints keep the weights under "state_dict", with DDP's "module." prefix.
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not loaded:
        raise _damaged(path, spec, f"it holds a {type(loaded).__name__}, not a dictionary of tensors")
    tensors = {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise _damaged(path, spec, "it holds no tensors")
    if all(name.startswith("module.") for name in tensors):
        tensors = {name[len("module.") :]: value for name, value in tensors.items()}
    return tensors, kind == "torchscript"


def _fit(
    model: torch.nn.Module, tensors: dict[str, torch.Tensor], scripted: bool, path: Path, spec: ModelSpec
) -> None:
    """Load ``tensors`` into ``model`` strictly, or raise WeightsFileError naming what does not match."""
    from open_clip.convert import convert_state_dict
    from open_clip.model import convert_to_custom_text_state_dict

    expected = model.state_dict()
    # Buffers the model rebuilds itself (attention masks, position ids) are not its weights; TorchScript
    # archives save them, and so do checkpoints from before a library made them non-persistent.
    transient = {name for name, _ in model.named_buffers()} - expected.keys()
    for extra in (*(_TORCHSCRIPT_EXTRA_KEYS if scripted else ()), *transient):
        tensors.pop(extra, None)
    # Older open_clip and third-party layouts of the same architecture (what open_clip itself accepts).
    tensors = convert_state_dict(model, tensors)
    if "positional_embedding" in tensors and "positional_embedding" not in expected:
        tensors = convert_to_custom_text_state_dict(tensors)
    for name in ("logit_scale", "logit_bias"):  # a scalar or a 1-element vector, by open_clip version
        if name in tensors and name in expected and tensors[name].numel() == expected[name].numel():
            tensors[name] = tensors[name].reshape(expected[name].shape)

    problem = _mismatch(expected, tensors)
    if problem is not None:
        kind, detail = problem
        raise WeightsFileError(f"The weights file `{path}` does not fit model `{spec.name}`: {detail}", kind)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied; names and shapes were checked above
        detail = " ".join(str(exc).split())[:300]
        raise WeightsFileError(
            f"The weights file `{path}` does not fit model `{spec.name}`: {detail}", "wrong architecture"
        ) from exc


def _mismatch(
    expected: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor]
) -> tuple[Problem, str] | None:
    missing = [name for name in expected if name not in tensors]
    extra = [name for name in tensors if name not in expected]
    reshaped = [name for name in expected if name in tensors and tensors[name].shape != expected[name].shape]
    if reshaped:
        name = reshaped[0]
        return "wrong architecture", (
            f"it is for another architecture: {len(reshaped)} tensor(s) have other shapes "
            f"(`{name}` is {list(tensors[name].shape)} in the file, {list(expected[name].shape)} "
            "in the model)."
        )
    if missing and extra:
        return "wrong architecture", (
            f"it is for another architecture: {len(missing)} of the model's tensors are not in it "
            f"({_names(missing)}) and {len(extra)} of its tensors are not in the model ({_names(extra)})."
        )
    if missing:
        return "missing tensors", (
            f"it lacks {len(missing)} of the model's tensors ({_names(missing)}): an incomplete or "
            "partial state dict."
        )
    if extra:
        return "wrong architecture", (
            f"it has {len(extra)} tensor(s) the model does not ({_names(extra)}): another architecture."
        )
    return None


def _names(names: list[str]) -> str:
    shown = ", ".join(f"`{name}`" for name in names[:_NAMES_SHOWN])
    return shown + (f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else "")
