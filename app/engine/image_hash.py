"""Perceptual hashes: 64-bit fingerprints of what a picture looks like, compared by Hamming distance.

Why our own ~30 lines instead of the ``imagehash`` package: it brings PyWavelets (and, through it, a
scipy it needs for one DCT) for two hashes that are a matrix product and a comparison in numpy; the
hashes below follow its definitions (``phash``: DCT of a 32x32 greyscale, the 8x8 lowest frequencies
against their median; ``dhash``: 9x8 greyscale, each pixel brighter than its right neighbour), so the
distances people quote for imagehash (a re-encode 0-4 bits, unrelated pictures ~32) read the same here.

pHash is the one the duplicate check relies on: it survives re-encoding, resizing and format changes,
but moves when the content moves (another frame of a burst, a shifted camera). dHash is kept beside it
as a second opinion on gradients, which costs nothing more once the picture is decoded.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

HASH_BITS = 64
_DCT_SIZE = 32
_LOW = 8


def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II as a matrix: ``m @ x`` transforms the columns of ``x``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix(_DCT_SIZE)


def _grey(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    # Greyscale first, then one antialiased reduction: colour shifts of a re-encode stay out of the hash.
    small = img.convert("L").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float64)


def _pack(bits: np.ndarray) -> int:
    value = 0
    for bit in bits.ravel().tolist():
        value = (value << 1) | int(bit)
    return value


def phash(img: Image.Image) -> int:
    """The 64-bit DCT hash of ``img`` (orientation already applied by the caller)."""
    pixels = _grey(img, (_DCT_SIZE, _DCT_SIZE))
    low = (_DCT @ pixels @ _DCT.T)[:_LOW, :_LOW]
    return _pack(low > np.median(low))


def dhash(img: Image.Image) -> int:
    """The 64-bit difference hash: for 8 rows of 9 pixels, is each brighter than the one to its right."""
    pixels = _grey(img, (_LOW + 1, _LOW))
    return _pack(pixels[:, :-1] > pixels[:, 1:])


def hamming(a: int, b: int) -> int:
    """Bits that differ between two hashes: 0 for the same picture, ~32 for unrelated ones."""
    return (a ^ b).bit_count()


def to_hex(value: int) -> str:
    return f"{value:016x}"


def from_hex(text: str) -> int:
    """A hash as written by :func:`to_hex`; ValueError for anything else."""
    if not isinstance(text, str) or len(text) != HASH_BITS // 4:
        raise ValueError(f"not a 64-bit hash: {text!r}")
    return int(text, 16)
