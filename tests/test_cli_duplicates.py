"""`photoseek duplicates` says, photo by photo, which are copies a second check confirmed and which only look
alike to CLIP, as the app's Find Duplicates window does. Real files, real engine, the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_helpers import run_cli

from app import cli
from app.scenes import encoded, scene

TINY = "photoseek/tiny-shapes"


def _library(tmp_path: Path) -> str:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "beach.png").write_bytes(encoded(scene(1), "PNG"))
    shutil.copy(photos / "beach.png", photos / "beach copy.png")  # the same bytes: a copy by any check
    # The next frame of a burst: CLIP cannot tell it from the first; the pixels can.
    (photos / "beach burst.png").write_bytes(encoded(scene(1, subject_x=0.6), "PNG"))
    data = str(tmp_path / "data")
    code, _, err = run_cli("index", str(photos), "--data-dir", data, "--model", TINY)
    assert code == cli.EXIT_OK, err
    return data


def test_each_photo_says_whether_it_is_a_confirmed_copy_or_only_looks_alike(tmp_path: Path) -> None:
    data = _library(tmp_path)
    code, out, err = run_cli("duplicates", "--similarity", "0.9", "--data-dir", data)
    assert code == cli.EXIT_OK, err
    rows = {line.rsplit("/", 1)[-1]: line.split()[0] for line in out.splitlines() if line.endswith(".png")}
    assert sorted(rows.values()) == ["copy", "keep", "similar"]
    assert rows["beach burst.png"] != "copy"  # another frame is never proposed as a copy
    assert "Exact copy of" in out and "Similar, not a copy: a different frame" in out
    assert out.rstrip().endswith("1 copy confirmed by a second check (pixels or file contents); "
                                 "1 photo only looks alike to CLIP: look before deleting.")


def test_json_output_carries_the_verdicts(tmp_path: Path) -> None:
    data = _library(tmp_path)
    code, out, _ = run_cli("duplicates", "--similarity", "0.9", "--json", "--data-dir", data)
    assert code == cli.EXIT_OK
    (group,) = json.loads(out)
    kinds = sorted(v["kind"] for v in group["verdicts"])
    assert kinds == ["exact", "reference", "similar"]
    assert [v["confirmed"] for v in group["verdicts"]].count(True) == 1
