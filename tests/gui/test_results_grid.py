"""Results grid: model roles, real thumbnail loading (threads, disk cache), lazy paging, the view."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent, QImage, QPixmap
from PySide6.QtWidgets import QApplication

from app.gui.results_delegate import ResultsDelegate
from app.gui.results_model import (
    DocumentRole,
    PathRole,
    ResultsModel,
    SimilarityRole,
    ThumbnailStateRole,
)
from app.gui.results_view import ResultsView
from app.gui.thumbnails import thumbnail_cache_dir
from app.shapes import COLOURS, SHAPES, draw_shape, encode_image

WAIT_MS = 30_000  # generous: the test machine's CPUs are shared


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PHOTOSEEK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def model(qtbot):
    model = ResultsModel()
    yield model
    model.shutdown()


def write_photo(path: Path, *, size: tuple[int, int] = (640, 480), seed: int = 0, fmt: str = "JPEG") -> Path:
    colour = COLOURS[seed % len(COLOURS)]
    shape = SHAPES[seed % len(SHAPES)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_image(draw_shape(colour, shape, size=size, seed=seed), fmt))
    return path


def hit(doc_id: str, path: Path | str | None = None, *, distance: float | None = None, **fields) -> dict:
    document = {"id": doc_id, **fields}
    if path is not None:
        document["path"] = str(path)
        document.setdefault("name", Path(path).name)
    result = {"document": document}
    if distance is not None:
        result["vector_distance"] = distance
    return result


def decoration(model: ResultsModel, row: int) -> QPixmap:
    return model.data(model.index(row), Qt.ItemDataRole.DecorationRole)


def load_row(qtbot, model: ResultsModel, row: int) -> QPixmap:
    """Ask for a row's thumbnail the way painting does, and wait until it is delivered."""
    with qtbot.waitSignal(model.dataChanged, timeout=WAIT_MS) as changed:
        decoration(model, row)
    assert changed.args[0].row() == row
    assert Qt.ItemDataRole.DecorationRole.value in changed.args[2]
    return decoration(model, row)


# ----- model --------------------------------------------------------------------------------------------


def test_roles_follow_rank_order(model: ResultsModel, tmp_path: Path) -> None:
    photos = [write_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(3)]
    hits = [
        hit("b", photos[1], distance=0.08),
        hit("a", photos[0], distance=0.25),
        hit("c", photos[2], distance=0.6),
    ]
    model.set_results(hits, found=3, image_field=None, scored=True)

    assert model.rowCount() == 3
    assert [model.data(model.index(r)) for r in range(3)] == ["p1.jpg", "p0.jpg", "p2.jpg"]
    assert [model.data(model.index(r), Qt.ItemDataRole.UserRole) for r in range(3)] == ["b", "a", "c"]
    assert [model.doc_id(r) for r in range(3)] == ["b", "a", "c"]
    assert model.data(model.index(0), SimilarityRole) == pytest.approx(0.92)
    assert model.data(model.index(2), SimilarityRole) == pytest.approx(0.4)
    assert model.data(model.index(1), PathRole) == str(photos[0])
    assert model.data(model.index(1), DocumentRole)["id"] == "a"
    tooltip = model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert str(photos[1]) in tooltip and "92%" in tooltip
    assert model.rows_for_ids(["c", "b", "nope"]) == [0, 2]


def test_plain_listing_has_no_similarity_and_falls_back_to_id(model: ResultsModel) -> None:
    model.set_results([hit("42"), hit("43", "/x/y.png")], found=2, image_field=None, scored=False)
    assert model.data(model.index(0)) == "42"
    assert model.data(model.index(0), SimilarityRole) is None
    assert model.data(model.index(1), SimilarityRole) is None
    assert "%" not in model.data(model.index(1), Qt.ItemDataRole.ToolTipRole)


def test_bad_hits_are_rejected_with_a_clear_error(model: ResultsModel) -> None:
    with pytest.raises(ValueError, match="result 1 has no 'document'"):
        model.set_results([hit("1"), {"vector_distance": 0.1}], found=2, image_field=None, scored=True)
    with pytest.raises(ValueError, match="no 'id'"):
        model.set_results([{"document": {"name": "x.jpg"}}], found=1, image_field=None, scored=False)
    assert model.rowCount() == 0


def test_remove_ids_keeps_order_and_found(model: ResultsModel) -> None:
    model.set_results([hit(str(i)) for i in range(10)], found=25, image_field=None, scored=False)
    model.remove_ids(["3", "4", "7", "missing"])
    assert [model.doc_id(r) for r in range(model.rowCount())] == ["0", "1", "2", "5", "6", "8", "9"]
    assert model.found() == 22
    assert model.rows_for_ids(["9"]) == [6]


