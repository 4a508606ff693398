"""Open and Show in Folder act only on photo files, whatever path a document names."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QUrl
from PySide6.QtWidgets import QWidget

from app.gui import photo_actions as photo_actions_module
from app.gui.photo_actions import PhotoActions
from app.gui.results_model import ResultsModel
from app.gui.results_view import ResultsView
from app.shapes import draw_shape, encode_image


@pytest.fixture
def actions(qtbot, monkeypatch: pytest.MonkeyPatch):
    """PhotoActions over a bare grid; what it would open or reveal is recorded, not done."""
    parent = QWidget()
    qtbot.addWidget(parent)
    view = ResultsView(parent)
    model = ResultsModel(parent)
    view.setModel(model)
    acts = PhotoActions(view, model, parent)
    acts.opened: list[str] = []  # type: ignore[misc]
    acts.revealed: list[str] = []  # type: ignore[misc]
    acts.messages: list[str] = []  # type: ignore[misc]
    acts.message.connect(acts.messages.append)

    def open_url(url: QUrl) -> bool:
        acts.opened.append(url.toLocalFile())
        return True

    monkeypatch.setattr(photo_actions_module.QDesktopServices, "openUrl", staticmethod(open_url))
    monkeypatch.setattr(
        photo_actions_module, "reveal_in_file_manager", lambda p: acts.revealed.append(p) or True
    )

    def show(*paths: Path) -> None:
        hits = [{"document": {"id": str(i), "name": p.name, "path": str(p)}} for i, p in enumerate(paths)]
        model.set_results(hits, found=len(hits))
        selection = view.selectionModel()
        selection.setCurrentIndex(model.index(0), QItemSelectionModel.SelectionFlag.NoUpdate)
        for row in range(len(hits)):
            selection.select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
        acts.update_enabled()  # the window does this on every selection change

    acts.show = show  # type: ignore[attr-defined]
    return acts


@pytest.mark.parametrize(
    ("name", "content", "action", "handed_over"),
    [
        ("run-me.desktop", "[Desktop Entry]\nExec=true\n", "open", "opened"),
        (".bashrc", "alias ll='ls -l'", "show_in_folder", "revealed"),
    ],
)
def test_open_and_show_in_folder_refuse_a_path_that_is_not_a_photo(
    actions, tmp_path: Path, name: str, content: str, action: str, handed_over: str
) -> None:
    not_a_photo = tmp_path / name
    not_a_photo.write_text(content)
    actions.show(not_a_photo)
    getattr(actions, action).trigger()
    assert getattr(actions, handed_over) == []
    assert actions.messages and "not a photo" in actions.messages[-1]


def test_photos_still_open_and_show_beside_refused_paths(actions, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode_image(draw_shape("red", "circle", size=64), "PNG"))
    other = tmp_path / "notes.sh"
    other.write_text("echo hi")
    actions.show(photo, other)
    actions.open.trigger()
    assert actions.opened == [str(photo)]
    assert "not a photo" in actions.messages[-1]
    actions.show(photo)
    actions.show_in_folder.trigger()
    assert actions.revealed == [str(photo)]
