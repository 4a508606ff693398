"""The built-in viewer as a user drives it: open from the grid (Enter, Space, double-click), step through
the results in rank order, zoom, act on the photo shown, and Esc back to the grid as it was. Real engine,
tiny model, real files; only the trash question's answer is scripted."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsView, QMessageBox

from app.gui.results_model import SimilarityRole, similarity_percent
from app.shapes import draw_shape, write_shape_folder

from .conftest import SEARCH_WAIT_MS, import_and_wait, requires_tiny_model, result_names

SHOW_MS = 30_000
CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def photos_dir(tmp_path: Path) -> Path:
    """Two colours x three shapes, two JPEGs each (12 files)."""
    folder = tmp_path / "photos"
    write_shape_folder(
        folder, per_class=2, colours=("red", "blue"), shapes=("circle", "square", "triangle"), size=160
    )
    return folder


def window_with_photos(make_window, qtbot, folder: Path):
    window = make_window()
    window.resize(900, 620)
    import_and_wait(qtbot, window, [folder])
    return window


def ids(window) -> list[str]:
    return [window.results_model.doc_id(r) for r in range(window.results_model.rowCount())]


def press(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier, *, shows: bool = True) -> str | None:
    """Press ``key`` where the user's focus is; with ``shows``, wait for the photo it brings up."""
    target = QGuiApplication.focusObject() or window
    if not shows:
        qtbot.keyClick(target, key, modifier)
        return None
    with qtbot.waitSignal(window.viewer.photoShown, timeout=SHOW_MS) as shown:
        qtbot.keyClick(target, key, modifier)
    return shown.args[0]


def select(window, row: int) -> None:
    window.results_view.setCurrentIndex(window.results_model.index(row))
    window.results_view.setFocus()


@requires_tiny_model
def test_enter_space_and_double_click_open_the_viewer_and_esc_returns_as_it_was(
    make_window, qtbot, photos_dir: Path
) -> None:
    window = window_with_photos(make_window, qtbot, photos_dir)
    order = ids(window)
    view = window.results_view
    select(window, 4)
    view.scrollTo(window.results_model.index(4))
    scrolled = view.verticalScrollBar().value()

    assert press(qtbot, window, Qt.Key.Key_Return) == order[4]
    assert window.viewer.is_open() and window.viewer.page.isVisible() and not view.isVisible()
    assert window.viewer.page.canvas.has_photo()
    assert window.viewer.page.position_label.text() == "5 of 12"

    # Rank order both ways; the grid's selection follows what is shown.
    assert press(qtbot, window, Qt.Key.Key_Right) == order[5]
    assert press(qtbot, window, Qt.Key.Key_Left) == order[4]
    assert press(qtbot, window, Qt.Key.Key_Left) == order[3]
    assert press(qtbot, window, Qt.Key.Key_Home) == order[0]
    assert press(qtbot, window, Qt.Key.Key_Left, shows=False) is None  # nothing before the first
    assert window.viewer.current_row() == 0
    assert press(qtbot, window, Qt.Key.Key_End) == order[-1]
    assert press(qtbot, window, Qt.Key.Key_Left) == order[-2]

    press(qtbot, window, Qt.Key.Key_Escape, shows=False)
    assert not window.viewer.is_open() and view.isVisible()
    assert view.selected_ids() == [order[-2]] and view.currentIndex().row() == len(order) - 2
    assert view.hasFocus()

    # Back from a photo already in sight: the grid has not moved.
    select(window, 4)
    view.verticalScrollBar().setValue(scrolled)
    assert press(qtbot, window, Qt.Key.Key_Space) == order[4]
    press(qtbot, window, Qt.Key.Key_Escape, shows=False)
    assert view.verticalScrollBar().value() == scrolled and view.selected_ids() == [order[4]]

    row = view.visible_rows()[-1]
    rect = view.visualRect(window.results_model.index(row))
    with qtbot.waitSignal(window.viewer.photoShown, timeout=SHOW_MS) as shown:
        # A real double-click starts with a click (QTest's double-click alone sends no press).
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert shown.args[0] == order[row] and window.viewer.is_open()


