"""app.shapes: deterministic, visible, contrasting pictures that survive every encoding."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import shapes
from app.shapes import (
    CAPTION_TEMPLATES,
    COLOUR_RGB,
    COLOURS,
    MIN_CONTRAST,
    SHAPES,
    caption,
    draw_shape,
    encode_image,
    iter_labelled,
    write_shape_folder,
)

ALL_CLASSES = [(c, s) for c in COLOURS for s in SHAPES]


def _fill_and_border(img: Image.Image, colour: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The shape's actual (jittered) fill, the outermost pixels, and the shape's share of the image."""
    pixels = np.asarray(img, dtype=float)
    near_nominal = np.linalg.norm(pixels - np.asarray(COLOUR_RGB[colour]), axis=-1) < 70
    fill = np.median(pixels[near_nominal], axis=0)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return fill, border, float(near_nominal.mean())


def test_same_seed_gives_same_pixels_and_other_seeds_differ() -> None:
    first = draw_shape("red", "circle", size=(120, 90), seed=7)
    again = draw_shape("red", "circle", size=(120, 90), seed=7)
    other = draw_shape("red", "circle", size=(120, 90), seed=8)
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_size_and_mode() -> None:
    assert draw_shape("blue", "star", size=64).size == (64, 64)
    wide = draw_shape("blue", "star", size=(300, 120))
    assert wide.size == (300, 120)
    assert wide.mode == "RGB"


@pytest.mark.parametrize(("colour", "shape"), ALL_CLASSES)
def test_background_contrasts_with_shape_for_every_class(colour: str, shape: str) -> None:
    for seed in range(6):
        img = draw_shape(colour, shape, size=(96, 72), seed=seed)
        fill, border, shape_share = _fill_and_border(img, colour)
        # The shape is plainly there: not a speck, not the whole picture.
        assert 0.02 < shape_share < 0.6, (seed, shape_share)
        distances = np.linalg.norm(border - fill, axis=-1)
        assert distances.min() >= MIN_CONTRAST - 2, (seed, fill, border[distances.argmin()])


def test_white_and_black_shapes_get_backgrounds_they_stand_out_from() -> None:
    for seed in range(40):
        white, white_border, _ = _fill_and_border(draw_shape("white", "square", seed=seed), "white")
        black, black_border, _ = _fill_and_border(draw_shape("black", "square", seed=seed), "black")
        assert white_border.mean(axis=1).max() < white.mean() - 60
        assert black_border.mean(axis=1).min() > black.mean() + 60


def test_explicit_background_is_used() -> None:
    img = draw_shape("red", "triangle", size=80, seed=3, background=(0, 0, 255))
    assert img.getpixel((0, 0)) == (0, 0, 255)
    assert draw_shape("red", "triangle", seed=3, background="white").getpixel((0, 0)) == COLOUR_RGB["white"]


def test_shape_stays_inside_central_square_of_wide_images() -> None:
    # CLIP centre-crops to the central square; a shape outside it would be invisible to the model.
    for seed in range(20):
        pixels = np.asarray(draw_shape("yellow", "circle", size=(300, 100), seed=seed), dtype=float)
        on_shape = np.linalg.norm(pixels - np.asarray(COLOUR_RGB["yellow"]), axis=-1) < 70
        columns = np.nonzero(on_shape.any(axis=0))[0]
        assert columns.min() >= 100 and columns.max() < 200, seed


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF"])
def test_every_format_encodes_and_decodes(fmt: str) -> None:
    original = draw_shape("green", "cross", size=(100, 80), seed=1)
    data = encode_image(original, fmt)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == fmt
    assert decoded.size == (100, 80)
    error = np.abs(np.asarray(decoded.convert("RGB"), dtype=float) - np.asarray(original, dtype=float))
    if fmt in ("PNG", "BMP", "TIFF"):
        assert error.max() == 0
    else:
        assert error.mean() < 12


def test_encode_rejects_unknown_format_and_bad_quality() -> None:
    img = draw_shape("red", "circle")
    with pytest.raises(ValueError, match="unsupported image format 'XYZ'"):
        encode_image(img, "XYZ")
    with pytest.raises(ValueError, match="quality"):
        encode_image(img, "JPEG", quality=0)
    assert encode_image(img, "jpg")[:2] == b"\xff\xd8"


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown colour 'pink'"):
        draw_shape("pink", "circle")
    with pytest.raises(ValueError, match="unknown shape 'hexagon'"):
        draw_shape("red", "hexagon")
    with pytest.raises(ValueError, match="between"):
        draw_shape("red", "circle", size=4)
    with pytest.raises(ValueError, match="seed"):
        draw_shape("red", "circle", seed=-1)
    with pytest.raises(ValueError, match="background"):
        draw_shape("red", "circle", background=(300, 0, 0))


def test_captions() -> None:
    assert caption("red", "circle") == "a red circle"
    assert all("{c}" in t and "{s}" in t for t in CAPTION_TEMPLATES)
    assert len(set(CAPTION_TEMPLATES)) >= 4


def test_write_shape_folder_names_and_contents(tmp_path) -> None:
    paths = write_shape_folder(
        tmp_path / "pics", per_class=2, colours=["red", "white"], shapes=["ring"], size=64, fmt="JPEG"
    )
    assert [p.name for p in paths] == [
        "red_ring_000.jpg",
        "red_ring_001.jpg",
        "white_ring_000.jpg",
        "white_ring_001.jpg",
    ]
    for path in paths:
        with Image.open(path) as img:
            assert img.format == "JPEG" and img.size == (64, 64)
    # Same arguments, same bytes: tests can rely on a folder's content.
    png_args = {"per_class": 2, "colours": ["red", "white"], "shapes": ["ring"], "size": 64}
    first = write_shape_folder(tmp_path / "first", **png_args)
    again = write_shape_folder(tmp_path / "again", **png_args)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert len({p.read_bytes() for p in first}) == 4


def test_write_shape_folder_default_covers_all_classes(tmp_path) -> None:
    paths = write_shape_folder(tmp_path, size=32)
    assert len(paths) == 48
    assert {p.stem.rsplit("_", 1)[0] for p in paths} == {f"{c}_{s}" for c, s in ALL_CLASSES}


def test_iter_labelled_is_balanced_and_deterministic() -> None:
    items = list(iter_labelled(2, seed=5, size=40))
    assert len(items) == 96
    assert [(c, s) for c, s, _ in items[:48]] == ALL_CLASSES
    again = list(iter_labelled(2, seed=5, size=40))
    assert all(a[2].tobytes() == b[2].tobytes() for a, b in zip(items, again, strict=True))
    other_seed = next(iter_labelled(1, seed=6, size=40))
    assert other_seed[2].tobytes() != items[0][2].tobytes()


def test_importing_shapes_does_not_import_torch() -> None:
    code = "import app.shapes, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(shapes.__file__).parents[1])
