"""The built-in viewer's page: a toolbar (back, previous/next, zoom, the photo actions), the picture and an
info strip. It shows what ``ViewerController`` tells it and turns keys into requests; it knows nothing of
the results or the library."""

from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QPixmap, QTextDocumentFragment
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from app.gui.icons import set_themed_icon
from app.gui.viewer_canvas import ViewerCanvas

# The viewer's own keys, for Help › Keyboard Shortcuts (the actions' keys are read from the actions).
VIEWER_KEYS: list[tuple[str, str]] = [
    ("Right, Space, Page Down", "Next photo"),
    ("Left, Backspace, Page Up", "Previous photo"),
    ("Home, End", "First, last photo"),
    ("Z, 1, double-click", "Zoom to 100% and back to fit"),
    ("Ctrl+wheel, +, −", "Zoom in, out"),
    ("0, F", "Fit to window"),
    ("Drag, scrollbars", "Move around a zoomed photo"),
    ("Esc", "Back to the results (the photo stays selected)"),
]

_STEPS = {
    Qt.Key.Key_Right: 1,
    Qt.Key.Key_Space: 1,
    Qt.Key.Key_PageDown: 1,
    Qt.Key.Key_Left: -1,
    Qt.Key.Key_Backspace: -1,
    Qt.Key.Key_PageUp: -1,
}


class ViewerPage(QWidget):
    """``stepRequested(delta)``: +1 next, -1 previous; ``jumpRequested(end)``: 0 first, -1 last;
    ``backRequested()``: Esc or the back button."""

    stepRequested = Signal(int)
    jumpRequested = Signal(int)
    backRequested = Signal()

    def __init__(self, actions: list[QAction | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewerPage")
        self.canvas = ViewerCanvas(self)
        self.setFocusProxy(self.canvas)

        self.back_button = self._button("back", "Back to the results (Esc)", "Results")
        self.back_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.back_button.clicked.connect(self.backRequested)
        self.previous_button = self._button("previous", "Previous photo (Left)")
        self.previous_button.clicked.connect(lambda: self.stepRequested.emit(-1))
        self.next_button = self._button("next", "Next photo (Right)")
        self.next_button.clicked.connect(lambda: self.stepRequested.emit(1))
        self.position_label = QLabel("")
        self.position_label.setObjectName("viewerPosition")
        self.zoom_button = QToolButton(self)
        self.zoom_button.setObjectName("viewerZoomButton")
        self.zoom_button.setToolTip("Zoom to 100% and back (Z)")
        self.zoom_button.setAutoRaise(True)
        self.zoom_button.setMinimumWidth(56)
        self.zoom_button.clicked.connect(lambda: self.canvas.toggle_zoom())
        self.canvas.zoomChanged.connect(self._show_zoom)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(2)
        bar.addWidget(self.back_button)
        bar.addSpacing(8)
        bar.addWidget(self.previous_button)
        bar.addWidget(self.position_label)
        bar.addWidget(self.next_button)
        bar.addSpacing(8)
        bar.addWidget(self.zoom_button)
        bar.addStretch(1)
        for action in actions:
            if action is None:
                bar.addSpacing(8)
                continue
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            bar.addWidget(button)
            # Scoped to the grid and this page (Ctrl+C, Delete): the search field keeps its own meaning.
            self.addAction(action)

        self.name_label = QLabel("")
        self.name_label.setObjectName("viewerName")
        font = self.name_label.font()
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info_label = QLabel("")
        self.info_label.setObjectName("viewerInfo")
        self.info_label.setWordWrap(True)
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.name_label, self.info_label):
            label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            # A long file name or folder must not widen the window: it is clipped instead.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(bar)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.name_label)
        layout.addWidget(self.info_label)

    def _button(self, icon_name: str, tip: str, text: str = "") -> QToolButton:
        button = QToolButton(self)
        set_themed_icon(button, icon_name)
        button.setToolTip(tip)
        button.setText(text)
        button.setAutoRaise(True)
        button.setIconSize(QSize(18, 18))
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the picture
        return button

    # -- what the controller shows -----------------------------------------------------------------------

    def show_position(self, row: int, count: int, more: bool) -> None:
        self.position_label.setText(f"{row + 1:,} of {count:,}{'+' if more else ''}")
        self.previous_button.setEnabled(row > 0)
        self.next_button.setEnabled(row + 1 < count or more)

    def show_info(self, name: str, rows: list[tuple[str, str]]) -> None:
        self.name_label.setText(name)

        def item(label: str, value: str) -> str:
            text = html.escape(value)
            if label != "Folder":  # short values wrap as a whole; a long folder may wrap inside
                text = text.replace(" ", "&nbsp;")
            return f"{html.escape(label)}:&nbsp;<b>{text}</b>"

        self.info_label.setText(" &nbsp;·&nbsp; ".join(item(label, value) for label, value in rows))

    def show_picture(self, pixmap: QPixmap, source_size: QSize, *, keep_zoom: bool = False) -> None:
        self.canvas.set_photo(pixmap, source_size, keep_zoom=keep_zoom)

    def show_message(self, text: str) -> None:
        self.canvas.show_message(text)
        self.zoom_button.setText("")

    def info_text(self) -> str:
        """The info strip as plain text (name first), for tests and accessibility."""
        details = QTextDocumentFragment.fromHtml(self.info_label.text()).toPlainText()
        return f"{self.name_label.text()}\n{details}"

    def _show_zoom(self, factor: float) -> None:
        self.zoom_button.setText("Fit" if self.canvas.is_fitted() and factor < 0.999 else f"{factor:.0%}")

    # -- keys --------------------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        plain = not (
            event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier & ~Qt.KeyboardModifier.ShiftModifier
        )
        if plain and key in _STEPS:
            self.stepRequested.emit(_STEPS[Qt.Key(key)])
        elif plain and key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            self.jumpRequested.emit(0 if key == Qt.Key.Key_Home else -1)
        elif plain and key in (Qt.Key.Key_Z, Qt.Key.Key_1):
            self.canvas.toggle_zoom()
        elif plain and key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.canvas.fit()
        elif plain and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.canvas.zoom_by(1.25)
        elif plain and key == Qt.Key.Key_Minus:
            self.canvas.zoom_by(0.8)
        else:
            super().keyPressEvent(event)
            return
        event.accept()
