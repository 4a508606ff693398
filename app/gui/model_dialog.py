"""The dialog for a model whose weights are not on this computer: what it is and how big, then Download
(progress, speed, time left, Stop; a stopped or cut download continues where it ended) or a file the
user already has (which files are accepted is said before the file dialog opens). A failure gets one
clear sentence; the addresses and technical reasons wait behind "Show Details"."""

from __future__ import annotations

import re

from PySide6.QtCore import QElapsedTimer, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.bridge import LibraryBridge, Request
from app.gui.collection_dialog import model_label
from app.gui.icons import svg_pixmap
from app.library.model_files import WeightsInstalled, accepted_files_text, download_size_text
from app.library.problems import OFFLINE, EngineProblem
from app.library.service import DownloadProgress
from app.sizes import human_size

WEIGHT_FILE_FILTER = "Model weights (*.safetensors *.bin *.pt *.pth);;All files (*)"
# Speed and time left are shown once this much of the download was timed: the first blocks say little.
SPEED_AFTER_MS = 1000
_EXCEPTION_PREFIX = re.compile(r"^\w+: (\[Errno \d+\] )?")
_CONTINUES = re.compile(r"continues from ([\d.,]+ [KMG]?B)")


def format_duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def details_text(detail: str) -> str:
    """The technical account for whoever helps: addresses and reasons one to a line, without the
    exception's class and code in front."""
    text = _EXCEPTION_PREFIX.sub("", detail, count=1)
    return text.replace("; ", ";\n").replace(" (http", "\n(http").replace(". To install", ".\n\nTo install")


