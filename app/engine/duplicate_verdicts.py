"""Is a photo of a CLIP duplicate group really a copy of the group's best photo? One verdict per photo.

CLIP alone puts different frames of a burst as close as copies (and the tiny test model is coarser
still), so a photo is proposed for the trash only when a second, independent signal agrees:

- **exact copy**: the same file contents (sha1 recorded at import), or
- **same picture**: CLIP close to the kept photo (not just linked to it through others), pHash within
  ``SAME_MAX_BITS`` of 64, the same aspect ratio (within ``ASPECT_TOLERANCE``), and the 32x32 greyscales
  nowhere more than ``PIXEL_MAX_DIFF`` levels apart.

Calibrated on 40 generated scenes (app.scenes; benchmarks/bench_duplicates_safety.py measures the
outcome): JPEG q60-95, PNG and 1/2-1/4 re-scales sit at pHash 0-2 bits and at most 4 levels per greyscale
pixel; another burst frame (the subject moved 5% of the width, or the camera shifted 2%) can sit at pHash
0-4 bits, as low as a copy, because a small moving subject barely touches the lowest frequencies -- but
it moves 9-160 levels somewhere in the 32x32 greyscale. Hence the pixel check. A mild crop (5-10%) looks
like a camera shift to both and is shown as "similar, not a copy", for the user to trash by hand.
A subject smaller than a 32x32 cell (a bird far off) that moved is beyond this check: such frames would
be confirmed, as they are for any perceptual hash.
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np

from app.engine.duplicate_evidence import Fingerprint
from app.engine.image_hash import HASH_BITS, hamming

SAME_MAX_BITS = 6
PIXEL_MAX_DIFF = 8  # of 255, the largest difference of any pixel of the two 32x32 greyscales
ASPECT_TOLERANCE = 0.02
BURST_SECONDS = 120  # taken this close together: read as frames of one burst, not separate pictures

REFERENCE, EXACT, SAME, SIMILAR, UNCHECKED = "reference", "exact", "same", "similar", "unchecked"


class Verdict(TypedDict):
    kind: str  # one of REFERENCE, EXACT, SAME, SIMILAR, UNCHECKED
    confirmed: bool  # a copy by both signals: may be proposed for the trash
    reason: str  # one line a person reads under the photo
    hash_distance: int | None
    similarity: float  # CLIP cosine similarity to the photo it was compared with
    copy_of: str | None  # id of the photo it was compared with (a confirmed copy's twin, which is kept)


def percent(similarity: float) -> str:
    # Rounded down: photos a hair apart must not read as "100%".
    return f"{math.floor(max(0.0, similarity) * 1000) / 10:.1f}%"


def _number(body: dict, name: str) -> float | None:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _pixels(body: dict) -> float | None:
    width, height = _number(body, "width"), _number(body, "height")
    return width * height if width and height else None


def _aspect_close(a: dict, b: dict) -> bool | None:
    """None when either size is unknown."""
    wa, ha, wb, hb = (_number(a, "width"), _number(a, "height"), _number(b, "width"), _number(b, "height"))
    if not (wa and ha and wb and hb):
        return None
    return abs(math.log((wa / ha) / (wb / hb))) <= ASPECT_TOLERANCE


def _how_same(keeper: dict, doc: dict) -> str:
    mine, theirs = _pixels(doc), _pixels(keeper)
    if mine is None or theirs is None or mine == theirs:
        return "re-encoded"
    return "smaller copy" if mine < theirs else "larger copy"


def _apart(keeper: dict, doc: dict) -> float | None:
    a, b = _number(keeper, "captured_at"), _number(doc, "captured_at")
    return None if a is None or b is None else abs(a - b)


def _worst_pixel(a: Fingerprint, b: Fingerprint) -> int:
    return int(np.abs(a.grey().astype(np.int16) - b.grey().astype(np.int16)).max())


def judge(
    keeper: dict,
    keeper_check: Fingerprint | str,
    doc: dict,
    check: Fingerprint | str,
    similarity: float,
    threshold: float,
) -> Verdict:
    """The verdict on ``doc`` against ``keeper`` (both stored bodies); checks are fingerprints or the
    reason there is none; ``similarity`` is their CLIP cosine similarity, ``threshold`` the group's
    cosine distance."""
    sim = percent(similarity)
    clip_close = similarity >= 1.0 - threshold - 1e-6

    def verdict(kind: str, reason: str, bits: int | None = None) -> Verdict:
        confirmed = kind in (EXACT, SAME)
        return {"kind": kind, "confirmed": confirmed, "reason": reason, "hash_distance": bits,
                "similarity": float(similarity), "copy_of": str(keeper.get("id", ""))}  # fmt: skip

    files_ok = isinstance(check, Fingerprint) and isinstance(keeper_check, Fingerprint)
    digest = doc.get("content_hash")
    if files_ok and isinstance(digest, str) and digest and digest == keeper.get("content_hash"):
        return verdict(EXACT, "Exact copy (the same file contents)", 0)
    if not isinstance(check, Fingerprint) or not isinstance(keeper_check, Fingerprint):
        problem = check if isinstance(check, str) else f"kept photo: {keeper_check}"
        return verdict(UNCHECKED, f"Not confirmed, no second check possible: {problem} ({sim})")
    bits = hamming(check.phash, keeper_check.phash)
    hashed = f"hash {bits}/{HASH_BITS}"
    if not clip_close:
        return verdict(SIMILAR, f"Similar, not a copy: linked through other photos ({hashed}, {sim})", bits)
    aspect = _aspect_close(keeper, doc)
    if aspect is False:
        return verdict(SIMILAR, f"Similar, not a copy: another shape or a crop ({hashed}, {sim})", bits)
    if bits <= SAME_MAX_BITS and _worst_pixel(check, keeper_check) <= PIXEL_MAX_DIFF:
        return verdict(SAME, f"Same picture, {_how_same(keeper, doc)} ({hashed}, {sim})", bits)
    apart = _apart(keeper, doc)
    if bits >= 20:
        what = "a different picture"
    elif _pixels(doc) != _pixels(keeper):
        what = "cropped or reframed"
    elif apart is not None and 1 <= apart <= BURST_SECONDS:
        what = f"a different frame, taken {apart:.0f} s apart"
    else:
        what = "a different frame, something moved"
    return verdict(SIMILAR, f"Similar, not a copy: {what} ({hashed}, {sim})", bits)


def reference_verdict() -> Verdict:
    return {"kind": REFERENCE, "confirmed": False, "reason": "Best copy: the others were compared with it",
            "hash_distance": 0, "similarity": 1.0, "copy_of": None}  # fmt: skip


def _name(body: dict) -> str:
    name = body.get("name") or str(body.get("path") or "").rsplit("/", 1)[-1] or body.get("id")
    return f"“{name}”"


def group_verdicts(
    bodies: list[dict], checks: list[Fingerprint | str], similarity: np.ndarray, threshold: float
) -> list[Verdict]:
    """Verdicts for a group's photos, given best first, with their CLIP similarity matrix.

    A group may hold several pictures each with its copies (a burst, and copies of two of its frames):
    walking best first, each photo not yet a copy of another collects its own confirmed copies, so a copy
    is found whichever photo of the group is kept. Every confirmed copy names the photo it copies, which
    is never itself marked (the window keeps it unless it keeps one of its copies instead). A photo that
    copies nothing is judged against the group's first, best photo, to say why it is in the group.
    """
    n = len(bodies)
    verdicts: list[Verdict | None] = [reference_verdict()] + [None] * (n - 1)
    for i in range(n):
        if (i and verdicts[i] is not None) or not isinstance(checks[i], Fingerprint):
            continue  # a copy of an earlier photo (its copies are that photo's too), or nothing to compare
        for j in range(i + 1, n):
            if verdicts[j] is None:
                found = judge(bodies[i], checks[i], bodies[j], checks[j], float(similarity[i, j]), threshold)
                if found["confirmed"]:
                    if i:
                        found["reason"] = _of(found["reason"], _name(bodies[i]))
                    verdicts[j] = found
    return [
        found if found is not None
        else judge(bodies[0], checks[0], bodies[j], checks[j], float(similarity[0, j]), threshold)
        for j, found in enumerate(verdicts)
    ]  # fmt: skip


def _of(reason: str, name: str) -> str:
    """ "Same picture, ..." -> "Same picture as “x.jpg”, ..." for a copy of another than the group's best."""
    for lead, linked in (
        ("Exact copy", f"Exact copy of {name}"),
        ("Same picture", f"Same picture as {name}"),
    ):
        if reason.startswith(lead):
            return linked + reason[len(lead) :]
    return reason
