"""app.engine.images: base64 rules, formats, EXIF, JPEG draft, limits, corrupt data, CLIP preprocessing."""

from __future__ import annotations

import base64
import io
import re
import struct
import sys
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from app.engine import images
from app.engine.images import (
    MAX_PIXELS,
    SUPPORTED_EXTENSIONS,
    ImageError,
    decode_base64,
    image_format,
    image_info,
    load_image,
    preprocess_for_clip,
)

RED, BLUE, WHITE = (220, 30, 30), (30, 40, 220), (255, 255, 255)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def red_left_blue_right(width: int = 300, height: int = 200) -> Image.Image:
    img = Image.new("RGB", (width, height), BLUE)
    img.paste(RED, (0, 0, width // 2, height))
    return img


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """Gradient + noise + blobs: compresses like a photo, unlike a flat test card."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 100 / (width + height) + 60], axis=-1)
    pixels = np.clip(base + rng.normal(0, 14, (height, width, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def close_to(pixel, expected, tolerance: int = 12) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, expected, strict=True))


# --- formats ------------------------------------------------------------------------------------------

FORMATS = ["JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips_to_rgb(fmt):
    data = encode(red_left_blue_right(), fmt)
    assert image_format(data) == fmt
    assert image_info(data) == (fmt, 300, 200)
    img = load_image(data, min_side=None)
    assert img.mode == "RGB" and img.size == (300, 200)
    assert close_to(img.getpixel((40, 100)), RED)
    assert close_to(img.getpixel((260, 100)), BLUE)


def heic(img: Image.Image) -> bytes:
    """Encoded with pillow-heif directly, so Pillow's HEIF plugin is left for Photoseek to register."""
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(img).save(buffer, quality=90)
    return buffer.getvalue()


def test_heif_round_trips():
    data = heic(red_left_blue_right())
    assert {".heic", ".heif"} <= SUPPORTED_EXTENSIONS
    assert image_format(data) == "HEIF"
    assert image_info(data) == ("HEIF", 300, 200)
    img = load_image(data)
    assert img.size == (300, 200)
    assert close_to(img.getpixel((40, 100)), RED, 20) and close_to(img.getpixel((260, 100)), BLUE, 20)


def test_heic_when_pillow_heif_cannot_load_says_so(monkeypatch: pytest.MonkeyPatch):
    data = heic(red_left_blue_right(64, 64))
    # A None entry in sys.modules makes the import fail, as a missing or broken install would.
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    monkeypatch.setattr(images, "_heif_registered", False)
    monkeypatch.setattr(images, "_heif_failure", None)
    for _ in range(2):  # the failure is remembered, and reported the same way every time
        with pytest.raises(ImageError, match=r"^HEIC images need pillow-heif, which could not be loaded"):
            load_image(data)
    # Other formats are unaffected.
    assert load_image(encode(red_left_blue_right(), "PNG")).size == (300, 200)


def test_supported_extensions_cover_the_common_suffixes():
    assert {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"} <= SUPPORTED_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in SUPPORTED_EXTENSIONS)


def test_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert close_to(load_image(data).getpixel((32, 32)), RED)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_transparency_is_composited_onto_white(fmt):
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    img.paste((220, 30, 30, 255), (0, 0, 32, 64))
    if fmt == "GIF":
        img = img.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
        transparent_index = img.getpixel((50, 10))
        data = encode(img, "GIF", transparency=transparent_index)
    else:
        data = encode(img, fmt, lossless=True) if fmt == "WEBP" else encode(img, fmt)
    loaded = load_image(data)
    assert loaded.mode == "RGB"
    assert close_to(loaded.getpixel((10, 10)), RED)
    assert loaded.getpixel((50, 10)) == WHITE


def test_half_transparent_la_blends_with_white():
    data = encode(Image.new("LA", (32, 32), (0, 128)), "PNG")
    value = load_image(data).getpixel((5, 5))
    assert all(120 <= channel <= 135 for channel in value)


def test_16_bit_grayscale_is_scaled_not_clipped():
    gray16 = Image.fromarray(np.full((40, 40), 32768, dtype=np.uint16))
    for fmt in ("PNG", "TIFF"):
        value = load_image(encode(gray16, fmt)).getpixel((3, 3))
        assert value == (128, 128, 128), fmt


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK"])
def test_other_colour_modes_become_rgb(mode):
    source = red_left_blue_right(64, 64)
    img = source.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    loaded = load_image(encode(img, fmt))
    assert loaded.mode == "RGB" and loaded.size == (64, 64)
    expected = img.convert("RGB").getpixel((10, 10))
    assert close_to(loaded.getpixel((10, 10)), expected, 14)


# --- EXIF orientation and draft decoding --------------------------------------------------------------


def jpeg_with_orientation(img: Image.Image, orientation: int, **params) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", exif=exif, **params)


@pytest.mark.parametrize(
    ("orientation", "size", "red_at"),
    [
        (1, (300, 200), (40, 100)),
        (3, (300, 200), (260, 100)),  # 180 degrees: red ends up on the right
        (6, (200, 300), (100, 40)),  # rotate 90 clockwise for display: left edge becomes the top
        (8, (200, 300), (100, 260)),  # rotate 90 anticlockwise: left edge becomes the bottom
    ],
)
def test_exif_orientation_is_applied(orientation, size, red_at):
    data = jpeg_with_orientation(red_left_blue_right(), orientation, quality=95)
    assert image_info(data) == ("JPEG", *size)
    img = load_image(data, min_side=None)
    assert img.size == size
    assert close_to(img.getpixel(red_at), RED)


def test_png_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(red_left_blue_right(), "PNG", exif=exif)
    assert image_info(data) == ("PNG", 200, 300)
    img = load_image(data)
    assert img.size == (200, 300) and close_to(img.getpixel((100, 40)), RED)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_exif_does_not_lose_the_photo():
    data = encode(red_left_blue_right(), "JPEG", exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xff")
    assert load_image(data).size == (300, 200)


@pytest.fixture(scope="module")
def large_jpeg() -> bytes:
    return encode(photo_like(3000, 2000), "JPEG", quality=90)


def test_draft_decodes_a_large_jpeg_at_reduced_size(large_jpeg):
    small = load_image(large_jpeg)  # min_side=224
    assert min(small.size) >= 224
    assert small.size[0] * small.size[1] <= 3000 * 2000 // 50
    assert load_image(large_jpeg, min_side=None).size == (3000, 2000)
    medium = load_image(large_jpeg, min_side=500)
    assert min(medium.size) >= 500 and medium.size[0] < 3000


def test_draft_keeps_the_short_side_when_exif_rotates(large_jpeg):
    rotated = jpeg_with_orientation(photo_like(3000, 2000), 6, quality=80)
    img = load_image(rotated, min_side=224)
    assert img.size[0] < img.size[1]
    assert min(img.size) >= 224 and max(img.size) < 1000


def test_camera_mpo_jpeg_counts_as_jpeg_and_is_drafted():
    photo = photo_like(600, 400)
    data = encode(photo, "MPO", save_all=True, append_images=[photo.resize((160, 120))])
    assert image_info(data) == ("JPEG", 600, 400)
    assert load_image(data, min_side=100).size == (150, 100)


def test_draft_decoding_gives_the_same_clip_input_as_a_full_decode(large_jpeg):
    drafted = preprocess_for_clip(load_image(large_jpeg), 224, CLIP_MEAN, CLIP_STD)
    full = preprocess_for_clip(load_image(large_jpeg, min_side=None), 224, CLIP_MEAN, CLIP_STD)
    assert np.abs(drafted - full).mean() < 0.05


def test_min_side_must_be_positive():
    with pytest.raises(ValueError, match="min_side"):
        load_image(encode(red_left_blue_right(), "PNG"), min_side=0)


# --- limits and broken data ---------------------------------------------------------------------------


def png_header_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("width", "height", "megapixels"), [(12000, 10000, "120.0"), (20000, 10000, "200.0")]
)
def test_decompression_bomb_is_refused_from_the_header(width, height, megapixels):
    data = png_header_claiming(width, height)
    assert len(data) < 100
    message = re.escape(f"Image is too large: {megapixels} megapixels (limit 100)")
    with pytest.raises(ImageError, match=message):
        load_image(data)
    with pytest.raises(ImageError, match=message):
        image_info(data)


def test_an_image_at_the_limit_is_not_refused_by_the_header_check():
    assert MAX_PIXELS == 100_000_000
    # 10000 x 10000 is exactly the limit: opening must get past the size check and fail on missing data.
    refused = pytest.raises(ImageError, match="truncated or corrupt")
    with pytest.warns(Image.DecompressionBombWarning), refused:
        load_image(png_header_claiming(10000, 10000))


def test_truncated_images_raise_and_pillow_stays_strict():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    cases = {
        "baseline JPEG": encode(photo_like(640, 480), "JPEG", quality=90),
        "progressive JPEG": encode(photo_like(640, 480), "JPEG", quality=90, progressive=True),
        "PNG": encode(photo_like(640, 480), "PNG"),
        "WEBP": encode(photo_like(640, 480), "WEBP"),
    }
    for name, data in cases.items():
        for min_side in (224, None):
            with pytest.raises(ImageError, match="Image data is truncated or corrupt") as caught:
                load_image(data[: len(data) // 2], min_side=min_side)
            assert str(caught.value), name


def test_header_alone_is_reported_as_corrupt_not_unrecognised():
    with pytest.raises(ImageError, match="truncated or corrupt: PNG"):
        load_image(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        image_info(b"\xff\xd8\xff\xe0\x00\x10JFIF")


def test_random_bytes_and_empty_data_are_named():
    noise = np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    with pytest.raises(ImageError, match=r"Not a supported image: unrecognised data \(supported: JPEG, PNG"):
        load_image(noise)
    assert image_format(noise) is None
    with pytest.raises(ImageError, match="Image data is empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="unrecognised data"):
        load_image(b"BM this is a text file, not a bitmap")


def test_unsupported_format_is_not_decoded():
    data = encode(red_left_blue_right(32, 32), "ICO")
    with pytest.raises(ImageError, match="unrecognised data"):
        load_image(data)


# --- base64 -------------------------------------------------------------------------------------------

PAYLOADS = [b"a", b"ab", b"abc", b"abcd", bytes(range(256))]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_base64_with_and_without_padding(payload):
    text = base64.b64encode(payload).decode()
    assert decode_base64(text) == payload
    assert decode_base64(text.rstrip("=")) == payload


def test_base64_ignores_whitespace_and_line_breaks():
    payload = bytes(range(256)) * 4
    wrapped = base64.encodebytes(payload).decode()  # 76-column lines, like MIME
    assert "\n" in wrapped
    assert decode_base64(wrapped) == payload
    assert decode_base64("  " + wrapped.replace("\n", "\r\n\t ") + "\n") == payload


def test_base64_accepts_a_data_url_prefix():
    png = encode(red_left_blue_right(16, 16), "PNG")
    text = base64.b64encode(png).decode()
    assert decode_base64("data:image/png;base64," + text) == png
    assert decode_base64("DATA:image/JPEG;base64," + text) == png
    with pytest.raises(ImageError, match="data:image/<type>;base64"):
        decode_base64("data:text/plain;base64," + text)


def test_base64_bad_character_is_named_with_its_position():
    with pytest.raises(ImageError, match=r"character '!' at position 12 is not in the base64 alphabet"):
        decode_base64("QUJDREVGR0hJ!ktMTU5PUA==")
    with pytest.raises(ImageError, match=r"character 'é' at position 2"):
        decode_base64("QUéJ")
    with pytest.raises(ImageError, match="URL-safe base64 is not accepted"):
        decode_base64("ab-_cdef")
    # Positions count from the start of the string the user sent, data: prefix and line breaks included.
    with pytest.raises(ImageError, match="position 27"):
        decode_base64("data:image/png;base64,QUJD\n*UJD")


def test_base64_empty_padding_and_length_errors():
    for empty in ("", "   \n\t", "data:image/png;base64,"):
        with pytest.raises(ImageError, match="Invalid base64: the string is empty"):
            decode_base64(empty)
    with pytest.raises(ImageError, match=r"Invalid base64: padding '=' in the middle at position 3"):
        decode_base64("QUI=QUJD")
    with pytest.raises(ImageError, match=r"length 5 \(after removing whitespace\) cannot be valid base64"):
        decode_base64("QUJDR")
    with pytest.raises(ImageError, match="padding"):
        decode_base64("QUJDRA=")  # needs '==' or none
    with pytest.raises(ImageError, match="padding"):
        decode_base64("====")


@pytest.mark.parametrize(("value", "type_name"), [(12, "int"), (None, "NoneType"), (b"QUJD", "bytes")])
def test_base64_rejects_non_strings(value, type_name):
    with pytest.raises(ImageError, match=f"Image field must be a base64 string, got {type_name}"):
        decode_base64(value)


def test_base64_decodes_a_multi_megabyte_photo(large_jpeg):
    wrapped = base64.encodebytes(large_jpeg).decode()
    assert len(wrapped) > 3_000_000
    assert decode_base64(wrapped) == large_jpeg


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


# --- CLIP preprocessing -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def open_clip_transform():
    open_clip = pytest.importorskip("open_clip")
    return open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)[2]


@pytest.mark.parametrize("size", [(375, 250), (250, 375), (640, 480), (224, 300), (225, 224), (1001, 333)])
def test_preprocessing_matches_open_clip(open_clip_transform, size):
    img = photo_like(*size, seed=size[0])
    expected = open_clip_transform(img).numpy()
    ours = preprocess_for_clip(img, 224, CLIP_MEAN, CLIP_STD, reducing_gap=None)
    assert ours.shape == (3, 224, 224) and ours.dtype == np.float32 and ours.flags.c_contiguous
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    # The default path only departs from the exact one for images 4x the target or more.
    np.testing.assert_allclose(preprocess_for_clip(img, 224, CLIP_MEAN, CLIP_STD), expected, atol=1e-5)


def test_fast_preprocessing_of_a_large_image_stays_close_to_open_clip(open_clip_transform):
    img = photo_like(3000, 2000, seed=7)
    expected = open_clip_transform(img).numpy()
    ours = preprocess_for_clip(img, 224, CLIP_MEAN, CLIP_STD)
    difference = np.abs(ours - expected)
    assert difference.mean() < 0.01 and difference.max() < 0.2


def test_preprocessing_accepts_non_rgb_and_checks_arguments():
    rgba = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    out = preprocess_for_clip(rgba, 32, CLIP_MEAN, CLIP_STD)
    white = (1.0 - np.asarray(CLIP_MEAN)) / np.asarray(CLIP_STD)
    np.testing.assert_allclose(out[:, 0, 0], white, rtol=1e-5)
    with pytest.raises(ValueError, match="mean and std"):
        preprocess_for_clip(rgba, 32, (0.5, 0.5), CLIP_STD)
