"""The import strip under the grid (progress, rate, time left, Cancel) and the skipped-files summary."""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.icons import set_themed_icon
from app.gui.wrapping_label import WrappingLabel
from app.library.imports import ImportSummary

# Rate is measured over roughly this many recent seconds, so it follows the current speed (big files,
# the model warming up) rather than the average since the start.
RATE_WINDOW_SECONDS = 10.0


def format_duration(seconds: float) -> str:
    """A duration, rounded the way people say it ("a few seconds", "25 s", "3 min", "1 h 05 min")."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 60:
        return f"{round(seconds / 5) * 5:.0f} s"
    if seconds < 3600:
        minutes = round(seconds / 60)
        return f"{minutes} min"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest:02d} min"


class RateMeter:
    """Files per second over a sliding window, and the time left at that rate."""

    def __init__(self) -> None:
        self._samples: list[tuple[float, int]] = []

    def reset(self) -> None:
        self._samples.clear()

    def add(self, done: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] > RATE_WINDOW_SECONDS:
            self._samples.pop(0)

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.5 or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def seconds_left(self, done: int, total: int) -> float | None:
        rate = self.rate()
        return None if rate is None else max(0.0, (total - done) / rate)


class ImportPanel(QFrame):
    """Shown while importing and after, until dismissed. ``importProgress`` is the QProgressBar."""

    cancelRequested = Signal()
    detailsRequested = Signal(object)  # ImportSummary

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._summary: ImportSummary | None = None
        self._meter = RateMeter()

        # Messages can be long (an error with a path or URL in it): they wrap, and are cut short with the
        # whole text in a tooltip, rather than set the window's minimum width.
        self.title = WrappingLabel(parent=self, max_lines=2)
        self.title.setObjectName("importTitle")
        self.detail = WrappingLabel(parent=self, max_lines=3)
        self.detail.setObjectName("importDetail")
        self.detail.setProperty("role", "hint")
        self.progress = QProgressBar(self)
        self.progress.setObjectName("importProgress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelImportButton")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.details_button = QPushButton("Show skipped files…", self)
        self.details_button.setObjectName("importDetailsButton")
        self.details_button.clicked.connect(lambda: self.detailsRequested.emit(self._summary))
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("dismissImportButton")
        set_themed_icon(self.close_button, "close")
        self.close_button.setIconSize(QSize(14, 14))
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.hide)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        row = QHBoxLayout()
        row.addLayout(text, 1)
        row.addWidget(self.details_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 10)
        layout.setSpacing(6)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        self.hide()

    @property
    def summary(self) -> ImportSummary | None:
        """How the last import ended (None while one runs)."""
        return self._summary

    def start(self) -> None:
        """An import was asked for: the library is now looking through the dropped files."""
        self._summary = None
        self._meter.reset()
        self.title.setText("Looking for photos…")
        self.detail.setText("")
        self.progress.setRange(0, 0)  # busy indicator until the total is known
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self.details_button.hide()
        self.close_button.hide()
        self.show()

    def set_total(self, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.title.setText(f"Importing {total:,} photo{'s' if total != 1 else ''}…")
        self.detail.setText("Preparing the model…" if total else "")
        self._meter.add(0)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self._meter.add(done)
        self.title.setText(f"Importing photos: {done:,} of {total:,}")
        rate = self._meter.rate()
        left = self._meter.seconds_left(done, total)
        if rate is None or left is None:
            self.detail.setText("Measuring speed…")
        else:
            left_text = format_duration(left)
            if left >= 10:
                left_text = f"about {left_text}"
            self.detail.setText(f"{rate:,.1f} photos/s · {left_text} left")

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.detail.setText("Cancelling after the current batch…")

    def finish(self, summary: ImportSummary) -> None:
        self._summary = summary
        self.progress.setRange(0, max(summary.total, 1))
        self.progress.setValue(summary.total - summary.not_attempted)
        self.progress.hide()  # the bar means "working"; the summary stays until dismissed
        self.title.setText(summary.headline())
        if summary.error:
            self.detail.setText(summary.error.message)
        elif summary.problems:
            self.detail.setText("Some files were not imported; see which and why.")
        else:
            self.detail.setText(f"Done in {format_duration(summary.seconds)}.")
        self.cancel_button.hide()
        self.details_button.setVisible(bool(summary.problems))
        self.close_button.show()
        self.show()


class ImportSummaryDialog(QDialog):
    """Every file an import skipped, with the reason, and a way to copy the list."""

    def __init__(self, summary: ImportSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importSummaryDialog")
        self.setWindowTitle("Skipped files")
        self.resize(720, 420)
        heading = QLabel(
            f"{summary.headline()}.\nThese files were not added to “{summary.collection}”:", self
        )
        heading.setWordWrap(True)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("skippedFilesList")
        self.tree.setHeaderLabels(["File", "Reason"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        # A long path keeps its start and its file name (the part people look for); all of it is the tooltip.
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for problem in summary.problems:
            item = QTreeWidgetItem([problem.path, problem.reason])
            item.setToolTip(0, problem.path)
            item.setToolTip(1, problem.reason)
            self.tree.addTopLevelItem(item)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy List", QDialogButtonBox.ButtonRole.ActionRole)
        set_themed_icon(copy, "copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.as_text(summary)))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)

    @staticmethod
    def as_text(summary: ImportSummary) -> str:
        return "\n".join(f"{p.path}\t{p.reason}" for p in summary.problems)
