"""What a photo's file looks like, for confirming CLIP's duplicate groups: a perceptual hash and a 32x32
greyscale, computed from the file when duplicates are looked for and cached in SQLite.

Why lazily and not at import: only photos CLIP already put in a group need one (a small part of a
library), libraries imported before this existed get them without a re-import, and the import path (the
slowest thing a user waits for) pays nothing. The cache (table ``picture_hashes``) is keyed by the
document's label and the file's size and mtime, so a second look reads no file, a changed file is read
again, and a removed document takes its row with it (ON DELETE CASCADE).

Nothing here may make the search for duplicates fail: a photo without a file, a missing, changed or
unreadable file just gets a reason instead of a fingerprint, and is then never proposed for the trash.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from app.engine.file_access import read_regular
from app.engine.image_hash import dhash, from_hex, phash, to_hex
from app.engine.images import load_image
from app.engine.storage import Database

log = logging.getLogger(__name__)

THUMB_SIDE = 32
# Decoding JPEGs at a reduced DCT scale (>= 128 px) is many times faster than in full for camera photos;
# JPEG copies decoded so stay within 4 levels of the PNG decoded in full (tests/test_duplicate_check.py).
DECODE_MIN_SIDE = 128
NO_FILE = "no file to compare (imported without one)"


@dataclass(frozen=True)
class Fingerprint:
    """The file's perceptual hashes and its 32x32 greyscale (row-major bytes)."""

    phash: int
    dhash: int
    pixels: bytes

    def grey(self) -> np.ndarray:
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(THUMB_SIDE, THUMB_SIDE)


def fingerprint_of(data: bytes) -> Fingerprint:
    """Decode (EXIF orientation applied, as everywhere in Photoseek) and fingerprint an image file's bytes."""
    from PIL import Image

    img = load_image(data, min_side=DECODE_MIN_SIDE)
    grey = img.convert("L").resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return Fingerprint(phash(img), dhash(img), grey.tobytes())


def _file_problem(body: dict) -> tuple[str | None, os.stat_result | None]:
    """Why this document's file cannot be fingerprinted (or None), and its stat."""
    path = body.get("path")
    if not isinstance(path, str) or not path:
        return NO_FILE, None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "the file is missing", None
    except OSError as exc:
        return f"the file could not be read ({exc.strerror or exc})", None
    # CLIP's vector is of the file as imported: a file changed since then is not what CLIP compared.
    if body.get("file_size") not in (None, st.st_size) or body.get("file_mtime") not in (None, st.st_mtime):
        return "the file changed since it was imported (rescan the folder)", None
    return None, st


def _compute(path: str) -> Fingerprint | str:
    try:
        return fingerprint_of(read_regular(path))
    except MemoryError:
        raise
    except Exception as exc:  # a bad file only costs its own confirmation
        return f"the file could not be read ({str(exc) or type(exc).__name__})"


def _cached(db: Database, labels: list[int]) -> dict[int, tuple[int, float, Fingerprint]]:
    found: dict[int, tuple[int, float, Fingerprint]] = {}
    for start in range(0, len(labels), 500):  # SQLite's bound-parameter limit
        chunk = labels[start : start + 500]
        marks = ",".join("?" * len(chunk))
        try:
            rows = db._conn.execute(
                f"SELECT label, file_size, file_mtime, phash, dhash, pixels FROM picture_hashes "
                f"WHERE label IN ({marks})",
                chunk,
            ).fetchall()
        except sqlite3.Error as exc:  # a read-only library not yet migrated: no cache, nothing worse
            log.info("picture hashes not read: %s", exc)
            return found
        for label, size, mtime, p_hex, d_hex, pixels in rows:
            try:
                if isinstance(pixels, bytes) and len(pixels) == THUMB_SIDE * THUMB_SIDE:
                    found[label] = (size, mtime, Fingerprint(from_hex(p_hex), from_hex(d_hex), pixels))
            except ValueError:
                continue  # a damaged row is computed again
    return found


def _remember(db: Database, rows: list[tuple]) -> None:
    if not rows:
        return
    try:
        with db.transaction():
            db._conn.executemany(
                "INSERT OR REPLACE INTO picture_hashes (label, file_size, file_mtime, phash, dhash, pixels) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
    except Exception as exc:  # a read-only or busy library: the cache is only a cache
        log.info("picture hashes not cached: %s", exc)


def fingerprints(db: Database, bodies: dict[int, dict], workers: int = 2) -> dict[int, Fingerprint | str]:
    """label -> Fingerprint, or a sentence saying why there is none, for each document in ``bodies``."""
    result: dict[int, Fingerprint | str] = {}
    todo: dict[int, tuple[str, os.stat_result]] = {}
    stats: dict[int, os.stat_result] = {}
    for label, body in bodies.items():
        problem, st = _file_problem(body)
        if problem is not None or st is None:
            result[label] = problem or NO_FILE
        else:
            stats[label] = st
    cache = _cached(db, list(stats))
    for label, st in stats.items():
        hit = cache.get(label)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime:
            result[label] = hit[2]
        else:
            todo[label] = (str(bodies[label]["path"]), st)
    if not todo:
        return result
    # Decoding releases the GIL: a couple of threads halve the first look on a 2-core machine.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        computed = dict(zip(todo, pool.map(_compute, [p for p, _ in todo.values()]), strict=True))
    fresh = []
    for label, value in computed.items():
        result[label] = value
        if isinstance(value, Fingerprint):
            st = todo[label][1]
            fresh.append(
                (label, st.st_size, st.st_mtime, to_hex(value.phash), to_hex(value.dhash), value.pixels)
            )
    _remember(db, fresh)
    return result