def test_fetch_more_asks_once_per_page(qtbot, model: ResultsModel) -> None:
    model.set_results([hit(str(i)) for i in range(50)], found=120, image_field=None, scored=True)
    root = model.index(-1)
    assert model.canFetchMore(root)
    with qtbot.waitSignal(model.moreRequested, timeout=1000) as asked:
        model.fetchMore(root)
    assert asked.args == [2]
    with qtbot.assertNotEmitted(model.moreRequested):
        model.fetchMore(root)  # the view asks again while scrolling; page 2 is already on its way

    # Page 2 overlaps page 1 by two documents (the collection changed in between): they are not shown twice.
    model.append_results([hit(str(i)) for i in range(48, 100)])
    assert model.rowCount() == 100
    with qtbot.waitSignal(model.moreRequested, timeout=1000) as asked:
        model.fetchMore(root)
    assert asked.args == [3]
    model.append_results([hit(str(i)) for i in range(100, 120)])
    assert not model.canFetchMore(root)


# ----- thumbnails ---------------------------------------------------------------------------------------


def test_thumbnail_loads_off_thread_with_aspect_kept(qtbot, model: ResultsModel, tmp_path: Path) -> None:
    photo = write_photo(tmp_path / "wide.jpg", size=(640, 480))
    model.set_results([hit("1", photo)], found=1, image_field=None, scored=False)
    assert model.data(model.index(0), ThumbnailStateRole) == "loading"

    pixmap = load_row(qtbot, model, 0)

    assert model.data(model.index(0), ThumbnailStateRole) == "ready"
    assert not pixmap.isNull()
    assert (pixmap.width(), pixmap.height()) == (160, 120)


