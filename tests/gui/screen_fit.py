"""Checks that a window or dialog fits a small laptop screen (1366x768) and that its text is not cut off.

Offscreen, Qt reports sizes but shows nothing, so a window wider than the screen or a clipped label goes
unnoticed; these helpers turn that into assertions. They read only Qt's own size hints and geometry, so
they work on any platform plugin; tools/run-tests.sh also runs the GUI tests on a virtual X server (xcb),
where the screen really is 1366x768 and windows get real native sizes.

``assert_window_fits_screen(window, widgets)``: the window can be as small as the screen, and at exactly
the screen's size the named widgets are whole and inside it.
``assert_dialog_text_fits(dialog)``: every visible label shows all of its text, and the dialog fits the
screen. A label that elides on purpose counts as fitting when its full text is in its tooltip.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import QApplication, QLabel, QWidget

SMALL_SCREEN = QSize(1366, 768)
WAIT_MS = 5_000


def describe(widget: QWidget) -> str:
    name = widget.objectName() or type(widget).__name__
    text = widget.text() if isinstance(widget, QLabel) else ""
    short = text if len(text) <= 60 else text[:57] + "…"
    return f"{name} {short!r}" if text else name


def settle(widget: QWidget) -> None:
    """Let pending layout requests and resizes (on xcb: the X server's answers) reach ``widget``."""
    QApplication.processEvents()
    layout = widget.layout()
    if layout is not None:
        layout.activate()
    QApplication.processEvents()


def minimum_size(window: QWidget) -> QSize:
    """The smallest size the window can be given: its layout's minimum, or a minimum set on it."""
    settle(window)
    return window.minimumSize().expandedTo(window.minimumSizeHint())


def frame_extra(window: QWidget) -> QSize:
    """What a window manager's frame adds (nothing without one, e.g. offscreen or bare Xvfb)."""
    frame, inner = window.frameGeometry(), window.geometry()
    return QSize(frame.width() - inner.width(), frame.height() - inner.height())


def assert_fits(size: QSize, screen: QSize, what: str) -> None:
    screen_text = f"{screen.width()}x{screen.height()}"
    assert size.width() <= screen.width() and size.height() <= screen.height(), (
        f"{what} needs {size.width()}x{size.height()} px, more than a {screen_text} screen"
    )


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def assert_window_fits_screen(
    qtbot, window: QWidget, widgets: Iterable[QWidget] = (), screen: QSize = SMALL_SCREEN
) -> None:
    """``window`` can shrink to ``screen``; at that size every visible one of ``widgets`` lies inside it,
    at least as large as its own minimum (so not cut off or squeezed)."""
    needed = minimum_size(window) + frame_extra(window)
    assert_fits(needed, screen, f"{describe(window)} (at its minimum size, with its frame)")
    target = screen - frame_extra(window)
    window.resize(target)
    qtbot.waitUntil(lambda: window.size() == target, timeout=WAIT_MS)
    settle(window)
    bounds = window.rect()
    for widget in widgets:
        if not widget.isVisibleTo(window):
            continue
        where = rect_in(widget, window)
        assert bounds.contains(where), f"{describe(widget)} at {where} is outside the window's {bounds}"
        smallest = widget.minimumSizeHint().expandedTo(widget.minimumSize())
        assert widget.width() >= smallest.width() and widget.height() >= smallest.height(), (
            f"{describe(widget)} is squeezed to {widget.width()}x{widget.height()} px, "
            f"below its minimum {smallest.width()}x{smallest.height()}"
        )


def label_text_fits(label: QLabel) -> str | None:
    """Why ``label`` cannot show all of its text at its current size (None when it can)."""
    if not label.text() or (label.pixmap() is not None and not label.pixmap().isNull()):
        return None
    contents = label.contentsRect().size()
    if label.wordWrap() or label.hasHeightForWidth():
        # Wrapped text can only overflow sideways by a word longer than the label (its minimum width),
        # and downwards when its lines at this width need more height than the label has.
        widest_word = label.minimumSizeHint().width()
        if widest_word > label.width():
            return f"a word needs {widest_word} px, the label is {label.width()} px wide"
        needed = label.heightForWidth(label.width())
        if needed > label.height():
            return f"its lines need {needed} px at {label.width()} px wide; it is {label.height()} px high"
        return None
    hint = label.sizeHint()
    if hint.width() > label.width() or hint.height() > label.height():
        return (
            f"needs {hint.width()}x{hint.height()} px, has {label.width()}x{label.height()} "
            f"(contents {contents.width()}x{contents.height()})"
        )
    return None


def assert_label_text_fits(label: QLabel) -> None:
    why = label_text_fits(label)
    assert why is None, f"{describe(label)} does not show all of its text: {why}"


def assert_dialog_text_fits(dialog: QWidget, screen: QSize = SMALL_SCREEN) -> None:
    """``dialog`` (shown, e.g. by ``open()``) fits ``screen`` and each visible label shows all its text.

    A label whose text is cut short on purpose (elided, with the whole text in its tooltip) passes.
    """
    assert dialog.isVisible(), f"{describe(dialog)} must be shown before its text can be measured"
    settle(dialog)
    assert_fits(dialog.size() + frame_extra(dialog), screen, f"{describe(dialog)} (with its frame)")
    assert_fits(minimum_size(dialog) + frame_extra(dialog), screen, f"{describe(dialog)} at its minimum")
    problems = []
    for label in dialog.findChildren(QLabel):
        if not label.isVisibleTo(dialog):
            continue
        why = label_text_fits(label)
        if why is not None and label.toolTip() != label.text():
            problems.append(f"{describe(label)}: {why}")
    assert not problems, f"{describe(dialog)} cuts off text:\n" + "\n".join(problems)
