"""Camera RAW files (CR2, NEF, ARW, DNG): finding the JPEG preview the camera embedded.

Photoseek does not demosaic sensor data. Every TIFF-based RAW carries at least one JPEG the camera rendered
itself, and the largest one that Pillow can decode is what gets embedded and thumbnailed. The bytes are
untrusted: every offset is bounds-checked, IFD chains are loop- and length-limited, and nothing is
allocated except the preview that is finally copied out.

Works on anything that supports ``len()``, indexing, slicing and the buffer protocol (bytes, a memoryview of
an ``mmap``), so a thumbnailer can read a 50 MB RAW's preview without reading the whole file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

Buffer = bytes | bytearray | memoryview
_Ifd = dict[int, tuple[int, int, int]]  # tag -> (type, count, position of the value)

RAW_EXTENSIONS: frozenset[str] = frozenset([".cr2", ".nef", ".arw", ".dng"])

# Real files have a handful of IFDs with well under 100 entries each; anything beyond these is hostile.
_MAX_IFDS = 64
_MAX_ENTRIES = 1000
_MAX_SUBIFD_DEPTH = 3
_MAX_SUBIFDS = 16
_MAX_JPEG_MARKERS = 512
_MIN_PREVIEW_BYTES = 64

_COMPRESSION = 0x0103
_PHOTOMETRIC = 0x0106
_MAKE = 0x010F
_STRIP_OFFSETS = 0x0111
_ORIENTATION = 0x0112
_STRIP_BYTE_COUNTS = 0x0117
_TILE_OFFSETS = 0x0144
_TILE_BYTE_COUNTS = 0x0145
_SUB_IFDS = 0x014A
_JPEG_OFFSET = 0x0201
_JPEG_LENGTH = 0x0202
_DNG_VERSION = 0xC612
_DATA_TAGS = ((_STRIP_OFFSETS, _STRIP_BYTE_COUNTS), (_TILE_OFFSETS, _TILE_BYTE_COUNTS))

_JPEG_COMPRESSIONS = {6, 7}  # old-style and new-style JPEG
_RAW_PHOTOMETRICS = {32803, 34892}  # CFA (Bayer), LinearRaw
# Vendor codecs for sensor data: Sony ARW, packed, Samsung, Nikon NEF, lossy DNG, Kodak, Pentax.
_RAW_COMPRESSIONS = {32767, 32769, 32770, 32772, 34713, 34892, 65000, 65535}
_MAKES = {"nikon": "NEF", "sony": "ARW", "canon": "CR2"}

# TIFF field types -> bytes per value; _INT_TYPES are the ones offsets and codes come in.
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_INT_TYPES = {1: "B", 3: "H", 4: "I", 13: "I", 6: "b", 8: "h", 9: "i"}

# SOF0/1/2 (baseline, extended, progressive) are what Pillow decodes; SOF3 is the lossless JPEG that CR2
# and DNG use for the sensor data itself, which must never be mistaken for a preview.
_DECODABLE_SOF = {0xC0, 0xC1, 0xC2}
_ALL_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class Preview:
    """One embedded JPEG: where it lies in the file and its size in pixels (from its SOF header)."""

    offset: int
    length: int
    width: int
    height: int


@dataclass(frozen=True)
class RawFile:
    """What :func:`parse_raw` found. ``previews`` are decodable-looking JPEGs, largest first."""

    kind: str  # "CR2", "NEF", "ARW", "DNG", or "RAW" for another camera's TIFF-based format
    orientation: int | None  # IFD0's Orientation (1-8), None when absent
    previews: tuple[Preview, ...]
    damaged: bool = False  # part of the IFD structure pointed outside the file or was unreadable

    def preview_bytes(self, data: Buffer, preview: Preview) -> bytes:
        return bytes(data[preview.offset : preview.offset + preview.length])

    def no_preview_message(self, detail: str | None = None) -> str:
        """The user-facing reason this RAW cannot be indexed."""
        if self.damaged and not self.previews:
            what = f"RAW file ({self.kind}) is truncated or corrupt: no embedded preview image could be read"
        elif self.previews:
            what = f"RAW file ({self.kind}) has no usable embedded preview image"
        else:
            what = f"RAW file ({self.kind}) has no embedded preview image"
        suffix = f" ({detail})" if detail else ""
        return f"{what}{suffix}; Photoseek indexes RAW files through their preview"


class _Malformed(Exception):
    pass


class _Tiff:
    def __init__(self, data: Buffer) -> None:
        self.data = data
        self.size = len(data)
        self.order = "<" if bytes(data[:2]) == b"II" else ">"
        self.damaged = False  # a pointer led outside the file: most likely a truncated copy

    def unpack(self, fmt: str, offset: int) -> tuple:
        fmt = self.order + fmt
        if offset < 0 or offset + struct.calcsize(fmt) > self.size:
            raise _Malformed(f"offset {offset} is outside the file")
        return struct.unpack_from(fmt, self.data, offset)

    def read_ifd(self, offset: int) -> tuple[_Ifd, int]:
        """``{tag: (type, count, value_position)}`` and the next IFD's offset."""
        (count,) = self.unpack("H", offset)
        if count == 0 or count > _MAX_ENTRIES:
            raise _Malformed(f"IFD at {offset} claims {count} entries")
        entries: _Ifd = {}
        for n in range(count):
            pos = offset + 2 + 12 * n
            tag, typ, values, inline = self.unpack("HHII", pos)
            size = _TYPE_SIZES.get(typ)
            if size is None:
                continue  # an unknown type: skip the entry, the rest of the IFD is still good
            # Values of up to four bytes sit in the entry itself; longer ones are at the offset it holds.
            where = pos + 8 if size * values <= 4 else inline
            entries.setdefault(tag, (typ, values, where))
        (next_offset,) = self.unpack("I", offset + 2 + 12 * count)
        return entries, next_offset

    def ints(self, entry: tuple[int, int, int] | None, limit: int = _MAX_SUBIFDS) -> list[int]:
        if entry is None or entry[0] not in _INT_TYPES:
            return []
        typ, count, where = entry
        count = min(count, limit)
        try:
            return list(self.unpack(f"{count}{_INT_TYPES[typ]}", where))
        except _Malformed:
            return []

    def first(self, ifd: _Ifd, tag: int) -> int | None:
        values = self.ints(ifd.get(tag), 1)
        return values[0] if values else None

    def text(self, entry: tuple[int, int, int] | None) -> str:
        if entry is None or entry[0] != 2:
            return ""
        _, count, where = entry
        end = min(where + min(count, 64), self.size)
        return bytes(self.data[where:end]).split(b"\x00", 1)[0].decode("latin-1").strip()


