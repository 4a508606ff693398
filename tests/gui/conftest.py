"""GUI test fixtures: a real MainWindow over a real engine (tiny model) in the test's tmp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from app.engine.models import tiny_model_dir
from app.gui.main_window import MainWindow
from app.shapes import write_shape_folder

# Generous: the test machines' CPUs are shared; waits end as soon as the signal arrives.
ENGINE_WAIT_MS = 60_000
IMPORT_WAIT_MS = 180_000
SEARCH_WAIT_MS = 60_000


def tiny_model_present() -> bool:
    return (tiny_model_dir() / "open_clip_model.safetensors").is_file()


requires_tiny_model = pytest.mark.skipif(
    not tiny_model_present(), reason="the tiny test model (tests/models/tiny-shapes) is not built yet"
)


@pytest.fixture
def shapes_dir(tmp_path: Path) -> Path:
    """Four colours x three shapes, three pictures each (36 files), named ``<colour>_<shape>_NNN.png``."""
    folder = tmp_path / "shapes"
    write_shape_folder(
        folder,
        per_class=3,
        colours=("red", "green", "blue", "yellow"),
        shapes=("circle", "square", "triangle"),
        size=96,
        fmt="PNG",
    )
    return folder


def _owns_active_window(window: MainWindow) -> bool:
    active = QApplication.activeWindow()
    while active is not None and active is not window:
        active = active.parentWidget()
    return active is window


@pytest.fixture
def make_window(qtbot, photoseek_dirs: Path) -> Iterator[Callable[..., MainWindow]]:
    """Build shown MainWindows whose engine is open; each is closed (engine thread joined) afterwards."""
    windows: list[MainWindow] = []

    def make(data_dir: Path | None = None, **kwargs) -> MainWindow:
        window = MainWindow(data_dir=data_dir or photoseek_dirs, **kwargs)
        windows.append(window)
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.engineOpened, timeout=ENGINE_WAIT_MS):
            window.show()
        # The window a person works in is the active one, and shortcuts (F5, Ctrl+V...) reach only that.
        # Offscreen a shown window is active at once; on X (tools/run-tests.sh's second pass, no window
        # manager) it can take focus once mapped, and is active when the server says it has it.
        qtbot.waitUntil(lambda: window.windowHandle() is not None and window.windowHandle().isExposed())
        window.activateWindow()
        # A dialog the window opened at once (the first-run model offer) may take focus from it on X.
        qtbot.waitUntil(lambda: _owns_active_window(window), timeout=ENGINE_WAIT_MS)
        return window

    yield make
    for window in windows:
        window.close()


def drop_paths(window: MainWindow, paths: list[Path]) -> None:
    """Drop files/folders on the window the way a file manager does (URLs in the mime data)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(window.width() / 2, window.height() / 2),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def import_and_wait(qtbot, window: MainWindow, paths: list[Path]):
    """Drop ``paths`` and wait for the import and the grid refresh after it; returns the ImportSummary."""
    with qtbot.waitSignal(window.importFinished, timeout=IMPORT_WAIT_MS) as finished:
        drop_paths(window, paths)
    summary = finished.args[0]
    if summary.imported:
        qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=SEARCH_WAIT_MS)
    return summary


def result_names(window: MainWindow) -> list[str]:
    model = window.results_model
    return [str(model.document(row).get("name")) for row in range(model.rowCount())]


@pytest.fixture(autouse=True)
def _empty_clipboard_after_test(qapp) -> Iterator[None]:
    """Leave no test-made QMimeData on the clipboard.

    The clipboard owns what a test puts there; if it still holds a Python-created QMimeData when the
    process exits, Qt destroys it after the interpreter is gone and the process segfaults (exit 139).
    """
    yield
    QGuiApplication.clipboard().clear()
