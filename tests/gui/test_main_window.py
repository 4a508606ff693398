"""The main window as a user drives it: drop a folder, type, find similar, paste an image, cancel an
import, remove photos, manage collections. Real engine and tiny model; only dialogs' answers are scripted."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QLineEdit, QListWidget, QMessageBox, QProgressBar, QStatusBar

from app.gui.collection_dialog import CollectionDialog
from app.gui.import_panel import ImportSummaryDialog
from app.gui.main_window import EMPTY_LIBRARY_TEXT
from app.gui.model_dialog import ModelDialog
from app.gui.results_view import ResultsView
from app.gui.settings import Settings
from app.library import ImportProgress, ImportStarted, photo_schema
from app.shapes import draw_shape, encode_image, write_shape_folder

from .conftest import (
    IMPORT_WAIT_MS,
    SEARCH_WAIT_MS,
    drop_paths,
    import_and_wait,
    requires_tiny_model,
    result_names,
)

SHAPES_IN_FOLDER = 36  # shapes_dir: 4 colours x 3 shapes x 3


def row_of(window, name_prefix: str) -> int:
    return next(i for i, name in enumerate(result_names(window)) if name.startswith(name_prefix))


def select_rows(window, rows: list[int]) -> None:
    view = window.results_view
    view.setCurrentIndex(window.results_model.index(rows[0]))
    for row in rows:
        view.selectionModel().select(
            window.results_model.index(row), QItemSelectionModel.SelectionFlag.Select
        )


def wait_for_query(qtbot, window, check) -> None:
    """Wait until the grid shows the first page of a search matching ``check(query)``."""
    qtbot.waitUntil(
        lambda: window.search.query is not None and check(window.search.query), timeout=SEARCH_WAIT_MS
    )
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS, check_params_cb=check):
        pass


def test_empty_window_invites_a_drop_and_has_named_parts(make_window) -> None:
    window = make_window()
    assert isinstance(window.findChild(QLineEdit, "searchField"), QLineEdit)
    assert isinstance(window.findChild(ResultsView, "resultsView"), ResultsView)
    assert isinstance(window.findChild(QListWidget, "collectionsList"), QListWidget)
    assert isinstance(window.findChild(QProgressBar, "importProgress"), QProgressBar)
    assert isinstance(window.findChild(QStatusBar, "statusBar"), QStatusBar)
    assert isinstance(window.findChild(QAction, "findSimilarAction"), QAction)
    assert window.results_view.emptyText() == EMPTY_LIBRARY_TEXT
    assert window.collections_list.count() == 0
    assert not window.findChild(QProgressBar, "importProgress").isVisible()


@requires_tiny_model
def test_dropping_a_folder_imports_it_into_a_new_photos_collection(
    make_window, qtbot, shapes_dir: Path
) -> None:
    window = make_window()
    summary = import_and_wait(qtbot, window, [shapes_dir])

    assert summary.imported == SHAPES_IN_FOLDER and not summary.problems
    assert [window.collections_list.item(i).text() for i in range(window.collections_list.count())] == [
        "Photos"
    ]
    assert window.results_model.rowCount() == SHAPES_IN_FOLDER
    doc = window.results_model.document(0)
    assert Path(doc["path"]).is_absolute() and Path(doc["path"]).parent == shapes_dir
    assert doc["name"] == Path(doc["path"]).name
    assert "image" not in doc  # store: false by default
    assert "36 photos" in window.library_status.text()

    again = import_and_wait(qtbot, window, [shapes_dir])
    assert again.imported == 0 and again.unchanged == SHAPES_IN_FOLDER
    window.search.refresh()
    qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS).wait()
    assert window.results_model.rowCount() == SHAPES_IN_FOLDER  # no duplicates


@requires_tiny_model
def test_typing_a_description_ranks_matching_photos_first(make_window, qtbot, shapes_dir: Path) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    qtbot.keyClicks(window.search_field, "a red circle")  # no Enter: the debounce runs it
    wait_for_query(qtbot, window, lambda q: q.text == "a red circle")

    top = result_names(window)[:2]
    assert all(name.startswith("red_circle") for name in top), result_names(window)[:5]
    assert window.search_status.text().startswith("Search:")

    qtbot.keyClick(window.search_field, Qt.Key.Key_Escape)
    wait_for_query(qtbot, window, lambda q: q.is_library)
    assert window.search_field.text() == ""
    assert window.results_model.rowCount() == SHAPES_IN_FOLDER


@requires_tiny_model
def test_find_similar_on_a_selected_photo(make_window, qtbot, shapes_dir: Path) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    chosen_row = row_of(window, "blue_square")
    chosen_id = window.results_model.doc_id(chosen_row)
    select_rows(window, [chosen_row])

    window.findChild(QAction, "findSimilarAction").trigger()
    wait_for_query(qtbot, window, lambda q: q.similar_to == chosen_id)

    ids = [window.results_model.doc_id(r) for r in range(window.results_model.rowCount())]
    assert chosen_id not in ids  # Typesense leaves the query document out
    assert result_names(window)[0].startswith("blue_square"), result_names(window)[:3]


@requires_tiny_model
def test_pasting_an_image_searches_by_it_and_shows_a_chip(make_window, qtbot, shapes_dir: Path) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    QGuiApplication.clipboard().setImage(
        QImage.fromData(encode_image(draw_shape("green", "triangle", seed=77), "PNG"))
    )

    window.findChild(QAction, "pasteImageAction").trigger()
    wait_for_query(qtbot, window, lambda q: q.image_base64 is not None)

    assert window.search_field.image_label == "Pasted image"
    assert result_names(window)[0].startswith("green_triangle"), result_names(window)[:3]
    window.search_field._chip.remove_button.click()
    wait_for_query(qtbot, window, lambda q: q.is_library)
    assert window.search_field.image_label is None


@requires_tiny_model
def test_ctrl_v_in_the_search_field_pastes_an_image_file(
    make_window, qtbot, shapes_dir: Path, tmp_path
) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    query_file = tmp_path / "query.jpg"
    query_file.write_bytes(encode_image(draw_shape("yellow", "square", seed=91), "JPEG"))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(query_file))])
    QGuiApplication.clipboard().setMimeData(mime)

    window.search_field.setFocus()
    qtbot.keyClick(window.search_field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    wait_for_query(qtbot, window, lambda q: q.image_label == "query.jpg")
    assert result_names(window)[0].startswith("yellow_square"), result_names(window)[:3]


@requires_tiny_model
def test_an_image_dropped_on_the_search_field_or_chosen_in_the_menu_is_searched_by(
    make_window, qtbot, shapes_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    query_file = tmp_path / "blue_query.png"
    query_file.write_bytes(encode_image(draw_shape("blue", "circle", seed=55), "PNG"))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(query_file))])
    field = window.search_field
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)  # fmt: skip
    field.dropEvent(drop)
    wait_for_query(qtbot, window, lambda q: q.image_label == "blue_query.png")
    assert field.image_label == "blue_query.png"
    assert result_names(window)[0].startswith("blue_circle"), result_names(window)[:3]

    other = tmp_path / "yellow_query.jpg"
    other.write_bytes(encode_image(draw_shape("yellow", "triangle", seed=56), "JPEG"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(other), ""))
    window.findChild(QAction, "searchByImageAction").trigger()
    wait_for_query(qtbot, window, lambda q: q.image_label == "yellow_query.jpg")
    assert result_names(window)[0].startswith("yellow_triangle"), result_names(window)[:3]


@requires_tiny_model
def test_cancelling_an_import_keeps_what_was_imported(make_window, qtbot, tmp_path: Path) -> None:
    files = write_shape_folder(tmp_path / "many", per_class=4, size=64)  # 192 files
    window = make_window()
    panel = window.import_panel

    def cancel_once_started(progress: object) -> None:
        if isinstance(progress, ImportProgress) and progress.done and panel.cancel_button.isEnabled():
            panel.cancel_button.click()

    with qtbot.waitSignal(window.importFinished, timeout=IMPORT_WAIT_MS) as finished:
        window.import_paths([str(tmp_path / "many")]).progress.connect(cancel_once_started)
    summary = finished.args[0]

    assert summary.cancelled and 0 < summary.imported < len(files)
    assert "cancelled" in panel.title.text()
    window.search.refresh()
    qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS).wait()
    assert window.results_model.rowCount() == summary.imported
    assert f"{summary.imported:,} photos" in window.library_status.text()


@requires_tiny_model
def test_the_window_stays_responsive_and_searchable_during_an_import(
    make_window, qtbot, tmp_path: Path
) -> None:
    write_shape_folder(tmp_path / "many", per_class=4, size=64)
    window = make_window()
    ticks: list[int] = []
    ticker = QTimer()
    ticker.setInterval(10)
    ticker.timeout.connect(lambda: ticks.append(len(progress)))
    progress: list[int] = []
    searched_while_importing: list[bool] = []
    window.resultsShown.connect(
        lambda q: searched_while_importing.append(window.imports.busy) if q.text else None
    )

    def on_progress(report: object) -> None:
        if isinstance(report, ImportStarted):
            qtbot.keyClicks(window.search_field, "a red star")
            qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
        elif isinstance(report, ImportProgress):
            progress.append(report.done)

    ticker.start()
    with qtbot.waitSignal(window.importFinished, timeout=IMPORT_WAIT_MS):
        window.import_paths([str(tmp_path / "many")]).progress.connect(on_progress)
    ticker.stop()

    # The timer fired between progress reports, i.e. while the engine thread was busy importing.
    in_between = {count for count in ticks if 0 < count < len(progress)}
    assert len(in_between) >= 2, (len(ticks), len(progress))
    assert searched_while_importing and searched_while_importing[0]


@requires_tiny_model
def test_delete_removes_selected_photos_after_confirmation(
    make_window, qtbot, shapes_dir: Path, monkeypatch
) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    select_rows(window, [0, 1])
    doomed = {window.results_model.doc_id(0), window.results_model.doc_id(1)}

    sent: list[str] = []
    window.bridge.requestSent.connect(lambda request: sent.append(request.method))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    window.results_view.setFocus()
    qtbot.keyClick(window.results_view, Qt.Key.Key_Delete)
    assert "remove_documents" not in sent  # the answer is given synchronously: nothing was asked
    assert window.results_model.rowCount() == SHAPES_IN_FOLDER

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.bridge.documentsRemoved, timeout=SEARCH_WAIT_MS):
        window.photo_actions.remove.trigger()
    remaining = {window.results_model.doc_id(r) for r in range(window.results_model.rowCount())}
    assert len(remaining) == SHAPES_IN_FOLDER - 2 and not doomed & remaining
    qtbot.waitUntil(lambda: "34 photos" in window.library_status.text(), timeout=SEARCH_WAIT_MS)


@requires_tiny_model
def test_broken_and_unsupported_files_are_listed_in_the_summary(make_window, qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_shape_folder(folder, per_class=1, colours=("red",), shapes=("circle",))
    (folder / "readme.txt").write_text("hello")
    (folder / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    window = make_window()
    summary = import_and_wait(qtbot, window, [folder])

    assert summary.imported == 1
    assert {Path(p.path).name for p in summary.problems} == {"readme.txt", "damaged.png"}
    assert window.import_panel.details_button.isVisible()
    window.import_panel.details_button.click()
    dialog = window.findChild(ImportSummaryDialog)
    assert dialog is not None and dialog.tree.topLevelItemCount() == 2
    dialog.close()


def test_creating_and_deleting_collections(make_window, qtbot, monkeypatch) -> None:
    window = make_window()
    dialog = window.new_collection()
    dialog.name_edit.setText("Holidays")
    dialog.keep_copies.setChecked(True)
    dialog.embed_name.setChecked(True)
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        dialog.accept()
    assert window.current_collection() == "Holidays"
    schema = window._collections["Holidays"]
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["image"]["store"] is True
    assert fields["embedding"]["embed"]["from"] == ["name", "image"]

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        window.delete_collection()
    assert window.collections_list.count() == 0


def test_collection_dialog_refuses_duplicate_and_empty_names(qtbot) -> None:
    dialog = CollectionDialog({"Photos"})
    qtbot.addWidget(dialog)
    ok = dialog.buttons.buttons()[0]
    assert not ok.isEnabled()
    dialog.name_edit.setText("photos")
    assert not ok.isEnabled() and "already" in dialog.problem.text()
    dialog.name_edit.setText("Trips")
    assert ok.isEnabled()
    assert dialog.schema() == photo_schema("Trips", "photoseek/tiny-shapes")


def test_window_geometry_and_last_collection_persist(make_window, qtbot, photoseek_dirs: Path) -> None:
    window = make_window()
    for name in ("First", "Second"):
        with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
            window.bridge.call("create_collection", photo_schema(name, "photoseek/tiny-shapes"))
    window.collections_list.setCurrentRow(1)
    assert window.current_collection() == "Second"
    window.resize(700, 500)
    window.commands.zoom(+1)
    zoomed = window.results_view.thumbnailSize()
    window.close()
    assert Settings().last_collection == "Second"

    reopened = make_window()
    assert reopened.current_collection() == "Second"
    assert (reopened.width(), reopened.height()) == (700, 500)
    assert reopened.results_view.thumbnailSize() == zoomed


def test_a_model_without_weights_opens_the_download_dialog(make_window, qtbot, shapes_dir: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        window.bridge.call("create_collection", photo_schema("Clip", "ts/clip-vit-b-p32"))
    drop_paths(window, [shapes_dir])
    qtbot.waitUntil(lambda: window.findChild(ModelDialog) is not None, timeout=IMPORT_WAIT_MS)
    dialog = window.findChild(ModelDialog)
    assert dialog.model_name == "ts/clip-vit-b-p32"
    # Offered before the import (the library has no photos yet); the import then finds it missing too.
    qtbot.waitUntil(lambda: "not downloaded" in window.model_status.text(), timeout=IMPORT_WAIT_MS)
    dialog.reject()


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_palette_follows_the_requested_scheme(qtbot, monkeypatch, scheme: str) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from app.gui.app import apply_palette

    monkeypatch.setenv("PHOTOSEEK_COLOR_SCHEME", scheme)
    app = QApplication.instance()
    original = app.palette()
    try:
        apply_palette(app)
        lightness = app.palette().color(QPalette.ColorRole.Window).lightness()
        assert (lightness < 128) == (scheme == "dark")
    finally:
        app.setPalette(original)
