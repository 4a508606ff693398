"""Where the model runs, in the window: the status bar and About say it once the model is loaded; Library ›
Run the Model On switches it (the model loads again on the new path), and the choice is kept in the
settings; PHOTOSEEK_DEVICE or --device decide instead when given, and the menu says so. Real library, tiny
model. conftest sets PHOTOSEEK_DEVICE=cpu:fp32; tests that use the menu remove it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import compute
from app.engine.embedder import clear_embedder_cache
from app.gui.settings import Settings
from app.library import photo_schema

from .conftest import ENGINE_WAIT_MS, SEARCH_WAIT_MS, import_and_wait, requires_tiny_model, result_names

TINY = "photoseek/tiny-shapes"
ASKED_FOR_FP32 = "CPU, float32 (set by PHOTOSEEK_DEVICE, --device or the settings)"


@pytest.fixture
def compute_reset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process-wide request and the loaded models put back after the test (before this fixture is torn
    down, the windows are closed: list it before make_window)."""
    yield
    compute.use_request(None)
    clear_embedder_cache()


@pytest.fixture
def no_device_env(monkeypatch: pytest.MonkeyPatch, compute_reset: None) -> None:
    monkeypatch.delenv(compute.DEVICE_ENV, raising=False)


def about_text(window, monkeypatch: pytest.MonkeyPatch) -> str:
    box = window.commands.show_about()
    text = box.text()
    box.close()
    return text


def wait_ready_on(qtbot, window, runs_on: str) -> None:
    qtbot.waitUntil(lambda: f"ready · {runs_on}" in window.model_status.text(), timeout=ENGINE_WAIT_MS)


