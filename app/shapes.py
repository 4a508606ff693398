"""Generated shape images: 8 colours x 6 shapes, the project's test and demo pictures.

Tests, benchmarks, the self-test, GUI screenshots and the tiny CLIP trainer all draw from here, so the
pictures a test searches are the same kind the tiny model learnt. Pillow + numpy only: importing this must
stay cheap and must never pull in torch.

Every picture is a pure function of (colour, shape, size, seed, background): the same arguments give the
same pixels, on any machine.
"""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw

COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")

COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 35, 35),
    "green": (35, 165, 60),
    "blue": (35, 75, 220),
    "yellow": (245, 215, 35),
    "purple": (135, 50, 185),
    "orange": (245, 135, 25),
    "white": (248, 248, 248),
    "black": (18, 18, 18),
}

CAPTION_TEMPLATES: tuple[str, ...] = (
    "a {c} {s}",
    "a photo of a {c} {s}",
    "a picture of a {c} {s}",
    "a {c} {s} shape",
)

# Encoder name -> file extension. Keys are what encode_image() and write_shape_folder() accept.
FORMAT_EXTENSIONS: dict[str, str] = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "BMP": ".bmp",
    "WEBP": ".webp",
    "GIF": ".gif",
    "TIFF": ".tiff",
}

MIN_SIZE = 16
MAX_SIZE = 8192
# Euclidean RGB distance every background pixel keeps from the shape's fill. Large enough that the shape
# is plainly visible (and its colour name unambiguous) even after JPEG and downscaling.
MIN_CONTRAST = 120.0
# Shapes are drawn this many times larger and downsampled, which anti-aliases their edges.
_SUPERSAMPLE = 2


def caption(colour: str, shape: str) -> str:
    """The plain caption for a class, e.g. ``caption("red", "circle") == "a red circle"``."""
    _check_class(colour, shape)
    return CAPTION_TEMPLATES[0].format(c=colour, s=shape)


def draw_shape(
    colour: str,
    shape: str,
    *,
    size: int | tuple[int, int] = 128,
    seed: int = 0,
    background: str | tuple[int, int, int] | None = None,
) -> Image.Image:
    """Draw one ``colour`` ``shape`` on a contrasting background as an RGB image.

    ``size`` is the side of a square image or a ``(width, height)`` pair. ``seed`` picks position, scale,
    rotation, a slight colour jitter and (when ``background`` is None) a random grey, muted, gradient or
    noise background that never comes close to the shape's colour. ``background`` may instead be an RGB
    tuple or a colour name for a plain background.

    The shape always lies inside the image's central square, so CLIP's resize-shortest-side + centre-crop
    preprocessing never cuts it off, whatever the aspect ratio.
    """
    _check_class(colour, shape)
    width, height = _check_size(size)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng([seed, COLOURS.index(colour), SHAPES.index(shape)])

    fill = _jitter_colour(COLOUR_RGB[colour], rng)
    if background is None:
        canvas = _random_background(width, height, fill, rng)
    else:
        canvas = Image.new("RGB", (width, height), _parse_background(background))

    mask = _shape_mask(shape, width, height, rng)
    return Image.composite(Image.new("RGB", (width, height), fill), canvas, mask)


def encode_image(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    """Encode ``img`` as ``fmt`` (JPEG, PNG, BMP, WEBP, GIF or TIFF; case-insensitive) and return the bytes.

    ``quality`` applies to the lossy formats (JPEG, WEBP).
    """
    name = _check_format(fmt)
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, got {quality}")
    rgb = img.convert("RGB")
    buffer = io.BytesIO()
    if name == "JPEG":
        rgb.save(buffer, "JPEG", quality=quality)
    elif name == "WEBP":
        rgb.save(buffer, "WEBP", quality=quality)
    elif name == "GIF":
        # GIF is palette-only; an adaptive palette keeps the shape colour close to the original.
        rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buffer, "GIF")
    else:
        rgb.save(buffer, name)
    return buffer.getvalue()


def write_shape_folder(
    directory: str | Path,
    *,
    per_class: int = 1,
    colours: Iterable[str] = COLOURS,
    shapes: Iterable[str] = SHAPES,
    size: int | tuple[int, int] = 128,
    seed: int = 0,
    fmt: str = "PNG",
) -> list[Path]:
    """Write ``per_class`` images of every colour x shape into ``directory`` (created if missing).

    Files are named ``<colour>_<shape>_<index:03d><ext>``, e.g. ``red_circle_000.png``, so a test can tell
    an image's class from its name. Returns the written paths in a stable order.
    """
    name = _check_format(fmt)
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    colours, shapes = tuple(colours), tuple(shapes)
    for colour in colours:
        for shape in shapes:
            _check_class(colour, shape)
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for colour in colours:
        for shape in shapes:
            for index in range(per_class):
                img = draw_shape(colour, shape, size=size, seed=_derive_seed(seed, index))
                path = out_dir / f"{colour}_{shape}_{index:03d}{FORMAT_EXTENSIONS[name]}"
                path.write_bytes(encode_image(img, name))
                paths.append(path)
    return paths


