"""Choosing a model's compute path by measuring the candidates on this computer, once.

Each candidate (app.engine.compute.candidates) embeds the same synthetic photos and texts; one whose vectors
are not within cosine MIN_COSINE of fp32's for every input is refused, and the fastest of the rest at
embedding images wins (imports are where the time goes; the text tower follows the same path). The result
is kept in a small JSON file keyed by model, machine and torch version, so later starts skip the measuring.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app import paths
from app.engine import compute
from app.engine.compute import ComputePath, ComputeRequest
from app.engine.text_tower import encode_text

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

MIN_COSINE = 0.999
CACHE_NAME = "compute-choices.json"
# The batch imports embed in (importer.py): int8's lead over fp32 shrinks as batches grow (1.6x at 8 images,
# 1.25x at 16 for ViT-B-32 on a 2-core AMD EPYC), so the measurement must be made where the work is.
_CALIBRATION_IMAGES = 16
_CALIBRATION_TEXTS = ("a photo of a dog", "red circle", "sunset over the sea with two boats", "документ")
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Measurement:
    path: str
    images_per_s: float
    text_ms: float
    min_cosine: float

    @property
    def accepted(self) -> bool:
        return self.min_cosine >= MIN_COSINE


@dataclass(frozen=True)
class ComputeChoice:
    """The path a model runs on and why: ``how`` is "measured", "remembered" or "asked for"."""

    path: ComputePath
    how: str
    measurements: tuple[Measurement, ...] = field(default=())

    def describe(self) -> str:
        """One line for About and logs: "CPU, int8 (measured on this computer, images/s: ...)"."""
        if self.how == "asked for":
            return f"{self.path.label} (set by {compute.DEVICE_ENV}, --device or the settings)"
        ranked = sorted(self.measurements, key=lambda m: -m.images_per_s)
        figures = ", ".join(f"{m.path} {m.images_per_s:.1f}" for m in ranked if m.accepted)
        when = "measured" if self.how == "measured" else "measured earlier"
        if not figures:
            return self.path.label
        return f"{self.path.label} ({when} on this computer, images/s: {figures})"


def choose(
    model: torch.nn.Module,
    *,
    model_key: str,
    image_size: int,
    tokenizer: Any,
    request: ComputeRequest,
    cache_file: Path | None = None,
) -> tuple[torch.nn.Module, ComputeChoice]:
    """``model`` (fp32, CPU) made to run on the path chosen for ``request``, and the choice.

    ``model`` itself may be converted in place: use only the returned module afterwards.
    """
    options = compute.candidates(request)
    if len(options) == 1:
        how = "asked for" if request.precision else "measured"
        return compute.convert(model, options[0]), ComputeChoice(options[0], how)
    cache_file = cache_file or paths.cache_dir() / CACHE_NAME
    key = f"{model_key}|{request}|{compute.machine_fingerprint()}"
    remembered = _remembered(cache_file, key, options)
    if remembered is not None:
        return compute.convert(model, remembered.path), remembered
    log.info("Measuring how to run %s fastest here (once): %s", model_key, [str(p) for p in options])
    converted, choice = _measure(model, options, image_size, tokenizer)
    _remember(cache_file, key, choice)
    return converted, choice


def _measure(
    model: torch.nn.Module, options: list[ComputePath], image_size: int, tokenizer: Any
) -> tuple[torch.nn.Module, ComputeChoice]:
    import torch

    pixels = torch.from_numpy(calibration_pixels(image_size))
    tokens = tokenizer(list(_CALIBRATION_TEXTS))
    with torch.inference_mode():
        reference = _embed(model, compute.FP32_CPU, pixels, tokens)
    best: tuple[torch.nn.Module, ComputePath] | None = None
    best_rate = -1.0
    measurements = []
    for path in options:
        # The fp32 CPU model is the one we were given: converting a copy for it would only cost memory.
        candidate = model if path == compute.FP32_CPU else compute.convert(copy.deepcopy(model), path)
        try:
            measurement = _time(candidate, path, pixels, tokens, reference)
        except Exception as exc:
            # A kernel this build or device lacks, or a layer that reads the Linear weights quantisation
            # replaced (ResNet CLIPs' attention pooling): not a candidate for this model after all.
            log.info("Compute path %s does not run this model: %s: %s", path, type(exc).__name__, exc)
            continue
        measurements.append(measurement)
        if measurement.accepted and measurement.images_per_s > best_rate:
            best, best_rate = (candidate, path), measurement.images_per_s
    if best is None:  # nothing kept fp32's answers (cannot happen for fp32 itself, short of a broken build)
        return compute.convert(model, compute.FP32_CPU), ComputeChoice(compute.FP32_CPU, "measured")
    return best[0], ComputeChoice(best[1], "measured", tuple(measurements))


def _time(
    model: torch.nn.Module,
    path: ComputePath,
    pixels: torch.Tensor,
    tokens: torch.Tensor,
    reference: tuple[np.ndarray, np.ndarray],
) -> Measurement:
    import torch

    with torch.inference_mode():
        images, texts = _embed(model, path, pixels, tokens)  # also the warm-up...
        _embed_texts(model, path, tokens[:1])  # ...of both shapes timed below
        image_s = min(_seconds(lambda: _embed_images(model, path, pixels)) for _ in range(2))
        text_s = min(_seconds(lambda: _embed_texts(model, path, tokens[:1])) for _ in range(3))
    cosine = min(
        float((images * reference[0]).sum(axis=1).min()), float((texts * reference[1]).sum(axis=1).min())
    )
    return Measurement(str(path), round(len(pixels) / image_s, 2), round(text_s * 1000, 2), round(cosine, 6))


def _seconds(work: Any) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _embed(
    model: torch.nn.Module, path: ComputePath, pixels: torch.Tensor, tokens: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    return _embed_images(model, path, pixels), _embed_texts(model, path, tokens)


def _embed_images(model: Any, path: ComputePath, pixels: torch.Tensor) -> np.ndarray:
    return normalised(model.encode_image(compute.to_input(pixels, path)))


def _embed_texts(model: Any, path: ComputePath, tokens: torch.Tensor) -> np.ndarray:
    return normalised(encode_text(model, compute.to_input(tokens, path)))


def normalised(features: torch.Tensor) -> np.ndarray:
    """float32 rows of unit length on the CPU, whatever device and dtype the features came in."""
    import torch.nn.functional as F

    return F.normalize(features.float(), dim=-1).cpu().numpy().astype(np.float32, copy=False)


def calibration_pixels(image_size: int) -> np.ndarray:
    """Photo-like model inputs, the same on every computer: smooth gradients, blocks of colour and noise.

    Pure noise would be a poor test of precision (no structure for the model to respond to); these are
    already normalised, so the measurement does not depend on the JPEG decoder.
    """
    rng = np.random.default_rng(2024)
    ramp = np.linspace(-1.5, 1.5, image_size, dtype=np.float32)
    images = np.empty((_CALIBRATION_IMAGES, 3, image_size, image_size), dtype=np.float32)
    for i in range(_CALIBRATION_IMAGES):
        for channel in range(3):
            a, b = rng.uniform(-1, 1, 2)
            images[i, channel] = a * ramp[None, :] + b * ramp[:, None]
        top, left = rng.integers(0, image_size // 2, 2)
        size = int(rng.integers(image_size // 8, image_size // 2))
        images[i, :, top : top + size, left : left + size] = rng.uniform(-1.8, 2.0, (3, 1, 1))
        images[i] += rng.normal(0, 0.1, images[i].shape).astype(np.float32)
    return images


def _remembered(cache_file: Path, key: str, options: list[ComputePath]) -> ComputeChoice | None:
    entry = _read(cache_file).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        path = ComputePath(str(entry["device"]), str(entry["precision"]))
        measurements = tuple(Measurement(**m) for m in entry.get("measurements", ()))
    except (KeyError, TypeError):
        return None
    if path not in options:  # the hardware changed under the same name, say: measure again
        return None
    return ComputeChoice(path, "remembered", measurements)


def _remember(cache_file: Path, key: str, choice: ComputeChoice) -> None:
    with _cache_lock:
        entries = _read(cache_file)
        entries[key] = {
            "device": choice.path.device,
            "precision": choice.path.precision,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "measurements": [asdict(m) for m in choice.measurements],
        }
        temp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(entries, indent=1, sort_keys=True))
            os.replace(temp, cache_file)
        except OSError as exc:  # a read-only cache costs a measurement per start, nothing more
            log.warning("cannot remember the compute choice in %s: %s", cache_file, exc)


def _read(cache_file: Path) -> dict[str, Any]:
    try:
        data = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
