"""The built-in viewer's behaviour: which result is shown, stepping through the results in rank order,
decoding (with the neighbours decoded ahead), and the way back to the grid.

The photo shown is kept selected and current in the grid, so the grid's photo actions (the same QActions
as in the viewer's toolbar) act on it, and Esc returns to the grid with it selected. The grid page is only
hidden meanwhile, so it keeps its scroll position.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QSize, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QStackedWidget

from app.gui.photo_actions import PhotoActions
from app.gui.results_model import ResultsModel, SimilarityRole, similarity_percent
from app.gui.results_view import ResultsView
from app.gui.viewer import ViewerPage
from app.gui.viewer_decode import MAX_SCREEN_BOX, MIN_SCREEN_BOX, DecodedPhoto, PhotoSource, ViewerDecoder
from app.gui.viewer_info import PhotoDetails, describe

LOADING_NOTE_MS = 250  # a decode faster than this shows no "Loading…" flash


class ViewerController(QObject):
    """``photoShown(id)`` once a photo's picture (or the sentence saying why there is none) is on screen;
    ``opened()`` / ``closed()`` as the viewer page comes and goes."""

    photoShown = Signal(str)
    opened = Signal()
    closed = Signal()

    def __init__(
        self,
        stack: QStackedWidget,
        view: ResultsView,
        model: ResultsModel,
        actions: PhotoActions,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._stack, self._view, self._model = stack, view, model
        toolbar = [actions.find_similar, actions.open, actions.show_in_folder, None]
        self.page = ViewerPage([*toolbar, actions.copy, actions.copy_path, None, actions.trash])
        stack.addWidget(self.page)
        self.decoder = ViewerDecoder(self)
        self.prefetch = True  # decode the next and previous photo ahead (off only to measure what it buys)
        self.screen_box: int | None = None  # decode size for "fit"; None: this screen's longer side
        self._row = -1
        self._doc: dict | None = None
        self._source: PhotoSource | None = None
        self._box = MIN_SCREEN_BOX
        self._details = PhotoDetails()
        self._size = QSize()
        self._pending_row: int | None = None
        self._loading_note = QTimer(self)
        self._loading_note.setSingleShot(True)
        self._loading_note.setInterval(LOADING_NOTE_MS)
        self._loading_note.timeout.connect(lambda: self.page.show_message("Loading…"))

        self.page.stepRequested.connect(self.step)
        self.page.jumpRequested.connect(lambda end: self.show_row(0 if end == 0 else model.rowCount() - 1))
        self.page.backRequested.connect(self.close)
        self.page.canvas.detailWanted.connect(self._want_detail)
        self.decoder.decoded.connect(self._on_decoded)
        actions.viewRequested.connect(self.open_row)
        model.rowsRemoved.connect(self._on_rows_removed)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.modelReset.connect(self._on_reset)

    # -- state -------------------------------------------------------------------------------------------

    def is_open(self) -> bool:
        return self._stack.currentWidget() is self.page

    def current_row(self) -> int:
        return self._row if self.is_open() else -1

    def current_id(self) -> str | None:
        return str(self._doc["id"]) if self._doc is not None and self.is_open() else None

    # -- opening, stepping, closing ------------------------------------------------------------------------

    def open_row(self, row: int) -> None:
        if not 0 <= row < self._model.rowCount():
            return
        self._stack.setCurrentWidget(self.page)
        self.page.setFocus()
        self.show_row(row)
        self.opened.emit()

    def close(self) -> None:
        """Back to the grid, at the same place, with the photo last shown selected."""
        if not self.is_open():
            return
        self._loading_note.stop()
        self._pending_row = None
        self.decoder.drop_full()
        self._stack.setCurrentWidget(self._view)
        current = self._view.currentIndex()
        if current.isValid():
            # The grid did not follow the steps while hidden; a photo already in sight stays where it is.
            self._view.scrollTo(current, QAbstractItemView.ScrollHint.EnsureVisible)
        self._view.setFocus()
        self.closed.emit()

    def step(self, delta: int) -> None:
        if not self.is_open():
            return
        target = self._row + delta
        count = self._model.rowCount()
        if target >= count:
            if self._model.found() > count:
                # The next page is asked for (if not already); the step completes when it arrives.
                self._pending_row = target
                if self._model.canFetchMore(QModelIndex()):
                    self._model.fetchMore(QModelIndex())
            return
        if target >= 0:
            self.show_row(target)

    def show_row(self, row: int) -> None:
        model = self._model
        if not 0 <= row < model.rowCount():
            return
        self._row = row
        self._pending_row = None
        self._doc = model.document(row)
        self._source = self._source_of(self._doc)
        self.decoder.drop_full()
        self._select_in_grid(row)
        self._box = self._screen_box()
        self._details = PhotoDetails()
        self._size = QSize()
        self._show_position()
        self._show_info()
        cached = self.decoder.cached(self._source, self._box)
        if cached is not None:
            self._display(cached)
        else:
            self._loading_note.start()
            if not self.decoder.request(self._source, self._box) and not self.decoder.is_busy(
                self._source, self._box
            ):
                self.page.show_message("Loading…")
        if self.prefetch:
            for neighbour in (row + 1, row - 1):
                if 0 <= neighbour < model.rowCount():
                    self.decoder.request(self._source_of(model.document(neighbour)), self._box)
        if row + 3 >= model.rowCount() and model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())  # keep a page ahead of the steps

    # -- decoding ----------------------------------------------------------------------------------------

    def _source_of(self, doc: dict) -> PhotoSource:
        path = doc.get("path")
        field = self._model.image_field()
        stored = doc.get(field) if field else None
        return PhotoSource(
            str(doc["id"]),
            path if isinstance(path, str) and path else None,
            stored if isinstance(stored, str) and stored else None,
        )

    def _screen_box(self) -> int:
        if self.screen_box is not None:
            return self.screen_box
        screen = self.page.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return MIN_SCREEN_BOX
        size = screen.size() * screen.devicePixelRatio()
        return max(MIN_SCREEN_BOX, min(MAX_SCREEN_BOX, max(size.width(), size.height())))

    def _on_decoded(self, result: DecodedPhoto) -> None:
        if not self.is_open() or result.source != self._source:
            return  # a neighbour decoded ahead: it waits in the decoder's cache
        if result.box == self._box or (result.box == 0 and result.image is not None):
            self._display(result)

    def _display(self, result: DecodedPhoto) -> None:
        self._loading_note.stop()
        self._details = result.details
        if result.image is not None and not result.image.isNull():
            self._size = result.source_size
            self.page.show_picture(
                QPixmap.fromImage(result.image), result.source_size, keep_zoom=result.box == 0
            )
            if result.box == 0:
                # The picture now lives in the pixmap shown: a 50 MP photo's pixels are not kept twice.
                result.image = None
        elif result.missing:
            where = self._source.path if self._source is not None and self._source.path else "(no file)"
            self.page.show_message(
                f"This photo's file is missing:\n{where}\n\n"
                "It was moved or deleted after it was imported. Left and Right show the other photos."
            )
        else:
            self.page.show_message(f"This photo cannot be shown:\n{result.error or 'unreadable image'}")
        self._show_info()
        if self._doc is not None:
            self.photoShown.emit(str(self._doc["id"]))

    def _want_detail(self) -> None:
        """Zoomed past the screen decode: decode the photo at its own resolution (only this one)."""
        source = self._source
        if source is None or not self.page.canvas.has_photo():
            return
        shown = self.page.canvas.shown_pixmap_size()
        if shown.width() >= self._size.width() and shown.height() >= self._size.height():
            return  # already every pixel the photo has
        if self.decoder.cached(source, 0) is None:
            self.decoder.request(source, 0)

    # -- showing ------------------------------------------------------------------------------------------

    def _select_in_grid(self, row: int) -> None:
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Current
        self._view.selectionModel().setCurrentIndex(self._model.index(row), flags)

    def _show_position(self) -> None:
        count = self._model.rowCount()
        self.page.show_position(self._row, count, self._model.found() > count)

    def _show_info(self) -> None:
        doc = self._doc
        if doc is None:
            return
        similarity = self._model.data(self._model.index(self._row), SimilarityRole)
        rows = describe(
            doc,
            self._details,
            width=self._size.width() if self._size.isValid() else 0,
            height=self._size.height() if self._size.isValid() else 0,
            similarity_percent=similarity_percent(similarity) if similarity is not None else None,
        )
        self.page.show_info(str(doc.get("name") or doc["id"]), rows)

    # -- the results changing underneath ----------------------------------------------------------------

    def _on_rows_removed(self, _parent: QModelIndex, first: int, _last: int) -> None:
        if not self.is_open() or self._doc is None:
            return
        # The model counts what is left only after this signal: the position is shown once it has.
        QTimer.singleShot(0, self._show_position)
        rows = self._model.rows_for_ids([str(self._doc["id"])])
        if rows:
            self._row = rows[0]
            return
        # The photo shown left (trashed, removed): the next one takes its place, or the previous one.
        if self._source is not None:
            self.decoder.forget(self._source)
        count = self._model.rowCount()
        if count == 0:
            self.close()
        else:
            self.show_row(min(first, count - 1))

    def _on_rows_inserted(self, *_args: object) -> None:
        if not self.is_open():
            return
        if self._pending_row is not None and self._pending_row < self._model.rowCount():
            self.show_row(self._pending_row)
        else:
            self._show_position()

    def _on_reset(self) -> None:
        """A new search, or the same one refreshed (an import finished): stay on the photo if it is still
        among the results, else go back to the grid."""
        if not self.is_open() or self._doc is None:
            return
        rows = self._model.rows_for_ids([str(self._doc["id"])])
        if not rows:
            self.close()
            return
        self._row = rows[0]
        self._select_in_grid(self._row)
        self._show_position()
        self._show_info()

    def shutdown(self) -> None:
        self._loading_note.stop()
        self.decoder.shutdown()
