"""What image input may be before any pixel is decoded: base64 rules, size limits, and the one error type.

Split from ``images.py`` so that limits are checked in one place, on the header's numbers, before a decoder
or a resize allocates anything.
"""

from __future__ import annotations

import binascii
import re

from PIL import Image

MAX_PIXELS = 100_000_000
# A photo, even a stitched panorama, is nowhere near this; a 1 x 1,000,000 strip is a few KB as a PNG but
# scaled to the model's size it becomes gigabytes, so such shapes are refused from the header alone.
MAX_ASPECT_RATIO = 100


class ImageError(ValueError):
    """Input that is not a usable image; the message is meant for the user."""


# --- base64 -------------------------------------------------------------------------------------------

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ASCII_WHITESPACE = b" \t\n\r\v\f"
_DATA_URL = re.compile(r"\s*data:([^,]{0,200}),", re.IGNORECASE)
_DATA_URL_IMAGE = re.compile(r"image/[a-z0-9.+-]+;base64", re.IGNORECASE)
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/= \t\n\r\v\f]")
_PADDING_IN_MIDDLE = re.compile(r"=[= \t\n\r\v\f]*[A-Za-z0-9+/]")


def decode_base64(value: str) -> bytes:
    """Decode standard base64 (padding optional, whitespace ignored, ``data:image/...;base64,`` allowed)."""
    if not isinstance(value, str):
        raise ImageError(f"Image field must be a base64 string, got {type(value).__name__}")
    start = 0
    match = _DATA_URL.match(value, 0, 256)
    if match:
        if not _DATA_URL_IMAGE.fullmatch(match.group(1).strip()):
            raise ImageError(
                f"Invalid base64: a data URL must start with 'data:image/<type>;base64,', "
                f"got 'data:{match.group(1)},'"
            )
        start = match.end()
    try:
        raw = value[start:].encode("ascii")
    except UnicodeEncodeError:
        raise _bad_character_error(value, start) from None
    # bytes.translate runs in C, so this stays fast for multi-megabyte photos.
    compact = raw.translate(None, _ASCII_WHITESPACE)
    if not compact:
        raise ImageError("Invalid base64: the string is empty")
    if compact.translate(None, _B64_ALPHABET + b"="):
        raise _bad_character_error(value, start)
    core = compact.rstrip(b"=")
    padding = len(compact) - len(core)
    if b"=" in core:
        found = _PADDING_IN_MIDDLE.search(value, start)
        where = f" at position {found.start()}" if found else ""
        raise ImageError(f"Invalid base64: padding '=' in the middle{where}")
    if not core:
        raise ImageError("Invalid base64: the string is only '=' padding")
    if len(core) % 4 == 1:
        raise ImageError(
            f"Invalid base64: length {len(compact)} (after removing whitespace) cannot be valid base64"
        )
    missing = -len(core) % 4
    if padding and padding != missing:
        raise ImageError(
            f"Invalid base64: {padding} '=' padding character(s) after {len(core)} characters, "
            f"expected {missing}"
        )
    try:
        return binascii.a2b_base64(core + b"=" * missing)
    except binascii.Error as exc:  # the checks above should make this unreachable
        raise ImageError(f"Invalid base64: {exc}") from None


def _bad_character_error(value: str, start: int) -> ImageError:
    found = _NOT_BASE64.search(value, start)
    if found is None:
        return ImageError("Invalid base64: contains a character outside the base64 alphabet")
    char = found.group()
    hint = " (URL-safe base64 is not accepted; use '+' and '/')" if char in "-_" else ""
    return ImageError(
        f"Invalid base64: character {char!r} at position {found.start()} is not in the base64 alphabet{hint}"
    )


# --- limits -------------------------------------------------------------------------------------------


def check_dimensions(width: int, height: int) -> None:
    """Raise ImageError when an image of this size must not be decoded or resized."""
    if width <= 0 or height <= 0:
        raise ImageError(f"Image data is truncated or corrupt: image size {width}x{height}")
    if width * height > MAX_PIXELS:
        raise _too_large(width * height)
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageError(
            f"Image is too long and thin to be a photo: {width} x {height} pixels "
            f"(aspect ratio over {MAX_ASPECT_RATIO}:1)"
        )


def _too_large(pixels: int) -> ImageError:
    return ImageError(f"Image is too large: {pixels / 1e6:.1f} megapixels (limit {MAX_PIXELS // 1_000_000})")


def bomb_error(exc: Exception) -> ImageError:
    # Pillow's own limit (about 179 MP) can fire inside Image.open before we see the size; it puts the
    # pixel count in its message.
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found:
        return _too_large(int(found.group(1)))
    return ImageError(f"Image is too large: more than {MAX_PIXELS // 1_000_000} megapixels")


def as_image_error(exc: BaseException) -> ImageError:
    """Any failure while decoding one image, as that image's error: whatever a decoder raises (a codec's
    OSError, a parser's RecursionError, MemoryError) must fail that image only, never the whole import."""
    if isinstance(exc, ImageError):
        return exc
    if isinstance(exc, Image.DecompressionBombError):
        return bomb_error(exc)
    if isinstance(exc, MemoryError):
        return ImageError("Not enough memory to decode this image")
    detail = str(exc) or type(exc).__name__
    return ImageError(f"Image data could not be decoded ({type(exc).__name__}: {detail})")
