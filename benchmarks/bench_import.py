"""Import throughput for camera-sized JPEGs, against what this machine could do at best.

    python3 benchmarks/bench_import.py [--photos 48] [--rounds 3] [--engine]

Measured in one run (so the ratios hold even on a machine shared with other work):
  t_fwd     wall time per photo of the bare forward pass (model.encode_image, batch 16, all threads)
  t_dec     one-core time to draft-decode + resize + crop + normalise one photo
  ceiling   1 / (t_fwd + t_dec / cores): every core busy all the time, nothing wasted
  naive     full decode (no JPEG draft) then embed, nothing overlapped: one photo at a time (naive1)
            and in batches of 16 (naive16)
  pipeline  Embedder.embed_image_stream (draft decode on a thread pool running ahead of the model)
The model is ViT-B-32 with random weights (same cost as the real one; this machine has no weights).
Targets: pipeline / ceiling >= 0.85 and pipeline / naive >= 2.
"""

from __future__ import annotations

import argparse
import base64
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
    """The bare forward pass plus normalisation, on the calling thread."""
    import torch

    with torch.inference_mode():
        features = embedder.model.encode_image(torch.from_numpy(pixels))
        return torch.nn.functional.normalize(features, dim=-1).numpy()


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


def bench_engine_import(data: list[bytes]) -> float:
    """Seconds per photo through ``Engine.collections[...].documents.import_`` with base64 documents."""
    docs = [{"id": str(i), "image": base64.b64encode(d).decode("ascii")} for i, d in enumerate(data)]
    return _time_engine_import(lambda documents: documents.import_(docs), len(data), "engine import")


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3, help="each round measures every part once")
    parser.add_argument("--engine", action="store_true", help="also time the Engine-level import")
    parser.add_argument("--photo-dir", type=Path, default=Path(tempfile.gettempdir()) / "photoseek-bench")
    args = parser.parse_args()
    if args.photos < BATCH:
        parser.error(f"--photos must be at least {BATCH}")

    cores = os.cpu_count() or 1
    data = photos(args.photos, args.photo_dir)
    mean_mb = sum(map(len, data)) / len(data) / 1e6
    width, height = PHOTO_SIZE
    print(f"{len(data)} photos {width}x{height} JPEG q90, {mean_mb:.2f} MB each; {cores} cores; {MODEL_NAME}")

    embedder = load_embedder(resolve_model({"model_name": MODEL_NAME}), allow_random_weights=True)
    embedder.embed_images(data[:BATCH])  # warm-up: allocator, kernel choice, decode threads

    # Parts are measured back to back in each round, so a round's ratios share the same background load.
    columns = ("t_fwd", "t_dec", "ceiling", "naive1", "naive16", "pipeline", "engine")
    print("photos/s; t_fwd, t_dec in ms/photo; naive1: one photo at a time, naive16: batches of 16")
    print("round " + "".join(f"{c:>10}" for c in columns) + "  pipe/ceil  pipe/naive1  pipe/naive16")
    rows = []
    for round_no in range(1, args.rounds + 1):
        t_fwd = forward_time(embedder, data)
        t_dec = decode_time(embedder, data)
        ceiling = 1.0 / (t_fwd + t_dec / cores)
        naive1 = 1.0 / naive_time(embedder, data, 1)
        naive16 = 1.0 / naive_time(embedder, data, BATCH)
        pipeline = 1.0 / pipeline_time(embedder, data)
        engine = bench_engine_import(data) if args.engine else None
        engine_rate = 1.0 / engine if engine else float("nan")
        row = [t_fwd * 1e3, t_dec * 1e3, ceiling, naive1, naive16, pipeline, engine_rate]
        row += [pipeline / ceiling, pipeline / naive1, pipeline / naive16, engine_rate / ceiling]
        rows.append(row)
        print(_format_row(f"{round_no:5d} ", row), flush=True)
    med = np.median(np.array(rows), axis=0)
    print(_format_row("median", med))
    print(f"pipeline / ceiling = {med[7]:.2f} (target >= 0.85)")
    print(f"pipeline / naive   = {med[8]:.2f} one at a time, {med[9]:.2f} batched (target >= 2)")
    if args.engine:
        print(f"engine import_ (base64 documents) / ceiling = {med[10]:.2f}, "
              f"/ naive1 = {med[6] / med[3]:.2f}")
        files = [1.0 / bench_engine_files(data) for _ in range(args.rounds)]
        rate = float(np.median(files))
        print(f"engine import_files: {rate:.2f} photos/s; / ceiling = {rate / med[2]:.2f}, "
              f"/ naive1 = {rate / med[3]:.2f} (targets >= 0.85 and >= 2)")


def _format_row(label: str, row) -> str:
    figures = "".join(f"{value:10.1f}" if i < 2 else f"{value:10.2f}" for i, value in enumerate(row[:7]))
    return f"{label}{figures}  {row[7]:9.2f}  {row[8]:11.2f}  {row[9]:12.2f}"


if __name__ == "__main__":
    main()
