"""The model in the window: a search that needs a missing model offers it; closing the offer is never a
dead end (Library › Model… and the status bar bring it back), and searches then say what to do in plain
words. Real library; the CLIP weights are never in a test's private cache."""

from __future__ import annotations

import re

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
    assert_dialog_text_fits(dialog)
    # One clear message; the addresses and reasons wait behind Show Details.
    assert "127.0.0.1" not in dialog.message.text() and not dialog.status.isVisible()
    assert dialog.details_button.isVisible() and not dialog.details.isVisible()
    dialog.details_button.click()
    assert dialog.details.isVisible() and "127.0.0.1:9" in dialog.details.toPlainText()
    assert_dialog_text_fits(dialog)
    dialog.reject()


def test_before_the_first_import_the_model_is_offered_once(make_window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("PHOTOSEEK_DEFAULT_MODEL", CLIP)
    window = make_window()
    dialog = open_dialog(qtbot, window)
    assert dialog.first_run and dialog.model_name == CLIP
    text = dialog.message.text()
    assert "searching your photos needs a model" in text and "605 MB" in text
    # What "Use a File I Already Have…" accepts is said before any file dialog opens.
    assert all(kind in text for kind in (".safetensors", ".bin", ".pt", ".pth", "ViT-B-32.pt"))
    assert dialog.download_button.isVisible() and dialog.file_button.isVisible()
    assert "not downloaded yet" in window.model_status.text()

    dialog.reject()
    assert "Library › Model…" in window.statusBar().currentMessage()
    window.model.warm_up(None)  # as when the collections are listed again
    with qtbot.waitSignal(window.bridge.call("collections").done, timeout=SEARCH_WAIT_MS):
        pass  # the library answers in order: anything the warm-up would do has happened
    assert window.model.dialog is None or not window.model.dialog.isVisible()


def test_a_library_with_its_model_is_not_offered_one(make_window, qtbot) -> None:
    window = make_window()  # the tiny model's weights are here
    request = window.bridge.call("warm_up", None, window.model.current_model())
    with qtbot.waitSignal(request.done, timeout=SEARCH_WAIT_MS) as answered:
        pass
    assert answered.args == ["idle"]
    assert window.model.dialog is None


def test_stop_keeps_the_download_and_the_next_one_continues(make_window, qtbot, monkeypatch, tiny) -> None:
    from download_server import RangeServer

    body = (tiny.local_dir / "open_clip_model.safetensors").read_bytes()
    server = RangeServer(body)
    server.gate_after = 2_000_000  # the body pauses here until the test lets it go on
    server.pace_s = 0.25
    try:
        monkeypatch.setenv("PHOTOSEEK_MODEL_BASE_URL", server.url)
        window = make_window()
        dialog = window.model.show_dialog(CLIP)
        qtbot.waitExposed(dialog)
        dialog.start_download()
        qtbot.waitUntil(lambda: " of 9.4 MB" in dialog.status.text(), timeout=SEARCH_WAIT_MS)
        server.gate.set()  # from here on the body comes slowly: long enough to be timed
        qtbot.waitUntil(lambda: "left" in dialog.status.text(), timeout=SEARCH_WAIT_MS)
        assert re.search(r"MB of 9\.4 MB · [\d.]+ MB/s · about \d+ (s|min) left$", dialog.status.text())
        dialog.cancel_button.click()  # "Stop"
        assert not dialog.busy and dialog.download_button.isEnabled()
        assert dialog.status.text().startswith("Stopped. The next download continues from ")
        assert dialog.status.text().endswith(" MB.")

        dialog.start_download()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=SEARCH_WAIT_MS)
        resumed = next(h for h in server.range_headers if h)
        assert resumed.startswith("bytes=") and int(resumed[6:-1]) >= 1_000_000
        # The tiny model's file is not ViT-B-32's: the whole file is checked, refused and discarded.
        assert "did not pass its check and was discarded" in dialog.message.text()
        assert "discarded" in dialog.details.toPlainText()
        assert not list((window.data_dir.parent / "photoseek-cache").rglob("*.part"))
        dialog.reject()
    finally:
        server.gate.set()
        server.close()


def test_about_says_the_version_the_model_and_where_the_library_lives(make_window, qtbot) -> None:
    from PySide6.QtCore import Qt

    from app import __version__

    window = make_window()
    box = window.commands.show_about()
    qtbot.waitExposed(box)
    text = box.text()
    assert f"Photoseek {__version__}" in text
    assert "Tiny shapes (photoseek/tiny-shapes)" in text and "Runs on:" in text
    assert f"Library: {window.data_dir}" in text
    # The path can be selected and copied (to back the library up, or to find it).
    assert box.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    box.close()