class ModelDialog(QDialog):
    """Emits ``modelReady(name)`` once the weights are in place (and then closes). ``first_run``: the offer
    made before the library's first import, so it says why the model is needed before anything failed."""

    modelReady = Signal(str)

    def __init__(
        self,
        model_name: str,
        bridge: LibraryBridge,
        parent: QWidget | None = None,
        *,
        first_run: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelDialog")
        self.setWindowTitle("Photoseek Needs a Model" if first_run else "Download the Model")
        self.model_name = model_name
        self.first_run = first_run
        self._bridge = bridge
        self._request: Request | None = None
        self._action = ""  # "download" or "file", while a request runs
        self._done = 0  # bytes the download has (kept when it is stopped)
        self._clock = QElapsedTimer()
        self._timed_from: tuple[int, int] | None = None  # (bytes, ms) where speed is measured from
        self.installed: WeightsInstalled | None = None

        icon_label = QLabel(self)
        icon_label.setPixmap(svg_pixmap("model", 40, ratio=self.devicePixelRatioF()))
        self.message = QLabel(self)
        self.message.setObjectName("modelMessage")
        self.message.setWordWrap(True)
        self.message.setMinimumWidth(420)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("modelDownloadProgress")
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setObjectName("modelDownloadStatus")
        self.status.setWordWrap(True)
        self.status.hide()
        self.details_button = QPushButton("Show Details", self)
        self.details_button.setObjectName("modelDetailsButton")
        self.details_button.setCheckable(True)
        self.details_button.setFlat(True)
        self.details_button.hide()
        self.details = QPlainTextEdit(self)
        self.details.setObjectName("modelDetails")
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(120)
        self.details.hide()
        self.details_button.toggled.connect(self._show_details)

        self.download_button = QPushButton("Download", self)
        self.download_button.setObjectName("downloadModelButton")
        self.download_button.setDefault(True)
        self.file_button = QPushButton("Use a File I Already Have…", self)
        self.file_button.setObjectName("modelFileButton")
        self.cancel_button = QPushButton("Not Now" if first_run else "Cancel", self)
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.download_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.file_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.download_button.clicked.connect(self.start_download)
        self.file_button.clicked.connect(self.choose_file)
        self.cancel_button.clicked.connect(self._cancel_or_close)

        top = QHBoxLayout()
        top.addWidget(icon_label, 0)
        text = QVBoxLayout()
        text.addWidget(self.message)
        text.addWidget(self.progress)
        text.addWidget(self.status)
        text.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        text.addWidget(self.details)
        top.addLayout(text, 1)
        top.setAlignment(icon_label, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addStretch(1)
        layout.addWidget(buttons)
        # The dialog follows its text: after a failed download the advice is longer than the offer.
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetMinimumSize)
        self._show_offer()

    def _show_offer(self) -> None:
        label = model_label(self.model_name)
        size = download_size_text(self.model_name)
        if self.first_run:
            lead = (
                f"<b>Before your first import: searching your photos needs a model, {label}.</b><br><br>"
                f"It is a one-time download of {size}. "
            )
        else:
            lead = (
                f"<b>Photoseek needs the model “{label}” to understand your photos.</b><br><br>"
                f"It is downloaded once ({size}). "
            )
        self.message.setText(
            lead + "After that it works without the internet, and your photos never leave this computer."
            "<br><br>Already have the weights? “Use a File I Already Have…” takes "
            f"{accepted_files_text(self.model_name, label)}."
        )
        self._set_busy(False)

    def _relayout(self) -> None:
        """Grow (or shrink) to fit what the labels now say, so no text overlaps or hides."""
        self.layout().activate()
        hint = self.sizeHint()
        self.resize(QSize(max(self.width(), hint.width()), hint.height()))

    def _set_busy(self, busy: bool) -> None:
        self.download_button.setEnabled(not busy)
        self.file_button.setEnabled(not busy)
        self.cancel_button.setText("Stop" if busy else ("Not Now" if self.first_run else "Cancel"))
        self.progress.setVisible(busy)

    def _set_details(self, text: str) -> None:
        self.details.setPlainText(text)
        self.details_button.setVisible(bool(text))
        if not text:
            self.details_button.setChecked(False)
        self.details.setVisible(bool(text) and self.details_button.isChecked())

    @Slot(bool)
    def _show_details(self, shown: bool) -> None:
        self.details_button.setText("Hide Details" if shown else "Show Details")
        self.details.setVisible(shown)
        self._relayout()

    @property
    def busy(self) -> bool:
        return self._request is not None

    def _start(self, method: str, *args: str) -> None:
        request = self._bridge.call(method, self.model_name, *args)
        request.progress.connect(lambda progress: self._on_progress(request, progress))
        request.done.connect(lambda result: self._on_finished(request, result))
        request.failed.connect(lambda problem: self._on_failed(request, problem))
        self._request = request

    @Slot()
    def start_download(self) -> None:
        self._action, self._done, self._timed_from = "download", 0, None
        self._clock.start()
        self.progress.setRange(0, 0)
        self.status.setText("Connecting…")
        self.status.show()
        self._set_details("")
        self._set_busy(True)
        self._relayout()
        self._start("fetch_model")

    @Slot()
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, f"Choose the weights file for {model_label(self.model_name)}", "", WEIGHT_FILE_FILTER
        )
        if path:
            self.install_file(path)

    def install_file(self, path: str) -> None:
        self._action = "file"
        self.progress.setRange(0, 0)
        self.status.setText("Copying and checking the file…")
        self.status.show()
        self._set_details("")
        self._set_busy(True)
        self._relayout()
        self._start("install_model_file", path)

    @Slot()
    def _cancel_or_close(self) -> None:
        if self._request is not None:
            self._request.cancel()
            self._request = None
            if self._action == "download" and self._done > 0:
                kept = human_size(self._done, fine=True)
                self.status.setText(f"Stopped. The next download continues from {kept}.")
            else:
                self.status.setText("Stopped. Nothing was changed.")
            self._set_busy(False)
            self._relayout()
        else:
            self.reject()

    def reject(self) -> None:
        if self._request is not None:
            self._request.cancel()
            self._request = None
        super().reject()

    def _on_progress(self, request: Request, progress: object) -> None:
        if request is not self._request or not isinstance(progress, DownloadProgress):
            return
        done, total = progress.done, progress.total
        self._done = done
        now = self._clock.elapsed()
        if self._timed_from is None:
            self._timed_from = (done, now)  # a continued download: only this session's bytes count
        if total > 0:
            # QProgressBar is int-based; kilobytes keep multi-GB files inside its range.
            self.progress.setRange(0, max(1, total // 1024))
            self.progress.setValue(done // 1024)
            text = f"{human_size(done, fine=True)} of {human_size(total, fine=True)}"
        else:
            text = f"{human_size(done, fine=True)} downloaded"
        start_bytes, start_ms = self._timed_from
        elapsed_ms = now - start_ms
        if elapsed_ms >= SPEED_AFTER_MS and done > start_bytes:
            speed = (done - start_bytes) * 1000 / elapsed_ms
            text += f" · {speed / 1e6:.1f} MB/s"
            if total > done:
                text += f" · about {format_duration((total - done) / speed)} left"
        self.status.setText(text)

    def _on_finished(self, request: Request, installed: WeightsInstalled) -> None:
        if request is not self._request:
            return
        self._request = None
        self.installed = installed
        self.modelReady.emit(self.model_name)
        self.accept()

    def _on_failed(self, request: Request, problem: EngineProblem) -> None:
        if request is not self._request:
            return
        self._request = None
        self._set_busy(False)
        detail = problem.detail or problem.message
        continues = _CONTINUES.search(detail)
        if "discarded" in detail:
            self.message.setText(
                "<b>The downloaded file did not pass its check and was discarded.</b><br><br>"
                "What arrived is not the model's file (it was damaged on the way, or the server sent "
                "something else). Press Download to fetch it again from the start."
            )
            self.status.hide()
        elif problem.kind == OFFLINE or continues or "Could not download" in detail:
            where = f" The {continues.group(1)} that arrived are kept." if continues else ""
            self.message.setText(
                "<b>Photoseek could not download the model.</b><br><br>"
                "This computer seems to be offline, or the download server could not be reached."
                f"{where} Connect to the internet and press Download again"
                f"{' to continue' if continues else ''}, or get the weights file on another computer "
                "and choose “Use a File I Already Have…”."
            )
            self.status.hide()
        else:  # about the user's own file: the sentence names it and says what is wrong
            self.status.setText(problem.message)
            self.status.show()
        self._set_details(details_text(detail))
        self._relayout()
