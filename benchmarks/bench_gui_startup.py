"""How long from launching Photoseek until its window is on screen, and until the engine is open.

    python3 benchmarks/bench_gui_startup.py [--runs 5]

Each run is a fresh process (``python -c``) over an empty library, as a first launch would be. The time
is measured from just before the process is spawned (interpreter start included) to the window's first
show, and to the engine thread reporting the library open. The model is not loaded at that point: torch
is imported on the engine thread when the first collection needs it, which the script also checks.
Target: window shown in under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
start = float(sys.argv[1])
from PySide6.QtCore import QTimer
from app.gui.app import create_application
app = create_application(["photoseek"])
from app.gui.main_window import MainWindow
window = MainWindow()
marks = {}
window.show()
marks["shown"] = time.time() - start
marks["torch_at_show"] = "torch" in sys.modules
def opened():
    marks["engine_open"] = time.time() - start
    window.close()
    app.quit()
window.engineOpened.connect(opened)
QTimer.singleShot(60000, app.quit)
app.exec()
print(json.dumps(marks))
"""


def one_run(library: Path) -> dict:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "PHOTOSEEK_DATA_DIR": str(library),
    }
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, repr(start)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    shown, opened = [], []
    with tempfile.TemporaryDirectory(prefix="photoseek-startup-") as tmp:
        for run in range(args.runs):
            marks = one_run(Path(tmp) / f"library-{run}")
            shown.append(marks["shown"])
            opened.append(marks.get("engine_open", float("nan")))
            if marks["torch_at_show"]:
                print("WARNING: torch was imported before the window was shown")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")
    for label, values in (("window shown", shown), ("engine open", opened)):
        median = statistics.median(values)
        print(f"{label + ':':14} median {median:.2f} s  (min {min(values):.2f}, max {max(values):.2f})")
    print("target: window shown < 2 s:", "met" if statistics.median(shown) < 2.0 else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
