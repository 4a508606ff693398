"""Screenshot of Library › Change Model… for the docs: docs/screenshots/model-chooser.png.

A temp library of shape photos on the tiny model (measured on this computer as it loads), two photos
added from base64 without a stored copy, and CLIP ViT-B/16 selected: the chooser shows sizes, speeds,
languages, what the switch will embed and the two photos it cannot take along. Kept apart from
tools/screenshots.py so that it can be made alone: ``python3 tools/screenshot_model_chooser.py``.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
WAIT_MS = 120_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots" / "model-chooser.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="photoseek-chooser-") as tmp:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["PHOTOSEEK_DATA_DIR"] = str(Path(tmp) / "library")
        os.environ["PHOTOSEEK_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.environ["PHOTOSEEK_DEFAULT_MODEL"] = "photoseek/tiny-shapes"
        return shoot(Path(tmp) / "Pictures" / "Shapes", args.out)


def shoot(photos: Path, out: Path) -> int:
    from PySide6.QtCore import QEventLoop, QTimer

    from app.gui.app import create_application
    from app.gui.main_window import MainWindow
    from app.shapes import write_shape_folder

    write_shape_folder(photos, per_class=2, size=(320, 240), fmt="JPEG")
    add_pasted_photos()
    app = create_application(["photoseek-screenshots"])
    window = MainWindow()
    window.resize(1100, 720)

    def wait_until(predicate, ms: int = WAIT_MS) -> None:
        waited = 0
        while not predicate():
            if waited > ms:
                raise SystemExit("timed out")
            loop = QEventLoop()
            QTimer.singleShot(50, loop.quit)
            loop.exec()
            waited += 50
        app.processEvents()

    window.show()
    wait_until(lambda: window.engine_open)
    request = window.import_paths([str(photos)])
    assert request is not None
    finished: list[object] = []
    window.importFinished.connect(finished.append)
    wait_until(lambda: bool(finished))
    dialog = window.model_switch.show_chooser()
    assert dialog is not None
    wait_until(lambda: dialog.list.topLevelItemCount() > 0)
    dialog.select("openclip/ViT-B-16/laion2b_s34b_b88k")
    wait_until(lambda: "Switching embeds" in dialog.plan_label.text())
    dialog.resize(960, 560)
    wait_until(lambda: True)
    out.parent.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(out))
    print(f"wrote {out}")
    dialog.close()
    window.close()
    return 0


def add_pasted_photos() -> None:
    """Two photos added the Typesense way (base64, ``store: false``): nothing to embed them from later."""
    from app.engine import Engine
    from app.library import photo_schema
    from app.shapes import draw_shape, encode_image

    image = base64.b64encode(encode_image(draw_shape("green", "star", size=96), "PNG")).decode()
    docs = [{"id": f"pasted-{n}", "name": f"Pasted {n}.png", "path": "", "image": image} for n in (1, 2)]
    with Engine(Path(os.environ["PHOTOSEEK_DATA_DIR"])) as engine:
        engine.collections.create(photo_schema("Photos", "photoseek/tiny-shapes"))
        engine.collections["Photos"].documents.import_(docs)


if __name__ == "__main__":
    raise SystemExit(main())
