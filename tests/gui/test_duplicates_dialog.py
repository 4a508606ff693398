"""The "Find duplicates" window: copies of a photo (re-encoded, rescaled, in another folder) come back as one
group with the best copy kept; the others go to the system trash (files really moved, photos leave the
collection) and a failed move keeps its photo in the group with the reason. Real engine, tiny model, the
real send2trash into the test's private $XDG_DATA_HOME/Trash."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.duplicates_dialog import EMPTY_TEXT, DuplicatesDialog, open_duplicates
from app.gui.duplicates_model import human_size
from app.shapes import draw_shape

from .conftest import IMPORT_WAIT_MS, SEARCH_WAIT_MS, import_and_wait, requires_tiny_model

SCREENSHOT = Path("/tmp/duplicates.png")
# The longest name most file systems allow: the file itself is fine, but the trash's "<name>.trashinfo"
# record cannot be created, so send2trash fails for it (a failure root cannot bypass, unlike permissions).
LONGEST_NAME = "blue_square_copy_" + "x" * (255 - len("blue_square_copy_") - len(".png")) + ".png"


def write_photos(root: Path, *, long_named_copy: bool = False) -> dict[str, Path]:
    """Two sets of copies and three distinct photos; returns name -> path."""
    red = draw_shape("red", "circle", size=240, seed=3)
    blue = draw_shape("blue", "square", size=200, seed=5)
    files = {
        "red_circle.png": (root / "camera" / "red_circle.png", red, "PNG"),
        "red_circle.jpg": (root / "camera" / "red_circle.jpg", red, "JPEG"),
        "red_circle_small.png": (root / "exports" / "red_circle_small.png", red.resize((120, 120)), "PNG"),
        "blue_square.png": (root / "camera" / "blue_square.png", blue, "PNG"),
        "green_triangle.png": (
            root / "camera" / "green_triangle.png",
            draw_shape("green", "triangle"),
            "PNG",
        ),
        "yellow_star.png": (root / "camera" / "yellow_star.png", draw_shape("yellow", "star"), "PNG"),
        "purple_cross.jpg": (root / "exports" / "purple_cross.jpg", draw_shape("purple", "cross"), "JPEG"),
    }
    blue_copy = LONGEST_NAME if long_named_copy else "blue_square_copy.jpeg"
    files[blue_copy] = (
        root / "exports" / blue_copy,
        blue.resize((100, 100)),
        "PNG" if long_named_copy else "JPEG",
    )
    paths = {}
    for name, (path, image, fmt) in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        paths[name] = path
    return paths


def trash_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "Trash"


def in_trash(original: Path) -> Path | None:
    """The trashed file that came from ``original``, found through the trash's .trashinfo records."""
    info_dir = trash_dir() / "info"
    for info in info_dir.glob("*.trashinfo") if info_dir.is_dir() else ():
        for line in info.read_text().splitlines():
            if line.startswith("Path=") and unquote(line[5:]) == str(original):
                trashed = trash_dir() / "files" / info.name[: -len(".trashinfo")]
                return trashed if trashed.exists() else None
    return None


def open_and_wait(qtbot, window) -> DuplicatesDialog:
    dialog = open_duplicates(window)
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(
        lambda: not dialog.busy and dialog.find_button.text() == "Search again", timeout=SEARCH_WAIT_MS
    )
    return dialog


def group_names(dialog: DuplicatesDialog) -> list[list[str]]:
    return [[doc["name"] for doc in group.documents] for group in dialog.groups]


def photo_count(window) -> int:
    return int(window.library_status.text().split()[0].replace(",", ""))