@requires_tiny_model
def test_the_status_bar_and_about_say_where_the_model_runs_and_the_environment_decides(
    compute_reset: None, make_window, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    assert "Runs on: not loaded yet" in about_text(window, monkeypatch)
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        window.bridge.call("create_collection", photo_schema("Photos", TINY))

    wait_ready_on(qtbot, window, "CPU, float32")  # the window warms the new collection's model up
    assert window.model_status.text() == "Model: Tiny shapes – ready · CPU, float32"
    assert window.model_status.toolTip() == f"Runs on {ASKED_FOR_FP32}"
    assert f"Runs on: {ASKED_FOR_FP32}" in about_text(window, monkeypatch)

    # conftest's PHOTOSEEK_DEVICE decides for this run: the menu says so and offers nothing to choose.
    menu = window.compute_menu
    assert menu.note.isVisible() and menu.note.text() == "Set by PHOTOSEEK_DEVICE=cpu:fp32 for this session"
    assert all(not action.isEnabled() for action in menu.actions.values())
    assert menu.actions["cpu:fp32"].isChecked()
    assert "PHOTOSEEK_DEVICE" in menu.menu.menuAction().toolTip()


@requires_tiny_model
def test_choosing_int8_reloads_the_model_there_and_is_remembered(
    no_device_env: None, make_window, qtbot, shapes_dir: Path
) -> None:
    saved = Settings()
    saved.compute_device = "cpu:fp32"  # a saved choice is applied at start (and no measuring in tests)
    saved.save()
    window = make_window()
    menu = window.compute_menu
    assert not menu.note.isVisible() and menu.actions["cpu:fp32"].isChecked()
    assert menu.actions["cpu:int8"].isEnabled() and menu.actions["auto"].isVisible()
    import_and_wait(qtbot, window, [shapes_dir])
    wait_ready_on(qtbot, window, "CPU, float32")

    states: list[str] = []
    window.bridge.modelStateChanged.connect(lambda state, _m, on, _d: states.append(f"{state} {on}"))
    ready = lambda state, *_: state == "ready"  # noqa: E731
    with qtbot.waitSignal(window.bridge.modelStateChanged, timeout=ENGINE_WAIT_MS, check_params_cb=ready):
        menu.actions["cpu:int8"].trigger()
    assert states == ["idle ", "loading ", "ready CPU, int8"]  # the status bar said "loading…" meanwhile
    assert window.model_status.text() == "Model: Tiny shapes – ready · CPU, int8"
    assert menu.actions["cpu:int8"].isChecked() and menu.current == "cpu:int8"
    assert Settings().compute_device == "cpu:int8"

    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        window.search.submit_text("red circle")
    assert result_names(window)[0].startswith("red_circle")
    window.close()

    # A new start (nothing in effect yet) takes the saved choice.
    compute.use_request(None)
    clear_embedder_cache()
    reopened = make_window()
    assert reopened.compute_menu.actions["cpu:int8"].isChecked()
    wait_ready_on(qtbot, reopened, "CPU, int8")


def test_a_refused_choice_keeps_the_one_in_effect(no_device_env: None, make_window, qtbot) -> None:
    window = make_window()
    menu = window.compute_menu
    if compute.device_available("cuda"):
        pytest.skip("this computer has CUDA")
    # The entry for a device this computer lacks is hidden; chosen anyway, the library refuses it.
    assert not menu.actions["cuda"].isVisible()
    # Waits on this very request: the start-up switch to the saved choice is a set_compute call too.
    request = menu.choose("cuda")
    assert request is not None
    qtbot.waitUntil(lambda: request.finished, timeout=ENGINE_WAIT_MS)
    assert "not available on this computer" in window.statusBar().currentMessage()
    assert menu.actions["auto"].isChecked() and menu.current == "auto"
    assert Settings().compute_device == "auto"


def test_a_bad_environment_value_is_said_and_the_automatic_choice_used(
    compute_reset: None, make_window, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(compute.DEVICE_ENV, "gpu")
    window = make_window()
    message = window.statusBar().currentMessage()
    assert "PHOTOSEEK_DEVICE" in message and "`gpu`" in message and "automatic choice" in message
    assert str(compute.effective_request()) == "auto"
    menu = window.compute_menu
    assert menu.actions["auto"].isChecked() and menu.actions["cpu:int8"].isEnabled()


def test_a_bad_saved_value_is_logged_and_read_as_auto(
    no_device_env: None, make_window, caplog: pytest.LogCaptureFixture
) -> None:
    saved = Settings()
    saved.set("compute_device", "warp drive")
    saved.save()
    with caplog.at_level(logging.WARNING, logger="app.gui.compute_menu"):
        window = make_window()
    assert "warp drive" in caplog.text
    assert window.compute_menu.actions["auto"].isChecked() and window.compute_menu.decided_by is None


def test_device_on_the_command_line_wins_over_the_setting(no_device_env: None, make_window) -> None:
    saved = Settings()
    saved.compute_device = "cpu:fp32"
    saved.save()
    compute.use_request(compute.parse_request("cpu:int8"))  # what `photoseek --device cpu:int8` does first
    window = make_window()
    menu = window.compute_menu
    assert menu.decided_by == "--device cpu:int8" and menu.actions["cpu:int8"].isChecked()
    assert not menu.actions["cpu:fp32"].isEnabled()
    assert str(compute.effective_request()) == "cpu:int8"


def test_a_gpu_asked_for_where_there_is_none_is_said_and_the_automatic_choice_used(
    compute_reset: None, make_window, monkeypatch: pytest.MonkeyPatch, qtbot
) -> None:
    if compute.device_available("cuda"):
        pytest.skip("this computer has CUDA")
    monkeypatch.setenv(compute.DEVICE_ENV, "cuda")
    window = make_window()
    menu = window.compute_menu
    qtbot.waitUntil(lambda: menu.decided_by is None, timeout=ENGINE_WAIT_MS)
    message = window.statusBar().currentMessage()
    assert "PHOTOSEEK_DEVICE=cuda" in message and "not available on this computer" in message
    assert "automatic choice" in message
    # The library takes "auto" on its thread first; the menu checks it when that answer arrives.
    qtbot.waitUntil(lambda: menu.current == "auto", timeout=ENGINE_WAIT_MS)
    assert str(compute.effective_request()) == "auto"
    assert menu.actions["auto"].isChecked() and menu.actions["cpu:int8"].isEnabled()
