"""The filter bar: folder (with subfolders), file type and "taken" date range narrow the library listing and
every kind of search; its choices come from the engine's facets and follow imports. Real engine, tiny model,
photos imported from two folders (one with a subfolder) of different types and dates."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QDate, Qt

from app.gui.filter_bar import day_range_seconds, is_within, quote, short_path
from app.shapes import draw_shape, encode_image

from .conftest import SEARCH_WAIT_MS, import_and_wait, requires_tiny_model, result_names
from .test_main_window import row_of, select_rows, wait_for_query

BEACH_TAKEN = datetime(2021, 6, 15, 12, 0, 0)
ROSES_TAKEN = datetime(2022, 5, 1, 12, 0, 0)
GARDEN_SAVED = datetime(2023, 3, 10, 12, 0, 0)
ALL_PHOTOS = 8


def _exif_jpeg(path: Path, taken: datetime, colour: str, shape: str, seed: int) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = taken.strftime("%Y:%m:%d %H:%M:%S")
    draw_shape(colour, shape, size=96, seed=seed).save(path, "JPEG", exif=exif)


@pytest.fixture
def albums(tmp_path: Path) -> Path:
    """beach/: 3 blue squares (JPEG, camera date 2021); my garden/: 3 red circles (PNG, no camera date,
    saved 2023); my garden/roses/: 2 green triangles (JPEG, camera date 2022)."""
    root = tmp_path / "albums"
    beach, garden, roses = root / "beach", root / "my garden", root / "my garden" / "roses"
    for folder in (beach, roses):
        folder.mkdir(parents=True)
    for n in range(3):
        _exif_jpeg(beach / f"blue_square_{n:03}.jpg", BEACH_TAKEN, "blue", "square", n)
        path = garden / f"red_circle_{n:03}.png"
        path.write_bytes(encode_image(draw_shape("red", "circle", size=96, seed=n), "PNG"))
        saved = GARDEN_SAVED.timestamp()
        os.utime(path, (saved, saved))
    for n in range(2):
        _exif_jpeg(roses / f"green_triangle_{n:03}.jpg", ROSES_TAKEN, "green", "triangle", n)
    return root


def open_with_albums(make_window, qtbot, albums: Path):
    window = make_window()
    assert not window.filter_bar.isVisible()  # nothing to filter in an empty library
    import_and_wait(qtbot, window, [albums])
    qtbot.waitUntil(lambda: window.results_model.rowCount() == ALL_PHOTOS, timeout=SEARCH_WAIT_MS)
    # Folder choices: all + beach, my garden, roses.
    qtbot.waitUntil(lambda: window.filter_bar.folder_combo.count() == 4, timeout=SEARCH_WAIT_MS)
    assert window.filter_bar.isVisible()
    return window


def choose(qtbot, window, combo, data: str | None) -> None:
    index = combo.findData(data)
    assert index >= 0, [combo.itemText(i) for i in range(combo.count())]
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        combo.setCurrentIndex(index)


def shown_names(window) -> list[str]:
    return sorted(result_names(window))


@requires_tiny_model
def test_choices_list_folders_types_and_counts(make_window, qtbot, albums: Path) -> None:
    window = open_with_albums(make_window, qtbot, albums)
    bar = window.filter_bar
    folders = [bar.folder_combo.itemData(i) for i in range(1, 4)]
    assert folders == [str(albums / "beach"), str(albums / "my garden"), str(albums / "my garden" / "roses")]
    texts = [bar.folder_combo.itemText(i) for i in range(4)]
    assert texts[0] == "All folders"
    # A folder's count takes in its subfolders: choosing it shows them too.
    assert texts[1].endswith("beach  (3)") and texts[2].endswith("my garden  (5)")
    assert texts[3].endswith("roses  (2)")
    assert bar.folder_combo.itemData(2, Qt.ItemDataRole.ToolTipRole) == str(albums / "my garden")
    types = [bar.type_combo.itemText(i) for i in range(bar.type_combo.count())]
    assert types == ["All types", "JPG  (5)", "PNG  (3)"]
    # Unticked, the date range spans the library: first camera date to the last saved day.
    assert bar.date_from.date() == QDate(2021, 6, 15) and bar.date_to.date() == QDate(2023, 3, 10)
    assert not bar.date_from.isEnabled() and not bar.clear_button.isVisible()
    assert bar.filter_by() == ""


@requires_tiny_model
def test_folder_filter_narrows_the_library_and_searches(make_window, qtbot, albums: Path) -> None:
    window = open_with_albums(make_window, qtbot, albums)
    bar = window.filter_bar

    choose(qtbot, window, bar.folder_combo, str(albums / "my garden"))
    assert shown_names(window) == [
        "green_triangle_000.jpg", "green_triangle_001.jpg",
        "red_circle_000.png", "red_circle_001.png", "red_circle_002.png",
    ]  # fmt: skip
    assert bar.clear_button.isVisible()
    assert window.search.filter_by == bar.filter_by()
    assert "`" in bar.filter_by()  # the folder has a space: backquoted

    choose(qtbot, window, bar.folder_combo, str(albums / "beach"))
    assert shown_names(window) == ["blue_square_000.jpg", "blue_square_001.jpg", "blue_square_002.jpg"]

    # A text search only looks in the chosen folder: no red circle is there, so the squares come back.
    window.search.submit_text("a red circle")
    wait_for_query(qtbot, window, lambda q: q.text == "a red circle")
    assert shown_names(window) == ["blue_square_000.jpg", "blue_square_001.jpg", "blue_square_002.jpg"]
    assert window.search_status.text().endswith("3 found")

    # Without the filter the same search ranks the red circles first, over every photo.
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        bar.clear_button.click()
    assert window.results_model.rowCount() == ALL_PHOTOS
    assert result_names(window)[0].startswith("red_circle")
    assert not bar.clear_button.isVisible() and window.search.filter_by == ""


@requires_tiny_model
def test_type_and_date_filters_combine_and_clear(make_window, qtbot, albums: Path) -> None:
    window = open_with_albums(make_window, qtbot, albums)
    bar = window.filter_bar

    choose(qtbot, window, bar.type_combo, "png")
    assert shown_names(window) == ["red_circle_000.png", "red_circle_001.png", "red_circle_002.png"]
    choose(qtbot, window, bar.type_combo, "jpg")
    assert len(shown_names(window)) == 5

    # Ticking "Taken" starts from the library's whole span: nothing drops out yet.
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        bar.date_check.setChecked(True)
    assert bar.date_from.isEnabled() and len(shown_names(window)) == 5
    # 2022 only: the roses (camera date), not the beach (2021).
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        bar.date_from.setDate(QDate(2022, 1, 1))
        bar.date_to.setDate(QDate(2022, 12, 31))
    assert shown_names(window) == ["green_triangle_000.jpg", "green_triangle_001.jpg"]
    # Whole days, inclusive: a range of just the day the roses were taken keeps them.
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        bar.date_from.setDate(QDate(2022, 5, 1))
        bar.date_to.setDate(QDate(2022, 5, 1))
    assert len(shown_names(window)) == 2
    # The garden PNGs have no camera date: their saved date (2023) counts, and they are PNG.
    choose(qtbot, window, bar.type_combo, None)
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        bar.date_from.setDate(QDate(2023, 3, 10))
        bar.date_to.setDate(QDate(2023, 3, 10))
    assert shown_names(window) == ["red_circle_000.png", "red_circle_001.png", "red_circle_002.png"]

    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        bar.clear_button.click()
    assert window.results_model.rowCount() == ALL_PHOTOS
    assert not bar.date_check.isChecked() and bar.type_combo.currentIndex() == 0


@requires_tiny_model
def test_find_similar_keeps_to_the_filter(make_window, qtbot, albums: Path) -> None:
    window = open_with_albums(make_window, qtbot, albums)
    bar = window.filter_bar
    select_rows(window, [row_of(window, "red_circle_000")])
    window.photo_actions.find_similar.trigger()
    wait_for_query(qtbot, window, lambda q: q.similar_to is not None)
    assert window.results_model.rowCount() == ALL_PHOTOS - 1
    choose(qtbot, window, bar.type_combo, "jpg")
    assert window.search.query.similar_to is not None
    assert all(name.endswith(".jpg") for name in result_names(window)) and len(result_names(window)) == 5


@requires_tiny_model
def test_choices_follow_imports_and_the_filter_stays(
    make_window, qtbot, albums: Path, tmp_path: Path
) -> None:
    window = open_with_albums(make_window, qtbot, albums)
    bar = window.filter_bar
    choose(qtbot, window, bar.folder_combo, str(albums / "beach"))
    mountains = tmp_path / "mountains"
    mountains.mkdir()
    (mountains / "yellow_star_000.bmp").write_bytes(
        encode_image(draw_shape("yellow", "star", size=96, seed=0), "BMP")
    )
    with qtbot.waitSignal(window.importFinished, timeout=SEARCH_WAIT_MS * 3):
        window.import_paths([str(mountains)])
    qtbot.waitUntil(lambda: bar.folder_combo.findData(str(mountains)) > 0, timeout=SEARCH_WAIT_MS)
    assert bar.type_combo.findData("bmp") > 0
    assert bar.folder() == str(albums / "beach")
    assert shown_names(window) == ["blue_square_000.jpg", "blue_square_001.jpg", "blue_square_002.jpg"]


@requires_tiny_model
def test_switching_collections_drops_the_filter_and_reloads_the_choices(
    make_window, qtbot, albums: Path
) -> None:
    window = open_with_albums(make_window, qtbot, albums)
    bar = window.filter_bar
    choose(qtbot, window, bar.type_combo, "png")
    dialog = window.new_collection()
    dialog.name_edit.setText("Empty")
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        dialog.accept()
    qtbot.waitUntil(lambda: window.search.collection_name == "Empty", timeout=SEARCH_WAIT_MS)
    assert window.search.filter_by == "" and bar.filter_by() == ""
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=SEARCH_WAIT_MS)  # nothing to filter there

    window.collections_list.setCurrentRow(1)  # back to "Photos"
    qtbot.waitUntil(lambda: window.results_model.rowCount() == ALL_PHOTOS, timeout=SEARCH_WAIT_MS)
    qtbot.waitUntil(lambda: bar.isVisible() and bar.type_combo.count() == 3, timeout=SEARCH_WAIT_MS)
    assert bar.type_combo.currentIndex() == 0 and not bar.clear_button.isVisible()


def test_filter_text_helpers() -> None:
    assert quote("jpg") == "jpg" and quote("/a b/c,d") == "`/a b/c,d`"
    assert is_within("/p/a/b", "/p/a") and is_within("/p/a", "/p/a") and not is_within("/p/ab", "/p/a")
    assert is_within("C:\\p\\a\\b", "C:\\p\\a") and is_within("/x", "/")
    assert short_path("/home/u/Pictures/Trip", home="/home/u") == "~/Pictures/Trip"
    assert short_path("/home/u", home="/home/u") == "~"
    long = "/mnt/photos/archive/by-year/2021/summer/holiday in the south"
    assert short_path(long, home="/home/u") == "…/summer/holiday in the south"
    start, end = day_range_seconds(QDate(2022, 5, 2), QDate(2022, 5, 1))
    assert start == int(datetime(2022, 5, 1).timestamp())
    assert end == int(datetime(2022, 5, 3).timestamp()) - 1


def _luminance(colour) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.red()) + 0.7152 * channel(colour.green()) + 0.0722 * channel(colour.blue())


def _contrast(a, b) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_the_taken_box_stands_out_in_light_and_dark_palettes(qtbot, scheme: str) -> None:
    # In the dark palette Fusion framed the box in almost the colour around it: "Taken" seemed a label.
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QStyle, QStyleOptionButton

    from app.gui.app import dark_palette
    from app.gui.filter_bar import FilterBar

    bar = FilterBar()
    qtbot.addWidget(bar)
    bar.setPalette(dark_palette() if scheme == "dark" else QPalette(QColor("#efeff1")))
    bar.setAutoFillBackground(True)
    bar.resize(700, 40)
    bar.show()
    qtbot.waitExposed(bar)
    check = bar.date_check
    option = QStyleOptionButton()
    check.initStyleOption(option)
    box = check.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, check)
    image = bar.grab().toImage()
    origin = check.mapTo(bar, box.topLeft())
    background = image.pixelColor(origin.x() - 3, origin.y() + box.height() // 2)
    frame = [image.pixelColor(origin.x(), origin.y() + y) for y in range(2, box.height() - 2)]
    # WCAG's 3:1 for the parts of a control that say what it is.
    assert min(_contrast(pixel, background) for pixel in frame) >= 3.0, (scheme, background.name())