@requires_tiny_model
def test_copies_are_grouped_best_first_and_the_others_go_to_the_trash(
    make_window, qtbot, tmp_path: Path
) -> None:
    photos = write_photos(tmp_path / "photos")
    window = make_window()
    import_and_wait(qtbot, window, [tmp_path / "photos"])
    assert photo_count(window) == 8

    dialog = open_and_wait(qtbot, window)
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.threshold_control.value() == 95 and dialog.threshold == 0.05
    red, blue = group_names(dialog)
    # Most pixels first; the PNG and the JPEG have the same pixels, so the bigger file wins.
    png_bigger = photos["red_circle.png"].stat().st_size > photos["red_circle.jpg"].stat().st_size
    big_first = ["red_circle.png", "red_circle.jpg"] if png_bigger else ["red_circle.jpg", "red_circle.png"]
    assert red == [*big_first, "red_circle_small.png"]
    assert blue == ["blue_square.png", "blue_square_copy.jpeg"]
    red_group, blue_group = dialog.groups
    assert red_group.keep_id == red_group.documents[0]["id"]
    row = dialog.rows[0]
    kept_tile = row.tiles[red_group.keep_id]
    assert kept_tile.keep_button.isChecked()
    assert [t.keep_button.isChecked() for t in row.tiles.values()] == [True, False, False]
    assert kept_tile.details_label.text() == f"240×240 · {kept_tile.details_label.text().split(' · ')[1]}"
    assert kept_tile.folder_label.toolTip() == str(photos["red_circle.png"].parent)
    assert dialog.summary_label.text().startswith("2 groups, 5 photos, 3 marked for the trash, ")
    # Re-encoded and rescaled copies pass the second check: marked, and each says why it is there.
    assert [t.trash_box.isChecked() for t in row.tiles.values()] == [False, True, True]
    assert not kept_tile.trash_box.isVisible()
    small_tile = row.tiles[red_group.documents[2]["id"]]
    assert small_tile.reason_label.text().startswith("Same picture, smaller copy (hash ")
    assert kept_tile.reason_label.text().startswith("Kept: the best copy")
    assert "2 confirmed copies" in row.title.text()
    assert dialog.stack.currentWidget() is dialog.scroll
    assert not dialog.status_label.isVisible()

    # Thumbnails arrive from the loader's threads; the window is then worth a look.
    tiles = [tile for r in dialog.rows for tile in r.tiles.values()]
    qtbot.waitUntil(lambda: all(t.thumbnail.has_thumbnail() for t in tiles), timeout=SEARCH_WAIT_MS)
    assert dialog.grab().save(str(SCREENSHOT))

    # Keep the small copy instead: a click anywhere on its tile chooses it.
    small_id = red_group.documents[2]["id"]
    qtbot.mouseClick(row.tiles[small_id], Qt.MouseButton.LeftButton)
    assert red_group.keep_id == small_id and row.tiles[small_id].keep_button.isChecked()
    assert not kept_tile.keep_button.isChecked()
    big_sizes = sum(photos[name].stat().st_size for name in big_first)
    assert row.trash_button.text() == "Move 2 marked to trash"
    unkept_bytes = big_sizes + photos["blue_square_copy.jpeg"].stat().st_size
    assert (
        dialog.summary_label.text()
        == f"2 groups, 5 photos, 3 marked for the trash, {human_size(unkept_bytes)}"
    )

    small_bytes = photos["red_circle_small.png"].read_bytes()
    with qtbot.waitSignal(dialog.trashFinished, timeout=IMPORT_WAIT_MS) as finished:
        qtbot.mouseClick(row.trash_button, Qt.MouseButton.LeftButton)
    results = finished.args[0]
    assert sorted(r["path"] for r in results) == sorted(str(photos[n]) for n in big_first)
    assert all(r["success"] and r["trashed"] for r in results)
    for name in big_first:
        assert not photos[name].exists()
        trashed = in_trash(photos[name])
        assert trashed is not None and trashed.stat().st_size > 0
    assert big_sizes == sum(in_trash(photos[n]).stat().st_size for n in big_first)
    assert photos["red_circle_small.png"].read_bytes() == small_bytes  # the kept one is untouched

    assert group_names(dialog) == [blue]
    assert len(dialog.rows) == 1 and dialog.rows[0].group is blue_group
    assert dialog.summary_label.text().startswith("1 group, 2 photos, 1 marked for the trash, ")
    assert "Moved 2 photos to the trash." in dialog.status_label.text()
    qtbot.waitUntil(lambda: photo_count(window) == 6, timeout=SEARCH_WAIT_MS)
    shown = {window.results_model.document(r)["name"] for r in range(window.results_model.rowCount())}
    assert not shown & set(big_first) and "red_circle_small.png" in shown

    # Searching again finds what is left; the menu entry raises the open window instead of a second one.
    assert open_duplicates(window) is dialog
    with qtbot.waitSignal(dialog.groupsShown, timeout=SEARCH_WAIT_MS) as shown_again:
        qtbot.mouseClick(dialog.find_button, Qt.MouseButton.LeftButton)
    assert shown_again.args == [1] and group_names(dialog) == [blue]


