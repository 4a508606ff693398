"""Library › Change Model…: the chooser lists the models with size, speed and languages, switches the
library to a second local model in the background with progress, the window keeps searching meanwhile (on
the old vectors), and the new model takes over at the end."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from second_model import SECOND_DIMS, make_second_model

from app.gui.model_chooser import COLUMNS, ModelChooser
from app.library import model_catalog, model_switch
from app.library.model_catalog import CatalogEntry, register_local
from app.library.model_switch import SwitchProgress

from .conftest import SEARCH_WAIT_MS, import_and_wait, requires_tiny_model, result_names

SWITCH_WAIT_MS = 180_000
TINY = "photoseek/tiny-shapes"

pytestmark = requires_tiny_model


class _SmallChunks(model_switch.ChunkPacer):
    """Four photos a step, so that the switch has many steps and a search lands between two of them."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 4

    def measured(self, files: int, seconds: float) -> None:
        pass


@pytest.fixture
def second_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CatalogEntry:
    monkeypatch.setattr(model_catalog, "_local", [])
    monkeypatch.setattr(model_switch, "ChunkPacer", _SmallChunks)
    config = make_second_model(tmp_path / "second-model")
    entry = CatalogEntry(config, "Test shapes 96-d", "A second small model, made for this test.", None,
                         "English (shapes)", None)  # fmt: skip
    register_local(entry)
    return entry


def open_chooser(qtbot, window) -> ModelChooser:
    window.change_model_action.trigger()
    dialog = window.model_switch.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.list.topLevelItemCount() > 0, timeout=SEARCH_WAIT_MS)
    return dialog


def rows(dialog: ModelChooser) -> dict[str, list[str]]:
    found = {}
    for row in range(dialog.list.topLevelItemCount()):
        item = dialog.list.topLevelItem(row)
        found[item.data(0, Qt.ItemDataRole.UserRole)] = [item.text(c) for c in range(len(COLUMNS))]
    return found


def test_choosing_a_second_model_switches_the_library_while_searches_go_on(
    make_window, qtbot, shapes_dir: Path, second_entry: CatalogEntry
) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    dialog = open_chooser(qtbot, window)

    listed = rows(dialog)
    assert listed[TINY][0].endswith("(current)")
    assert listed["ts/clip-vit-b-p32"][1:] == ["about 605 MB", listed["ts/clip-vit-b-p32"][2], "English"]
    multilingual = listed["openclip/xlm-roberta-base-ViT-B-32/laion5b_s13b_b90k"]
    assert multilingual[1:4:2] == ["about 1.5 GB", "about 100 languages"]
    assert second_entry.name in listed

    dialog.select(second_entry.name)
    qtbot.waitUntil(dialog.switch_button.isEnabled, timeout=SEARCH_WAIT_MS)
    assert "Switching embeds 36 photos again" in dialog.plan_label.text()

    progress: list[SwitchProgress] = []
    searched_while_running: list[bool] = []
    window.search.searchCompleted.connect(
        lambda *_: searched_while_running.append(window.model_switch.running)
    )
    with qtbot.waitSignal(window.model_switch.switchFinished, timeout=SWITCH_WAIT_MS) as finished:
        dialog.switch_button.click()
        request = window.model_switch.request
        assert request is not None and dialog.cancel_button.isVisible()
        request.progress.connect(progress.append)
        qtbot.waitUntil(lambda: any(p.done > 0 for p in progress), timeout=SWITCH_WAIT_MS)
        assert dialog.progress.isVisible() and dialog.progress.value() > 0
        assert "Searches use the current model" in dialog.status.text()
        # A search typed mid-switch is answered, from model A's vectors, between two steps of the switch.
        with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
            window.search.submit_text("red circle")
        assert searched_while_running == [True]
        assert result_names(window)[0].startswith("red_circle")

    summary = finished.args[0]
    assert summary.switched and summary.model == second_entry.name
    qtbot.waitUntil(lambda: "now uses" in dialog.status.text(), timeout=SEARCH_WAIT_MS)
    collection = window.collection("Photos")
    assert collection is not None and collection["num_documents"] == 36
    embedding = next(f for f in collection["fields"] if f["name"] == "embedding")
    assert (embedding["embed"]["model_config"]["model_name"], embedding["num_dim"]) == (
        second_entry.name, SECOND_DIMS,
    )  # fmt: skip
    # The grid asks again with the new model; the chooser now marks it current.
    qtbot.waitUntil(lambda: rows(dialog)[second_entry.name][0].endswith("(current)"), timeout=SEARCH_WAIT_MS)
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        window.search.submit_text("blue square")
    assert result_names(window)[0].startswith("blue_square")
    assert not dialog.switch_button.isEnabled()


def test_photos_a_switch_cannot_take_along_are_listed_and_a_missing_model_is_offered_first(
    make_window, qtbot, shapes_dir: Path, photoseek_dirs: Path, second_entry: CatalogEntry
) -> None:
    from app.engine import Engine
    from app.library import photo_schema
    from app.shapes import draw_shape, encode_image

    image = base64.b64encode(encode_image(draw_shape("red", "star", size=64), "PNG")).decode()
    with Engine(photoseek_dirs) as engine:  # photos added the Typesense way: base64, no stored copy
        engine.collections.create(photo_schema("Photos", TINY))
        engine.collections["Photos"].documents.import_(
            [{"id": "pasted", "name": "Pasted.png", "path": "", "image": image}]
        )
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    dialog = open_chooser(qtbot, window)

    stronger = "openclip/ViT-B-16/laion2b_s34b_b88k"
    dialog.select(stronger)
    qtbot.waitUntil(lambda: "cannot be embedded again" in dialog.plan_label.text(), timeout=SEARCH_WAIT_MS)
    assert "Not on this computer yet" in dialog.details.text()
    assert [dialog.cannot_list.item(r).text() for r in range(dialog.cannot_list.count())] == [
        "Pasted.png — its image was not kept (added with `store: false`) and it has no file to read it "
        "from again"
    ]
    assert not dialog.switch_button.isEnabled()  # not without the user's agreement
    dialog.remove_box.setChecked(True)
    assert dialog.switch_button.isEnabled()

    dialog.switch_button.click()  # the weights are not here: the download offer comes first
    qtbot.waitUntil(lambda: window.model.dialog is not None and window.model.dialog.isVisible())
    assert window.model.dialog.model_name == stronger
    window.model.dialog.reject()
    qtbot.waitUntil(lambda: "keeps its model" in dialog.status.text())
    assert not window.model_switch.running
    collection = window.collection("Photos")
    assert collection is not None and collection["num_documents"] == 37
