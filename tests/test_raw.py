"""Camera RAW files (CR2, NEF, ARW, DNG) indexed through their embedded preview JPEG.

The RAW containers are built here byte by byte with struct, the way cameras lay them out: a small
thumbnail in one IFD, a large preview in another, sensor data (lossless JPEG or a vendor codec) in a third.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import TINY_MODEL, cosine, search_one, shape_bytes
from PIL import Image

from app.engine import Engine
from app.engine.embedder import load_embedder
from app.engine.images import SUPPORTED_EXTENSIONS, ImageError, image_info, load_image
from app.engine.models import resolve_model
from app.engine.raw import parse_raw

BYTE, ASCII, SHORT, LONG = 1, 2, 3, 4


class TiffBuilder:
    """Lays out a TIFF: data blobs first, then IFDs written children-first so every pointer is known."""

    def __init__(self, order: str, header: bytes = b"") -> None:
        self.order = order
        magic = b"II*\x00" if order == "<" else b"MM\x00*"
        self.buf = bytearray(magic + b"\x00\x00\x00\x00" + header)

    def blob(self, data: bytes) -> int:
        self.buf += b"\x00" * (len(self.buf) % 2)
        offset = len(self.buf)
        self.buf += data
        return offset

    def ifd(self, entries: list[tuple[int, int, list[int] | bytes]], next_ifd: int = 0) -> int:
        self.buf += b"\x00" * (len(self.buf) % 2)
        start = len(self.buf)
        overflow_at = start + 2 + 12 * len(entries) + 4
        table, overflow = bytearray(), bytearray()
        for tag, typ, values in sorted(entries, key=lambda e: e[0]):
            if isinstance(values, bytes):  # ASCII and BYTE values
                payload, count = bytes(values), len(values)
            else:
                code = {SHORT: "H", LONG: "I"}[typ]
                payload, count = struct.pack(f"{self.order}{len(values)}{code}", *values), len(values)
            if len(payload) <= 4:
                field = payload.ljust(4, b"\x00")
            else:
                field = struct.pack(self.order + "I", overflow_at + len(overflow))
                overflow += payload + b"\x00" * (len(payload) % 2)
            table += struct.pack(self.order + "HHI", tag, typ, count) + field
        self.buf += struct.pack(self.order + "H", len(entries)) + table
        self.buf += struct.pack(self.order + "I", next_ifd) + overflow
        return start

    def finish(self, first_ifd: int) -> bytes:
        struct.pack_into(self.order + "I", self.buf, 4, first_ifd)
        return bytes(self.buf)


def jpeg(colour: str, shape: str, size: int) -> bytes:
    return shape_bytes(colour, shape, 0, "JPEG", size)


def lossless_jpeg_header(width: int, height: int) -> bytes:
    """The start of a lossless (SOF3) JPEG, as CR2 and DNG store sensor data: never a preview."""
    sof3 = b"\xff\xc3" + struct.pack(">HBHHB", 11, 14, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof3 + b"\xff\xda" + b"\x00" * 200


def make_cr2(preview: bytes, thumbnail: bytes, orientation: int = 1) -> bytes:
    """Little-endian, Canon layout: IFD0 = big JPEG as a single strip, IFD1 = thumbnail, IFD3 = sensor."""
    t = TiffBuilder("<", header=b"CR\x02\x00\x00\x00\x00\x00")
    big, small = t.blob(preview), t.blob(thumbnail)
    sensor = t.blob(lossless_jpeg_header(6000, 4000))
    ifd3 = t.ifd([(0x0103, SHORT, [6]), (0x0111, LONG, [sensor]), (0x0117, LONG, [206])])
    ifd1 = t.ifd([(0x0201, LONG, [small]), (0x0202, LONG, [len(thumbnail)])], next_ifd=ifd3)
    ifd0 = t.ifd(
        [
            (0x010F, ASCII, b"Canon\x00"),
            (0x0103, SHORT, [6]),
            (0x0111, LONG, [big]),
            (0x0117, LONG, [len(preview)]),
            (0x0112, SHORT, [orientation]),
        ],
        next_ifd=ifd1,
    )
    return t.finish(ifd0)


def make_nef(preview: bytes, thumbnail: bytes) -> bytes:
    """Big-endian, Nikon layout: IFD0 points to SubIFDs holding the preview and the NEF-compressed sensor."""
    t = TiffBuilder(">")
    big, small = t.blob(preview), t.blob(thumbnail)
    sensor = t.blob(b"\x55" * 512)
    preview_ifd = t.ifd([(0x00FE, LONG, [1]), (0x0201, LONG, [big]), (0x0202, LONG, [len(preview)])])
    sensor_ifd = t.ifd(
        [(0x0103, SHORT, [34713]), (0x0106, SHORT, [32803]), (0x0111, LONG, [sensor]), (0x0117, LONG, [512])]
    )
    ifd0 = t.ifd(
        [
            (0x010F, ASCII, b"NIKON CORPORATION\x00"),
            (0x014A, LONG, [preview_ifd, sensor_ifd]),
            (0x0201, LONG, [small]),
            (0x0202, LONG, [len(thumbnail)]),
        ]
    )
    return t.finish(ifd0)


def make_dng_without_preview() -> bytes:
    """A DNG whose only pictures are an uncompressed RGB thumbnail and lossless-JPEG sensor tiles."""
    t = TiffBuilder("<")
    pixels = t.blob(b"\x80" * (16 * 16 * 3))
    sensor = t.blob(lossless_jpeg_header(4000, 3000))
    raw_ifd = t.ifd(
        [(0x0103, SHORT, [7]), (0x0106, SHORT, [32803]), (0x0111, LONG, [sensor]), (0x0117, LONG, [206])]
    )
    ifd0 = t.ifd(
        [
            (0x0100, SHORT, [16]),
            (0x0101, SHORT, [16]),
            (0x0103, SHORT, [1]),
            (0x0106, SHORT, [2]),
            (0x0111, LONG, [pixels]),
            (0x0115, SHORT, [3]),
            (0x0117, LONG, [16 * 16 * 3]),
            (0x014A, LONG, [raw_ifd]),
            (0xC612, BYTE, b"\x01\x04\x00\x00"),
        ]
    )
    return t.finish(ifd0)


# ------------------------------------------------------------------------------------------ parsing


def test_cr2_preview_is_the_largest_jpeg_not_the_thumbnail_or_sensor_data() -> None:
    preview, thumbnail = jpeg("red", "circle", 320), jpeg("green", "square", 80)
    data = make_cr2(preview, thumbnail)
    found = parse_raw(data)
    assert found is not None and found.kind == "CR2"
    assert [(p.width, p.height) for p in found.previews] == [(320, 320), (80, 80)]
    assert found.preview_bytes(data, found.previews[0]) == preview
    assert image_info(data) == ("CR2", 320, 320)
    assert load_image(data, min_side=None).size == (320, 320)


def test_big_endian_nef_finds_the_preview_in_a_subifd() -> None:
    preview, thumbnail = jpeg("yellow", "star", 256), jpeg("blue", "ring", 64)
    data = make_nef(preview, thumbnail)
    found = parse_raw(data)
    assert found is not None and found.kind == "NEF"
    assert found.preview_bytes(data, found.previews[0]) == preview
    assert image_info(data) == ("NEF", 256, 256)


def test_raw_orientation_from_ifd0_rotates_the_preview() -> None:
    img = Image.new("RGB", (200, 100), (220, 35, 35))
    img.paste((35, 75, 220), (0, 0, 100, 100))  # blue left half, red right half
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=95)
    data = make_cr2(buffer.getvalue(), jpeg("green", "square", 48), orientation=6)
    assert image_info(data) == ("CR2", 100, 200)
    loaded = load_image(data, min_side=None)
    assert loaded.size == (100, 200)
    # Orientation 6 means "rotate 90° clockwise to view": the left (blue) half ends up on top.
    top, bottom = loaded.getpixel((50, 20)), loaded.getpixel((50, 180))
    assert top[2] > 150 > top[0] and bottom[0] > 150 > bottom[2]


def test_dng_without_preview_names_the_reason() -> None:
    data = make_dng_without_preview()
    found = parse_raw(data)
    assert found is not None and found.kind == "DNG" and found.previews == ()
    with pytest.raises(ImageError) as exc:
        load_image(data)
    assert str(exc.value) == (
        "RAW file (DNG) has no embedded preview image; Photoseek indexes RAW files through their preview"
    )


def test_plain_tiff_is_not_raw() -> None:
    data = shape_bytes("purple", "triangle", 0, "TIFF")
    assert parse_raw(data) is None
    assert image_info(data) == ("TIFF", 96, 96)


def garbage_variants() -> Iterator[tuple[str, bytes]]:
    good = make_cr2(jpeg("red", "circle", 128), jpeg("green", "square", 48))
    yield "truncated", good[: len(good) // 3]
    yield "header only", good[:16]
    yield "ifd loop", _looping_ifds()
    yield "huge counts", _huge_counts()
    yield "garbage after magic", b"II*\x00" + bytes(range(256)) * 8


def _looping_ifds() -> bytes:
    t = TiffBuilder(">")
    first = len(t.buf)
    # The IFD's next pointer and its SubIFD both point back at itself.
    t.ifd([(0x0106, SHORT, [32803]), (0x014A, LONG, [first])], next_ifd=first)
    return t.finish(first)


def _huge_counts() -> bytes:
    t = TiffBuilder("<", header=b"CR\x02\x00\x00\x00\x00\x00")
    # SubIFDs claiming four billion entries, and a JPEG pointer far past the end of the file.
    entries = [(0x014A, LONG, [8]), (0x0201, LONG, [0x7FFFFFF0]), (0x0202, LONG, [0x7FFFFFF0])]
    ifd0 = t.ifd(entries)
    buf = bytearray(t.finish(ifd0))
    struct.pack_into("<I", buf, ifd0 + 2 + 4, 0xFFFFFFFF)  # the SubIFDs entry's count
    return bytes(buf)


GARBAGE = dict(garbage_variants())


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_malformed_raw_fails_cleanly(name: str) -> None:
    with pytest.raises(ImageError) as exc:
        load_image(GARBAGE[name])
    message = str(exc.value)
    if name == "ifd loop":
        assert message.startswith("RAW file (RAW) has no embedded preview image"), message
    else:
        assert "truncated or corrupt" in message, message


def test_raw_extensions_are_supported() -> None:
    assert {".cr2", ".nef", ".arw", ".dng", ".heic", ".heif"} <= SUPPORTED_EXTENSIONS


# ------------------------------------------------------------------------------------------ importing


def test_import_indexes_raw_previews_and_reports_the_one_without(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "shoot"
    folder.mkdir()
    cr2_preview = jpeg("red", "circle", 320)
    (folder / "a-canon.CR2").write_bytes(make_cr2(cr2_preview, jpeg("green", "square", 80)))
    (folder / "b-empty.dng").write_bytes(make_dng_without_preview())
    (folder / "c-nikon.nef").write_bytes(make_nef(jpeg("yellow", "star", 256), jpeg("blue", "ring", 64)))
    (folder / "d-plain.tif").write_bytes(shape_bytes("purple", "triangle", 0, "TIFF"))

    results = engine.collections["images"].documents.import_files([folder])
    by_name = {Path(r["path"]).name: r for r in results}
    assert [by_name[n]["success"] for n in sorted(by_name)] == [True, False, True, True], results
    assert "RAW file (DNG) has no embedded preview image" in by_name["b-empty.dng"]["error"]
    assert engine.collections["images"].retrieve()["num_documents"] == 3

    for query, name in [("a red circle", "a-canon.CR2"), ("a yellow star", "c-nikon.nef"),
                        ("a purple triangle", "d-plain.tif")]:
        result = search_one(engine, {"collection": "images", "q": query, "query_by": "embedding"})
        assert result["hits"][0]["document"]["id"] == by_name[name]["id"], (query, result["hits"])

    doc = engine.collections["images"].documents[by_name["a-canon.CR2"]["id"]].retrieve()
    assert (doc["width"], doc["height"], doc["file_type"]) == (320, 320, "cr2")
    # The stored vector is the preview's, not the thumbnail's.
    (expected,) = load_embedder(resolve_model(TINY_MODEL)).embed_images([cr2_preview])
    assert cosine(doc["embedding"], expected) == pytest.approx(1.0, abs=1e-5)