@requires_tiny_model
def test_move_all_asks_first_and_a_failed_move_keeps_the_photo_with_the_reason(
    make_window, qtbot, tmp_path: Path
) -> None:
    photos = write_photos(tmp_path / "photos", long_named_copy=True)
    window = make_window()
    import_and_wait(qtbot, window, [tmp_path / "photos"])
    dialog = open_and_wait(qtbot, window)
    assert len(dialog.groups) == 2 and dialog.trash_all_button.isEnabled()
    assert dialog.groups[1].others()[0]["name"] == LONGEST_NAME
    red_unkept = [doc["name"] for doc in dialog.groups[0].others()]
    assert len(red_unkept) == 2 and "red_circle_small.png" in red_unkept

    asked: list[str] = []

    def answer(button_text: str) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        asked.append(f"{box.text()}\n{box.informativeText()}")
        (button,) = [b for b in box.buttons() if b.text() == button_text]
        button.click()

    # Cancelling moves nothing.
    QTimer.singleShot(0, lambda: answer("Cancel"))
    assert dialog.trash_all_unkept() is None
    assert "Move 3 photos" in asked[0] and "system trash" in asked[0]
    assert all(p.exists() for p in photos.values())

    QTimer.singleShot(0, lambda: answer("Move to Trash"))
    with qtbot.waitSignal(dialog.trashFinished, timeout=IMPORT_WAIT_MS) as finished:
        qtbot.mouseClick(dialog.trash_all_button, Qt.MouseButton.LeftButton)
    by_path = {Path(r["path"]).name: r for r in finished.args[0]}
    assert not by_path[LONGEST_NAME]["success"]
    assert "File name too long" in by_path[LONGEST_NAME]["error"]
    assert all(by_path[name]["success"] and by_path[name]["trashed"] for name in red_unkept)
    assert len(by_path) == 3

    # The red group is done; the blue one stays, with its photo still on disk and the reason shown.
    assert group_names(dialog) == [["blue_square.png", LONGEST_NAME]]
    assert photos[LONGEST_NAME].exists() and in_trash(photos[LONGEST_NAME]) is None
    for name in red_unkept:
        assert not photos[name].exists() and in_trash(photos[name]) is not None
    failed_id = dialog.groups[0].others()[0]["id"]
    tile = dialog.rows[0].tiles[failed_id]
    qtbot.waitUntil(tile.error_label.isVisible, timeout=SEARCH_WAIT_MS)  # new tiles show on the next turn
    assert tile.error_label.text() == "Not moved to the trash: File name too long"
    qtbot.waitUntil(lambda: all(t.thumbnail.has_thumbnail() for t in dialog.rows[0].tiles.values()))
    assert dialog.grab().save(str(SCREENSHOT.with_name("duplicates-failed.png")))
    status = dialog.status_label.text()
    assert status == "Moved 2 photos to the trash. 1 photo could not be moved and stayed: File name too long."
    qtbot.waitUntil(lambda: photo_count(window) == 6, timeout=SEARCH_WAIT_MS)