def test_exif_orientation_is_applied(qtbot, model: ResultsModel, tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display", as phones write it
    draw_shape("red", "square", size=(400, 200), seed=1).save(path, "JPEG", exif=exif)
    model.set_results([hit("1", path)], found=1, image_field=None, scored=False)
    pixmap = load_row(qtbot, model, 0)
    assert (pixmap.width(), pixmap.height()) == (80, 160)


def test_second_load_comes_from_disk_cache(qtbot, tmp_path: Path) -> None:
    photo = write_photo(tmp_path / "cached.jpg", size=(800, 600), seed=3)
    cache_files = lambda: sorted(thumbnail_cache_dir().rglob("*.thumb"))  # noqa: E731
    assert thumbnail_cache_dir().is_relative_to(tmp_path)

    first = ResultsModel()
    first.set_results([hit("1", photo)], found=1, image_field=None, scored=False)
    load_row(qtbot, first, 0)
    first.shutdown()
    assert first.loader.stats["decoded"] == 1
    assert len(cache_files()) == 1

    # A new session (fresh loader, nothing in memory) reads the small cached file instead of decoding.
    second = ResultsModel()
    second.set_results([hit("1", photo)], found=1, image_field=None, scored=False)
    pixmap = load_row(qtbot, second, 0)
    second.shutdown()
    assert (second.loader.stats["decoded"], second.loader.stats["cache_hits"]) == (0, 1)
    assert (pixmap.width(), pixmap.height()) == (160, 120)

    # Editing the photo (new size and mtime) invalidates its cached thumbnail.
    write_photo(photo, size=(300, 600), seed=4)
    os.utime(photo, ns=(1_000_000_000, 1_000_000_000))
    third = ResultsModel()
    third.set_results([hit("1", photo)], found=1, image_field=None, scored=False)
    pixmap = load_row(qtbot, third, 0)
    third.shutdown()
    assert third.loader.stats["decoded"] == 1
    assert (pixmap.width(), pixmap.height()) == (80, 160)


def test_documents_without_an_image_show_why(qtbot, model: ResultsModel, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 this is not really a jpeg")
    hits = [hit("not-stored", name="beach.jpg"), hit("gone", tmp_path / "deleted.jpg"), hit("bad", broken)]
    model.set_results(hits, found=3, image_field="image", scored=False)

    decoration(model, 0)
    assert model.data(model.index(0), ThumbnailStateRole) == "missing"
    assert model.loader.stats["requested"] == 0  # nothing to load, nothing asked of the workers
    assert "not stored" in model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)

    load_row(qtbot, model, 1)
    assert model.data(model.index(1), ThumbnailStateRole) == "missing"
    assert "missing" in model.data(model.index(1), Qt.ItemDataRole.ToolTipRole)

    load_row(qtbot, model, 2)
    assert model.data(model.index(2), ThumbnailStateRole) == "error"
    assert "could not be read" in model.data(model.index(2), Qt.ItemDataRole.ToolTipRole)


def test_stored_base64_image_is_thumbnailed(qtbot, model: ResultsModel, tmp_path: Path) -> None:
    png = encode_image(draw_shape("blue", "star", size=(300, 150), seed=2), "PNG")
    stored = base64.b64encode(png).decode("ascii")
    hits = [
        hit("imported", image=stored, name="upload.png"),
        hit("moved", tmp_path / "no-longer-here.png", image=stored),  # file gone, stored copy still shown
    ]
    model.set_results(hits, found=2, image_field="image", scored=False)
    for row in (0, 1):
        pixmap = load_row(qtbot, model, row)
        assert model.data(model.index(row), ThumbnailStateRole) == "ready"
        assert (pixmap.width(), pixmap.height()) == (160, 80)
        # The shape's blue must survive decoding: sample the thumbnail's middle row for a blue pixel.
        image = pixmap.toImage()
        blues = [image.pixelColor(x, 40) for x in range(0, 160, 4)]
        assert any(c.blue() > 150 and c.red() < 120 for c in blues)


def test_shutdown_leaves_no_worker_threads(qtbot, tmp_path: Path) -> None:
    photos = [write_photo(tmp_path / f"s{i}.jpg", size=(1600, 1200), seed=i) for i in range(12)]
    model = ResultsModel()
    model.set_results(
        [hit(str(i), p) for i, p in enumerate(photos)], found=12, image_field=None, scored=False
    )
    for row in range(12):
        decoration(model, row)
    assert model.loader.in_flight_count() > 0
    model.shutdown()
    assert model.loader.active_thread_count() == 0
    decoration(model, 0)  # painting after close must not start work again
    assert model.loader.active_thread_count() == 0


# ----- view ---------------------------------------------------------------------------------------------


@pytest.fixture
def view(qtbot, model: ResultsModel):
    view = ResultsView()
    view.setModel(model)
    view.resize(820, 640)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_zoom_changes_tiles_and_thumbnail_size(qtbot, view: ResultsView, tmp_path: Path) -> None:
    model = view.model()
    photo = write_photo(tmp_path / "zoom.jpg", size=(640, 480))
    model.set_results([hit(str(i), photo) for i in range(12)], found=12, image_field=None, scored=False)
    qtbot.waitUntil(lambda: view.visualRect(model.index(11)).isValid(), timeout=WAIT_MS)
    big_tile = view.visualRect(model.index(0))
    assert 175 <= big_tile.width() <= 190 and 195 <= big_tile.height() <= 215  # ~180x200 at 160 px
    qtbot.waitUntil(lambda: model.data(model.index(0), ThumbnailStateRole) == "ready", timeout=WAIT_MS)
    assert decoration(model, 0).width() == round(160 * view.devicePixelRatioF())

    view.setThumbnailSize(96)
    qtbot.waitUntil(lambda: view.visualRect(model.index(0)).width() < big_tile.width(), timeout=WAIT_MS)
    assert view.visualRect(model.index(1)).left() < big_tile.right()  # more tiles per line
    qtbot.waitUntil(lambda: model.data(model.index(0), ThumbnailStateRole) == "ready", timeout=WAIT_MS)
    assert decoration(model, 0).width() == round(96 * view.devicePixelRatioF())

    delegate = view.itemDelegate()
    assert isinstance(delegate, ResultsDelegate) and delegate.thumbnailSize() == 96
    with pytest.raises(ValueError, match="thumbnail size"):
        view.setThumbnailSize(5)


def test_empty_text_is_drawn_only_when_there_are_no_results(
    qtbot, view: ResultsView, model: ResultsModel
) -> None:
    blank = view.viewport().grab().toImage()
    view.setEmptyText("Drop photos or folders here to start")
    assert view.viewport().grab().toImage() != blank

    model.set_results([hit("1")], found=1, image_field=None, scored=False)
    with_text = view.viewport().grab().toImage()
    view.setEmptyText("")
    assert view.viewport().grab().toImage() == with_text  # results hide the message


def test_double_click_and_enter_activate_a_document(qtbot, view: ResultsView, model: ResultsModel) -> None:
    model.set_results([hit(str(i)) for i in range(6)], found=6, image_field=None, scored=False)
    qtbot.waitUntil(lambda: view.visualRect(model.index(5)).isValid(), timeout=WAIT_MS)
    centre = view.visualRect(model.index(4)).center()
    with qtbot.waitSignal(view.activatedDocument, timeout=1000) as activated:
        # A real double-click arrives as click + double-click (QTest's mouseDClick alone omits the release).
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert activated.args == ["4"]

    view.setCurrentIndex(model.index(2))
    with qtbot.waitSignal(view.activatedDocument, timeout=1000) as activated:
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert activated.args == ["2"]


def test_right_click_selects_like_a_file_manager(qtbot, view: ResultsView, model: ResultsModel) -> None:
    model.set_results([hit(str(i)) for i in range(8)], found=8, image_field=None, scored=False)
    qtbot.waitUntil(lambda: view.visualRect(model.index(7)).isValid(), timeout=WAIT_MS)

    def right_click(pos: QPoint) -> list:
        with qtbot.waitSignal(view.contextMenuRequestedFor, timeout=1000) as menu:
            event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos))
            QApplication.sendEvent(view.viewport(), event)
        assert menu.args[1] == view.viewport().mapToGlobal(pos)
        return menu.args[0]

    view.selectionModel().select(model.index(1), view.selectionModel().SelectionFlag.Select)
    view.selectionModel().select(model.index(3), view.selectionModel().SelectionFlag.Select)
    assert right_click(view.visualRect(model.index(3)).center()) == ["1", "3"]  # keeps the selection
    assert right_click(view.visualRect(model.index(5)).center()) == ["5"]  # unselected tile: just it
    assert view.selected_ids() == ["5"]
    below_last = view.visualRect(model.index(7)).bottomRight() + QPoint(5, 40)
    assert right_click(below_last) == []


