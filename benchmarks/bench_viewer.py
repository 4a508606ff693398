"""Viewer benchmark: time from the Right key to the next photo on screen, with and without decoding the
neighbours ahead.

    python3 benchmarks/bench_viewer.py [--photos 12] [--width 3000] [--height 2000] [--box 1920]
                                       [--look-ms 400]

Photo-like 3000x2000 JPEGs (about 2.5 MB each, see bench_decode.py) are stepped through in the real
viewer (ViewerController, its page and decoder threads, offscreen Qt). Before each key press the viewer is
left alone for ``--look-ms`` (someone looking at the photo), which is when the next one is decoded ahead.
``--box`` is the decode size for "fit" (a 1920x1080 screen decodes to 1920 on the long side). Prints the
median, 90th percentile and worst step; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decode import photo_like_jpeg
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QStackedWidget, QWidget

from app.gui.photo_actions import PhotoActions
from app.gui.results_model import ResultsModel
from app.gui.results_view import ResultsView
from app.gui.viewer_controller import ViewerController


def wait_until(app: QApplication, done, timeout: float = 30.0) -> None:
    end = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > end:
            raise TimeoutError("the viewer did not show the photo")
        app.processEvents()
        time.sleep(0.0005)


def idle(app: QApplication, ms: int) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def step_times(
    app: QApplication, folder: Path, count: int, *, prefetch: bool, box: int, look_ms: int
) -> list[float]:
    window = QWidget()
    stack = QStackedWidget(window)
    model = ResultsModel(window)
    view = ResultsView()
    view.setModel(model)
    stack.addWidget(view)
    actions = PhotoActions(view, model, window)
    viewer = ViewerController(stack, view, model, actions, window)
    viewer.prefetch = prefetch
    viewer.screen_box = box
    stack.resize(1100, 700)
    window.resize(1100, 700)
    window.show()
    hits = [
        {"document": {"id": str(i), "name": f"p{i}.jpg", "path": str(folder / f"p{i}.jpg")}}
        for i in range(count)
    ]
    model.set_results(hits, found=count)
    shown: list[str] = []
    viewer.photoShown.connect(shown.append)
    viewer.open_row(0)
    wait_until(app, lambda: len(shown) == 1)
    times = []
    for step in range(1, count):
        idle(app, look_ms)
        start = time.perf_counter()
        QTest.keyClick(viewer.page.canvas, Qt.Key.Key_Right)
        wait_until(app, lambda step=step: len(shown) == step + 1)
        times.append((time.perf_counter() - start) * 1000)
    viewer.shutdown()
    model.shutdown()
    window.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--box", type=int, default=1920)
    parser.add_argument("--look-ms", type=int, default=400)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(args.photos):
            (folder / f"p{i}.jpg").write_bytes(photo_like_jpeg(args.width, args.height, 90, seed=i))
        print(
            f"{args.photos} photo-like {args.width}x{args.height} JPEGs, fit decode {args.box} px, "
            f"{args.look_ms} ms looking at each photo; {os.cpu_count()} CPUs"
        )
        for prefetch in (False, True):
            times = step_times(
                app, folder, args.photos, prefetch=prefetch, box=args.box, look_ms=args.look_ms
            )
            ordered = sorted(times)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
            label = "decoded ahead" if prefetch else "decoded on key"
            print(
                f"  {label:>15}: Right key -> photo shown: median {statistics.median(times):6.1f} ms, "
                f"p90 {p90:6.1f} ms, worst {max(times):6.1f} ms ({len(times)} steps)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