@requires_tiny_model
def test_no_duplicates_and_errors_are_said_plainly(make_window, qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "distinct"
    folder.mkdir()
    for colour, shape in (("red", "circle"), ("green", "square"), ("blue", "star")):
        draw_shape(colour, shape, size=96).save(folder / f"{colour}_{shape}.png")
    window = make_window()
    import_and_wait(qtbot, window, [folder])
    dialog = open_and_wait(qtbot, window)
    assert dialog.groups == [] and dialog.stack.currentWidget() is dialog.empty_label
    assert dialog.empty_label.text().startswith(EMPTY_TEXT)
    assert not dialog.summary_label.isVisible() and not dialog.trash_all_button.isEnabled()

    broken = DuplicatesDialog(window.bridge, "no-such-collection", window.results_model.loader, window)
    qtbot.addWidget(broken)
    broken.show()
    qtbot.waitUntil(lambda: not broken.busy, timeout=SEARCH_WAIT_MS)
    assert broken.empty_label.text().startswith("Could not look for duplicates:\n")
    assert "no-such-collection" in broken.empty_label.text()
    assert broken.find_button.isEnabled()


def test_sizes_and_the_summary_read_like_a_file_manager() -> None:
    from app.gui.duplicates_model import DuplicateGroup, summary_text

    assert [human_size(n) for n in (0, 1, 999, 1000, 84_200_000, 3_400_000_000)] == [
        "0 bytes", "1 byte", "999 bytes", "1.0 KB", "84 MB", "3.4 GB",
    ]  # fmt: skip
    one = DuplicateGroup([{"id": "a", "file_size": 5_000_000}, {"id": "b", "file_size": 2_000_000}])
    # Without a verdict from the engine nothing is marked: a photo is never proposed unconfirmed.
    assert one.keep_id == "a" and summary_text([one]) == "1 group, 2 photos, 0 marked for the trash, 0 bytes"
    one.set_marked("b", True)
    assert summary_text([one]) == "1 group, 2 photos, 1 marked for the trash, 2.0 MB"
    one.choose("b")
    assert summary_text([one]).endswith("0 marked for the trash, 0 bytes")
    copy = {"kind": "same", "confirmed": True, "reason": "Same picture"}
    two = DuplicateGroup([{"id": "a"}, {"id": "b", "file_size": 7}], verdicts={"b": copy})
    assert two.marked == {"b"}
    two.choose("b")  # keeping the copy instead: the best copy, a copy of it, goes instead
    assert two.marked == {"a"} and two.keep_id == "b"
    # A copy of another frame of the group: keeping it marks that frame, whose twin it is, in its place.
    frame = {"kind": "similar", "confirmed": False, "reason": "Similar", "copy_of": "a"}
    copy_of_b = {"kind": "same", "confirmed": True, "reason": "Same picture as b", "copy_of": "b"}
    three = DuplicateGroup([{"id": "a"}, {"id": "b"}, {"id": "c"}], verdicts={"b": frame, "c": copy_of_b})
    assert three.marked == {"c"}
    three.choose("c")
    assert three.marked == {"b"}
    three.choose("a")
    assert three.marked == {"c"}
    three.set_marked("b", True)  # the user adds the other frame by hand: choosing again keeps that
    assert three.marked == {"b", "c"}
    three.choose("b")
    assert three.marked == {"c"}  # a photo kept is never marked; the hand-set mark is gone with it
    assert one.remove({"b"}) and one.keep_id == "a" and not one.alive


def write_burst(root: Path) -> dict[str, Path]:
    """A photo, its exact copy in a backup folder, a re-saved JPEG and two other frames of the same burst."""
    from app.scenes import encoded, scene

    shot = scene(7)
    files = {
        "camera/IMG_0001.png": encoded(shot, "PNG"),
        "backup/IMG_0001.png": encoded(shot, "PNG"),
        "export/IMG_0001.jpg": encoded(shot, "JPEG", quality=80),
        "camera/IMG_0002.png": encoded(scene(7, subject_x=0.6), "PNG"),
        "camera/IMG_0003.png": encoded(scene(7, subject_x=0.55), "PNG"),
    }
    paths = {}
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths[rel] = path
    return paths


@requires_tiny_model
def test_burst_frames_are_shown_with_their_reason_but_only_confirmed_copies_are_marked(
    make_window, qtbot, tmp_path: Path
) -> None:
    from .screen_fit import assert_label_text_fits, assert_window_fits_screen, settle

    photos = write_burst(tmp_path / "photos")
    window = make_window()
    import_and_wait(qtbot, window, [tmp_path / "photos"])
    dialog = open_and_wait(qtbot, window)
    (group,) = dialog.groups
    row = dialog.rows[0]
    by_path = {d["path"]: d["id"] for d in group.documents}
    keep_path = next(p for p, i in by_path.items() if i == group.keep_id)
    assert keep_path.endswith("IMG_0001.png")  # the PNGs are the biggest files of the most pixels
    twin = photos["backup/IMG_0001.png" if "camera" in keep_path else "camera/IMG_0001.png"]
    tile = {rel: row.tiles[by_path[str(path)]] for rel, path in photos.items() if str(path) != keep_path}
    twin_tile = tile["backup/IMG_0001.png" if "camera" in keep_path else "camera/IMG_0001.png"]
    frames = [tile["camera/IMG_0002.png"], tile["camera/IMG_0003.png"]]

    # The copies are marked and say why; the other frames are shown, unmarked, with theirs.
    assert (
        twin_tile.trash_box.isChecked()
        and twin_tile.reason_label.text() == "Exact copy (the same file contents)"
    )
    jpeg = tile["export/IMG_0001.jpg"]
    assert jpeg.trash_box.isChecked() and jpeg.reason_label.text().startswith(
        "Same picture, re-encoded (hash "
    )
    for frame in frames:
        assert not frame.trash_box.isHidden() and not frame.trash_box.isChecked()
        assert frame.reason_label.text().startswith("Similar, not a copy: a different frame")
    assert "2 confirmed copies, 2 similar, not a copy" in row.title.text()
    assert row.trash_button.text() == "Move 2 marked to trash"
    assert dialog.hint_label.isVisible()
    assert_window_fits_screen(qtbot, dialog, [dialog.trash_all_button, dialog.find_button])
    qtbot.waitUntil(
        lambda: all(t.thumbnail.has_thumbnail() for t in row.tiles.values()), timeout=SEARCH_WAIT_MS
    )
    settle(dialog)
    for tile_shown in row.tiles.values():
        assert_label_text_fits(tile_shown.reason_label)
    assert dialog.grab().save(str(SCREENSHOT.with_name("duplicates-burst.png")))

    # The user may still pick a frame by hand, and change their mind.
    frames[0].trash_box.click()
    assert row.trash_button.text() == "Move 3 marked to trash"
    frames[0].trash_box.click()
    assert row.trash_button.text() == "Move 2 marked to trash"

    QTimer.singleShot(0, lambda: next(
        b for b in QApplication.activeModalWidget().buttons() if b.text() == "Move to Trash"
    ).click())  # fmt: skip
    with qtbot.waitSignal(dialog.trashFinished, timeout=IMPORT_WAIT_MS) as finished:
        qtbot.mouseClick(dialog.trash_all_button, Qt.MouseButton.LeftButton)
    assert sorted(r["path"] for r in finished.args[0]) == sorted(
        [str(twin), str(photos["export/IMG_0001.jpg"])]
    )
    assert not twin.exists() and in_trash(twin) is not None
    # The frames stay on disk and in view, still unmarked: nothing more is proposed.
    assert all(photos[f"camera/IMG_000{n}.png"].exists() for n in (2, 3)) and Path(keep_path).exists()
    assert len(dialog.groups) == 1 and len(dialog.groups[0].documents) == 3
    assert dialog.rows[0].trash_button.text() == "None marked" and not dialog.rows[0].trash_button.isEnabled()
    assert not dialog.trash_all_button.isEnabled()
