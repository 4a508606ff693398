"""Keyboard first: from the search field into the grid and around it, back with Ctrl+F or /, no ambiguous
shortcuts, Help › Keyboard Shortcuts generated from the actions, a failed system viewer that says why,
and a grid whose rows fill its width."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from app.gui import photo_actions as photo_actions_module
from app.gui.results_model import ResultsModel
from app.gui.results_view import ResultsView
from app.gui.shortcuts_dialog import ShortcutsDialog, keys_text
from app.shapes import write_shape_folder

from .conftest import import_and_wait, requires_tiny_model


@pytest.fixture
def photos_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    write_shape_folder(folder, per_class=3, colours=("red", "blue"), shapes=("circle", "square"), size=96)
    return folder


def focused():
    return QApplication.focusWidget()


@requires_tiny_model
def test_down_from_the_search_field_enters_the_grid_and_keys_move_in_it(
    make_window, qtbot, photos_dir: Path
) -> None:
    window = make_window()
    window.resize(1000, 560)
    import_and_wait(qtbot, window, [photos_dir])
    view, count = window.results_view, window.results_model.rowCount()
    window.search_field.setFocus()
    qtbot.keyClick(window.search_field, Qt.Key.Key_Down)
    assert focused() is view
    assert view.currentIndex().row() == 0 and len(view.selected_ids()) == 1

    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == 1
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.currentIndex().row() == count - 1
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.currentIndex().row() == 0
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.currentIndex().row() > 1
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.currentIndex().row() == 0
    top = view.visualRect(window.results_model.index(0)).top()
    columns = sum(view.visualRect(window.results_model.index(r)).top() == top for r in range(count))
    assert columns > 1
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == columns  # a row down, not the next photo
    assert view.selected_ids() == [window.results_model.doc_id(view.currentIndex().row())]


@requires_tiny_model
def test_ctrl_f_and_slash_go_back_to_the_search_field_from_the_grid_and_the_viewer(
    make_window, qtbot, photos_dir: Path
) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [photos_dir])
    view, field = window.results_view, window.search_field
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert focused() is field

    qtbot.keyClick(field, Qt.Key.Key_Down)
    with qtbot.waitSignal(window.viewer.photoShown, timeout=30_000):
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert window.viewer.is_open()
    qtbot.keyClick(focused(), Qt.Key.Key_Slash)
    assert focused() is field and not window.viewer.is_open() and field.text() == ""

    # Typing in a text field, "/" is a character.
    qtbot.keyClicks(field, "a/b")
    assert field.text() == "a/b" and focused() is field


@requires_tiny_model
def test_every_shortcut_is_unambiguous_and_the_usual_ones_are_there(make_window) -> None:
    window = make_window()
    owners: dict[str, list[str]] = defaultdict(list)
    for action in window.findChildren(QAction):
        for sequence in action.shortcuts():
            owners[sequence.toString(QKeySequence.SequenceFormat.PortableText)].append(action.objectName())
    clashes = {keys: names for keys, names in owners.items() if len(set(names)) > 1}
    assert not clashes

    def keys(name: str) -> str:
        action = window.findChild(QAction, name)
        return " ".join(s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts())

    assert keys("focusSearchAction") == "Ctrl+F /"
    assert keys("findSimilarAction") == "Ctrl+Shift+F"
    assert keys("copyPhotoAction") == "Ctrl+C"
    assert keys("copyPathAction") == "Ctrl+Shift+C"
    assert keys("trashPhotosAction") == "Del"
    assert keys("openPhotoAction") == "Ctrl+E"
    assert keys("showInFolderAction") == "Ctrl+Return"
    assert keys("viewPhotoAction").startswith("Return")
    assert keys("importFilesAction") == "Ctrl+O"
    # Keys that mean something in the search field belong to the grid and the viewer alone.
    for name in ("viewPhotoAction", "copyPhotoAction", "trashPhotosAction", "removePhotosAction"):
        action = window.findChild(QAction, name)
        assert action.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut
        assert window.results_view in action.associatedObjects()
        assert window.viewer.page in action.associatedObjects() or name in (
            "viewPhotoAction",
            "removePhotosAction",
        )


@requires_tiny_model
def test_help_keyboard_shortcuts_lists_every_action_with_its_keys(make_window, qtbot) -> None:
    window = make_window()
    window.findChild(QAction, "shortcutsAction").trigger()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    listed = dialog.listed()
    in_menus = [
        action
        for menu_action in window.menuBar().actions()
        for action in menu_action.menu().actions()
        if keys_text(action)
    ]
    assert len(in_menus) >= 15
    for action in in_menus:
        assert (action.text().replace("&", ""), keys_text(action)) in listed
    assert ("Find", "Ctrl+F or /") in listed
    assert ("Move to Trash…", "Del") in listed
    assert ("Next photo", "Right, Space, Page Down") in listed
    assert ("Move between photos", "Arrow keys") in listed


def test_a_failed_open_with_the_system_viewer_says_why(qtbot, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QWidget

    from app.shapes import draw_shape, encode_image

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode_image(draw_shape("red", "circle", size=64), "JPEG"))
    parent = QWidget()
    qtbot.addWidget(parent)
    view = ResultsView(parent)
    model = ResultsModel(parent)
    view.setModel(model)
    actions = photo_actions_module.PhotoActions(view, model, parent)
    messages: list[str] = []
    actions.message.connect(messages.append)
    monkeypatch.setattr(
        photo_actions_module.QDesktopServices,
        "openUrl",
        staticmethod(lambda url: isinstance(url, QUrl) and False),
    )
    model.set_results([{"document": {"id": "1", "name": photo.name, "path": str(photo)}}], found=1)
    view.setCurrentIndex(model.index(0))
    actions.update_enabled()
    actions.open.trigger()
    assert messages and "Could not open “photo.jpg”" in messages[-1]
    assert "no application" in messages[-1] and ".jpg" in messages[-1]
    model.shutdown()


@pytest.mark.parametrize("width", [420, 500, 640, 777, 903, 1234])
def test_the_grid_rows_fill_its_width(qtbot, width: int) -> None:
    model = ResultsModel()
    view = ResultsView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.set_results([{"document": {"id": str(i), "name": f"p{i}.jpg"}} for i in range(60)], found=60)
    view.resize(width, 500)
    view.show()
    qtbot.waitExposed(view)
    view.doItemsLayout()
    rects = [view.visualRect(model.index(i)) for i in range(60)]
    first_row = [r for r in rects if r.top() == rects[0].top()]
    left = first_row[0].left()
    right = view.viewport().width() - 1 - first_row[-1].right()
    tile = first_row[0].width()
    # As many columns as fit, the spare width shared out: no strip on the right, margins alike.
    assert len(first_row) == max(1, (view.viewport().width() - 1) // (tile + view.SPACING))
    assert abs(right - left) <= view.SPACING + len(first_row), (left, right)
    model.shutdown()
