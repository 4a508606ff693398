"""Generated photo-like scenes and their near-misses, for the duplicate tests and benchmarks.

A scene is a sky gradient over the ground, a sun, a few buildings, a red ball (the subject) and sensor
noise: enough structure that a perceptual hash sees a picture, not a flat colour. ``scene(seed)`` is a
pure function of its arguments; moving ``subject_x`` or ``shift`` gives another frame of the same burst
(the subject moved, the camera panned a little), which CLIP puts as close as a copy. Pillow + numpy only.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _rgb(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(low, high, 3))
    return r, g, b


def scene(
    seed: int, subject_x: float = 0.5, shift: float = 0.0, size: tuple[int, int] = (480, 360)
) -> Image.Image:
    """An RGB scene; ``subject_x`` (0-1) places the ball, ``shift`` pans the camera by that share of the
    width (and half of it down)."""
    width, height = size
    rng = np.random.default_rng(seed)
    # Drawn 20% larger than the frame, so a panned camera sees real scenery come in at the edge.
    bw, bh = int(width * 1.2), int(height * 1.2)
    y = np.linspace(0.0, 1.0, bh)[:, None, None]
    top, bottom = rng.integers(60, 200, 3), rng.integers(40, 160, 3)
    img = Image.fromarray(((top * (1 - y) + bottom * y) * np.ones((1, bw, 1))).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    horizon = int(bh * rng.uniform(0.5, 0.7))
    draw.rectangle((0, horizon, bw, bh), fill=_rgb(rng, 30, 140))
    for _ in range(int(rng.integers(3, 7))):
        x0, w = rng.uniform(0, bw * 0.9), rng.uniform(bw * 0.05, bw * 0.2)
        h = rng.uniform(bh * 0.1, bh * 0.35)
        draw.rectangle((x0, horizon - h, x0 + w, horizon), fill=_rgb(rng, 0, 255))
    sun_r = bh * 0.07
    draw.ellipse(
        (bw * 0.1 - sun_r, bh * 0.15 - sun_r, bw * 0.1 + sun_r, bh * 0.15 + sun_r), fill=(250, 230, 120)
    )
    cx, cy, r = bw * (0.1 + 0.8 * subject_x), horizon - bh * 0.08, bh * 0.09
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(200, 30, 30))
    noisy = np.asarray(img, dtype=np.float64) + rng.normal(0, 6, (bh, bw, 3))
    img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    ox, oy = int((bw - width) / 2 + shift * width), int((bh - height) / 2 + shift * height / 2)
    return img.crop((ox, oy, ox + width, oy + height))


def crop(img: Image.Image, share: float) -> Image.Image:
    """``img`` with ``share`` of its width and height cut away, evenly on both sides."""
    w, h = img.size
    dx, dy = int(w * share / 2), int(h * share / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def encoded(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()
