"""Regenerate docs/screenshots/duplicates.png: the "Find duplicates" window at its default 95% over a burst
of photos with planted copies, so it shows which photos a second check confirmed and why the rest stay.

    python3 tools/screenshot_duplicates.py [--out docs/screenshots] [--scheme light|dark]

Runs the real window offscreen over a throw-away library with the tiny test model and generated scenes
(app.scenes). tools/screenshots.py also writes a duplicates.png (shapes at 99.9%); run this one after it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
WAIT_MS = 300_000


def write_photos(root: Path) -> None:
    from app.scenes import crop, encoded, scene

    shot, other = scene(7), scene(3)
    files = {
        "Camera/IMG_2041.png": encoded(shot, "PNG"),
        "Camera/IMG_2042.png": encoded(scene(7, subject_x=0.6), "PNG"),
        "Camera/IMG_2043.png": encoded(scene(7, subject_x=0.55), "PNG"),
        "Backup/IMG_2041.png": encoded(shot, "PNG"),
        "Phone/IMG_2041 (small).jpg": encoded(shot.resize((240, 180)), "JPEG", quality=80),
        "Camera/IMG_1187.png": encoded(other, "PNG"),
        "Exports/IMG_1187.jpg": encoded(other, "JPEG", quality=70),
        "Exports/IMG_1187 (cropped).jpg": encoded(crop(other, 0.08), "JPEG", quality=90),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    parser.add_argument("--scheme", choices=("light", "dark"), default="light")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="photoseek-dup-screen-") as tmp:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["PHOTOSEEK_DATA_DIR"] = str(Path(tmp) / "library")
        os.environ["PHOTOSEEK_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.environ["PHOTOSEEK_DEFAULT_MODEL"] = "photoseek/tiny-shapes"
        os.environ["PHOTOSEEK_COLOR_SCHEME"] = args.scheme
        photos = Path(tmp) / "Pictures"
        write_photos(photos)
        return shoot(photos, args.out)


def shoot(photos: Path, out: Path) -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.app import create_application
    from app.gui.duplicates_dialog import open_duplicates
    from app.gui.main_window import MainWindow

    app = create_application(["photoseek"])

    def wait_until(ready, what: str) -> None:
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: ready() and loop.quit())
        timer.start(50)
        QTimer.singleShot(WAIT_MS, loop.quit)
        loop.exec()
        timer.stop()
        if not ready():
            raise SystemExit(f"timed out waiting for {what}")

    window = MainWindow()
    window.resize(1180, 760)
    window.show()
    window.import_paths([str(photos)])
    wait_until(lambda: window.library_status.text().split()[0] == "8", "the import")
    dialog = open_duplicates(window)
    assert dialog is not None
    dialog.resize(1200, 720)
    wait_until(lambda: not dialog.busy and dialog.rows, "the duplicates")
    tiles = [tile for row in dialog.rows for tile in row.tiles.values()]
    wait_until(lambda: all(t.thumbnail.has_thumbnail() for t in tiles), "thumbnails")
    app.processEvents()
    path = out / "duplicates.png"
    dialog.grab().save(str(path))
    print(f"wrote {path}")
    dialog.close()
    window.close()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
