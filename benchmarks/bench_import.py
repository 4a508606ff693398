"""Import throughput for camera-sized JPEGs, against what this machine could do at best.

    python3 benchmarks/bench_import.py [--photos 48] [--rounds 3] [--engine]

Measured in one run (so the ratios hold even on a machine shared with other work):
  t_fwd     wall time per photo of the bare forward pass (model.encode_image, batch 16, all threads)
  t_dec     one-core time to draft-decode + resize + crop + normalise one photo
  ceiling   1 / (t_fwd + t_dec / cores): every core busy all the time, nothing wasted
  naive1    full decode (no JPEG draft) then embed, nothing overlapped, one photo at a time
  pipeline  Embedder.embed_image_stream (draft decode on a thread pool running ahead of the model)
The model is ViT-B-32 with random weights (same cost as the real one; this machine has no weights).
Each compute path in --paths (default: cpu:fp32, the old way, and auto, what this computer measures
fastest) is measured in every round, so "auto / fp32" is a ratio from the same run.
Targets: pipeline / ceiling >= 0.85 and pipeline / naive >= 2.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engine import compute
from app.engine.embedder import Embedder, load_embedder
from app.engine.images import load_image, preprocess_for_clip
from app.engine.models import resolve_model

PHOTO_SIZE = (3000, 2000)
BATCH = 16
MODEL_NAME = "openclip/ViT-B-32/openai"


def make_photo(seed: int) -> bytes:
    """A photo-like 3000x2000 JPEG (q90, ~2.5 MB): smooth gradients, sensor-like noise, a few shapes."""
    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZE
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    base = rng.uniform(30, 220, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ramp = np.cos(angle) * xs + np.sin(angle) * ys
    pixels = base[0] + (base[1] - base[0]) * ramp[..., None]
    pixels += 20 * np.sin(xs * rng.uniform(3, 12) + ys * rng.uniform(3, 12))[..., None]
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.integers(0, width), rng.integers(0, height)
        r = int(rng.integers(100, 600))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=fill)
    noisy = np.asarray(img, dtype=np.int16) + rng.normal(0, 16, size=(height, width, 3)).astype(np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def photos(count: int, directory: Path) -> list[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = directory / f"photo-{i:03d}.jpg"
        if not path.exists():
            path.write_bytes(make_photo(i))
        out.append(path.read_bytes())
    return out


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def encode(embedder: Embedder, pixels: np.ndarray) -> np.ndarray:
    """The bare forward pass on the embedder's compute path plus normalisation, on the calling thread."""
    return embedder.embed_pixels(pixels)


def forward_time(embedder: Embedder, data: list[bytes]) -> float:
    batches = len(data) // BATCH
    pixels = np.stack([embedder.preprocess(d) for d in data[:BATCH]])
    return timed(lambda: [encode(embedder, pixels) for _ in range(batches)]) / (batches * BATCH)


def decode_time(embedder: Embedder, data: list[bytes]) -> float:
    return timed(lambda: [embedder.preprocess(d) for d in data]) / len(data)


def naive_time(embedder: Embedder, data: list[bytes], batch: int) -> float:
    """Full-size decode, then embed ``batch`` photos at a time; nothing overlapped, decode on one core."""
    spec = embedder.spec

    def run() -> None:
        for start in range(0, len(data), batch):
            full = [load_image(d, min_side=None) for d in data[start : start + batch]]
            pixels = [preprocess_for_clip(im, spec.image_size, spec.mean, spec.std) for im in full]
            encode(embedder, np.stack(pixels))

    return timed(run) / len(data)


def pipeline_time(embedder: Embedder, data: list[bytes]) -> float:
    def run() -> None:
        results = list(embedder.embed_image_stream(enumerate(data), batch_size=BATCH))
        assert all(isinstance(vector, np.ndarray) for _, vector in results)

    return timed(run) / len(data)


# --- Engine-level import ---


def photo_schema() -> dict:
    """The seed page's schema: an unstored image and its CLIP embedding."""
    return {
        "name": "photos",
        "fields": [
            {"name": "image", "type": "image", "store": False},
            {
                "name": "embedding",
                "type": "float[]",
                "embed": {"from": ["image"], "model_config": {"model_name": MODEL_NAME}},
            },
        ],
    }


def _time_engine_import(run: Callable[[Any], list[dict]], count: int, what: str) -> float:
    """Seconds per photo of ``run(documents)`` on a fresh library with the seed page's schema."""
    from app.engine import Engine

    with tempfile.TemporaryDirectory() as data_dir:
        engine = Engine(data_dir, allow_random_weights=True)
        try:
            engine.collections.create(photo_schema())
            documents = engine.collections["photos"].documents
            start = time.perf_counter()
            results = run(documents)
            elapsed = time.perf_counter() - start
        finally:
            engine.close()
    failed = [r for r in results if not r.get("success")]
    if failed:
        raise RuntimeError(f"{what} failed for {len(failed)} photos: {failed[0]}")
    return elapsed / count