@requires_tiny_model
def test_a_search_is_stepped_in_rank_order_and_the_info_shows_the_match(
    make_window, qtbot, photos_dir: Path
) -> None:
    window = window_with_photos(make_window, qtbot, photos_dir)
    qtbot.keyClicks(window.search_field, "a red circle")
    qtbot.waitUntil(lambda: window.search.query.text == "a red circle", timeout=SEARCH_WAIT_MS)
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        pass
    order = ids(window)
    top = window.results_model.data(window.results_model.index(0), SimilarityRole)

    qtbot.keyClick(window.search_field, Qt.Key.Key_Down)
    assert press(qtbot, window, Qt.Key.Key_Return) == order[0]
    info = window.viewer.page.info_text()
    assert info.startswith(result_names(window)[0])
    assert f"Match: {similarity_percent(top)}%" in info
    assert "Folder: " + str(photos_dir) in info and "Resolution: 160 × 160" in info
    shown = [order[0]] + [press(qtbot, window, Qt.Key.Key_Right) for _ in order[1:]]
    assert shown == order


@requires_tiny_model
def test_zoom_to_100_percent_and_back_with_exif_orientation_and_camera(
    make_window, qtbot, tmp_path: Path
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    draw_shape("blue", "circle", size=(3000, 2000), seed=3).save(folder / "big.jpg", exif=exif.tobytes())
    window = window_with_photos(make_window, qtbot, folder)
    select(window, 0)
    press(qtbot, window, Qt.Key.Key_Return)
    canvas = window.viewer.page.canvas

    assert canvas.is_fitted() and canvas.zoom_factor() < 0.5
    info = window.viewer.page.info_text()
    assert "Resolution: 2000 × 3000" in info and "Camera: Canon EOS R5" in info
    decoded = canvas.shown_pixmap_size()
    assert max(decoded.width(), decoded.height()) < 3000  # the screen-sized decode
    assert decoded.height() > decoded.width()  # EXIF orientation applied

    with qtbot.waitSignal(window.viewer.photoShown, timeout=SHOW_MS):  # the full-resolution decode
        press(qtbot, window, Qt.Key.Key_Z, shows=False)
    assert canvas.zoom_factor() == pytest.approx(1.0)
    assert canvas.shown_pixmap_size().width() == 2000 and canvas.shown_pixmap_size().height() == 3000
    assert canvas.verticalScrollBar().maximum() > 0  # there is something to pan, by dragging too
    assert canvas.dragMode() == QGraphicsView.DragMode.ScrollHandDrag
    assert window.viewer.page.zoom_button.text() == "100%"

    press(qtbot, window, Qt.Key.Key_Z, shows=False)
    assert canvas.is_fitted() and canvas.zoom_factor() < 0.5
    assert canvas.verticalScrollBar().maximum() == 0
    assert canvas.dragMode() == QGraphicsView.DragMode.NoDrag

    fitted = canvas.zoom_factor()
    centre = QPointF(canvas.viewport().rect().center())
    wheel = QWheelEvent(
        centre,
        canvas.viewport().mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, 240),  # two notches
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), wheel)
    assert canvas.zoom_factor() == pytest.approx(fitted * 1.25**2) and not canvas.is_fitted()


@requires_tiny_model
def test_a_missing_file_says_so_and_the_next_photo_still_shows(make_window, qtbot, photos_dir: Path) -> None:
    window = window_with_photos(make_window, qtbot, photos_dir)
    order = ids(window)
    gone = Path(window.results_model.document(1)["path"])
    gone.unlink()
    select(window, 0)
    press(qtbot, window, Qt.Key.Key_Return)

    assert press(qtbot, window, Qt.Key.Key_Right) == order[1]
    canvas = window.viewer.page.canvas
    assert not canvas.has_photo()
    assert "missing" in canvas.message() and str(gone) in canvas.message()
    assert press(qtbot, window, Qt.Key.Key_Right) == order[2]
    assert canvas.has_photo() and canvas.message() == ""


@requires_tiny_model
def test_copy_path_and_find_similar_from_the_viewer(make_window, qtbot, photos_dir: Path) -> None:
    window = window_with_photos(make_window, qtbot, photos_dir)
    order = ids(window)
    select(window, 2)
    press(qtbot, window, Qt.Key.Key_Return)
    press(qtbot, window, Qt.Key.Key_Right)
    path = window.results_model.document(3)["path"]

    press(qtbot, window, Qt.Key.Key_C, CTRL_SHIFT, shows=False)
    assert QGuiApplication.clipboard().text() == path
    press(qtbot, window, Qt.Key.Key_C, CTRL, shows=False)
    assert [url.toLocalFile() for url in QGuiApplication.clipboard().mimeData().urls()] == [path]
    assert not QGuiApplication.clipboard().image().isNull()

    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS) as shown:
        press(qtbot, window, Qt.Key.Key_F, CTRL_SHIFT, shows=False)
    assert shown.args[0].similar_to == order[3]
    # The photo itself is not among photos like it: the viewer gives way to the new results.
    assert not window.viewer.is_open() and order[3] not in ids(window)


