"""The model in the window: a search that needs a missing model offers it; closing the offer is never a
dead end (Library › Model… and the status bar bring it back), and searches then say what to do in plain
words. Real library; the CLIP weights are never in a test's private cache."""

from __future__ import annotations

from app.gui.model_dialog import ModelDialog
from app.library import photo_schema

from .conftest import SEARCH_WAIT_MS

CLIP = "ts/clip-vit-b-p32"


def open_dialog(qtbot, window) -> ModelDialog:
    qtbot.waitUntil(
        lambda: window.model.dialog is not None and window.model.dialog.isVisible(), timeout=SEARCH_WAIT_MS
    )
    return window.model.dialog


def test_a_search_needing_a_missing_model_offers_it_and_cancel_is_no_dead_end(make_window, qtbot) -> None:
    window = make_window()
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        window.bridge.call("create_collection", photo_schema("Clip", CLIP))
    qtbot.waitUntil(lambda: window.search.collection_name == "Clip", timeout=SEARCH_WAIT_MS)

    with qtbot.waitSignal(window.search.searchFailed, timeout=SEARCH_WAIT_MS):
        window.search.submit_text("a dog on the beach")
    dialog = open_dialog(qtbot, window)
    assert dialog.model_name == CLIP
    assert window.search_status.text() == ""  # no count left from an earlier search
    dialog.reject()
    assert "Library › Model…" in window.statusBar().currentMessage()
    assert "Library › Model…" in window.results_view.emptyText()
    assert "not downloaded yet" in window.model_status.text() and "href" in window.model_status.text()

    # The next search does not push the dialog again: it says, in words, what to do.
    with qtbot.waitSignal(window.search.searchFailed, timeout=SEARCH_WAIT_MS):
        window.search.submit_text("a cat")
    assert window.model.dialog is None or not window.model.dialog.isVisible()
    empty = window.results_view.emptyText()
    assert "Library › Model…" in empty and "model_config" not in empty and "model_path" not in empty

    # The menu brings the offer back, and so does the status bar's link.
    window.model_action.trigger()
    open_dialog(qtbot, window).reject()
    window.model_status.linkActivated.emit("model")
    assert open_dialog(qtbot, window).model_name == CLIP
    window.model.dialog.reject()


def test_the_dialog_grows_with_the_advice_after_a_failed_download(make_window, qtbot, monkeypatch) -> None:
    # The dialog used to keep the offer's size, so the longer advice after a failed download overlapped
    # itself and its end was hidden.
    from .screen_fit import assert_dialog_text_fits

    monkeypatch.setenv("PHOTOSEEK_MODEL_BASE_URL", "http://127.0.0.1:9")  # refused at once: offline
    window = make_window()
    dialog = window.model.show_dialog(CLIP)
    qtbot.waitExposed(dialog)
    assert_dialog_text_fits(dialog)
    dialog.start_download()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=SEARCH_WAIT_MS)
    assert "could not download" in dialog.message.text()
    assert dialog.status.isVisible() and "127.0.0.1:9" in dialog.status.text()
    assert_dialog_text_fits(dialog)
    dialog.reject()
