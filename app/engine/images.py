"""Base64 decoding, image loading and CLIP preprocessing (Pillow, pillow-heif and numpy).

Everything a user can send us (a base64 field, a file from a folder) goes through here, so every failure
becomes an ``ImageError`` whose message says what is wrong with the input. HEIC/HEIF decodes through
pillow-heif, registered on first need; camera RAW files decode as their embedded preview (``raw.py``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from app.engine import raw
from app.engine.image_input import MAX_ASPECT_RATIO as MAX_ASPECT_RATIO
from app.engine.image_input import MAX_PIXELS as MAX_PIXELS
from app.engine.image_input import ImageError as ImageError
from app.engine.image_input import bomb_error, check_dimensions
from app.engine.image_input import decode_base64 as decode_base64

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif"} | raw.RAW_EXTENSIONS
)

# Pillow plugin names tried by Image.open; restricting them keeps e.g. PSD or EPS parsers out of reach.
_PILLOW_FORMATS = ["JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF"]
_SUPPORTED_NAMES = "JPEG, PNG, BMP, WebP, GIF, TIFF, HEIC, camera RAW (CR2, NEF, ARW, DNG)"

_EXIF_ORIENTATION = 0x0112
_WHITE = (255, 255, 255)


# --- format sniffing ----------------------------------------------------------------------------------

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def image_format(data: raw.Buffer) -> str | None:
    """Name the image format from its magic bytes (Pillow's names: "JPEG", "PNG", "WEBP", "HEIF", ...)."""
    head = bytes(data[:32])
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "TIFF"
    # "BM" alone is too weak (text can start with it), so also check the DIB header size field.
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


# --- loading ------------------------------------------------------------------------------------------

_heif_lock = threading.Lock()
_heif_registered = False
_heif_failure: str | None = None


def register_heif() -> None:
    """Let Pillow open HEIC/HEIF. Thread-safe; runs once, on the first image that needs it, because
    importing pillow-heif loads libheif and its codecs. Raises ImageError saying why when it cannot load."""
    global _heif_registered, _heif_failure
    if not _heif_registered:
        with _heif_lock:
            if not _heif_registered and _heif_failure is None:
                try:
                    from pillow_heif import register_heif_opener

                    register_heif_opener()
                except Exception as exc:  # ImportError, or OSError from a broken native library
                    _heif_failure = f"{type(exc).__name__}: {exc}"
                else:
                    _heif_registered = True
    if not _heif_registered:
        raise ImageError(
            f"HEIC images need pillow-heif, which could not be loaded ({_heif_failure}); "
            "reinstall Photoseek or run: pip install pillow-heif"
        )


@dataclass
class _Opened:
    img: Image.Image
    format: str
    # Set for RAW files: IFD0's orientation, which the camera records for the picture as a whole and which
    # its preview JPEG often lacks. None means the image's own EXIF orientation applies.
    orientation: int | None = None


def _open(data: raw.Buffer) -> _Opened:
    """Open (header only) and enforce the pixel limit before any pixel data is decoded.

    A camera RAW opens as its largest embedded preview JPEG.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"Image data must be bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError("Image data is empty")
    sniffed = image_format(data)
    if sniffed == "TIFF":
        found = raw.parse_raw(data)
        if found is not None:
            return _open_raw(data, found)
    formats = list(_PILLOW_FORMATS)
    if sniffed == "HEIF":
        register_heif()
        formats.append("HEIF")
    img = _open_pillow(data, sniffed, formats)
    return _Opened(img, _normalise_format(img.format))


def _open_raw(data: raw.Buffer, found: raw.RawFile) -> _Opened:
    problem: str | None = None
    for preview in found.previews:
        try:
            img = _open_pillow(found.preview_bytes(data, preview), "JPEG", ["JPEG"])
        except ImageError as exc:
            # A bigger preview that is broken or over the pixel limit: a smaller one still beats nothing.
            problem = problem or str(exc)
            continue
        return _Opened(img, found.kind, found.orientation)
    raise ImageError(found.no_preview_message(problem))


def _open_pillow(data: raw.Buffer, sniffed: str | None, formats: list[str]) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data), formats=formats)
    except Image.DecompressionBombError as exc:
        raise bomb_error(exc) from None
    except Exception as exc:
        if sniffed is None:
            raise ImageError(
                f"Not a supported image: unrecognised data (supported: {_SUPPORTED_NAMES})"
            ) from None
        # UnidentifiedImageError's text is just the BytesIO repr; other errors say what broke.
        detail = "" if isinstance(exc, UnidentifiedImageError) else f" ({exc})"
        message = f"Image data is truncated or corrupt: {sniffed} header could not be read{detail}"
        raise ImageError(message) from None
    check_dimensions(*img.size)
    return img


def _orientation(opened: _Opened, *, header_only: bool = False) -> int:
    if opened.orientation is not None:
        return opened.orientation
    img = opened.img
    try:
        # PngImageFile.getexif() decodes the whole image to reach chunks after IDAT; the base class
        # method reads only what the header gave us.
        exif = Image.Image.getexif(img) if header_only and img.format == "PNG" else img.getexif()
        orientation = int(exif.get(_EXIF_ORIENTATION, 1))
    except Exception:
        # Broken EXIF should not cost the user the photo; viewers show such files unrotated too.
        return 1
    return orientation if 1 <= orientation <= 8 else 1


_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _transpose(img: Image.Image, orientation: int) -> Image.Image:
    # The same mapping as ImageOps.exif_transpose, which cannot be used because a RAW's orientation comes
    # from the RAW's IFD0, not from the preview's own EXIF.
    return img.transpose(_TRANSPOSES[orientation])


def _normalise_format(name: str | None) -> str:
    # Camera JPEGs with an embedded preview open as MPO; to users they are JPEGs.
    return "JPEG" if name == "MPO" else (name or "unknown")


def image_info(data: raw.Buffer) -> tuple[str, int, int]:
    """(format, width, height) from the header only; width/height are after EXIF rotation.

    For a camera RAW the format is its kind ("CR2", "NEF", "ARW", "DNG" or "RAW") and the size is that of
    the preview Photoseek indexes.
    """
    opened = _open(data)
    width, height = opened.img.size
    if _orientation(opened, header_only=True) >= 5:
        width, height = height, width
    return opened.format, width, height


def load_image(data: raw.Buffer, *, min_side: int | None = 224) -> Image.Image:
    """Decode to a fully loaded RGB image, EXIF orientation applied (a RAW decodes its largest preview).

    With ``min_side``, JPEGs are decoded at a reduced DCT scale whose shortest side is still at least
    ``min_side``: a 12 MP photo decodes at 1/8 size instead of in full when the model wants 224 px.
    """
    if min_side is not None and (not isinstance(min_side, int) or min_side < 1):
        raise ValueError(f"min_side must be a positive int or None, got {min_side!r}")
    opened = _open(data)
    img = opened.img
    try:
        if min_side is not None and img.format in ("JPEG", "MPO"):
            # Requesting a square keeps the shortest side >= min_side whichever way EXIF rotates it,
            # since draft picks a scale that keeps both sides at least the requested size.
            img.draft("RGB", (min_side, min_side))
        img.load()
        orientation = _orientation(opened)
        if orientation != 1:
            img = _transpose(img, orientation)
        return _to_rgb(img)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise bomb_error(exc) from None
    except MemoryError:
        raise
    except Exception as exc:
        detail = str(exc) or type(exc).__name__
        raise ImageError(f"Image data is truncated or corrupt: {detail}") from None


_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(img)
    if mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    try:
        return img.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"Not a supported image: colour mode {mode} cannot be converted to RGB") from exc


def _high_depth_to_rgb(img: Image.Image) -> Image.Image:
    # Pillow's own I/F -> RGB conversion clips at 255 instead of scaling, which turns a 16-bit photo white.
    values = np.asarray(img)
    if img.mode == "F":
        values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if values.size and float(values.max()) <= 1.0 else 1.0
        gray = np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)
    else:
        gray = ((np.clip(values.astype(np.int64), 0, 65535) + 128) // 257).astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")


# --- CLIP preprocessing -------------------------------------------------------------------------------


def preprocess_for_clip(
    img: Image.Image,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    reducing_gap: float | None = 2.0,
) -> np.ndarray:
    """float32 CHW array: shortest side to ``size`` (bicubic), centre crop ``size`` x ``size``, normalise.

    With ``reducing_gap=None`` this is bit-for-bit the Pillow call open_clip's transform makes (torchvision
    Resize + CenterCrop + ToTensor + Normalize). The default lets Pillow box-reduce by an integer factor
    first once the image is 4x the target or more: about 3x faster on a 6 MP PNG, about a quarter of a
    grey level different on average. A draft-decoded JPEG only gets that large when the photo is over
    about 65 megapixels, so JPEGs practically always take the exact path.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if len(mean) != 3 or len(std) != 3:
        raise ValueError("mean and std need one value per RGB channel")
    if img.mode != "RGB":
        img = _to_rgb(img)
    width, height = img.size
    # Callers may hand over an image they opened themselves: the limits apply before the resize too.
    check_dimensions(width, height)
    # torchvision truncates the long side (int()) and rounds the crop offset (round()); do the same.
    if width <= height:
        new_w, new_h = size, int(size * height / width)
    else:
        new_w, new_h = int(size * width / height), size
    if (new_w, new_h) != (width, height):
        # Resizing the whole image and then cropping (rather than resizing only the crop box) keeps
        # Pillow's choice of pass order identical to open_clip's call, so results match exactly.
        img = img.resize((new_w, new_h), Image.Resampling.BICUBIC, reducing_gap=reducing_gap)
    left = round((new_w - size) / 2.0)
    top = round((new_h - size) / 2.0)
    cropped = img.crop((left, top, left + size, top + size))
    pixels = np.asarray(cropped, dtype=np.float32)
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float32))
    offset = np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)
    normalised = pixels * scale - offset
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))
