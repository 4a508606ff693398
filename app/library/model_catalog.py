"""The models Photoseek offers when a library changes model: a short curated list, what each costs and
what it can do, in words a chooser can show.

Sizes are the published weights files. Speed is what this computer measured (app.engine.compute_choice
remembers images/s per model and compute path in ``compute-choices.json`` the first time a model loads);
a model never loaded here gets an estimate from its image tower's GFLOPs against a model that was
measured, and says that it is an estimate. Qt-free; the engine is imported lazily (torch only where a
measured figure is looked up, which the library thread has loaded anyway).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field

from app import paths
from app.resources import default_model

log = logging.getLogger(__name__)

MULTILINGUAL_EXTRA = "multilingual"


@dataclass(frozen=True)
class CatalogEntry:
    """One model the chooser may offer. ``model_config`` is what a collection's schema will name."""

    model_config: dict
    label: str
    summary: str
    download_bytes: int | None  # the weights file; None: nothing to download (a local file)
    languages: str
    image_gflops: float | None  # the image tower's cost, for speed estimates (open_clip's model profile)
    needs_package: str | None = None  # a Python module the model needs beyond Photoseek's own
    needs_note: str = ""  # what else it needs, said before choosing it

    @property
    def name(self) -> str:
        return str(self.model_config["model_name"])


@dataclass(frozen=True)
class ModelChoice:
    """A catalog entry as it stands on this computer, for one collection."""

    entry: CatalogEntry
    current: bool
    weights_present: bool
    speed: str  # "about 12 photos/s here (measured)", "about 4x slower than …, estimated", or ""
    measured: bool
    unavailable: str = ""  # why it cannot be chosen here (a package missing); empty when it can
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def size_text(self) -> str:
        size = self.entry.download_bytes
        if size is None:
            return "on this computer"
        return f"about {size / 1e9:.1f} GB" if size >= 1e9 else f"about {size / 1e6:,.0f} MB"


# Sizes: the files the engine downloads (Hugging Face, fp32 safetensors or .bin). GFLOPs: open_clip's
# docs/model_profile.csv (image tower at its native size).
_B32 = CatalogEntry(
    {"model_name": "ts/clip-vit-b-p32"},
    "CLIP ViT-B/32",
    "Good all-round; the default.",
    605_000_000,
    "English",
    4.41,
)
_CURATED = [
    _B32,
    CatalogEntry(
        {"model_name": "openclip/ViT-B-16/laion2b_s34b_b88k"},
        "CLIP ViT-B/16 (LAION-2B)",
        "Finds small details and text in photos better (ImageNet zero-shot 70.2% against ViT-B/32's "
        "63.3%); embedding photos costs about four times as much.",
        599_000_000,
        "English",
        17.58,
    ),
    CatalogEntry(
        {"model_name": "openclip/xlm-roberta-base-ViT-B-32/laion5b_s13b_b90k"},
        "Multilingual CLIP (XLM-R, ViT-B/32)",
        "Search in your own language: about 100 languages. Photos embed about as fast as ViT-B/32; "
        "each search's text takes longer.",
        1_470_000_000,
        "about 100 languages",
        4.41,
        needs_package="transformers",
        needs_note=(
            "Needs the `transformers` package (pip install 'photoseek[multilingual]') and, on its first "
            "use, an internet connection for its tokenizer (a few MB from Hugging Face)."
        ),
    ),
]
_TINY = CatalogEntry(
    {"model_name": "photoseek/tiny-shapes"},
    "Tiny shapes (test model)",
    "Photoseek's small test model: knows coloured shapes, nothing else.",
    None,
    "English (shapes)",
    None,
)
_local: list[CatalogEntry] = []


def register_local(entry: CatalogEntry) -> None:
    """Offer a model whose weights are a local file (``model_config.model_path``): scripts and tests."""
    _local[:] = [e for e in _local if e.name != entry.name] + [entry]


