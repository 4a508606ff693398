"""The window and its dialogs fit a 1366x768 screen in error states, and show all of their text.

Offscreen these only compare Qt's size hints; tools/run-tests.sh runs them once more on a virtual X server
(xcb, screen 1366x768), where the window really is on such a screen. Real engine; the weights of the CLIP
model are never in a test's cache, so with CLIP as the default model an import stops with "model missing".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.import_panel import ImportSummaryDialog
from app.gui.model_dialog import ModelDialog
from app.resources import stylesheet
from app.shapes import write_shape_folder

from .conftest import IMPORT_WAIT_MS, SEARCH_WAIT_MS, drop_paths, import_and_wait, requires_tiny_model
from .screen_fit import assert_dialog_text_fits, assert_label_text_fits, assert_window_fits_screen, rect_in

# A path as deep as people's photo folders get (synced drives, exported albums), with no space to wrap at.
LONG_PATH = "/home/someone/" + "/".join(f"Pictures-exported-from-the-old-laptop-{n}" for n in range(6))
# Narrower than a small screen, as a window beside another one is.
NARROW = QSize(900, 600)
LONG_ERROR = (
    "The model “ts/clip-vit-b-p32” is not on this computer yet. Its weights file "
    f"`{LONG_PATH}/open_clip_model.safetensors` is missing. To install them offline, download "
    "https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/open_clip_model.safetensors "
    "on another machine and set model_config.model_path to where you saved it. " * 3
)


@pytest.fixture(autouse=True)
def _app_stylesheet(qapp) -> Iterator[None]:
    """Measure with the stylesheet the app runs with (it pads buttons and panels)."""
    qapp.setStyleSheet(stylesheet())
    yield
    qapp.setStyleSheet("")


def key_widgets(window) -> list[QWidget]:
    """What must stay on screen: the search field, Min. similarity, Import, and the import panel's buttons."""
    names = {
        QLineEdit: ["searchField"],
        QWidget: ["thresholdControl", "importButton", "importPanel"],
        QAbstractButton: ["cancelImportButton", "importDetailsButton", "dismissImportButton"],
    }
    found = [window.findChild(kind, name) for kind, group in names.items() for name in group]
    missing = [name for group in names.values() for name in group if window.findChild(QWidget, name) is None]
    assert not missing, f"the window has no {missing}"
    return found


def assert_panel_text_shown(panel: QWidget) -> None:
    """Each of the import panel's labels shows its whole text, or elides it with the whole text in its
    tooltip."""
    for label in panel.findChildren(QLabel):
        if label.isVisibleTo(panel) and label.toolTip() != label.text():
            assert_label_text_fits(label)


def close_model_dialog(qtbot, window) -> None:
    """The download offer comes with the error; it is the other dialog's business, so close it."""
    qtbot.waitUntil(lambda: window.findChild(ModelDialog) is not None, timeout=SEARCH_WAIT_MS)
    window.findChild(ModelDialog).reject()


def test_a_model_error_keeps_the_window_within_a_small_screen(
    make_window, qtbot, shapes_dir: Path, monkeypatch
) -> None:
    # A first start without the default model's weights (offline, or the download not done yet).
    monkeypatch.setenv("PHOTOSEEK_DEFAULT_MODEL", "ts/clip-vit-b-p32")
    window = make_window()
    files = sorted(shapes_dir.iterdir())[:3]  # files, not the folder: a plain import, not a followed one
    with qtbot.waitSignal(window.importFinished, timeout=IMPORT_WAIT_MS) as finished:
        drop_paths(window, files)
    close_model_dialog(qtbot, window)

    error = finished.args[0].error
    assert error, "the import should have stopped for the missing model"
    panel = window.findChild(QFrame, "importPanel")
    assert panel.isVisible()
    assert any("not on this computer" in label.text() for label in panel.findChildren(QLabel))
    assert_window_fits_screen(qtbot, window, key_widgets(window))
    assert_panel_text_shown(panel)