@requires_tiny_model
def test_move_to_trash_from_the_viewer_shows_the_next_photo(
    make_window, qtbot, photos_dir: Path, monkeypatch
) -> None:
    window = window_with_photos(make_window, qtbot, photos_dir)
    order = ids(window)
    doomed = Path(window.results_model.document(5)["path"])
    select(window, 5)
    press(qtbot, window, Qt.Key.Key_Return)

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.viewer.photoShown, timeout=SEARCH_WAIT_MS) as shown:
        press(qtbot, window, Qt.Key.Key_Delete, shows=False)
    assert shown.args[0] == order[6]
    assert not doomed.exists()
    assert window.viewer.is_open()
    qtbot.waitUntil(lambda: window.viewer.page.position_label.text() == "6 of 11")
    assert order[5] not in ids(window)


def test_heic_and_raw_previews_decode_for_the_viewer_with_their_orientation(tmp_path: Path) -> None:
    import io

    from test_heic import heic_bytes
    from test_raw import jpeg, make_cr2

    from app.gui.viewer_decode import PhotoSource, decode_photo

    wide = io.BytesIO()
    Image.new("RGB", (400, 200), (220, 35, 35)).save(wide, "JPEG")
    raw = tmp_path / "portrait.CR2"
    raw.write_bytes(make_cr2(wide.getvalue(), jpeg("green", "square", 64), orientation=6))
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(heic_bytes("red", "circle", size=256))

    shown = decode_photo(PhotoSource("raw", str(raw)), 1024)
    assert shown.error is None and (shown.image.width(), shown.image.height()) == (200, 400)
    assert (shown.source_size.width(), shown.source_size.height()) == (200, 400)
    red = shown.image.pixelColor(100, 200)
    assert red.red() > 170 and red.green() < 90  # the preview, not the green thumbnail
    shown = decode_photo(PhotoSource("heic", str(heic)), 1024)
    assert shown.error is None and (shown.source_size.width(), shown.source_size.height()) == (256, 256)
    assert shown.details.file_size == heic.stat().st_size

    missing = decode_photo(PhotoSource("gone", str(tmp_path / "gone.jpg")), 1024)
    assert missing.missing and missing.image is None


def test_stepping_past_the_last_loaded_result_continues_into_the_next_page(qtbot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QStackedWidget, QWidget

    from app.gui.photo_actions import PhotoActions
    from app.gui.results_model import ResultsModel
    from app.gui.results_view import ResultsView
    from app.gui.viewer_controller import ViewerController

    for i in range(6):
        draw_shape("red", "circle", size=120, seed=i).save(tmp_path / f"p{i}.jpg")
    hits = [
        {"document": {"id": str(i), "name": f"p{i}.jpg", "path": str(tmp_path / f"p{i}.jpg")}}
        for i in range(6)
    ]
    window = QWidget()
    qtbot.addWidget(window)
    stack, model, view = QStackedWidget(window), ResultsModel(window), ResultsView()
    view.setModel(model)
    stack.addWidget(view)
    viewer = ViewerController(stack, view, model, PhotoActions(view, model, window), window)
    pages: list[int] = []
    model.moreRequested.connect(pages.append)
    model.set_results(hits[:3], found=6)
    window.show()

    with qtbot.waitSignal(viewer.photoShown, timeout=SHOW_MS):
        viewer.open_row(0)
    with qtbot.waitSignal(viewer.photoShown, timeout=SHOW_MS):
        viewer.step(1)
    assert pages == [2]  # asked for ahead, two photos before the end
    with qtbot.waitSignal(viewer.photoShown, timeout=SHOW_MS):
        viewer.step(1)
    viewer.step(1)  # past the last loaded photo: it waits for the page
    assert viewer.current_row() == 2 and viewer.page.position_label.text() == "3 of 3+"
    with qtbot.waitSignal(viewer.photoShown, timeout=SHOW_MS) as shown:
        model.append_results(hits[3:], found=6)
    assert shown.args[0] == "3" and viewer.page.position_label.text() == "4 of 6"
    viewer.shutdown()
    model.shutdown()