def iter_labelled(
    n_per_class: int, seed: int, size: int | tuple[int, int] = 128
) -> Iterator[tuple[str, str, Image.Image]]:
    """Yield ``(colour, shape, image)`` for ``n_per_class`` images of each of the 48 classes.

    Classes are interleaved (one of each, then the next round), so stopping early still gives a balanced
    sample.
    """
    if n_per_class < 0:
        raise ValueError(f"n_per_class must be non-negative, got {n_per_class}")
    for index in range(n_per_class):
        image_seed = _derive_seed(seed, index)
        for colour in COLOURS:
            for shape in SHAPES:
                yield colour, shape, draw_shape(colour, shape, size=size, seed=image_seed)


# --- internals -------------------------------------------------------------------------------------------


def _check_class(colour: str, shape: str) -> None:
    if colour not in COLOUR_RGB:
        raise ValueError(f"unknown colour {colour!r}; expected one of {', '.join(COLOURS)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        width = height = size
    elif isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(v, int) for v in size):
        width, height = size
    else:
        raise ValueError(f"size must be an int or a (width, height) pair of ints, got {size!r}")
    if not (MIN_SIZE <= width <= MAX_SIZE and MIN_SIZE <= height <= MAX_SIZE):
        raise ValueError(
            f"image sides must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {width}x{height}"
        )
    return width, height


def _check_format(fmt: str) -> str:
    name = str(fmt).upper()
    if name in ("JPG",):
        name = "JPEG"
    if name == "TIF":
        name = "TIFF"
    if name not in FORMAT_EXTENSIONS:
        raise ValueError(f"unsupported image format {fmt!r}; expected one of {', '.join(FORMAT_EXTENSIONS)}")
    return name


def _parse_background(background: str | tuple[int, int, int]) -> tuple[int, int, int]:
    if isinstance(background, str):
        if background in COLOUR_RGB:
            return COLOUR_RGB[background]
        try:
            r, g, b = ImageColor.getrgb(background)[:3]
            return r, g, b
        except ValueError as exc:
            raise ValueError(f"unknown background colour {background!r}") from exc
    if (
        isinstance(background, (tuple, list))
        and len(background) == 3
        and all(isinstance(v, int) and 0 <= v <= 255 for v in background)
    ):
        r, g, b = background
        return r, g, b
    raise ValueError(
        f"background must be a colour name or an (r, g, b) tuple of 0-255 ints, got {background!r}"
    )


def _derive_seed(seed: int, index: int) -> int:
    # Stable per-image seeds that, unlike seed + index, do not collide across (seed, index) pairs.
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