def _walk(tiff: _Tiff, first: int) -> list[_Ifd]:
    """Every IFD reachable from ``first`` (the IFD0 chain and SubIFDs), IFD0 first. A bad pointer ends
    only its own chain: previews elsewhere are still worth having."""
    ifds: list[_Ifd] = []
    seen: set[int] = set()

    def chain(offset: int, depth: int) -> None:
        while offset and offset not in seen and len(ifds) < _MAX_IFDS:
            seen.add(offset)
            try:
                entries, offset = tiff.read_ifd(offset)
            except _Malformed:
                tiff.damaged = True
                return
            ifds.append(entries)
            if depth < _MAX_SUBIFD_DEPTH:
                for sub in tiff.ints(entries.get(_SUB_IFDS)):
                    chain(sub, depth + 1)

    chain(first, 0)
    return ifds


def _jpeg_frame(data: Buffer, start: int, end: int) -> tuple[int, int, int, int] | None:
    """(SOF marker, precision, width, height) of the JPEG in ``data[start:end]``, or None if it has none."""
    if end - start < 4 or data[start] != 0xFF or data[start + 1] != 0xD8:
        return None
    pos = start + 2
    for _ in range(_MAX_JPEG_MARKERS):
        if pos + 4 > end or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # a scan (or the end) before any frame header
            return None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return None
        if marker in _ALL_SOF:
            if length < 8 or pos + 2 + length > end:
                return None
            precision, height, width = struct.unpack_from(">BHH", data, pos + 4)
            return marker, precision, width, height
        pos += 2 + length
    return None


def _preview(tiff: _Tiff, offset: int | None, length: int | None) -> Preview | None:
    if offset is None or length is None or offset <= 0 or length < _MIN_PREVIEW_BYTES:
        return None
    if offset + length > tiff.size:
        tiff.damaged = True
        return None
    frame = _jpeg_frame(tiff.data, offset, offset + length)
    if frame is None:
        return None
    marker, precision, width, height = frame
    if marker not in _DECODABLE_SOF or precision != 8 or width == 0 or height == 0:
        return None
    return Preview(offset, length, width, height)


def _candidates(tiff: _Tiff, ifd: _Ifd) -> list[Preview | None]:
    found = [_preview(tiff, tiff.first(ifd, _JPEG_OFFSET), tiff.first(ifd, _JPEG_LENGTH))]
    if tiff.first(ifd, _COMPRESSION) in _JPEG_COMPRESSIONS:
        # A preview stored as image data: only a single strip (or tile) holds a whole JPEG stream.
        for offsets_tag, counts_tag in _DATA_TAGS:
            offsets, counts = tiff.ints(ifd.get(offsets_tag), 2), tiff.ints(ifd.get(counts_tag), 2)
            if len(offsets) == 1 and len(counts) == 1:
                found.append(_preview(tiff, offsets[0], counts[0]))
    return found


def _kind(tiff: _Tiff, ifds: list[_Ifd]) -> str | None:
    ifd0 = ifds[0] if ifds else {}
    if _DNG_VERSION in ifd0:
        return "DNG"
    if tiff.order == "<" and bytes(tiff.data[8:10]) == b"CR":
        return "CR2"
    sensor_data = any(
        tiff.first(ifd, _PHOTOMETRIC) in _RAW_PHOTOMETRICS
        or tiff.first(ifd, _COMPRESSION) in _RAW_COMPRESSIONS
        for ifd in ifds
    )
    if not sensor_data:
        return None
    make = tiff.text(ifd0.get(_MAKE)).lower()
    return next((kind for name, kind in _MAKES.items() if make.startswith(name)), "RAW")


def is_tiff(data: Buffer) -> bool:
    return bytes(data[:4]) in (b"II*\x00", b"MM\x00*")


def parse_raw(data: Buffer) -> RawFile | None:
    """The RAW structure of ``data``, or None when it is not a TIFF-based camera RAW.

    Decided by content, never by file name: a DNGVersion tag, Canon's "CR" marker, or an IFD holding sensor
    data (CFA/LinearRaw photometric, or a vendor RAW compression). A plain RGB TIFF gives None.
    """
    if not is_tiff(data) or len(data) < 8:
        return None
    tiff = _Tiff(data)
    (first,) = tiff.unpack("I", 4)
    ifds = _walk(tiff, first)
    kind = _kind(tiff, ifds)
    if kind is None:
        return None
    unique = {(p.offset, p.length): p for ifd in ifds for p in _candidates(tiff, ifd) if p is not None}
    previews = sorted(unique.values(), key=lambda p: (p.width * p.height, p.length), reverse=True)
    orientation = tiff.first(ifds[0], _ORIENTATION) if ifds else None
    if orientation is not None and not 1 <= orientation <= 8:
        orientation = None
    return RawFile(kind, orientation, tuple(previews), tiff.damaged)