def test_a_very_long_import_error_neither_widens_the_window_nor_is_lost(make_window, qtbot) -> None:
    window = make_window()
    panel = window.findChild(QFrame, "importPanel")
    title = panel.findChild(QLabel, "importTitle")
    detail = panel.findChild(QLabel, "importDetail")
    title.setText(
        "Import cancelled: 12,345 of 67,890 photos imported, 2,345 already in the library, 1,234 skipped, "
        "stopped by an error"
    )
    detail.setText(LONG_ERROR)
    panel.show()

    assert_window_fits_screen(qtbot, window, key_widgets(window))
    assert_panel_text_shown(panel)
    # The whole message stays available: in the label's tooltip (and text) when it is cut short.
    assert detail.text() == LONG_ERROR
    assert detail.toolTip() == LONG_ERROR
    # Narrowing the window further, the panel still follows (no minimum width from the message).
    window.resize(NARROW)
    qtbot.waitUntil(lambda: window.size() == NARROW, timeout=SEARCH_WAIT_MS)
    assert rect_in(panel, window).right() < window.width()


@requires_tiny_model
def test_the_skipped_files_dialog_fits_with_many_long_paths(make_window, qtbot, tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*LONG_PATH.strip("/").split("/")[2:])
    write_shape_folder(folder, per_class=1, colours=("red",), shapes=("circle",))
    for n in range(40):
        name = f"IMG_{n:04d}-exported-from-the-camera-roll-of-an-old-phone-with-a-long-name.jpg"
        (folder / name).write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    window = make_window()
    summary = import_and_wait(qtbot, window, [folder])
    assert len(summary.problems) == 40

    window.findChild(QAbstractButton, "importDetailsButton").click()
    qtbot.waitUntil(lambda: window.findChild(ImportSummaryDialog) is not None, timeout=SEARCH_WAIT_MS)
    dialog = window.findChild(ImportSummaryDialog)
    qtbot.waitUntil(dialog.isVisible, timeout=SEARCH_WAIT_MS)
    assert_dialog_text_fits(dialog)
    dialog.close()
    assert_window_fits_screen(qtbot, window, key_widgets(window))


def test_an_error_box_with_a_long_path_fits(make_window, qtbot) -> None:
    window = make_window()
    window.show_error("Photoseek", f"Photoseek could not read or write a file ({LONG_PATH}/photo.jpg).")
    qtbot.waitUntil(lambda: window.findChild(QMessageBox) is not None, timeout=SEARCH_WAIT_MS)
    box = window.findChild(QMessageBox)
    qtbot.waitUntil(box.isVisible, timeout=SEARCH_WAIT_MS)
    assert_dialog_text_fits(box)
    box.close()
    QApplication.processEvents()


def shown_dialog(qtbot, *widgets: QWidget) -> QDialog:
    dialog = QDialog()
    qtbot.addWidget(dialog)
    layout = QVBoxLayout(dialog)
    for widget in widgets:
        layout.addWidget(widget)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_the_checks_catch_cut_off_text_and_oversized_windows(qtbot) -> None:
    """The helpers fail where they should (else the tests above would prove nothing)."""
    squeezed = QLabel("A label whose text is much wider than the room it was given")
    squeezed.setFixedWidth(80)
    with pytest.raises(AssertionError, match="cuts off text"):
        assert_dialog_text_fits(shown_dialog(qtbot, squeezed))

    wrapped = QLabel("Wrapped, but one word is too long: " + "Supercalifragilistic" * 5)
    wrapped.setWordWrap(True)
    wrapped.setFixedWidth(300)
    with pytest.raises(AssertionError, match="a word needs"):
        assert_dialog_text_fits(shown_dialog(qtbot, wrapped))

    elided = QLabel("Cut short on purpose, with all of it in the tooltip")
    elided.setFixedWidth(80)
    elided.setToolTip(elided.text())
    assert_dialog_text_fits(shown_dialog(qtbot, elided))

    wide = QLabel("x" * 400)
    with pytest.raises(AssertionError, match="more than a 1366x768 screen"):
        assert_window_fits_screen(qtbot, shown_dialog(qtbot, wide))
