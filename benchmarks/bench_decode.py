"""Decode benchmark: full JPEG decode vs draft (DCT-scaled) decode + CLIP preprocessing, single thread.

    python3 benchmarks/bench_decode.py [--runs 15] [--width 3000] [--height 2000] [--quality 90]

The test photo is a smooth gradient + sensor-like noise + soft-edged shapes, saved as JPEG quality 90, so
it compresses like a real camera photo (about 2.5 MB at 3000x2000) rather than like a flat test card.
Prints median wall times; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.images import decode_base64, load_image, preprocess_for_clip

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP = (CLIP_MEAN, CLIP_STD)


def photo_like_jpeg(width: int, height: int, quality: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([x / width * 120 + 60, y / height * 90 + 90, 230 - y / height * 120], axis=-1)
    img = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        radius = int(rng.integers(width // 60, width // 8))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + radius, y0 + radius), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + radius, y0 + radius // 2), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(2))
    noisy = np.asarray(img, dtype=np.int16) + rng.normal(0, 14, (height, width, 3)).astype(np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: first call pays for imports and allocator growth
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()

    data = photo_like_jpeg(args.width, args.height, args.quality)
    text = base64.b64encode(data).decode()
    drafted = load_image(data)
    print(
        f"JPEG {args.width}x{args.height} q{args.quality}: {len(data) / 1e6:.2f} MB "
        f"({len(text) / 1e6:.2f} MB as base64); draft decodes to {drafted.size[0]}x{drafted.size[1]}"
    )
    print(f"median of {args.runs} runs, single thread:")

    def full_then_clip() -> None:
        preprocess_for_clip(load_image(data, min_side=None), 224, CLIP_MEAN, CLIP_STD)

    def draft_then_clip() -> None:
        preprocess_for_clip(load_image(data, min_side=224), 224, CLIP_MEAN, CLIP_STD)

    rows = [
        ("base64 decode", lambda: decode_base64(text)),
        ("full decode (load_image min_side=None)", lambda: load_image(data, min_side=None)),
        ("full decode + preprocess_for_clip(224)", full_then_clip),
        ("draft decode (load_image min_side=224)", lambda: load_image(data, min_side=224)),
        ("draft decode + preprocess_for_clip(224)", draft_then_clip),
        ("preprocess_for_clip(224) of the drafted image", lambda: preprocess_for_clip(drafted, 224, *CLIP)),
    ]
    results = {}
    for name, action in rows:
        results[name] = median_ms(action, args.runs)
        print(f"  {name:<48} {results[name]:8.1f} ms")
    full = results["full decode + preprocess_for_clip(224)"]
    draft = results["draft decode + preprocess_for_clip(224)"]
    print(f"draft + preprocess is {full / draft:.1f}x faster than full decode + preprocess")


if __name__ == "__main__":
    main()
