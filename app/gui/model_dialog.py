"""The first-use dialog for a model whose weights are not on this computer: download them (with progress
and Cancel) or point at a file the user already has. Offline, it says what to do instead."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.bridge import LibraryBridge, Request
from app.gui.collection_dialog import model_label
from app.gui.icons import svg_pixmap
from app.library.model_files import WeightsInstalled
from app.library.problems import OFFLINE, EngineProblem
from app.library.service import DownloadProgress

WEIGHT_FILE_FILTER = "Model weights (*.safetensors *.bin *.pt *.pth);;All files (*)"


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{count} bytes"


class ModelDialog(QDialog):
    """Emits ``modelReady(name)`` once the weights are in place (and then closes)."""

    modelReady = Signal(str)

    def __init__(self, model_name: str, bridge: LibraryBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelDialog")
        self.setWindowTitle("Download the Model")
        self.model_name = model_name
        self._bridge = bridge
        self._request: Request | None = None
        self.installed: WeightsInstalled | None = None

        icon_label = QLabel(self)
        icon_label.setPixmap(svg_pixmap("model", 40, ratio=self.devicePixelRatioF()))
        self.message = QLabel(self)
        self.message.setObjectName("modelMessage")
        self.message.setWordWrap(True)
        self.message.setMinimumWidth(380)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("modelDownloadProgress")
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.hide()

        self.download_button = QPushButton("Download", self)
        self.download_button.setObjectName("downloadModelButton")
        self.download_button.setDefault(True)
        self.file_button = QPushButton("Use a File I Already Have…", self)
        self.file_button.setObjectName("modelFileButton")
        self.cancel_button = QPushButton("Cancel", self)
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
        self.message.setText(
            f"<b>Photoseek needs the model “{label}” to understand your photos.</b><br><br>"
            "It is downloaded once and then works without the internet; your photos never leave this "
            "computer. If you already have the weights file, choose it instead."
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
        self.cancel_button.setText("Stop" if busy else "Cancel")
        self.progress.setVisible(busy)

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
        self.progress.setRange(0, 0)
        self.status.setText("Connecting…")
        self.status.show()
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
        self.progress.setRange(0, 0)
        self.status.setText("Copying and checking the file…")
        self.status.show()
        self._set_busy(True)
        self._relayout()
        self._start("install_model_file", path)

    @Slot()
    def _cancel_or_close(self) -> None:
        if self._request is not None:
            self._request.cancel()
            self._request = None
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
        if total > 0:
            # QProgressBar is int-based; kilobytes keep multi-GB files inside its range.
            self.progress.setRange(0, max(1, total // 1024))
            self.progress.setValue(done // 1024)
            self.status.setText(f"{format_bytes(done)} of {format_bytes(total)}")
        else:
            self.status.setText(f"{format_bytes(done)} downloaded")

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
        if problem.kind == OFFLINE or "Could not download" in problem.detail:
            self.message.setText(
                "<b>Photoseek could not download the model.</b><br><br>"
                "This computer seems to be offline, or the download server could not be reached. "
                "Connect to the internet and press Download again, or get the weights file on another "
                "computer and choose “Use a File I Already Have…”."
            )
            self.status.setText(problem.message)
        else:
            self.status.setText(problem.message)
        self.status.show()
        self._relayout()
