"""The results grid widget: an icon-mode list view with an empty-state message and id-level signals."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QContextMenuEvent, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyleOptionViewItem, QWidget

from app.gui.results_delegate import ResultsDelegate
from app.gui.results_model import ResultsModel

_USER = Qt.ItemDataRole.UserRole

# Keys the grid handles itself (Qt's item view), for Help › Keyboard Shortcuts; the actions' keys are read
# from the actions.
GRID_KEYS: list[tuple[str, str]] = [
    ("Down (in the search field)", "Into the results, on the first photo"),
    ("Arrow keys", "Move between photos"),
    ("Home, End", "First, last photo"),
    ("Page Up, Page Down", "A screenful up, down"),
    ("Shift+arrows, Ctrl+click", "Select several photos"),
    ("Ctrl+A", "Select all"),
    ("Double-click", "View the photo"),
]


class ResultsView(QListView):
    """Grid of result tiles.

    ``activatedDocument(id)`` on double-click/Enter; ``contextMenuRequestedFor(ids, global_pos)`` on
    right-click, with the ids of the selection after the click (empty when clicking empty space).
    """

    activatedDocument = Signal(str)
    contextMenuRequestedFor = Signal(list, QPoint)

    SPACING = 4
    SETTLE_MS = 120

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._empty_text = ""
        self._delegate = ResultsDelegate(self)
        self.setItemDelegate(self._delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSpacing(self.SPACING)
        # Laying out 10,000 tiles at once blocks for ~0.1 s; batches keep the window responsive meanwhile.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(1000)
        self.setMouseTracking(True)  # hover highlight
        self._apply_thumbnail_size()

        self.activated.connect(self._on_activated)

        # After scrolling settles, pending thumbnail requests for rows no longer on screen are dropped.
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(self.SETTLE_MS)
        self._settle_timer.timeout.connect(self._prioritize_visible)
        self.verticalScrollBar().valueChanged.connect(self._settle_timer.start)

    # ----- public API -------------------------------------------------------------------------------------

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        if isinstance(model, ResultsModel):
            model.set_thumbnail_size(self._device_thumbnail_size())

    def setEmptyText(self, text: str) -> None:
        self._empty_text = text
        self.viewport().update()

    def emptyText(self) -> str:
        return self._empty_text

    def thumbnailSize(self) -> int:
        return self._delegate.thumbnailSize()

    def setThumbnailSize(self, pixels: int) -> None:
        """Zoom: tile size in logical pixels (32..1024)."""
        self._delegate.setThumbnailSize(pixels)
        self._apply_thumbnail_size()

    def selected_ids(self) -> list[str]:
        """Selected document ids in grid order."""
        rows = (
            sorted(index.row() for index in self.selectionModel().selectedIndexes()) if self.model() else []
        )
        return [str(self.model().index(row, 0).data(_USER)) for row in rows]

    def visible_rows(self) -> list[int]:
        """Rows whose tile intersects the viewport."""
        model = self.model()
        if model is None or model.rowCount() == 0:
            return []
        area = self.viewport().rect()
        count = model.rowCount()
        # Tiles flow left to right and wrap, so bottoms grow with the row number: binary search the first.
        lo, hi = 0, count
        while lo < hi:
            mid = (lo + hi) // 2
            rect = self.visualRect(model.index(mid, 0))
            # Tiles not laid out yet (batched layout still running) count as below the viewport.
            if rect.isValid() and rect.bottom() < area.top():
                lo = mid + 1
            else:
                hi = mid
        rows = []
        for row in range(lo, count):
            rect = self.visualRect(model.index(row, 0))
            if rect.top() > area.bottom():
                break
            if rect.intersects(area):
                rows.append(row)
        return rows

    # ----- events -----------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        model = self.model()
        if self._empty_text and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            color = self.palette().color(QPalette.ColorRole.PlaceholderText)
            painter.setPen(color)
            font = painter.font()
            if font.pointSizeF() > 0:
                font.setPointSizeF(font.pointSizeF() * 1.4)
            painter.setFont(font)
            area = self.viewport().rect().adjusted(24, 24, -24, -24)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(area, int(flags), self._empty_text)
            painter.end()
            return
        super().paintEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.indexAt(event.pos())
        selection = self.selectionModel()
        if selection is not None:
            if not index.isValid():
                selection.clearSelection()
            elif not selection.isSelected(index):
                # Like file managers: right-clicking an unselected tile acts on that tile alone.
                flags = (
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Current
                )
                selection.setCurrentIndex(index, flags)
        self.contextMenuRequestedFor.emit(self.selected_ids(), event.globalPos())
        event.accept()

    def moveCursor(
        self, cursorAction: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier
    ) -> QModelIndex:
        """Page Up/Down move a screenful of rows in the same column (Qt's icon mode finds no tile there
        when the last page is short, and does not move at all)."""
        pages = (QAbstractItemView.CursorAction.MovePageUp, QAbstractItemView.CursorAction.MovePageDown)
        model, current = self.model(), self.currentIndex()
        if cursorAction not in pages or model is None or not current.isValid():
            return super().moveCursor(cursorAction, modifiers)
        grid = self.gridSize()
        columns = max(1, (self.viewport().width() - 1) // max(1, grid.width()))
        step = columns * max(1, self.viewport().height() // max(1, grid.height()))
        row, count = current.row(), model.rowCount()
        if cursorAction == QAbstractItemView.CursorAction.MovePageDown:
            target = min(count - 1, row + step)
        else:
            target = row - step if row - step >= 0 else row % columns
        return model.index(target, 0)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._apply_thumbnail_size()  # the name line's height changed

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._fit_columns()
        super().resizeEvent(event)
        self._settle_timer.start()

    # ----- internals --------------------------------------------------------------------------------------

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.activatedDocument.emit(str(index.data(_USER)))

    def _device_thumbnail_size(self) -> int:
        # Thumbnails are decoded at device resolution so they stay sharp on HiDPI screens.
        return max(16, round(self._delegate.thumbnailSize() * self.devicePixelRatioF()))

    def _apply_thumbnail_size(self) -> None:
        option = QStyleOptionViewItem()
        option.font = self.font()
        tile = self._delegate.sizeHint(option, QModelIndex())
        self._tile = QSize(tile.width() + self.SPACING, tile.height() + self.SPACING)
        self._fit_columns()
        # Roughly a quarter tile per wheel notch step: smooth, but still quick through long results.
        self.verticalScrollBar().setSingleStep(max(16, tile.height() // 4))
        model = self.model()
        if isinstance(model, ResultsModel):
            model.set_thumbnail_size(self._device_thumbnail_size())
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def _fit_columns(self) -> None:
        """Share the viewport's width out between the columns that fit, so the rows fill it edge to edge
        instead of leaving up to a tile's width empty on the right; the tiles stay centred in their cells."""
        # Qt wraps a row unless it is narrower than the viewport: one pixel is left over.
        room = self.viewport().width() - 1
        columns = max(1, room // self._tile.width())
        width = max(self._tile.width(), room // columns)
        grid = QSize(width, self._tile.height())
        if grid != self.gridSize():
            self.setGridSize(grid)

    def _prioritize_visible(self) -> None:
        model = self.model()
        visible = self.visible_rows()
        if isinstance(model, ResultsModel) and visible:  # nothing laid out yet: keep every request
            model.prioritize_rows(visible)
