"""What the menus, buttons and keys of the main window do when it is not library work: file choosers,
pasting an image, thumbnail size, the search field's focus, About. The layout only wires to these."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app import __version__
from app.gui.collection_dialog import model_label
from app.gui.mime import QueryImageError, read_query_image

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

THUMBNAIL_SIZES = (96, 128, 160, 208, 256, 320)


def image_file_filter() -> str:
    """File dialog filter for the image types the engine reads (its module is loaded by then)."""
    from app.engine.images import SUPPORTED_EXTENSIONS

    patterns = " ".join(f"*{ext}" for ext in sorted(SUPPORTED_EXTENSIONS))
    return f"Images ({patterns});;All files (*)"


class WindowCommands(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def set_min_similarity(self, percent: int) -> None:
        self._window.settings.min_similarity = percent / 100
        self._window.search.set_min_similarity(percent / 100)

    def request_filter_options(self, params: dict) -> None:
        window = self._window
        if window.search.collection_name is not None:
            # Never superseding, nor superseded by, the grid's search: both answers are wanted.
            request = window.bridge.call("facets", window.search.collection_name, params)
            request.done.connect(window.filter_bar.set_facets)

    def search_text_changed(self, text: str) -> None:
        # The line edit's own clear button empties it before its textEdited: words that refined an
        # image chip leave the image search; plain words leave the library.
        if not text and self._window.search.query.text:
            self._window.search.submit_text("", refine=self._window.search_field.image_label is not None)

    def zoom(self, steps: int) -> None:
        """Step the thumbnail size through THUMBNAIL_SIZES; the choice is remembered."""
        current = self._window.results_view.thumbnailSize()
        index = min(range(len(THUMBNAIL_SIZES)), key=lambda i: abs(THUMBNAIL_SIZES[i] - current))
        size = THUMBNAIL_SIZES[max(0, min(len(THUMBNAIL_SIZES) - 1, index + steps))]
        self._window.results_view.setThumbnailSize(size)
        self._window.settings.set("thumbnail_size", size)
        self._window.zoom_in_action.setEnabled(size < THUMBNAIL_SIZES[-1])
        self._window.zoom_out_action.setEnabled(size > THUMBNAIL_SIZES[0])

    def restore_zoom(self) -> None:
        size = self._window.settings.get("thumbnail_size")
        if isinstance(size, int) and size in THUMBNAIL_SIZES:
            self._window.results_view.setThumbnailSize(size)

    def focus_search(self) -> None:
        self._window.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self._window.search_field.selectAll()

    def paste_image(self) -> bool:
        """Ctrl+V outside the search field: search by the clipboard's image, or paste its text there."""
        if self._window.search_field.paste_image():
            return True
        self._window.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self._window.search_field.paste()
        return False

    def choose_import_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self._window, "Import Photos", self._window.settings.last_import_dir, image_file_filter()
        )
        if files:
            self._window.import_paths(files)

    def choose_import_folder(self) -> None:
        window = self._window
        folder = QFileDialog.getExistingDirectory(
            window, "Add a Folder of Photos (Photoseek keeps it in step)", window.settings.last_import_dir
        )
        if folder:
            self._window.import_paths([folder])

    def choose_query_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Search by Image", self._window.settings.last_import_dir, image_file_filter()
        )
        if not path:
            return
        try:
            data = read_query_image(path)
        except QueryImageError as exc:
            self._window.statusBar().showMessage(str(exc), 8000)
            return
        self._window.search_by_image(data, Path(path).name)

    def show_about(self) -> None:
        window = self._window
        model = window.model.current_model()
        runs_on = html.escape(window.model.runs_on(model) or "not loaded yet")
        QMessageBox.about(
            window,
            "About Photoseek",
            f"<b>Photoseek {__version__}</b><br>Private photo search on your own computer.<br><br>"
            "Photos are understood by a CLIP model running locally; nothing is uploaded.<br><br>"
            f"Model: {model_label(model)} ({model}), {window.model.state(model)}<br>"
            f"Runs on: {runs_on}<br>"
            f"Library: {window.data_dir}",
        )