def bench_engine_files(data: list[bytes]) -> float:
    """Seconds per photo through ``documents.import_files``: the desktop app's and ``photoseek index``'s path.

    The files are written first (not timed); the import reads them itself, with no base64 step.
    """
    with tempfile.TemporaryDirectory() as folder:
        for i, blob in enumerate(data):
            Path(folder, f"photo_{i:03d}.jpg").write_bytes(blob)
        return _time_engine_import(
            lambda documents: documents.import_files([folder]), len(data), "file import"
        )


def load(path: str) -> Embedder:
    compute.use_request(compute.parse_request(path))
    embedder = load_embedder(resolve_model({"model_name": MODEL_NAME}), allow_random_weights=True)
    return embedder


def measure_round(
    asked: str, embedder: Embedder, data: list[bytes], cores: int, with_engine: bool
) -> list[float]:
    compute.use_request(compute.parse_request(asked))  # so the engine's import finds this model loaded
    t_fwd = forward_time(embedder, data)
    t_dec = decode_time(embedder, data)
    ceiling = 1.0 / (t_fwd + t_dec / cores)
    naive1 = 1.0 / naive_time(embedder, data, 1)
    pipeline = 1.0 / pipeline_time(embedder, data)
    files = 1.0 / bench_engine_files(data) if with_engine else float("nan")
    return [t_fwd * 1e3, t_dec * 1e3, ceiling, naive1, pipeline, files, pipeline / ceiling, files / ceiling]


COLUMNS = ("t_fwd ms", "t_dec ms", "ceiling", "naive1", "pipeline", "files", "pipe/ceil", "files/ceil")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3, help="each round measures every part once")
    parser.add_argument("--engine", action="store_true", help="also time the engine's import_files")
    parser.add_argument("--paths", default="cpu:fp32,auto", help="compute paths to compare, comma-separated")
    parser.add_argument("--photo-dir", type=Path, default=Path(tempfile.gettempdir()) / "photoseek-bench")
    args = parser.parse_args()
    if args.photos < BATCH:
        parser.error(f"--photos must be at least {BATCH}")

    cores = os.cpu_count() or 1
    data = photos(args.photos, args.photo_dir)
    mean_mb = sum(map(len, data)) / len(data) / 1e6
    width, height = PHOTO_SIZE
    print(f"{len(data)} photos {width}x{height} JPEG q90, {mean_mb:.2f} MB each; {cores} cores; {MODEL_NAME}")
    print(f"CPU: {compute.cpu_name()}; native bf16: {compute.cpu_has_native_bf16()}; "
          f"GPU: {compute.gpu_name()}")

    embedders = {}
    for asked in args.paths.split(","):
        embedder = load(asked)
        embedder.embed_images(data[:BATCH])  # warm-up: allocator, kernel choice, decode threads
        embedders[asked] = embedder
        print(f"{asked}: runs on {embedder.compute_choice.describe()}")

    # Every path in every round, back to back, so a round's ratios share the same background load.
    print("photos/s unless marked; files: the engine's import_files (the app's and `photoseek index`'s)")
    print("round  path     " + "".join(f"{c:>11}" for c in COLUMNS))
    rows: dict[str, list[list[float]]] = {asked: [] for asked in embedders}
    for round_no in range(1, args.rounds + 1):
        for asked, embedder in embedders.items():
            row = measure_round(asked, embedder, data, cores, args.engine)
            rows[asked].append(row)
            print(f"{round_no:5d}  {embedder.compute_path!s:8} " + _format_row(row), flush=True)
    medians = {asked: np.median(np.array(r), axis=0) for asked, r in rows.items()}
    for asked, med in medians.items():
        print(f"median {embedders[asked].compute_path!s:8} " + _format_row(med))
    names = list(medians)
    if len(names) > 1:
        base, fast = medians[names[0]], medians[names[-1]]
        print(f"{names[-1]} / {names[0]}: forward pass {base[0] / fast[0]:.2f}x, pipeline "
              f"{fast[4] / base[4]:.2f}x, import_files {fast[5] / base[5]:.2f}x")


def _format_row(row: Any) -> str:
    return "".join(f"{value:11.1f}" if i < 2 else f"{value:11.2f}" for i, value in enumerate(row))


if __name__ == "__main__":
    main()
