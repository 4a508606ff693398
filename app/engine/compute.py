"""Where and in what precision a model runs: the compute paths, what this computer offers, and how a
loaded fp32 model is turned into one of them.

Which path is fastest is not guessed from the hardware: app.engine.compute_choice measures the candidates
this module lists. torch is imported inside functions, so the GUI can parse and show paths without it.
"""

from __future__ import annotations

import functools
import os
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

DEVICE_ENV = "PHOTOSEEK_DEVICE"
AUTO = "auto"
DEVICES = ("cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
# Which precisions each device can run at all. int8 is torch's dynamic quantisation, a CPU-only kernel;
# fp16 on the CPU has no fast kernels, so it is never worth measuring there.
_ALLOWED = {"cpu": ("fp32", "bf16", "int8"), "cuda": ("fp32", "fp16", "bf16"), "mps": ("fp32", "fp16")}
_ACCEPTED = ", ".join(
    [AUTO] + [f"{d}{p}" for d in DEVICES for p in ("", *(f":{p}" for p in _ALLOWED[d]))]
)
_PRECISION_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "int8": "int8"}
_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class ComputePath:
    """A device and a precision, written ``device:precision`` (``cpu:int8``, ``cuda:fp16``)."""

    device: str
    precision: str

    def __str__(self) -> str:
        return f"{self.device}:{self.precision}"

    @property
    def label(self) -> str:
        """How the status bar and About name it: "CPU, bfloat16", "GPU (NVIDIA H100), float16"."""
        where = {"cpu": "CPU", "cuda": f"GPU ({gpu_name() or 'CUDA'})", "mps": "GPU (Apple)"}[self.device]
        return f"{where}, {_PRECISION_NAMES[self.precision]}"


FP32_CPU = ComputePath("cpu", "fp32")


@dataclass(frozen=True)
class ComputeRequest:
    """What the user asked for: a whole path, a device whose precision is to be measured, or nothing."""

    device: str | None = None
    precision: str | None = None

    @property
    def is_auto(self) -> bool:
        return self.device is None

    def __str__(self) -> str:
        if self.device is None:
            return AUTO
        return self.device if self.precision is None else f"{self.device}:{self.precision}"


def parse_request(text: str | None) -> ComputeRequest:
    """Parse ``auto``, ``cpu``, ``cuda:fp16``...; a ValueError names what is wrong and what is accepted."""
    if text is None or not text.strip() or text.strip().lower() == AUTO:
        return ComputeRequest()
    device, _, precision = text.strip().lower().partition(":")
    if device not in DEVICES:
        raise ValueError(f"`{text}`: unknown device `{device}`; use one of: {_ACCEPTED}")
    if not precision:
        return ComputeRequest(device)
    if precision not in _ALLOWED[device]:
        raise ValueError(f"`{text}`: {device} cannot run {precision}; use one of: {_ACCEPTED}")
    return ComputeRequest(device, precision)


def request_from_env() -> ComputeRequest:
    """``PHOTOSEEK_DEVICE``; a bad value is an error, not ignored: somebody set it on purpose."""
    value = os.environ.get(DEVICE_ENV)
    try:
        return parse_request(value)
    except ValueError as exc:
        raise ValueError(f"{DEVICE_ENV}: {exc}") from None


_process_request: ComputeRequest | None = None


def use_request(request: ComputeRequest | None) -> None:
    """Set (or with None, clear) the path this process asks for: the CLI's --device and the app's setting.
    It wins over PHOTOSEEK_DEVICE. Models already loaded keep their path until reloaded."""
    global _process_request
    _process_request = request


def effective_request() -> ComputeRequest:
    return _process_request if _process_request is not None else request_from_env()


def device_available(device: str) -> bool:
    import torch

    if device == "cuda":
        return bool(torch.cuda.is_available())
    if device == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return True


def candidates(request: ComputeRequest) -> list[ComputePath]:
    """The paths worth measuring for ``request`` on this computer, GPUs first.

    Raises ValueError when the requested device is not here (a GPU asked for on a computer without one).
    """
    if request.device is not None and not device_available(request.device):
        raise ValueError(f"device `{request.device}` is not available on this computer")
    # The processor stays a candidate beside a GPU: a small laptop GPU can lose to a many-core CPU.
    if request.device:
        devices = [request.device]
    else:
        devices = [*(d for d in ("cuda", "mps") if device_available(d)), "cpu"]
    paths: list[ComputePath] = []
    for device in devices:
        precisions = [request.precision] if request.precision else list(_worth_measuring(device))
        paths.extend(ComputePath(device, p) for p in precisions)
    return paths


def _worth_measuring(device: str) -> tuple[str, ...]:
    if device == "cpu":
        # bf16 without native instructions is emulated and measured 7x slower than fp32 (AMD EPYC, AVX2):
        # measuring it there only costs the user seconds.
        return ("fp32", "int8", "bf16") if cpu_has_native_bf16() else ("fp32", "int8")
    if device == "cuda":
        import torch

        return ("fp16", "bf16", "fp32") if torch.cuda.is_bf16_supported() else ("fp16", "fp32")
    return ("fp16", "fp32")


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        text = _CPUINFO.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX on x86 (read from /proc/cpuinfo; elsewhere assumed absent)."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


@functools.cache
def cpu_name() -> str:
    try:
        for line in _CPUINFO.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def gpu_name() -> str | None:
    import torch

    if torch.cuda.is_available():
        return str(torch.cuda.get_device_name(0))
    return None


def machine_fingerprint() -> str:
    """What a measured choice depends on besides the model: processor, GPU and torch's version."""
    import torch

    bf16 = "bf16" if cpu_has_native_bf16() else "nobf16"
    return f"{cpu_name()}|{os.cpu_count()} cores|{bf16}|{gpu_name() or 'no GPU'}|torch {torch.__version__}"


def convert(model: torch.nn.Module, path: ComputePath) -> torch.nn.Module:
    """The fp32 CPU ``model`` made to run on ``path``, in place (no second copy of the weights at any time);
    pass a ``copy.deepcopy`` to keep the original."""
    import torch

    if path.precision == "int8":
        # Dynamic quantisation of the Linear layers (a ViT's MLPs, two thirds of its weights): int8
        # weights, activations quantised per batch. A ResNet CLIP's attention pooling reads its Linear
        # weights directly, and so does multi-head attention its output projection (a Linear subclass):
        # those stay fp32. The deprecation notice points to torchao, not installed.
        layers = {
            name: torch.ao.quantization.default_dynamic_qconfig
            for name, module in model.named_modules()
            if type(module) is torch.nn.Linear and "attnpool" not in name
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted: torch.nn.Module = torch.ao.quantization.quantize_dynamic(
                model, layers, dtype=torch.qint8, inplace=True
            )
        return converted
    return model.to(device=path.device, dtype=torch_dtype(path))


def torch_dtype(path: ComputePath) -> torch.dtype:
    """The dtype inputs are given in (int8 models take float32 activations)."""
    import torch

    return {"fp32": torch.float32, "int8": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[
        path.precision
    ]


def to_input(tensor: Any, path: ComputePath) -> Any:
    """A batch moved to the path's device; only floating-point tensors (pixels) change dtype, not tokens."""
    if tensor.is_floating_point():
        return tensor.to(device=path.device, dtype=torch_dtype(path))
    return tensor.to(device=path.device)
