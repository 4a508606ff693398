"""Paints one result tile: thumbnail (or a placeholder saying why there is none), name, match badge."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.gui.results_model import (
    DEFAULT_THUMBNAIL_SIZE,
    PathRole,
    SimilarityRole,
    ThumbnailStateRole,
    similarity_percent,
)
from app.gui.thumbnails import ThumbnailState

_Index = QModelIndex | QPersistentModelIndex

PAD_X = 10
PAD_TOP = 8
GAP = 6
PAD_BOTTOM = 6
RADIUS = 6.0


def _alpha(color: QColor, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c


class ResultsDelegate(QStyledItemDelegate):
    """Tiles of ``thumbnail_size`` (logical pixels) plus a one-line name; ~180x200 at 160."""

    def __init__(
        self, parent: QWidget | None = None, *, thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE
    ) -> None:
        super().__init__(parent)
        self._thumbnail_size = thumbnail_size
        self._placeholders: dict[tuple, QPixmap] = {}

    def thumbnailSize(self) -> int:
        return self._thumbnail_size

    def setThumbnailSize(self, pixels: int) -> None:
        if pixels < 32 or pixels > 1024:
            raise ValueError(f"thumbnail size must be between 32 and 1024 pixels, got {pixels}")
        self._thumbnail_size = pixels

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        line = QFontMetrics(option.font).height()
        thumb = self._thumbnail_size
        return QSize(thumb + 2 * PAD_X, max(thumb + 40, PAD_TOP + thumb + GAP + line + PAD_BOTTOM))

    # ----- painting -------------------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            palette: QPalette = option.palette
            state = option.state
            group = QPalette.ColorGroup.Active
            if not state & QStyle.StateFlag.State_Enabled:
                group = QPalette.ColorGroup.Disabled
            elif not state & QStyle.StateFlag.State_Active:
                group = QPalette.ColorGroup.Inactive
            text_color = palette.color(group, QPalette.ColorRole.Text)
            highlight = palette.color(group, QPalette.ColorRole.Highlight)

            tile = QRectF(option.rect).adjusted(2, 2, -2, -2)
            self._paint_background(painter, tile, state, highlight)

            thumb = self._thumbnail_size
            box = QRectF(
                option.rect.x() + (option.rect.width() - thumb) / 2, option.rect.y() + PAD_TOP, thumb, thumb
            )
            pixmap = index.data(Qt.ItemDataRole.DecorationRole)  # asks for the thumbnail if not loaded yet
            thumb_state = index.data(ThumbnailStateRole)
            if thumb_state == ThumbnailState.READY and isinstance(pixmap, QPixmap) and not pixmap.isNull():
                badge_anchor = self._paint_pixmap(painter, box, pixmap, text_color)
            elif thumb_state == ThumbnailState.LOADING:
                self._paint_loading(painter, box, text_color)
                badge_anchor = box
            else:
                if thumb_state == ThumbnailState.ERROR:
                    message = "Can't open image"
                elif index.data(PathRole):
                    message = "File missing"
                else:
                    message = "Image not stored"
                self._paint_unavailable(painter, box, option, text_color, message)
                badge_anchor = box

            similarity = index.data(SimilarityRole)
            if similarity is not None:
                self._paint_badge(painter, badge_anchor, option.font, similarity_percent(similarity))

            self._paint_name(
                painter, option, box, str(index.data(Qt.ItemDataRole.DisplayRole) or ""), text_color
            )
        finally:
            painter.restore()

    def _paint_background(
        self, painter: QPainter, tile: QRectF, state: QStyle.StateFlag, highlight: QColor
    ) -> None:
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        focused = bool(state & QStyle.StateFlag.State_HasFocus)
        if selected:
            # A tint plus a solid outline reads as "selected" on light and dark palettes, without recolouring
            # the photo or forcing highlightedText onto a half-transparent background.
            painter.setPen(QPen(highlight, 2))
            painter.setBrush(_alpha(highlight, 70))
            painter.drawRoundedRect(tile.adjusted(1, 1, -1, -1), RADIUS, RADIUS)
        elif hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_alpha(highlight, 30))
            painter.drawRoundedRect(tile, RADIUS, RADIUS)
        if focused and not selected:
            painter.setPen(QPen(_alpha(highlight, 160), 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)

    def _paint_pixmap(self, painter: QPainter, box: QRectF, pixmap: QPixmap, text_color: QColor) -> QRectF:
        logical = QSize(pixmap.size() / pixmap.devicePixelRatio())
        if logical.width() > box.width() or logical.height() > box.height():
            logical = logical.scaled(box.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
        # Whole-pixel placement keeps thumbnails sharp (no resampling at half-pixel offsets).
        target = QRect(
            round(box.x() + (box.width() - logical.width()) / 2),
            round(box.y() + (box.height() - logical.height()) / 2),
            logical.width(),
            logical.height(),
        )
        painter.drawPixmap(target, pixmap)
        # A hairline keeps white photos from melting into a white background. Four fills, because stroking
        # a translucent rectangle costs more than the whole rest of the tile.
        line = _alpha(text_color, 40)
        x, y, w, h = target.x(), target.y(), target.width(), target.height()
        painter.fillRect(QRect(x, y, w, 1), line)
        painter.fillRect(QRect(x, y + h - 1, w, 1), line)
        painter.fillRect(QRect(x, y + 1, 1, h - 2), line)
        painter.fillRect(QRect(x + w - 1, y + 1, 1, h - 2), line)
        return QRectF(target)

    def _paint_loading(self, painter: QPainter, box: QRectF, text_color: QColor) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_alpha(text_color, 18))
        painter.drawRoundedRect(box.adjusted(4, 4, -4, -4), RADIUS, RADIUS)

    def _paint_unavailable(
        self, painter: QPainter, box: QRectF, option: QStyleOptionViewItem, text_color: QColor, message: str
    ) -> None:
        # Dashed antialiased outlines and wrapped text cost ~1 ms a tile, so each variant is drawn once.
        dpr = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        key = (message, int(box.width()), text_color.rgba(), dpr, option.font.key())
        pixmap = self._placeholders.get(key)
        if pixmap is None:
            if len(self._placeholders) > 32:
                self._placeholders.clear()
            pixmap = QPixmap(round(box.width() * dpr), round(box.height() * dpr))
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            cache_painter = QPainter(pixmap)
            cache_painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            cache_painter.setFont(option.font)
            self._draw_unavailable(
                cache_painter, QRectF(0, 0, box.width(), box.height()), text_color, message
            )
            cache_painter.end()
            self._placeholders[key] = pixmap
        painter.drawPixmap(box.topLeft(), pixmap)

    def _draw_unavailable(self, painter: QPainter, box: QRectF, text_color: QColor, message: str) -> None:
        inner = box.adjusted(4.5, 4.5, -4.5, -4.5)
        painter.setPen(QPen(_alpha(text_color, 70), 1, Qt.PenStyle.DashLine))
        painter.setBrush(_alpha(text_color, 10))
        painter.drawRoundedRect(inner, RADIUS, RADIUS)

        ink = _alpha(text_color, 150)
        icon_w = min(56.0, inner.width() * 0.4)
        icon = QRectF(0, 0, icon_w, icon_w * 0.75)
        icon.moveCenter(QPointF(inner.center().x(), inner.center().y() - icon.height() * 0.45))
        self._paint_picture_icon(painter, icon, ink)

        font = QFont(painter.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        painter.setPen(ink)
        text_rect = QRectF(
            inner.x() + 6, icon.bottom() + 8, inner.width() - 12, inner.bottom() - icon.bottom() - 10
        )
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        painter.drawText(text_rect, int(flags), message)

    @staticmethod
    def _paint_picture_icon(painter: QPainter, icon: QRectF, ink: QColor) -> None:
        """A framed landscape with a slash: "no picture here"."""
        pen = QPen(ink, 2)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(icon, 4, 4)
        w, h = icon.width(), icon.height()
        hills = QPainterPath(QPointF(icon.left() + w * 0.12, icon.bottom() - h * 0.18))
        hills.lineTo(icon.left() + w * 0.38, icon.top() + h * 0.45)
        hills.lineTo(icon.left() + w * 0.58, icon.bottom() - h * 0.35)
        hills.lineTo(icon.left() + w * 0.70, icon.top() + h * 0.55)
        hills.lineTo(icon.right() - w * 0.12, icon.bottom() - h * 0.18)
        painter.drawPath(hills)
        painter.drawEllipse(QPointF(icon.right() - w * 0.25, icon.top() + h * 0.28), w * 0.07, w * 0.07)
        painter.drawLine(
            QPointF(icon.left() - 4, icon.bottom() + 4), QPointF(icon.right() + 4, icon.top() - 4)
        )

    @staticmethod
    def _paint_badge(painter: QPainter, anchor: QRectF, base_font: QFont, percent: int) -> None:
        font = QFont(base_font)
        font.setBold(True)
        if font.pointSizeF() > 0:
            font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        metrics = QFontMetrics(font)
        text = f"{percent}%"
        width = metrics.horizontalAdvance(text) + 10
        height = metrics.height() + 2
        badge = QRectF(anchor.right() - width - 4, anchor.top() + 4, width, height)
        # Dark pill with white text: readable over any photo in either palette.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 165))
        painter.drawRoundedRect(badge, height / 2, height / 2)
        painter.setFont(font)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), text)

    @staticmethod
    def _paint_name(
        painter: QPainter, option: QStyleOptionViewItem, box: QRectF, name: str, text_color: QColor
    ) -> None:
        painter.setFont(option.font)
        metrics = QFontMetrics(option.font)
        rect = QRect(option.rect.x() + 6, int(box.bottom()) + GAP, option.rect.width() - 12, metrics.height())
        # Middle elision keeps the file extension and the distinguishing end of camera-style names.
        elided = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, rect.width())
        painter.setPen(text_color)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), elided)
