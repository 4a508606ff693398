"""What the "Find duplicates" window shows: groups of near-identical photos with the one to keep, and the
widgets for one group (a row of photo tiles) whose thumbnails come from the shared ``ThumbnailLoader``.

Each photo carries the engine's verdict (why it was grouped, whether a second check confirmed it as a
copy); only confirmed copies start marked for the trash, the others are shown for the user to decide.

The state (:class:`DuplicateGroup`) lives in app.gui.duplicate_groups, plain Python.
"""

from __future__ import annotations

import math

import shiboken6
from PySide6.QtCore import QDateTime, QLocale, QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPalette, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.gui.duplicate_groups import (  # noqa: F401  (re-exported: the dialog and tests use them)
    DuplicateGroup,
    doc_number,
    group_verdict_text,
    human_size,
    plain_reason,
    summary_text,
)
from app.gui.thumbnails import ThumbnailJob, ThumbnailLoader, ThumbnailState, job_key

THUMB = 160  # the results grid's default size, so thumbnails it already holds are reused
TILE_WIDTH = THUMB + 24
TILES_PER_ROW = 5
# Requests the results grid drops (cancel_pending / retain_pending on a new search or scroll) are asked for
# again this often while a tile still waits.
RETRY_MS = 700
# Why a photo is in its group, by verdict kind: confirmed copies in green, near-misses in amber.
REASON_COLOURS = {"exact": "#2e8b57", "same": "#2e8b57", "similar": "#b36b00"}


class ThumbnailRouter(QObject):
    """Routes the loader's answers to the tiles waiting for them, with one connection for all tiles.

    The loader is shared with the results grid, which may drop pending requests; a timer asks again for
    any a visible tile still waits on.
    """

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self._waiting: dict[str, tuple[ThumbnailJob, list[ThumbnailView]]] = {}
        loader.thumbnailReady.connect(self._on_done)
        loader.thumbnailFailed.connect(self._on_done)
        self._retry = QTimer(self)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self._ask_again)

    def request(self, job: ThumbnailJob, view: ThumbnailView) -> None:
        entry = self._waiting.setdefault(job.key, (job, []))
        if view not in entry[1]:
            entry[1].append(view)
        self.loader.request(job)
        if not self._retry.isActive():
            self._retry.start()

    def _on_done(self, key: str, _state: str = "") -> None:
        entry = self._waiting.pop(key, None)
        for view in entry[1] if entry else ():
            if shiboken6.isValid(view):
                view.take_result()
        if not self._waiting:
            self._retry.stop()

    def _ask_again(self) -> None:
        for key, (job, views) in list(self._waiting.items()):
            live = [v for v in views if shiboken6.isValid(v) and v.isVisible()]
            if not live:
                del self._waiting[key]
            elif not self.loader.is_waiting(key) and self.loader.state(key) == ThumbnailState.LOADING:
                self.loader.request(job)
        if not self._waiting:
            self._retry.stop()


class ThumbnailView(QWidget):
    """A photo's thumbnail, asked for when first painted: only groups scrolled into view cost a decode."""

    def __init__(self, doc: dict, router: ThumbnailRouter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(THUMB, THUMB)
        self._router = router
        path = doc.get("path")
        self._job = (
            ThumbnailJob(job_key(size=THUMB, path=path), THUMB, path=path)
            if isinstance(path, str) and path
            else None
        )
        self._pixmap: QPixmap | None = None
        self._message = "Loading…" if self._job else "No file"

    def has_thumbnail(self) -> bool:
        return self._pixmap is not None

    def take_result(self) -> None:
        """The loader answered: keep the pixmap (it may later be evicted from the loader's memory)."""
        if self._job is None:
            return
        loader = self._router.loader
        self._pixmap = loader.pixmap(self._job.key)
        if self._pixmap is None:
            state = loader.state(self._job.key)
            self._message = {
                ThumbnailState.MISSING: "File missing",
                ThumbnailState.ERROR: "Can't open image",
            }.get(state, "Loading…")
            self.setToolTip(loader.error(self._job.key) or "")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._job is not None and self._pixmap is None and self._message == "Loading…":
            if self._router.loader.pixmap(self._job.key) is not None:
                self.take_result()
            else:
                self._router.request(self._job, self)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        box = QRectF(0, 0, THUMB, THUMB)
        if self._pixmap is not None and not self._pixmap.isNull():
            size = self._pixmap.size().scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio)
            x, y = (THUMB - size.width()) / 2, (THUMB - size.height()) / 2
            painter.drawPixmap(
                QRectF(x, y, size.width(), size.height()), self._pixmap, QRectF(self._pixmap.rect())
            )
        else:
            ink = self.palette().color(QPalette.ColorRole.Text)
            fill = QColor(ink)
            fill.setAlpha(18)
            painter.fillRect(box, fill)
            ink.setAlpha(150)
            painter.setPen(ink)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._message)
        painter.end()


