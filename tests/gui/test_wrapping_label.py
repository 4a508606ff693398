"""WrappingLabel: long messages wrap (inside long paths too), stop at a few lines with the whole text in the
tooltip, and never ask for a wide minimum."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics

from app.gui.wrapping_label import WrappingLabel

PATH = "/home/someone/" + "/".join(f"PicturesFromTheOldLaptop{n}" for n in range(8)) + "/photo.jpg"


def make_label(qtbot, text: str, width: int, max_lines: int = 3) -> WrappingLabel:
    label = WrappingLabel(text, max_lines=max_lines)
    qtbot.addWidget(label)
    label.resize(width, label.heightForWidth(width))
    label.show()
    qtbot.waitExposed(label)
    return label


def test_a_long_message_wraps_to_a_few_lines_and_keeps_its_text_in_the_tooltip(qtbot) -> None:
    message = f"Photoseek could not read {PATH}. " * 6
    label = make_label(qtbot, message, 300)
    line = QFontMetrics(label.font())
    assert label.minimumSizeHint().width() < 200  # however long the text
    assert label.heightForWidth(300) == line.height() + 2 * line.lineSpacing()  # three lines at most
    assert label.isCut() and label.toolTip() == message and label.text() == message

    label.resize(5000, label.heightForWidth(5000))
    qtbot.waitUntil(lambda: not label.isCut())
    assert label.toolTip() == ""


def test_one_long_path_breaks_inside_rather_than_widening_the_label(qtbot) -> None:
    label = make_label(qtbot, PATH, 200, max_lines=10)
    lines = label.heightForWidth(200) // QFontMetrics(label.font()).lineSpacing()
    assert lines >= 2 and not label.isCut()


def test_short_text_needs_one_line_and_no_tooltip(qtbot) -> None:
    label = make_label(qtbot, "Done in a few seconds.", 400)
    assert label.heightForWidth(400) == QFontMetrics(label.font()).height()
    assert not label.isCut() and label.toolTip() == ""
    assert label.sizeHint().width() <= QFontMetrics(label.font()).horizontalAdvance(label.text()) + 2


def test_text_beyond_the_basic_plane_and_line_breaks_are_laid_out(qtbot) -> None:
    # QTextLayout counts UTF-16 units: an emoji is two, and must not shift the lines' text.
    text = "Beach 📷 sunset 🌅 " * 12 + "\nsecond paragraph"
    label = make_label(qtbot, text, 150, max_lines=100)
    lines = label._lines(150)[0]
    assert " ".join(lines).split() == text.split()
    assert lines[-1] == "second paragraph"
    assert not label.grab().isNull()
