"""Followed folders in the desktop app: a dropped folder is followed, changes on disk reach the grid by
themselves (file-system watching), an unplugged folder is reported and keeps its photos, and the Folders
dialog lists, rescans and removes folders. Real engine, tiny model, real files and QFileSystemWatcher."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from app.gui.folders_dialog import FoldersDialog
from app.library import FolderScanResult, ImportProgress, photo_schema
from app.shapes import draw_shape, encode_image, write_shape_folder

from .conftest import (
    IMPORT_WAIT_MS,
    SEARCH_WAIT_MS,
    import_and_wait,
    requires_tiny_model,
    result_names,
)


def library_names(qtbot, window) -> list[str]:
    window.search.refresh()
    qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS).wait()
    return sorted(result_names(window))


def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Camera"
    write_shape_folder(folder, per_class=1, colours=("red", "blue"), shapes=("circle", "square"))
    write_shape_folder(folder / "2024", per_class=1, colours=("green",), shapes=("star",))
    return folder


@requires_tiny_model
def test_a_dropped_folder_is_followed_and_watched(make_window, qtbot, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path)
    window = make_window()
    summary = import_and_wait(qtbot, window, [folder])
    assert summary.imported == 5

    dialog = window.show_folders()
    assert isinstance(dialog, FoldersDialog)
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=SEARCH_WAIT_MS)
    item = dialog.tree.topLevelItem(0)
    assert [item.text(c) for c in range(3)] == [str(folder), "5", "Up to date"]
    assert set(window.folders.watcher.watched()) >= {str(folder), str(folder / "2024")}

    # Dropping it again reports it is up to date instead of importing anything twice.
    again = import_and_wait(qtbot, window, [folder])
    assert again.imported == 0 and again.unchanged == 5
    dialog.close()


@requires_tiny_model
def test_changes_on_disk_reach_the_grid_without_asking(make_window, qtbot, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path)
    window = make_window()
    import_and_wait(qtbot, window, [folder])
    window.folders.watcher.set_interval(200)  # the debounce, shortened for the test

    # A new photo copied in is embedded and shown (the rescan runs as an import).
    with qtbot.waitSignal(window.importFinished, timeout=IMPORT_WAIT_MS):
        (folder / "2024" / "yellow_ring_new.png").write_bytes(
            encode_image(draw_shape("yellow", "ring", seed=5), "PNG")
        )
    qtbot.waitUntil(lambda: "yellow_ring_new.png" in library_names(qtbot, window), timeout=SEARCH_WAIT_MS)

    # A rename and a deletion follow without embedding anything again.
    (folder / "red_circle_000.png").rename(folder / "2024" / "renamed-circle.png")
    (folder / "blue_square_000.png").unlink()

    def renamed_and_deleted() -> bool:
        names = library_names(qtbot, window)
        return (
            "renamed-circle.png" in names
            and "red_circle_000.png" not in names
            and "blue_square_000.png" not in names
        )

    qtbot.waitUntil(renamed_and_deleted, timeout=SEARCH_WAIT_MS)
    assert len(library_names(qtbot, window)) == 5


@requires_tiny_model
def test_an_unplugged_folder_is_offline_and_its_photos_stay(make_window, qtbot, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path)
    window = make_window()
    import_and_wait(qtbot, window, [folder])
    away = tmp_path / "elsewhere"
    shutil.move(folder, away)
    window.rescan_folders()
    qtbot.waitUntil(lambda: window.folders.status.isVisible(), timeout=SEARCH_WAIT_MS)
    assert "1 folder offline" in window.folders.status.text()
    assert str(folder) in window.folders.status.toolTip()
    assert len(library_names(qtbot, window)) == 5

    shutil.move(away, folder)  # plugged back in: the watcher on its parent notices
    window.folders.watcher.set_interval(200)
    qtbot.waitUntil(lambda: not window.folders.status.isVisible(), timeout=SEARCH_WAIT_MS)
    assert len(library_names(qtbot, window)) == 5


@requires_tiny_model
def test_removing_a_folder_in_the_dialog(make_window, qtbot, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path)
    window = make_window()
    import_and_wait(qtbot, window, [folder])
    dialog = window.show_folders()
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=SEARCH_WAIT_MS)
    dialog.tree.topLevelItem(0).setSelected(True)
    assert dialog.remove_button.isEnabled()

    dialog.remove_button.click()
    box = dialog.findChild(QMessageBox)
    assert box.isVisible() and "Stop following" in box.text() and "5 photos" in box.informativeText()
    with qtbot.waitSignal(window.bridge.foldersChanged, timeout=SEARCH_WAIT_MS):
        next(b for b in box.buttons() if b.text() == "Remove Photos").click()
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 0, timeout=SEARCH_WAIT_MS)
    assert dialog.empty_label.isVisible()
    assert library_names(qtbot, window) == []
    assert (folder / "red_circle_000.png").exists()  # files are never touched
    assert window.folders.watcher.roots() == [] and window.folders.watcher.watched() == []
    dialog.close()


@requires_tiny_model
def test_unfollowing_while_its_photos_import_leaves_none_behind(
    make_window, qtbot, tmp_path: Path, monkeypatch
) -> None:
    from app.library import jobs

    monkeypatch.setattr(jobs, "MAX_CHUNK", jobs.MIN_CHUNK)  # 6 chunks, not 2
    folder = tmp_path / "Big"
    write_shape_folder(folder, per_class=4, size=64)  # 192 photos
    window = make_window()
    unfollowed: list[object] = []

    def unfollow_after_first_batch(progress: object) -> None:
        if isinstance(progress, ImportProgress) and progress.imported_ids and not unfollowed:
            unfollowed.append(window.bridge.call("unfollow_folder", "Photos", str(folder), True))

    with qtbot.waitSignal(window.importFinished, timeout=IMPORT_WAIT_MS):
        window.import_paths([str(folder)]).progress.connect(unfollow_after_first_batch)
    assert unfollowed
    qtbot.waitUntil(lambda: library_names(qtbot, window) == [], timeout=SEARCH_WAIT_MS)
    assert "0 photos" in window.library_status.text()


def photo_count(window, collection: str) -> int:
    return int(window._collections.get(collection, {}).get("num_documents", -1))


@requires_tiny_model
def test_folders_of_a_collection_not_on_screen_are_watched_too(make_window, qtbot, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path)
    window = make_window()
    import_and_wait(qtbot, window, [folder])  # into "Photos"
    window.folders.watcher.set_interval(200)
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        window.bridge.call("create_collection", photo_schema("Other", "photoseek/tiny-shapes"))
    window.collections_list.setCurrentRow(
        next(
            i
            for i in range(window.collections_list.count())
            if window.collections_list.item(i).text() == "Other"
        )
    )
    assert window.current_collection() == "Other"

    (folder / "purple_cross_new.png").write_bytes(encode_image(draw_shape("purple", "cross", seed=8), "PNG"))
    qtbot.waitUntil(lambda: photo_count(window, "Photos") == 6, timeout=IMPORT_WAIT_MS)
    assert photo_count(window, "Other") == 0


@requires_tiny_model
def test_changes_made_while_the_app_was_closed_are_found_at_start(make_window, qtbot, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path)
    window = make_window()
    import_and_wait(qtbot, window, [folder])
    window.close()
    (folder / "red_circle_000.png").unlink()
    (folder / "2024" / "purple_cross_new.png").write_bytes(
        encode_image(draw_shape("purple", "cross", seed=8), "PNG")
    )

    reopened = make_window()
    qtbot.waitUntil(
        lambda: (
            "purple_cross_new.png" in library_names(qtbot, reopened)
            and "red_circle_000.png" not in library_names(qtbot, reopened)
        ),
        timeout=IMPORT_WAIT_MS,
    )
    assert len(library_names(qtbot, reopened)) == 5


@requires_tiny_model
def test_rescanning_by_hand_always_answers(make_window, qtbot, tmp_path: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
        window.bridge.call("create_collection", photo_schema("Photos", "photoseek/tiny-shapes"))
    qtbot.waitUntil(lambda: window.current_collection() == "Photos", timeout=SEARCH_WAIT_MS)

    def rescan_by_hand() -> None:
        with qtbot.waitSignal(window.rescan_folders().done, timeout=SEARCH_WAIT_MS):
            pass

    rescan_by_hand()
    assert "No folders are followed" in window.statusBar().currentMessage()
    import_and_wait(qtbot, window, [photo_folder(tmp_path)])
    rescan_by_hand()
    assert window.statusBar().currentMessage() == "Folders are up to date (5 photos checked)"


@requires_tiny_model
def test_the_folders_dialog_adds_to_its_own_collection(
    make_window, qtbot, tmp_path: Path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    window = make_window()
    for name in ("Photos", "Other"):
        with qtbot.waitSignal(window.bridge.collectionsChanged, timeout=SEARCH_WAIT_MS):
            window.bridge.call("create_collection", photo_schema(name, "photoseek/tiny-shapes"))
    rows = {window.collections_list.item(i).text(): i for i in range(window.collections_list.count())}
    window.collections_list.setCurrentRow(rows["Photos"])
    dialog = window.show_folders()
    window.collections_list.setCurrentRow(rows["Other"])  # the dialog stays open on "Photos"
    folder = photo_folder(tmp_path)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    with qtbot.waitSignal(
        window.bridge.foldersChanged, timeout=IMPORT_WAIT_MS, check_params_cb=lambda name, fs: bool(fs)
    ) as changed:
        dialog.add_button.click()
    assert changed.args[0] == "Photos"
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 1, timeout=SEARCH_WAIT_MS)
    dialog.close()


@requires_tiny_model
def test_searches_are_answered_while_a_long_rescan_walks(
    make_window, qtbot, tmp_path: Path, monkeypatch
) -> None:
    from app.library import folder_jobs

    folder = photo_folder(tmp_path)
    for n in range(30):  # many folders to walk: a stand-in for a slow network share
        (folder / "rolls" / f"roll-{n:02d}").mkdir(parents=True)
    window = make_window()
    import_and_wait(qtbot, window, [folder])
    monkeypatch.setattr(folder_jobs, "RESCAN_STEP_SECONDS", 0.0)  # one folder per step

    # The engine thread may walk all 31 folders before a loaded machine lets the GUI thread post the
    # search, so the walk's third step waits (on the engine thread) until the search has been posted:
    # whatever the scheduler does, the search is then queued while the walk still has steps to go.
    posted = threading.Event()
    steps: list[int] = []
    real_step = folder_jobs.FolderScanJob._step

    def held_step(job: folder_jobs.FolderScanJob) -> bool:
        steps.append(1)
        if len(steps) == 3:
            posted.wait(SEARCH_WAIT_MS / 1000)
        return real_step(job)

    monkeypatch.setattr(folder_jobs.FolderScanJob, "_step", held_step)
    # Only this rescan and this search count: the file-system watcher may start a rescan of its own at
    # any moment (reading the photos touched their access times), and it must not confuse the test.
    order: list[str] = []
    rescan = window.rescan_folders()
    rescan.progress.connect(lambda p: order.append(type(p).__name__))
    window.search.searchCompleted.connect(lambda *_: order.append("search"))
    window.search.submit_text("a green star")
    posted.set()
    with qtbot.waitSignal(rescan.done, timeout=SEARCH_WAIT_MS):
        pass
    assert "search" in order and order.index("search") < order.index("ScanFinished")
    assert order.count("ScanProgress") > 10
    assert window.statusBar().currentMessage() == "Folders are up to date (5 photos checked)"


@requires_tiny_model
def test_a_rescan_that_finds_nothing_new_starts_no_import(make_window, qtbot, tmp_path: Path) -> None:
    folder = photo_folder(tmp_path)
    (folder / "notes.txt").write_text("not a photo")
    window = make_window()
    import_and_wait(qtbot, window, [folder])
    reports: list[object] = []
    rescan = window.folders.rescan("Photos")
    rescan.progress.connect(reports.append)
    with qtbot.waitSignal(rescan.done, timeout=SEARCH_WAIT_MS) as done:
        pass
    result = done.args[0]
    assert isinstance(result, FolderScanResult) and result.summary is None and result.checked == 5
    assert [type(r).__name__ for r in reports] == ["ScanFinished"]  # no ImportStarted
    assert not window.imports.busy and window.import_panel.title.text().startswith("Imported 5 of 5")


@requires_tiny_model
def test_f5_rescans_the_folders(make_window, qtbot, tmp_path: Path) -> None:
    # Library › Rescan Folders used to hand QAction's ``checked`` (False) to the rescan as its folder list.
    from PySide6.QtCore import Qt

    window = make_window()
    import_and_wait(qtbot, window, [photo_folder(tmp_path)])
    answers: list[object] = []
    window.bridge.requestSent.connect(
        lambda request: request.done.connect(answers.append) if request.method == "rescan_folders" else None
    )
    window.results_view.setFocus()
    qtbot.keyClick(window.results_view, Qt.Key.Key_F5)
    # The file watcher may rescan too, but only a rescan asked for by hand says "up to date".
    up_to_date = "Folders are up to date (5 photos checked)"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == up_to_date, timeout=SEARCH_WAIT_MS)
    assert isinstance(answers[0], FolderScanResult) and answers[0].checked == 5