def _date_text(doc: dict) -> str:
    taken = doc_number(doc, "captured_at")
    if taken is None:
        return "Date unknown"
    # Month names read unambiguously in every locale, unlike the short numeric format.
    return QLocale().toString(QDateTime.fromSecsSinceEpoch(taken), "d MMM yyyy, HH:mm")


class PhotoTile(QFrame):
    """One photo of a group: thumbnail, keep choice and the facts that tell copies apart."""

    chosen = Signal(str)  # document id, the user wants to keep this one
    markChanged = Signal(str, bool)  # document id, marked for the trash
    openRequested = Signal(str)  # path

    def __init__(
        self, doc: dict, router: ThumbnailRouter, verdict: dict, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.doc_id = str(doc["id"])
        self.path = doc.get("path") if isinstance(doc.get("path"), str) else ""
        self.setObjectName("duplicateTile")
        self.setFixedWidth(TILE_WIDTH)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(3)
        self.thumbnail = ThumbnailView(doc, router, self)
        layout.addWidget(self.thumbnail, 0, Qt.AlignmentFlag.AlignHCenter)
        self.keep_button = QRadioButton("Keep", self)
        self.keep_button.toggled.connect(self._on_toggled)
        layout.addWidget(self.keep_button)
        self.trash_box = QCheckBox("Move to trash", self)
        self.trash_box.toggled.connect(lambda on: self.markChanged.emit(self.doc_id, on))
        keep_room = self.trash_box.sizePolicy()
        keep_room.setRetainSizeWhenHidden(True)  # tiles of one row keep their lines level
        self.trash_box.setSizePolicy(keep_room)
        layout.addWidget(self.trash_box)
        self.verdict = verdict
        self.reason_label = QLabel(self)
        self.reason_label.setObjectName("duplicateReason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setFixedWidth(THUMB)
        colour = REASON_COLOURS.get(str(verdict.get("kind")))
        if colour:
            self.reason_label.setStyleSheet(f"color: {colour};")
        layout.addWidget(self.reason_label)

        inner = THUMB  # the tile minus its margins and 2 px border
        name = str(doc.get("name") or self.path.rsplit("/", 1)[-1] or self.doc_id)
        width, height = doc_number(doc, "width"), doc_number(doc, "height")
        resolution = f"{width}×{height}" if width and height else "size unknown"
        self.name_label = self._line(name, inner, bold=True)
        self.folder_label = self._line(str(doc.get("folder") or ""), inner, secondary=True)
        self.details_label = self._line(f"{resolution} · {human_size(doc_number(doc, 'file_size'))}", inner)
        self.date_label = self._line(_date_text(doc), inner, secondary=True)
        for label in (self.name_label, self.folder_label, self.details_label, self.date_label):
            layout.addWidget(label)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        self.setToolTip(self.path or name)
        self._kept: bool | None = None

    def _line(self, text: str, width: int, *, bold: bool = False, secondary: bool = False) -> QLabel:
        label = QLabel(self)
        font = label.font()
        font.setBold(bold)
        label.setFont(font)
        # Fixed-width tiles: eliding in the middle keeps both a name's start and its extension visible.
        label.setText(QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideMiddle, width))
        label.setToolTip(text)
        if secondary:
            palette = label.palette()
            color = palette.color(QPalette.ColorRole.WindowText)
            color.setAlpha(160)
            palette.setColor(QPalette.ColorRole.WindowText, color)
            label.setPalette(palette)
        return label

    def set_kept(self, kept: bool) -> None:
        if kept == self._kept:
            return
        self._kept = kept
        self.keep_button.blockSignals(True)
        self.keep_button.setChecked(kept)
        self.keep_button.blockSignals(False)
        self.keep_button.setText("Keep" if kept else "Keep this one instead")
        self.trash_box.setVisible(not kept)
        reason = str(self.verdict.get("reason") or "")
        tip = reason
        if kept and self.verdict.get("kind") == "reference":
            reason = "Kept: the best copy"
            tip = "The best copy: most pixels, then the biggest file, then the oldest."
        elif kept:
            reason = tip = f"Kept (your choice). {reason}"
        self.reason_label.setText(reason)
        self.reason_label.setToolTip(tip)
        font = self.keep_button.font()
        font.setBold(kept)
        self.keep_button.setFont(font)
        # The same border width either way, so choosing another photo does not shift the tiles' contents.
        color = self.palette().color(QPalette.ColorRole.Highlight if kept else QPalette.ColorRole.Mid).name()
        self.setStyleSheet(f"#duplicateTile {{ border: 2px solid {color}; border-radius: 6px; }}")

    def set_marked(self, marked: bool) -> None:
        self.trash_box.blockSignals(True)
        self.trash_box.setChecked(marked)
        self.trash_box.blockSignals(False)

    def set_error(self, reason: str | None) -> None:
        self.error_label.setText(f"Not moved to the trash: {plain_reason(reason)}" if reason else "")
        self.error_label.setVisible(bool(reason))

    def _on_toggled(self, checked: bool) -> None:
        if checked:
            self.chosen.emit(self.doc_id)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.keep_button.isEnabled():
            self.keep_button.setChecked(True)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.path:
            self.openRequested.emit(self.path)
        super().mouseDoubleClickEvent(event)


class GroupRow(QFrame):
    """A group's photos side by side, with its header and a "Move others to trash" button."""

    trashOthers = Signal(object)  # DuplicateGroup
    keepChanged = Signal()
    openRequested = Signal(str)

    def __init__(self, group: DuplicateGroup, number: int, router: ThumbnailRouter, parent=None) -> None:
        super().__init__(parent)
        self.group = group
        self._router = router
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 8, 4, 12)
        header = QHBoxLayout()
        self.title = QLabel(self)
        self.number = number
        header.addWidget(self.title, 1)
        self.trash_button = QPushButton(self)
        self.trash_button.clicked.connect(lambda: self.trashOthers.emit(self.group))
        header.addWidget(self.trash_button)
        outer.addLayout(header)
        self._grid_host = QWidget(self)
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(10)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        outer.addWidget(self._grid_host)
        self._buttons = QButtonGroup(self)
        self.tiles: dict[str, PhotoTile] = {}
        self.columns = TILES_PER_ROW
        self.refresh()

    def set_columns(self, columns: int) -> None:
        """Tiles per line: the dialog fits them to its width, so nothing scrolls sideways."""
        columns = max(1, columns)
        if columns == self.columns:
            return
        self.columns = columns
        for tile in self.tiles.values():
            self._grid.removeWidget(tile)
        for i, tile in enumerate(self.tiles.values()):
            self._grid.addWidget(tile, i // columns, i % columns)

    def refresh(self) -> None:
        """Rebuild the tiles from the group (after photos left it) and update texts and states."""
        for tile in self.tiles.values():
            self._buttons.removeButton(tile.keep_button)
            tile.deleteLater()
        self.tiles.clear()
        for i, doc in enumerate(self.group.documents):
            tile = PhotoTile(doc, self._router, self.group.verdicts.get(str(doc["id"]), {}), self._grid_host)
            tile.chosen.connect(self._choose)
            tile.markChanged.connect(self._mark)
            tile.openRequested.connect(self.openRequested)
            self._buttons.addButton(tile.keep_button)
            self._grid.addWidget(tile, i // self.columns, i % self.columns)
            self.tiles[tile.doc_id] = tile
        self.update_state()

    def set_number(self, number: int) -> None:
        if number != self.number:
            self.number = number
            self._update_title()

    def _update_title(self) -> None:
        group = self.group
        # Rounded down: copies a hair apart must not read as "100% alike".
        similar = math.floor(max(0.0, 1.0 - group.max_distance) * 1000) / 10
        self.title.setText(
            f"<b>Group {self.number}</b> · {len(group.documents)} photos · {group_verdict_text(group)}"
            f" · at least {similar:.1f}% alike · {human_size(group.removable_bytes())} to free"
        )

    def update_state(self) -> None:
        group = self.group
        self._update_title()
        marked = len(group.others())
        self.trash_button.setText(
            "Moving to trash…"
            if group.busy
            else f"Move {marked} marked to trash"
            if marked
            else "None marked"
        )
        self.trash_button.setEnabled(not group.busy and marked > 0)
        for doc_id, tile in self.tiles.items():
            tile.set_kept(doc_id == group.keep_id)
            tile.set_marked(doc_id in group.marked)
            tile.trash_box.setEnabled(not group.busy)
            tile.set_error(group.errors.get(doc_id))
            tile.keep_button.setEnabled(not group.busy)

    def _choose(self, doc_id: str) -> None:
        if doc_id != self.group.keep_id:
            self.group.choose(doc_id)
            self.update_state()
            self.keepChanged.emit()

    def _mark(self, doc_id: str, marked: bool) -> None:
        self.group.set_marked(doc_id, marked)
        self.update_state()
        self.keepChanged.emit()