def test_scrolling_to_the_end_requests_the_next_page(qtbot, view: ResultsView, model: ResultsModel) -> None:
    model.set_results([hit(str(i)) for i in range(60)], found=500, image_field=None, scored=True)
    with qtbot.waitSignal(model.moreRequested, timeout=WAIT_MS) as asked:
        view.scrollToBottom()
    assert asked.args == [2]


def test_ten_thousand_rows_only_visible_thumbnails_load(qtbot, view: ResultsView, tmp_path: Path) -> None:
    model = view.model()
    source = write_photo(tmp_path / "source.jpg", size=(320, 240), seed=5)
    folder = tmp_path / "many"
    folder.mkdir()
    hits = []
    for i in range(10_000):
        # Distinct files (hard links are cheap) so every row needs its own thumbnail.
        path = folder / f"IMG_{i:05d}.jpg"
        os.link(source, path)
        hits.append(hit(f"doc{i}", path, distance=i / 10_000))
    model.set_results(hits, found=10_000, image_field=None, scored=True)
    assert model.rowCount() == 10_000
    qtbot.waitUntil(lambda: view.visualRect(model.index(9_999)).isValid(), timeout=WAIT_MS)  # batched layout

    for row in (0, 2_500, 5_000, 7_777, 9_999):
        view.scrollTo(model.index(row), view.ScrollHint.PositionAtCenter)
        visible = view.visible_rows()
        assert row in visible
        qtbot.waitUntil(
            lambda v=visible: all(model.data(model.index(r), ThumbnailStateRole) == "ready" for r in v),
            timeout=WAIT_MS,
        )
    assert model.data(model.index(9_999)) == "IMG_09999.jpg"
    requested = model.loader.stats["requested"]
    assert 0 < requested < 500, requested  # a few screenfuls, not 10,000 decodes
    qtbot.waitUntil(model.loader.is_idle, timeout=WAIT_MS)


def test_delegate_paints_thumbnail_and_placeholders(qtbot, view: ResultsView, tmp_path: Path) -> None:
    model = view.model()
    photo = tmp_path / "red.png"
    Image.new("RGB", (400, 300), (220, 30, 30)).save(photo)
    model.set_results(
        [hit("1", photo, distance=0.1), hit("2", name="x.jpg", distance=0.2)],
        found=2,
        image_field="image",
        scored=True,
    )
    qtbot.waitUntil(lambda: model.data(model.index(0), ThumbnailStateRole) == "ready", timeout=WAIT_MS)
    view.viewport().repaint()
    shot: QImage = view.viewport().grab().toImage()
    tile = view.visualRect(model.index(0))
    centre = shot.pixelColor(tile.center().x(), tile.top() + 8 + 80)
    assert centre.red() > 150 and centre.green() < 100  # the red circle, drawn inside the tile


def test_heavy_painting_and_signalling_do_not_abort_the_interpreter(qtbot) -> None:
    """PySide6 6.12 on Python < 3.12 drops a reference to None per void call and to True per emit;
    importing app.gui protects them. Without that, this loop aborts the test run with none_dealloc."""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtGui import QColor, QPainter

    class Emitter(QObject):
        ping = Signal(str)

    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    emitter = Emitter()
    for _ in range(50_000):
        painter.setPen(QColor(10, 20, 30))
        emitter.ping.emit("k")
    painter.end()
    assert sys.getrefcount(None) > 0 and sys.getrefcount(True) > 0