def entries(current: dict | None = None) -> list[CatalogEntry]:
    """The curated models (the default first), local ones, and the collection's own model when it is
    none of them."""
    from app.engine import models

    found = list(_CURATED)
    if (models.tiny_model_dir() / "open_clip_config.json").is_file():
        found.append(_TINY)
    default = default_model()
    if all(e.name != default for e in found):
        found.insert(0, _custom({"model_name": default}))
    found += [e for e in _local if all(e.name != f.name for f in found)]
    if current and all(e.name != current.get("model_name") for e in found):
        found.append(_custom(current))
    return found


def _custom(config: dict) -> CatalogEntry:
    name = str(config["model_name"])
    return CatalogEntry(dict(config), name, "The model this library uses now.", None, "unknown", None)


def choices(current: dict | None) -> list[ModelChoice]:
    """Every entry as it stands here: current or not, weights present, speed, and whether it can run."""
    from app.engine import models

    measured = measured_rates()
    current_name = (current or {}).get("model_name")
    out: list[ModelChoice] = []
    for entry in entries(current):
        config = dict(current) if entry.name == current_name and current else entry.model_config
        try:
            present = models.weights_available(models.resolve_model(config))
        except Exception as exc:  # an unknown architecture, a local file gone: listed, not choosable
            out.append(ModelChoice(entry, entry.name == current_name, False, "", False, str(exc)))
            continue
        rate = measured.get(entry.name)
        speed = f"about {rate:,.0f} photos/s here (measured)" if rate else _estimate(entry, measured)
        missing = entry.needs_package and importlib.util.find_spec(entry.needs_package) is None
        unavailable = (
            f"Needs the `{entry.needs_package}` package, which is not installed "
            f"(pip install 'photoseek[{MULTILINGUAL_EXTRA}]')."
            if missing
            else ""
        )
        notes = [entry.needs_note] if entry.needs_note else []
        current_one = entry.name == current_name
        out.append(ModelChoice(entry, current_one, present, speed, bool(rate), unavailable, notes))
    return out


def _estimate(entry: CatalogEntry, measured: dict[str, float]) -> str:
    """Speed from GFLOPs against a measured model, marked as an estimate; "" when nothing was measured."""
    if entry.image_gflops is None:
        return ""
    for other in [*_CURATED, _TINY, *_local]:
        rate = measured.get(other.name)
        if rate and other.image_gflops:
            ratio = entry.image_gflops / other.image_gflops
            estimated = rate / ratio
            if 0.8 <= ratio <= 1.25:
                relation = f"about as fast as {other.label}"
            elif ratio > 1:
                relation = f"about {ratio:,.0f}x slower than {other.label}"
            else:
                relation = f"about {1 / ratio:,.0f}x faster than {other.label}"
            return f"{relation} (estimate: about {estimated:,.0f} photos/s here)"
    if entry.name != _B32.name and entry.image_gflops and _B32.image_gflops:
        ratio = entry.image_gflops / _B32.image_gflops
        if ratio > 1.25:
            return f"about {ratio:,.0f}x slower than CLIP ViT-B/32 (estimate)"
        if ratio >= 0.8:
            return "about as fast as CLIP ViT-B/32 (estimate)"
    return "not measured yet (measured when it first loads)"


def measured_rates() -> dict[str, float]:
    """Model name -> the best images/s measured on this computer (any compute path whose vectors were
    accepted), from app.engine.compute_choice's cache. Empty when nothing was measured here."""
    from app.engine import compute
    from app.engine.compute_choice import CACHE_NAME, MIN_COSINE

    try:
        data = json.loads((paths.cache_dir() / CACHE_NAME).read_text())
        machine = compute.machine_fingerprint()
    except (OSError, ValueError):
        return {}
    rates: dict[str, float] = {}
    if not isinstance(data, dict):
        return rates
    for key, entry in data.items():
        # Keys are "<model name>|<arch>|<weights file>|<request>|<machine fingerprint>".
        if not isinstance(key, str) or not key.endswith(machine) or not isinstance(entry, dict):
            continue
        name = key.split("|", 1)[0]
        for m in entry.get("measurements") or []:
            try:
                if float(m["min_cosine"]) >= MIN_COSINE:
                    rates[name] = max(rates.get(name, 0.0), float(m["images_per_s"]))
            except (KeyError, TypeError, ValueError):
                continue
    return rates