def _jitter_colour(rgb: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    # Small enough that orange never drifts into red or yellow.
    brightness = rng.uniform(0.9, 1.05)
    channels = np.asarray(rgb, dtype=float) * brightness + rng.uniform(-10, 10, size=3)
    r, g, b = (int(v) for v in np.clip(np.round(channels), 0, 255))
    return r, g, b


def _random_muted(rng: np.random.Generator) -> np.ndarray:
    kind = rng.random()
    if kind < 0.4:
        return np.full(3, rng.uniform(0, 255))
    hue = rng.random()
    saturation = rng.uniform(0.05, 0.3)
    value = rng.uniform(0.1, 0.95)
    return np.asarray(colorsys.hsv_to_rgb(hue, saturation, value)) * 255


def _random_background(
    width: int, height: int, fill: tuple[int, int, int], rng: np.random.Generator
) -> Image.Image:
    fill_arr = np.asarray(fill, dtype=float)

    def far_colour(margin: float) -> np.ndarray:
        # Rejection sampling always ends: the muted palette spans dark to light greys, and every fill colour
        # is far from at least one end.
        for _ in range(1000):
            candidate = _random_muted(rng)
            if np.linalg.norm(candidate - fill_arr) >= MIN_CONTRAST + margin:
                return candidate
        raise AssertionError(f"no contrasting background found for {fill}")  # pragma: no cover

    style = rng.choice(["plain", "gradient", "noise"], p=[0.4, 0.3, 0.3])
    if style == "plain":
        # far_colour already keeps the contrast; no per-pixel repair needed.
        return Image.new("RGB", (width, height), tuple(round(float(v)) for v in far_colour(0)))
    if style == "gradient":
        start, end = far_colour(0).astype(np.float32), far_colour(0).astype(np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        xs = np.arange(width, dtype=np.float32)[None, :] * math.cos(angle)
        ys = np.arange(height, dtype=np.float32)[:, None] * math.sin(angle)
        along = xs + ys
        t = (along - along.min()) / max(float(np.ptp(along)), 1.0)
        # Interpolating between two far colours can pass close to the fill (e.g. between dark and light
        # grey past a white shape's jittered grey); _clip_to_contrast below repairs those pixels.
        pixels = start + (end - start) * t[..., None]
    else:
        amplitude = rng.uniform(8, 30)
        base = far_colour(amplitude * 2).astype(np.float32)
        # Blotchy noise at a random grain: coarse grain looks like texture, fine grain like sensor noise.
        grain = int(rng.integers(1, 9))
        small = rng.normal(0, amplitude, size=(max(1, height // grain), max(1, width // grain), 3))
        noise = np.asarray(
            Image.fromarray(np.clip(small + 128, 0, 255).astype(np.uint8)).resize(
                (width, height), Image.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )
        pixels = base + (noise - 128)
    pixels = _clip_to_contrast(np.clip(pixels, 0, 255), fill_arr.astype(np.float32))
    return Image.fromarray(np.round(pixels).astype(np.uint8), "RGB")


def _clip_to_contrast(pixels: np.ndarray, fill: np.ndarray) -> np.ndarray:
    # Push any pixel that ended up too near the fill straight away from it, so the contrast promise holds
    # for every pixel rather than on average.
    diff = pixels - fill
    too_close = np.einsum("...c,...c->...", diff, diff) < (MIN_CONTRAST + 1) ** 2
    if not too_close.any():
        return pixels
    near = diff[too_close]
    dist = np.linalg.norm(near, axis=-1, keepdims=True)
    grey_away = np.float32(0.0 if fill.mean() > 127 else 255.0)
    direction = np.where(dist > 1e-6, near / np.maximum(dist, 1e-6), (grey_away - fill) / 255.0)
    pushed = np.clip(fill + direction * (MIN_CONTRAST + 8), 0, 255)
    # Clipping at the RGB cube walls can undo the push; fall back to the far grey for those pixels.
    still_close = np.linalg.norm(pushed - fill, axis=-1, keepdims=True) < MIN_CONTRAST + 1
    pixels = pixels.copy()
    pixels[too_close] = np.where(still_close, grey_away, pushed)
    return pixels


def _shape_mask(shape: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    short = min(width, height)
    radius = rng.uniform(0.17, 0.38) * short
    # Centre inside the central square so a centre crop keeps the whole shape.
    left, top = (width - short) / 2, (height - short) / 2
    margin = radius + 0.04 * short
    cx = left + rng.uniform(margin, short - margin)
    cy = top + rng.uniform(margin, short - margin)
    rotation = rng.uniform(0, 360)

    k = _SUPERSAMPLE
    mask = Image.new("L", (width * k, height * k), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy, radius = cx * k, cy * k, radius * k

    def ellipse(r: float, value: int) -> None:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=value)

    def polygon(points: list[tuple[float, float]]) -> None:
        # Points are (distance from centre, angle in degrees) before rotation.
        draw.polygon(
            [
                (cx + d * math.cos(math.radians(a + rotation)), cy + d * math.sin(math.radians(a + rotation)))
                for d, a in points
            ],
            fill=255,
        )

    if shape == "circle":
        ellipse(radius, 255)
    elif shape == "ring":
        ellipse(radius, 255)
        ellipse(radius * rng.uniform(0.5, 0.62), 0)
    elif shape == "square":
        polygon([(radius, 45 + 90 * i) for i in range(4)])
    elif shape == "triangle":
        polygon([(radius, -90 + 120 * i) for i in range(3)])
    elif shape == "star":
        inner = radius * rng.uniform(0.38, 0.48)
        polygon([(radius if i % 2 == 0 else inner, -90 + 36 * i) for i in range(10)])
    else:  # cross: a plus sign whose arms are a third of its span wide
        half = 0.3 * radius
        outline = [(half, radius), (half, half), (radius, half)]
        corners: list[tuple[float, float]] = []
        for quarter in range(4):
            for x, y in outline:
                a = math.radians(-90 * quarter)  # same turning direction as the outline
                rx, ry = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
                corners.append((math.hypot(rx, ry), math.degrees(math.atan2(ry, rx))))
        polygon(corners)
    return mask.resize((width, height), Image.Resampling.BOX)
