"""What the menus, buttons and keys of the main window do when it is not library work: file choosers,
pasting an image, thumbnail size, the search field's focus, Esc, moving photos to the trash, About. The
layout only wires to these."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QObject, Qt
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
        """Zoom the photo in the viewer; else step the thumbnail size through THUMBNAIL_SIZES (remembered)."""
        if self._window.viewer.is_open():
            self._window.viewer.page.canvas.zoom_by(1.25 if steps > 0 else 0.8)
            return
        current = self._window.results_view.thumbnailSize()
        index = min(range(len(THUMBNAIL_SIZES)), key=lambda i: abs(THUMBNAIL_SIZES[i] - current))
        size = THUMBNAIL_SIZES[max(0, min(len(THUMBNAIL_SIZES) - 1, index + steps))]
        self._window.results_view.setThumbnailSize(size)
        self._window.settings.set("thumbnail_size", size)
        self.update_zoom_actions()

    def update_zoom_actions(self) -> None:
        size = self._window.results_view.thumbnailSize()
        viewing = self._window.viewer.is_open()
        self._window.zoom_in_action.setEnabled(viewing or size < THUMBNAIL_SIZES[-1])
        self._window.zoom_out_action.setEnabled(viewing or size > THUMBNAIL_SIZES[0])

    def restore_zoom(self) -> None:
        size = self._window.settings.get("thumbnail_size")
        if isinstance(size, int) and size in THUMBNAIL_SIZES:
            self._window.results_view.setThumbnailSize(size)

    def focus_search(self) -> None:
        """Ctrl+F or /, from anywhere: a new search is about to be typed, so the viewer gives way."""
        self._window.viewer.close()
        self._window.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self._window.search_field.selectAll()

    def escape(self) -> None:
        if self._window.viewer.is_open():
            self._window.viewer.close()
        else:
            self._window.clear_search()

    def enter_results(self) -> None:
        """Down from the search field: into the grid (the viewer, if it is open), on the current photo
        or else the first one."""
        window = self._window
        if window.viewer.is_open():
            window.viewer.page.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return
        view, model = window.results_view, window.results_model
        if model.rowCount() == 0:
            return
        current = view.currentIndex()
        if not current.isValid() or not view.selectionModel().isSelected(current):
            select = QItemSelectionModel.SelectionFlag
            view.selectionModel().setCurrentIndex(model.index(0), select.ClearAndSelect | select.Current)
        view.scrollTo(view.currentIndex())
        view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def trash_photos(self, ids: list[str]) -> None:
        """Move the photos' files to the system trash; the grid (and the viewer) drop them when the library
        says they are gone. What could not be moved is said, with the reason."""
        window = self._window
        name = window.search.collection_name
        if not name or not ids:
            return
        request = window.bridge.call("trash_documents", name, list(ids))
        request.failed.connect(lambda problem: window.show_error("Move to Trash", problem.message))

        def done(results: list[dict]) -> None:
            failed = [r for r in results if not r.get("success")]
            if failed:
                first = failed[0]
                rows = window.results_model.rows_for_ids([str(first.get("id"))])
                name = window.results_model.document(rows[0]).get("name") if rows else None
                more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
                why = first.get("error") or "unknown reason"
                window.show_error("Move to Trash", f"Could not move “{name or first.get('id')}”{more}: {why}")

        request.done.connect(done)

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

    def show_about(self) -> QMessageBox:
        """The version, the model (and where it runs), and where the library lives: text that can be
        selected and copied, since the path is what people ask about when backing up or moving it."""
        window = self._window
        model = window.model.current_model()
        runs_on = html.escape(window.model.runs_on(model) or "not loaded yet")
        box = QMessageBox(window)
        box.setObjectName("aboutBox")
        box.setWindowTitle("About Photoseek")
        box.setIconPixmap(window.windowIcon().pixmap(64, 64))
        box.setTextFormat(Qt.TextFormat.RichText)
        label, name = html.escape(model_label(model)), html.escape(model)
        box.setText(
            f"<b>Photoseek {html.escape(__version__)}</b><br>Private photo search on your own computer."
            "<br><br>Photos are understood by a CLIP model running locally; nothing is uploaded.<br><br>"
            f"Model: {label} ({name}), {window.model.state(model)}<br>"
            f"Runs on: {runs_on}<br>"
            f"Library: {html.escape(str(window.data_dir))}"
        )
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box
