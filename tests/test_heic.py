"""HEIC/HEIF photos (what iPhones take) import and search out of the box, from files and from base64."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pillow_heif
import pytest
from engine_helpers import search_one, shape_bytes

from app.engine import Engine
from app.shapes import draw_shape

REPO = Path(__file__).resolve().parents[1]


def heic_bytes(colour: str, shape: str, size: int = 96, seed: int = 0) -> bytes:
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this pillow-heif build has no HEVC encoder to write test files with")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(draw_shape(colour, shape, size=size, seed=seed)).save(buffer, quality=90)
    return buffer.getvalue()


def top_hit(engine: Engine, query: str) -> str:
    result = search_one(engine, {"collection": "images", "q": query, "query_by": "embedding"})
    return result["hits"][0]["document"]["id"]


def test_import_files_indexes_heic_and_search_finds_it(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "IMG_0001.HEIC").write_bytes(heic_bytes("red", "circle"))
    (folder / "IMG_0002.heif").write_bytes(heic_bytes("blue", "square", size=120))
    (folder / "scan.png").write_bytes(shape_bytes("green", "star"))

    results = engine.collections["images"].documents.import_files([folder])
    assert all(r["success"] for r in results), results
    ids = {Path(r["path"]).name: r["id"] for r in results}
    assert top_hit(engine, "a red circle") == ids["IMG_0001.HEIC"]
    assert top_hit(engine, "a blue square") == ids["IMG_0002.heif"]
    doc = engine.collections["images"].documents[ids["IMG_0002.heif"]].retrieve()
    assert (doc["width"], doc["height"], doc["file_type"]) == (120, 120, "heif")


def test_base64_import_of_heic(engine: Engine) -> None:
    docs = engine.collections["images"].documents
    heic = base64.b64encode(heic_bytes("yellow", "ring")).decode()
    png = base64.b64encode(shape_bytes("purple", "cross")).decode()
    results = docs.import_(
        [{"id": "heic", "name": "phone", "image": heic}, {"id": "png", "name": "drawing", "image": png}],
        {"action": "create"},
    )
    assert all(r["success"] for r in results), results
    assert top_hit(engine, "a yellow ring") == "heic"
    assert top_hit(engine, "a purple cross") == "png"


def test_a_fresh_process_decodes_heic_without_registering_anything_itself(tmp_path: Path) -> None:
    """Photoseek registers pillow-heif on first need, once, even when many threads need it at once."""
    files = []
    for n, colour in enumerate(("red", "green", "blue", "orange")):
        path = tmp_path / f"{n}.heic"
        path.write_bytes(heic_bytes(colour, "circle", seed=n))
        files.append(str(path))
    script = textwrap.dedent(
        """
        import sys
        from concurrent.futures import ThreadPoolExecutor
        from pathlib import Path
        from app.engine.images import load_image
        assert "pillow_heif" not in sys.modules, "imported before any HEIC was seen"
        datas = [Path(p).read_bytes() for p in sys.argv[1:]] * 4
        with ThreadPoolExecutor(8) as pool:
            sizes = list(pool.map(lambda d: load_image(d, min_side=None).size, datas))
        assert sizes == [(96, 96)] * len(datas), sizes
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *files], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
