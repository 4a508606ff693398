"""The viewer's picture area: one photo fitted to the window or at 100%, panned by dragging or scrollbars.

Scene coordinates are the photo's own pixels whatever was decoded: a screen-sized decode is scaled up to
the photo's size in the scene, so swapping in the full-resolution decode later changes nothing on screen
but sharpness, and "100%" is always one photo pixel per device pixel.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

# Keys the page handles (stepping, zoom keys): the view would otherwise scroll with them.
PAGE_KEYS = {
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
    Qt.Key.Key_Space,
    Qt.Key.Key_Backspace,
}
MAX_ZOOM = 8.0  # 800%
WHEEL_STEP = 1.25
BACKGROUND = QColor(24, 24, 24)


class ViewerCanvas(QGraphicsView):
    """``zoomChanged(factor)`` (1.0 = 100%); ``detailWanted()`` when the shown decode is being magnified
    (time to decode the full resolution)."""

    zoomChanged = Signal(float)
    detailWanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewerCanvas")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self._source = QSize()
        self._fit = True
        self._message = ""
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(BACKGROUND)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._update_drag()

    # -- contents ----------------------------------------------------------------------------------------

    def set_photo(self, pixmap: QPixmap, source_size: QSize, *, keep_zoom: bool = False) -> None:
        """Show ``pixmap`` standing for a picture of ``source_size``; fitted unless ``keep_zoom`` (a
        sharper decode of the same photo arriving while zoomed)."""
        self._message = ""
        self._item.setPixmap(pixmap)
        self._item.setVisible(True)
        source = source_size if source_size.isValid() and not source_size.isEmpty() else pixmap.size()
        self._source = QSize(source)
        self._item.setScale(source.width() / max(1, pixmap.width()))
        self._scene.setSceneRect(QRectF(0, 0, source.width(), source.height()))
        if keep_zoom and not self._fit:
            self._changed()
        else:
            self.fit()

    def show_message(self, text: str) -> None:
        """No picture, a sentence instead (a missing file, an unreadable one, "Loading…")."""
        self._message = text
        self._item.setPixmap(QPixmap())
        self._item.setVisible(False)
        self._source = QSize()
        self._scene.setSceneRect(QRectF(0, 0, 1, 1))
        self.resetTransform()
        self._fit = True
        self._update_drag()
        self.viewport().update()

    def message(self) -> str:
        return self._message

    def has_photo(self) -> bool:
        return not self._item.pixmap().isNull()

    def shown_pixmap_size(self) -> QSize:
        return self._item.pixmap().size()

    # -- zoom --------------------------------------------------------------------------------------------

    def zoom_factor(self) -> float:
        """How large the photo is shown: 1.0 is one photo pixel per screen pixel."""
        return self.transform().m11() * self.devicePixelRatioF()

    def is_fitted(self) -> bool:
        return self._fit

    def fit_factor(self) -> float:
        if not self._source.isValid() or self._source.isEmpty():
            return 1.0
        area = self.viewport().size()
        scale = min(area.width() / self._source.width(), area.height() / self._source.height())
        # Fitting shrinks large photos; small ones stay at 100% rather than turning to mush.
        return min(scale * self.devicePixelRatioF(), 1.0)

    def fit(self) -> None:
        self._fit = True
        self._set_factor(self.fit_factor())

    def actual_size(self, anchor: QPointF | None = None) -> None:
        """100%, keeping the photo point under ``anchor`` (viewport coordinates) where it was."""
        self._fit = False
        self._set_factor(1.0, anchor)

    def toggle_zoom(self, anchor: QPointF | None = None) -> None:
        if self._fit and abs(self.fit_factor() - 1.0) > 1e-3:
            self.actual_size(anchor)
        else:
            self.fit()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        if not self.has_photo():
            return
        wanted = max(min(self.fit_factor(), 1.0), min(MAX_ZOOM, self.zoom_factor() * factor))
        self._fit = abs(wanted - self.fit_factor()) < 1e-3
        self._set_factor(wanted, anchor)

    def _set_factor(self, factor: float, anchor: QPointF | None = None) -> None:
        scene_point = self.mapToScene(anchor.toPoint()) if anchor is not None else None
        scale = factor / self.devicePixelRatioF()
        self.setTransform(QTransform.fromScale(scale, scale))
        if scene_point is not None and anchor is not None:
            # Keep the point that was under the pointer under it.
            now = self.mapFromScene(scene_point)
            delta = now - anchor.toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
        elif self._fit:
            self.centerOn(self._item.sceneBoundingRect().center())
        self._changed()

    def _changed(self) -> None:
        self._update_drag()
        factor = self.zoom_factor()
        pixmap = self._item.pixmap()
        if not pixmap.isNull() and factor * self._item.scale() > 1.001:
            self.detailWanted.emit()
        self.zoomChanged.emit(factor)

    def _update_drag(self) -> None:
        # A hand to drag with only when there is something to pan.
        bigger = self.horizontalScrollBar().maximum() > 0 or self.verticalScrollBar().maximum() > 0
        self.setDragMode(
            QGraphicsView.DragMode.ScrollHandDrag
            if bigger and not self._fit
            else QGraphicsView.DragMode.NoDrag
        )

    # -- events ------------------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit and self.has_photo():
            self.fit()
        else:
            self._update_drag()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.zoom_by(WHEEL_STEP**steps, event.position())
            event.accept()
            return
        super().wheelEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.has_photo():
            self.toggle_zoom(event.position())
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in PAGE_KEYS:
            event.ignore()  # to the page
            return
        super().keyPressEvent(event)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        if not self._message:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor(225, 225, 225))
        font = painter.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        area = self.viewport().rect().adjusted(32, 32, -32, -32)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self._message)
        painter.restore()
