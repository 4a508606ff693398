"""A label for messages of any length (errors with paths and URLs in them) that never widens its window."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import (
    QAction,
    QFontMetrics,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# A wrapping label asks for this many average characters of width at most (its preferred width); at least
# it needs only a few, so that however long its text, it cannot set a minimum width on its window.
PREFERRED_CHARS = 60
MINIMUM_CHARS = 12


class WrappingLabel(QLabel):
    """Plain text wrapped to at most ``max_lines`` lines, breaking inside a long word or path when it has to.

    Text that needs more lines ends in "…"; then the whole text is the label's tooltip, and "Copy Text" in
    its context menu copies it. ``text()`` is always the whole text. Its minimum width is a few characters
    and its height follows its width (``heightForWidth``), so layouts give it what it needs without the
    text ever deciding how wide the window must be.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, max_lines: int = 3) -> None:
        super().__init__(parent)
        self._max_lines = max(1, max_lines)
        self._cut = False
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setTextFormat(Qt.TextFormat.PlainText)
        copy = QAction("Copy Text", self)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(self.text()))
        self.addAction(copy)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_cut()

    def clear(self) -> None:
        self.setText("")

    def isCut(self) -> bool:
        """Whether the text needs more than ``max_lines`` lines at the label's width (so ends in "…")."""
        return self._cut

    # -- size ------------------------------------------------------------------------------------------

    def _margins(self) -> QSize:
        outer, inner = self.rect(), self.contentsRect()
        return QSize(outer.width() - inner.width(), outer.height() - inner.height())

    def _text_height(self, lines: int) -> int:
        metrics = QFontMetrics(self.font())
        lines = max(1, lines)
        return metrics.height() + (lines - 1) * metrics.lineSpacing()

    def _natural_width(self) -> int:
        """The width of the text unwrapped (its longest line)."""
        metrics = QFontMetrics(self.font())
        return max((metrics.horizontalAdvance(line) for line in self.text().splitlines()), default=0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        margins = self._margins()
        lines, _cut = self._lines(width - margins.width())
        return self._text_height(len(lines)) + margins.height()

    def sizeHint(self) -> QSize:
        metrics = QFontMetrics(self.font())
        margins = self._margins()
        width = min(self._natural_width(), metrics.averageCharWidth() * PREFERRED_CHARS) + 1
        return QSize(width + margins.width(), self.heightForWidth(width + margins.width()))

    def minimumSizeHint(self) -> QSize:
        metrics = QFontMetrics(self.font())
        margins = self._margins()
        width = min(self._natural_width(), metrics.averageCharWidth() * MINIMUM_CHARS) + 1
        return QSize(width + margins.width(), self._text_height(1) + margins.height())

    # -- wrapping --------------------------------------------------------------------------------------

    def _lines(self, width: int) -> tuple[list[str], bool]:
        """The lines shown at ``width`` px of text (the last one elided when the text is longer), and
        whether the text was cut."""
        text = self.text()
        if not text or width <= 0:
            return [], bool(text)
        layout = QTextLayout(text.replace("\n", "\u2028"), self.font())
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        spans: list[tuple[int, int]] = []
        layout.beginLayout()
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            spans.append((line.textStart(), line.textLength()))
        layout.endLayout()
        # QTextLayout counts UTF-16 code units (an emoji in a file name is two).
        units = text.encode("utf-16-le")

        def span(start: int, end: int | None = None) -> str:
            return units[2 * start : None if end is None else 2 * end].decode("utf-16-le", "replace")

        lines = [span(start, start + length).rstrip() for start, length in spans]
        if len(lines) <= self._max_lines:
            return lines, False
        rest = " ".join(span(spans[self._max_lines - 1][0]).split())
        elided = QFontMetrics(self.font()).elidedText(rest, Qt.TextElideMode.ElideRight, width)
        return [*lines[: self._max_lines - 1], elided], True

    def _update_cut(self) -> None:
        _lines, cut = self._lines(self.contentsRect().width())
        if cut != self._cut or (cut and self.toolTip() != self.text()):
            self._cut = cut
            self.setToolTip(self.text() if cut else "")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_cut()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        self.drawFrame(painter)
        area = self.contentsRect()
        lines, _cut = self._lines(area.width())
        metrics = QFontMetrics(self.font())
        block = self._text_height(len(lines))
        top = area.top()
        if self.alignment() & Qt.AlignmentFlag.AlignVCenter:
            top += max(0, (area.height() - block) // 2)
        elif self.alignment() & Qt.AlignmentFlag.AlignBottom:
            top += max(0, area.height() - block)
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextSingleLine)
        for n, line in enumerate(lines):
            row = QRect(area.left(), top + n * metrics.lineSpacing(), area.width(), metrics.height())
            self.style().drawItemText(
                painter, row, flags, self.palette(), self.isEnabled(), line, self.foregroundRole()
            )
        painter.end()
