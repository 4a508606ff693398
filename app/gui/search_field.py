"""The search line edit: type words, or drop/paste an image to search with it (shown as a chip)."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImageReader,
    QKeyEvent,
    QKeySequence,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from app.gui.icons import icon, set_themed_icon
from app.gui.mime import QueryImageError, image_path_in, query_image_from

PLACEHOLDER = "Search your photos: try “beach at sunset” (or drop an image here)"
REFINE_PLACEHOLDER = "add words to refine, e.g. “at night”"
CHIP_THUMB = 24


class ImageChip(QFrame):
    """A small rounded box with the query image's thumbnail, its name and an x to remove it."""

    removeClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageChip")
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(3, 1, 1, 1)
        layout.setSpacing(4)
        self.thumb = QLabel(self)
        self.thumb.setFixedSize(CHIP_THUMB, CHIP_THUMB)
        self.thumb.setScaledContents(False)
        self.label = QLabel(self)
        self.remove_button = QToolButton(self)
        self.remove_button.setObjectName("clearImageButton")
        set_themed_icon(self.remove_button, "close")
        self.remove_button.setIconSize(QSize(12, 12))
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip("Stop searching by this image")
        self.remove_button.setCursor(Qt.CursorShape.ArrowCursor)
        self.remove_button.clicked.connect(self.removeClicked)
        layout.addWidget(self.thumb)
        layout.addWidget(self.label)
        layout.addWidget(self.remove_button)  # the app stylesheet draws the chip's box (#imageChip)

    def show_image(self, data: bytes, label: str) -> None:
        self.thumb.setPixmap(_thumbnail(data, CHIP_THUMB * self.devicePixelRatioF()))
        metrics = self.label.fontMetrics()
        self.label.setText(metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, 160))
        self.setToolTip(f"Searching by image: {label}")
        self.adjustSize()
        self.show()


def _thumbnail(data: bytes, box: float) -> QPixmap:
    """Decode only as much of the image as the chip shows (JPEGs decode straight to a small size)."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    side = round(box)
    size = reader.size()
    if size.isValid() and not size.isEmpty():
        # Fill the square chip (centre crop) rather than letterbox: at 24 px every pixel counts.
        scaled = size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatioByExpanding)
        reader.setScaledSize(scaled)
        reader.setScaledClipRect(
            QRect((scaled.width() - side) // 2, (scaled.height() - side) // 2, side, side)
        )
    image = reader.read()
    pixmap = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
    if not pixmap.isNull():
        pixmap.setDevicePixelRatio(box / CHIP_THUMB)
    return pixmap


class SearchField(QLineEdit):
    """Emits ``imageQuery(bytes, label)`` for a dropped or pasted image and ``imageCleared()`` when its chip
    is removed. Text editing behaves like any line edit; Esc clears text and image; Down moves on to the
    results (``downPressed``)."""

    imageQuery = Signal(bytes, str)
    imageCleared = Signal()
    imageRejected = Signal(str)  # why a dropped/pasted thing cannot be searched with
    escapePressed = Signal()
    downPressed = Signal()  # Down: on into the results

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchField")
        self.setPlaceholderText(PLACEHOLDER)
        self.setClearButtonEnabled(True)
        self.setMinimumHeight(32)
        self._search_action = self.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        set_themed_icon(self._search_action, "search")
        self._chip = ImageChip(self)
        self._chip.hide()
        self._chip.removeClicked.connect(self.clear_image)
        self._image_label: str | None = None
        self.setAcceptDrops(True)

    # -- image chip ------------------------------------------------------------------------------------

    @property
    def image_label(self) -> str | None:
        """Name of the query image shown in the chip (None when searching by text)."""
        return self._image_label

    def show_image(self, data: bytes, label: str) -> None:
        """Show ``data`` as the query image (does not emit ``imageQuery``)."""
        self._image_label = label
        self.blockSignals(True)
        self.clear()
        self.blockSignals(False)
        self._chip.show_image(data, label)
        self.setPlaceholderText(REFINE_PLACEHOLDER)
        self._place_chip()

    def restore_placeholder(self) -> None:
        """The usual hint again (after a "Photos like ..." one outlived its search)."""
        self.setPlaceholderText(REFINE_PLACEHOLDER if self._image_label is not None else PLACEHOLDER)

    def clear_image(self) -> None:
        had_image = self._image_label is not None
        self._image_label = None
        self._chip.hide()
        self.setTextMargins(0, 0, 0, 0)
        self.setPlaceholderText(PLACEHOLDER)
        if had_image:
            self.imageCleared.emit()

    def _place_chip(self) -> None:
        if self._chip.isHidden():
            return
        hint = self._chip.sizeHint()
        height = min(hint.height(), self.height() - 6)
        # Right of the leading search icon, vertically centred.
        left = 28
        self._chip.setGeometry(left, (self.height() - height) // 2, hint.width(), height)
        self.setTextMargins(hint.width() + 6, 0, 0, 0)


    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_chip()

    # -- keys, paste, drop -----------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Paste) and self.paste_image():
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escapePressed.emit()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Down and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.downPressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def paste_image(self) -> bool:
        """Search by the clipboard's image (file or pixels); False when it holds none (paste text then)."""
        try:
            found = query_image_from(QGuiApplication.clipboard().mimeData())
        except QueryImageError as exc:
            self.imageRejected.emit(str(exc))
            return True
        if found is None:
            return False
        self._offer(*found)
        return True

    def _offer(self, data: bytes, label: str) -> None:
        self.show_image(data, label)
        self.imageQuery.emit(data, label)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if image_path_in(mime) is not None or mime.hasImage():
            event.acceptProposedAction()
        else:
            # Folders and several files are an import: let the window take them.
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if image_path_in(event.mimeData()) is not None or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        try:
            found = query_image_from(event.mimeData())
        except QueryImageError as exc:
            self.imageRejected.emit(str(exc))
            event.acceptProposedAction()
            return
        if found is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self._offer(*found)
