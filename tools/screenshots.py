"""Regenerate the README screenshots from a demo library of generated shape pictures.

    python3 tools/screenshots.py [--out docs/screenshots] [--scheme light|dark]

Runs the real window (offscreen, so no display is needed) over a throw-away library that uses the tiny
test model, and saves: empty.png (first launch), importing.png (an import in progress), text-search.png
(results for a typed query), find-similar.png (photos like a chosen one), filters.png (a text search
narrowed by the filter bar and the similarity threshold), folders.png (the followed folders, one of them
offline), viewer.png (a search result open in the built-in viewer, with its camera details) and
first-run.png (a new library without its model: the offer made before the first import; --only-model
makes just that and the model-*.png shots). duplicates.png and model-chooser.png have their own scenes:
tools/screenshot_duplicates.py (copies and burst frames) and tools/screenshot_model_chooser.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

WINDOW_SIZE = (1180, 760)
WAIT_MS = 300_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    parser.add_argument("--scheme", choices=("light", "dark"), default="light")
    parser.add_argument("--per-class", type=int, default=4, help="demo pictures per colour x shape")
    parser.add_argument(
        "--only-model", action="store_true", help="only first-run.png, model-offer.png, model-offline.png"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="photoseek-screens-") as tmp:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["PHOTOSEEK_DATA_DIR"] = str(Path(tmp) / "library")
        os.environ["PHOTOSEEK_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.environ["PHOTOSEEK_DEFAULT_MODEL"] = "photoseek/tiny-shapes"
        os.environ["PHOTOSEEK_COLOR_SCHEME"] = args.scheme
        photos = Path(tmp) / "Pictures" / "Shapes"
        if args.only_model:
            return shoot_first_run(args.out, Path(tmp) / "first-run", also_offer=True)
        return take_screenshots(photos, args.out, args.per_class)


def take_screenshots(photos: Path, out: Path, per_class: int) -> int:
    from PySide6.QtCore import QEventLoop, QItemSelectionModel, QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.app import create_application
    from app.gui.main_window import MainWindow
    from app.library import ImportProgress
    from app.shapes import write_shape_folder

    write_shape_folder(photos, per_class=per_class, size=(320, 240), fmt="JPEG")
    phone = photos.parent / "Phone"
    plant_copies(photos, phone)
    usb = photos.parent / "USB stick"
    write_shape_folder(usb, per_class=1, colours=("yellow",), shapes=("ring",), size=(320, 240))
    app = create_application(["photoseek-screenshots"])
    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.splitter.setSizes([190, WINDOW_SIZE[0] - 190])

    def wait_for(signal: SignalInstance, predicate: Callable[..., bool] = lambda *_: True) -> tuple:
        loop = QEventLoop()
        received: list[tuple] = []

        def on_signal(*args: object) -> None:
            if predicate(*args):
                received.append(args)
                loop.quit()

        signal.connect(on_signal)
        QTimer.singleShot(WAIT_MS, loop.quit)
        loop.exec()
        signal.disconnect(on_signal)
        if not received:
            raise SystemExit(f"timed out waiting for {signal}")
        return received[0]

    def settle(ms: int = 400) -> None:
        """Let thumbnails decode and paint before grabbing."""
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()
        for _ in range(100):
            if window.results_model.loader.is_idle():
                break
            loop = QEventLoop()
            QTimer.singleShot(50, loop.quit)
            loop.exec()
        app.processEvents()

    def save(name: str) -> None:
        path = out / name
        window.grab().save(str(path))
        print(f"wrote {path}")

    window.show()
    wait_for(window.engineOpened)
    settle()
    save("empty.png")

    shot_taken: list[bool] = []

    def maybe_shoot(progress: object) -> None:
        if not isinstance(progress, ImportProgress):
            return
        if not shot_taken and progress.total and progress.done >= progress.total * 0.35:
            shot_taken.append(True)
            settle(200)
            save("importing.png")

    # As a drop would: the folder is followed and its photos import.
    window.import_paths([str(photos)]).progress.connect(maybe_shoot)
    wait_for(window.importFinished)
    for folder in (phone, usb):
        window.import_paths([str(folder)])
        wait_for(window.importFinished)
    window.import_panel.hide()

    window.search_field.setText("a red circle")
    window.search.submit_text("a red circle")
    wait_for(window.resultsShown, lambda query: query.text == "a red circle")
    settle()
    save("text-search.png")

    model = window.results_model
    window.clear_search()
    wait_for(window.resultsShown, lambda query: query.is_library)
    chosen = next(
        r for r in range(model.rowCount()) if str(model.document(r).get("name")).startswith("blue_star")
    )
    window.results_view.selectionModel().setCurrentIndex(
        model.index(chosen), QItemSelectionModel.SelectionFlag.ClearAndSelect
    )
    chosen_id = model.doc_id(chosen)
    window.photo_actions.find_similar.trigger()
    wait_for(window.resultsShown, lambda query: query.similar_to == chosen_id)
    settle()
    save("find-similar.png")

    # The filter bar (the "Shapes" folder, JPEG only) and the threshold on a text search.
    window.clear_search()
    wait_for(window.resultsShown, lambda query: query.is_library)
    combo = window.filter_bar.folder_combo
    window.filter_bar.request_options()  # its own refresh waits for imports to settle
    wait_for(window.filter_bar.optionsChanged)
    combo.setCurrentIndex(next(i for i in range(combo.count()) if "Shapes" in combo.itemText(i)))
    window.threshold_control.setValue(60)
    window.search_field.setText("a red circle")
    window.search.submit_text("a red circle")
    wait_for(window.resultsShown, lambda query: query.text == "a red circle")
    settle()
    save("filters.png")
    window.filter_bar.clear_filters()
    window.threshold_control.setValue(0)

    # A followed folder on a drive that was unplugged.
    usb.rename(usb.with_name("USB stick (ejected)"))
    rescan = window.rescan_folders()
    wait_for(rescan.done)
    dialog = window.show_folders()
    wait_for(window.bridge.foldersChanged)
    settle()
    grab(dialog, out / "folders.png")
    dialog.close()

    shoot_model_flow(window, out, wait_for, settle, save)
    shoot_viewer(window, photos.parent / "Camera", out, wait_for, settle)
    window.close()
    QApplication.processEvents()
    return shoot_first_run(out, photos.parent.parent / "first-run")


def shoot_model_flow(window, out: Path, wait_for, settle, save) -> None:
    """The first use of a model that is not on this computer, offline: the offer, the failed download,
    and the window after "not now"."""
    from app.library import photo_schema

    # Port 9 on loopback refuses at once: a computer with no way out, as on a plane.
    os.environ["PHOTOSEEK_MODEL_BASE_URL"] = "http://127.0.0.1:9"
    created = window.bridge.call("create_collection", photo_schema("Trips", "ts/clip-vit-b-p32"))
    wait_for(created.done)
    rows = {window.collections_list.item(i).text(): i for i in range(window.collections_list.count())}
    window.collections_list.setCurrentRow(rows["Trips"])
    window.search_field.setText("the beach at sunset")
    window.search.submit_text("the beach at sunset")
    wait_for(window.search.searchFailed)
    dialog = window.model.dialog
    settle()
    grab(dialog, out / "model-offer.png")
    dialog.start_download()
    while dialog.busy:  # the refused connection fails within a moment
        settle(100)
    settle()
    grab(dialog, out / "model-offline.png")
    dialog.reject()
    settle()
    save("model-declined.png")


def shoot_viewer(window, camera: Path, out: Path, wait_for, settle) -> None:
    """A camera photo (EXIF make, model, date) found by a search and opened in the viewer."""
    from PIL import Image

    from app.shapes import draw_shape

    camera.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "FUJIFILM", "X-T30"
    exif.get_ifd(0x8769)[0x9003] = "2024:06:21 19:42:10"
    photo = camera / "DSCF4127.JPG"
    draw_shape("red", "circle", size=(1800, 1200), seed=4127).save(photo, quality=92, exif=exif.tobytes())
    rows = {window.collections_list.item(i).text(): i for i in range(window.collections_list.count())}
    window.collections_list.setCurrentRow(rows.get("Photos", 0))
    window.import_paths([str(camera)])
    wait_for(window.importFinished)
    window.import_panel.hide()
    window.search_field.setText("a red circle")
    window.search.submit_text("a red circle")
    wait_for(window.resultsShown, lambda query: query.text == "a red circle")
    model = window.results_model
    row = next(r for r in range(model.rowCount()) if model.document(r).get("name") == photo.name)
    size = window.size()
    window.resize(1100, 700)
    window.viewer.open_row(row)
    settle(1500)
    grab(window, out / "viewer.png")
    window.viewer.close()
    window.resize(size)


def shoot_first_run(out: Path, data_dir: Path, *, also_offer: bool = False) -> int:
    """first-run.png: a new library whose default model is not on this computer: the window opens with
    the offer in front, before any import. ``also_offer``: model-offer.png and model-offline.png too (the
    offer, and a download that failed offline with its details shown), without the rest of the demo."""
    from PySide6.QtCore import QEventLoop, QPoint, QTimer
    from PySide6.QtGui import QColor, QPainter

    from app.gui.app import create_application
    from app.gui.main_window import MainWindow

    app = create_application(["photoseek-screenshots"])
    out.mkdir(parents=True, exist_ok=True)
    os.environ["PHOTOSEEK_DEFAULT_MODEL"] = "ts/clip-vit-b-p32"
    os.environ["PHOTOSEEK_MODEL_BASE_URL"] = "http://127.0.0.1:9"  # refused at once: offline

    def wait(predicate: Callable[[], bool]) -> None:
        for _ in range(WAIT_MS // 50):
            if predicate():
                return
            loop = QEventLoop()
            QTimer.singleShot(50, loop.quit)
            loop.exec()
        raise SystemExit("timed out waiting for the model offer")

    window = MainWindow(data_dir=data_dir)
    window.resize(*WINDOW_SIZE)
    window.show()
    wait(lambda: window.model.dialog is not None and window.model.dialog.isVisible())
    dialog = window.model.dialog
    wait(lambda: "not downloaded" in window.model_status.text())
    app.processEvents()
    picture, shown = window.grab(), dialog.grab()
    painter = QPainter(picture)
    painter.fillRect(picture.rect(), QColor(0, 0, 0, 70))  # as a window behind a modal dialog is dimmed
    corner = QPoint((picture.width() - shown.width()) // 2, 140)
    painter.drawPixmap(corner, shown)
    painter.setPen(QColor(0, 0, 0, 110))
    painter.drawRect(corner.x() - 1, corner.y() - 1, shown.width() + 1, shown.height() + 1)
    painter.end()
    picture.save(str(out / "first-run.png"))
    print(f"wrote {out / 'first-run.png'}")
    if also_offer:
        dialog.reject()
        dialog = window.model.show_dialog("ts/clip-vit-b-p32")
        wait(dialog.isVisible)
        grab(dialog, out / "model-offer.png")
        dialog.start_download()
        wait(lambda: not dialog.busy)
        dialog.details_button.setChecked(True)
        app.processEvents()
        grab(dialog, out / "model-offline.png")
    if window.model.dialog is not None:
        window.model.dialog.reject()
    window.close()
    app.processEvents()
    return 0


def plant_copies(photos: Path, phone: Path) -> None:
    """A second folder holding re-encoded and rescaled copies of some photos: duplicates to find."""
    from PIL import Image

    phone.mkdir(parents=True, exist_ok=True)
    for n, original in enumerate(sorted(photos.glob("*_000.jpg"))[:6]):
        with Image.open(original) as img:
            if n % 2:
                img.resize((160, 120)).save(phone / f"IMG_{n:04d}.jpg", quality=80)
            else:
                img.save(phone / f"IMG_{n:04d}.png")


def grab(widget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
