"""The second check behind "Find duplicates": a perceptual hash and the file's pixels confirm CLIP's groups,
so copies (re-encoded, converted, resized) are proposed for the trash and another frame of a burst is not.
Real files, real engine, the tiny model."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import numpy as np
from engine_helpers import seed_schema
from PIL import Image

from app.engine import Engine
from app.engine.duplicate_evidence import NO_FILE, Fingerprint, fingerprint_of
from app.engine.duplicate_verdicts import SAME_MAX_BITS, group_verdicts, judge
from app.engine.image_hash import dhash, from_hex, hamming, phash, to_hex
from app.scenes import crop, encoded, scene

ORIENTATION = 0x0112


def fp(img: Image.Image, fmt: str = "PNG", **options: object) -> Fingerprint:
    return fingerprint_of(encoded(img, fmt, **options))


def worst_pixel(a: Fingerprint, b: Fingerprint) -> int:
    return int(abs(a.grey().astype(int) - b.grey().astype(int)).max())


def test_hash_survives_re_encoding_and_resizing_but_not_other_content() -> None:
    for seed in (1, 2, 3):
        original = scene(seed)
        base = fp(original)
        copies = [
            fp(original, "JPEG", quality=60),
            fp(original, "JPEG", quality=95),
            fp(original.resize((240, 180))),
            fp(original.resize((120, 90)), "JPEG", quality=80),
        ]
        for copy in copies:
            assert hamming(base.phash, copy.phash) <= 2
            assert worst_pixel(base, copy) <= 4
        other = fp(scene(seed + 100))
        assert hamming(base.phash, other.phash) >= 14
        assert hamming(base.dhash, other.dhash) >= 9
    assert from_hex(to_hex(base.phash)) == base.phash and len(to_hex(0)) == 16
    # Same picture, same hash, whichever way it was handed over.
    assert phash(original) == phash(original.convert("L").convert("RGB"))
    assert dhash(original) == base.dhash


def test_a_burst_frame_can_fool_the_hash_but_not_the_pixels() -> None:
    # The ball moved by a tenth of the width: pHash's lowest frequencies barely notice, the pixels do.
    frame, moved = fp(scene(1)), fp(scene(1, subject_x=0.6))
    assert hamming(frame.phash, moved.phash) <= SAME_MAX_BITS
    assert worst_pixel(frame, moved) > 30


def test_exif_orientation_is_applied_before_hashing() -> None:
    upright = scene(4)
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90° clockwise to display": the camera stored it turned left
    stored_turned = encoded(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif)
    from_camera = fingerprint_of(stored_turned)
    assert hamming(from_camera.phash, fp(upright).phash) <= 2
    assert worst_pixel(from_camera, fp(upright)) <= 8
    ignored = fp(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95)
    assert hamming(ignored.phash, fp(upright).phash) > 14


def body(doc_id: str, width: int = 480, height: int = 360, **extra: object) -> dict:
    return {"id": doc_id, "name": doc_id, "width": width, "height": height, **extra}


def test_verdicts_need_both_signals() -> None:
    original = scene(5)
    keeper, keeper_fp = body("keeper", content_hash="abc", file_size=90_000), fp(original)
    same_file = judge(keeper, keeper_fp, body("copy", content_hash="abc"), keeper_fp, 1.0, 0.05)
    assert same_file["kind"] == "exact" and same_file["confirmed"]
    assert same_file["reason"] == "Exact copy (the same file contents)"

    smaller = judge(keeper, keeper_fp, body("small", 240, 180), fp(original.resize((240, 180))), 0.987, 0.05)
    assert smaller["kind"] == "same" and smaller["confirmed"]
    assert smaller["reason"] == "Same picture, smaller copy (hash 0/64, 98.7%)"

    burst = judge(keeper, keeper_fp, body("burst"), fp(scene(5, subject_x=0.62)), 0.99, 0.05)
    assert burst["kind"] == "similar" and not burst["confirmed"]
    assert burst["reason"].startswith("Similar, not a copy: a different frame")

    wide = original.crop((0, 0, 480, 300))  # the bottom sixth cut away: another aspect ratio
    shaped = judge(keeper, keeper_fp, body("wide", 480, 300), fp(wide), 0.99, 0.05)
    assert not shaped["confirmed"] and "another shape or a crop" in shaped["reason"]
    trimmed = crop(original, 0.08)
    trim = judge(keeper, keeper_fp, body("trim", *trimmed.size), fp(trimmed), 0.99, 0.05)
    assert not trim["confirmed"] and "cropped or reframed" in trim["reason"]

    # CLIP must agree on its own: a photo only chained to the keeper through others is not confirmed.
    chained = judge(keeper, keeper_fp, body("chain"), fp(original, "JPEG", quality=90), 0.93, 0.05)
    assert not chained["confirmed"] and "linked through other photos" in chained["reason"]

    no_file = judge(keeper, keeper_fp, body("b64"), NO_FILE, 0.999, 0.05)
    assert no_file["kind"] == "unchecked" and not no_file["confirmed"]
    assert "no second check possible" in no_file["reason"]


def _verdicts_by_name(groups: list[dict]) -> dict[str, dict]:
    return {
        doc["name"]: verdict
        for group in groups
        for doc, verdict in zip(group["documents"], group["verdicts"], strict=True)
    }


def test_engine_confirms_copies_and_leaves_burst_frames_and_bad_files_unconfirmed(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    original = scene(1)
    files = {
        "original.png": encoded(original, "PNG"),
        "resaved.jpg": encoded(original, "JPEG", quality=70),
        "half.jpg": encoded(original.resize((240, 180)), "JPEG", quality=90),
        "burst.jpg": encoded(scene(1, subject_x=0.6), "JPEG", quality=95),
        "later.jpg": encoded(original, "JPEG", quality=85),
    }
    for name, data in files.items():
        (photos / name).write_bytes(data)
    with Engine(tmp_path / "library") as engine:
        engine.collections.create(seed_schema())
        documents = engine.collections["images"].documents
        assert all(r["success"] for r in documents.import_files([photos]))
        # Photos imported from base64 without storing them have no file: CLIP only, never proposed.
        b64 = base64.b64encode(encoded(original, "PNG")).decode()
        assert documents.import_([{"id": "pasted", "name": "pasted", "image": b64}])[0]["success"]
        # A file that turned to garbage after import (same size and time, so not "changed").
        later = photos / "later.jpg"
        st = later.stat()
        later.write_bytes(b"\xff" * st.st_size)
        os.utime(later, ns=(st.st_atime_ns, st.st_mtime_ns))

        (group,) = documents.find_duplicates()
        verdicts = _verdicts_by_name([group])
        assert group["documents"][0]["name"] == "original.png"  # most pixels, then the biggest file
        assert verdicts["original.png"]["kind"] == "reference"
        assert verdicts["resaved.jpg"]["confirmed"] and verdicts["resaved.jpg"]["kind"] == "same"
        assert verdicts["half.jpg"]["confirmed"]
        assert verdicts["burst.jpg"]["kind"] == "similar" and not verdicts["burst.jpg"]["confirmed"]
        assert verdicts["pasted"]["kind"] == "unchecked" and not verdicts["pasted"]["confirmed"]
        assert "no file to compare" in verdicts["pasted"]["reason"]
        assert (
            not verdicts["later.jpg"]["confirmed"] and "could not be read" in verdicts["later.jpg"]["reason"]
        )
        cached = engine.db._conn.execute("SELECT count(*) FROM picture_hashes").fetchone()[0]
        assert cached == 4  # the readable files; the garbage one is tried again next time

        # The second look reads no file it already knows: swap the half-size copy's bytes for the burst
        # frame's behind the cache's back (same size and time), and the verdict stays.
        half = photos / "half.jpg"
        st = half.stat()
        swapped = encoded(scene(1, subject_x=0.6).resize((240, 180)), "JPEG", quality=90) + b"\0" * st.st_size
        half.write_bytes(swapped[: st.st_size])
        os.utime(half, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert _verdicts_by_name(documents.find_duplicates())["half.jpg"]["confirmed"]
        # A file touched since import is not what CLIP compared: not confirmed, and the reason says so.
        os.utime(half, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        changed = _verdicts_by_name(documents.find_duplicates())["half.jpg"]
        assert not changed["confirmed"] and "changed since it was imported" in changed["reason"]

        # Removing a photo takes its cached hash with it.
        documents[group["documents"][1]["id"]].delete()
        assert engine.db._conn.execute("SELECT count(*) FROM picture_hashes").fetchone()[0] == 3


def test_each_picture_of_a_group_collects_its_own_copies() -> None:
    # A burst of two frames, each with a smaller copy; the best photo (first) is frame A.
    a, b = scene(8), scene(8, subject_x=0.62)
    bodies = [
        body("a", name="a.png"),
        body("b", name="b.png"),
        body("a-small", 240, 180),
        body("b-small", 240, 180),
    ]
    checks: list[Fingerprint | str] = [fp(a), fp(b), fp(a.resize((240, 180))), fp(b.resize((240, 180)))]
    verdicts = group_verdicts(bodies, checks, np.full((4, 4), 0.99), 0.05)
    kinds = [(v["kind"], v["confirmed"], v["copy_of"]) for v in verdicts]
    assert kinds == [
        ("reference", False, None),
        ("similar", False, "a"),  # the other frame: kept unless the user says otherwise
        ("same", True, "a"),
        ("same", True, "b"),
    ]
    assert verdicts[3]["reason"] == "Same picture as “b.png”, smaller copy (hash 0/64, 99.0%)"
    assert verdicts[2]["reason"].startswith("Same picture, smaller copy")
