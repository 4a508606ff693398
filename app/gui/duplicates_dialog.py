"""The "Find duplicates" window: near-identical photos of a collection in groups, one kept per group, the
photos marked for it moved to the system trash (never deleted) on request.

CLIP groups the photos; only those a second check confirms as copies of the kept one (same file
contents, or the same picture by perceptual hash and pixels) start marked. Every photo says why it is
in its group, so a burst frame CLIP found close is shown, unmarked, for the user to decide.

All library work goes through the bridge (``find_duplicates``, ``trash_documents``); thumbnails come
from the shared ``ThumbnailLoader``. Group rows are built a page at a time as the list scrolls, so a
library with thousands of groups opens as fast as one with ten.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui.bridge import LibraryBridge
from app.gui.duplicates_model import (
    TILE_WIDTH,
    DuplicateGroup,
    GroupRow,
    ThumbnailRouter,
    human_size,
    plain_reason,
    summary_text,
)
from app.gui.thumbnails import ThumbnailLoader
from app.library.problems import EngineProblem

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow

GROUPS_PER_PAGE = 25  # ~100 ms to build on a slow machine: a page per scroll to the end stays smooth
EMPTY_TEXT = "No duplicates found at this similarity."


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' if count != 1 else ''}"


class DuplicatesDialog(QDialog):
    """Finds near-duplicates in ``collection`` when shown; lets the user keep one photo per group."""

    groupsShown = Signal(int)  # number of groups, after a search's answer is on screen
    trashFinished = Signal(object)  # the engine's per-photo results, after the groups were updated

    def __init__(
        self,
        bridge: LibraryBridge,
        collection: str,
        loader: ThumbnailLoader | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # The window is open, so the engine thread has already paid for this import.
        from app.engine.duplicates import DEFAULT_THRESHOLD

        self.bridge = bridge
        self.collection = collection
        self.setWindowTitle(f"Find Duplicates – {collection}")
        self.setModal(False)
        self.resize(1030, 700)
        self._own_loader = loader is None
        self._loader = loader if loader is not None else ThumbnailLoader(self)
        self._router = ThumbnailRouter(self._loader, self)
        self.groups: list[DuplicateGroup] = []
        self.rows: list[GroupRow] = []
        self._find_request: int | None = None
        self._trash_requests: dict[int, list[str]] = {}
        self._closed = False

        # Tenths of a percent: exact copies sit within a few thousandths of each other, so the useful
        # settings crowd just below 100%.
        self.threshold_control = QDoubleSpinBox(self)
        self.threshold_control.setObjectName("duplicateThreshold")
        self.threshold_control.setDecimals(1)
        self.threshold_control.setSingleStep(0.5)
        self.threshold_control.setRange(50.0, 100.0)
        self.threshold_control.setSuffix("%")
        self.threshold_control.setPrefix("Similarity at least ")
        self.threshold_control.setValue(round((1.0 - DEFAULT_THRESHOLD) * 100))
        self.threshold_control.setToolTip(
            "95% and above groups copies of the same picture (re-saved, converted, resized).\n"
            "Lower it to also group burst shots and slightly different takes."
        )
        self.find_button = QPushButton("Find", self)
        self.find_button.setDefault(True)
        self.find_button.clicked.connect(self.find)
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)  # indeterminate: the engine reports no progress for this
        self.busy_bar.setFixedWidth(120)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        self.summary_label = QLabel(self)
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.hide()
        self.hint_label = QLabel(
            "Only copies a second check confirms (the same file, or the same picture by its pixels) "
            "start marked for the trash; similar photos are shown unmarked.",
            self,
        )
        self.hint_label.setWordWrap(True)
        self.hint_label.hide()
        self.trash_all_button = QPushButton("Move all marked to trash…", self)
        self.trash_all_button.clicked.connect(lambda: self.trash_all_unkept())
        self.trash_all_button.setEnabled(False)

        self._list_host = QWidget()
        self._list = QVBoxLayout(self._list_host)
        self._list.setContentsMargins(8, 0, 8, 8)
        self._list.setSpacing(0)
        self._list.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self._list_host)
        self.scroll.verticalScrollBar().valueChanged.connect(self._maybe_add_page)
        self.empty_label = QLabel(self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.scroll)
        self._build_layout()

        self.finished.connect(self._cleanup)
        self.find()

    def _build_layout(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(self.threshold_control)
        controls.addWidget(self.find_button)
        controls.addWidget(self.busy_bar)
        controls.addStretch(1)
        controls.addWidget(self.trash_all_button)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.stack, 1)
        close = QPushButton("Close", self)
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout.addLayout(bottom)

    # -- finding -------------------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        """The cosine distance asked for: 95% similarity is distance 0.05."""
        return round(1.0 - self.threshold_control.value() / 100, 4)

    @property
    def busy(self) -> bool:
        return self._find_request is not None or bool(self._trash_requests)

    @Slot()
    def find(self) -> None:
        if self._closed or self._find_request is not None:
            return
        request = self.bridge.call("find_duplicates", self.collection, self.threshold)
        request.done.connect(lambda groups, rid=request.id: self._on_found(rid, groups))
        request.failed.connect(lambda problem, rid=request.id: self._on_failed(rid, "duplicates", problem))
        self._find_request = request.id
        self._set_status("")
        if not self.groups:
            self.empty_label.setText("Looking for duplicates…")
            self.stack.setCurrentWidget(self.empty_label)
        self._update_controls()

    def _on_found(self, request_id: int, groups: list[dict]) -> None:
        if self._closed or request_id != self._find_request:
            return
        self._find_request = None
        self.find_button.setText("Search again")
        self.groups = [g for g in (DuplicateGroup.from_engine(raw) for raw in groups) if g.alive]
        self._rebuild_rows()
        self._update_controls()
        self.groupsShown.emit(len(self.groups))

    def _columns(self) -> int:
        # Row and list margins plus the grid's spacing between tiles.
        return max(1, (self.scroll.viewport().width() - 24 + 10) // (TILE_WIDTH + 10))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        columns = self._columns()
        for row in self.rows:
            row.set_columns(columns)

    def _rebuild_rows(self) -> None:
        for row in self.rows:
            row.deleteLater()
        self.rows = []
        self.empty_label.setText(
            f"{EMPTY_TEXT}\n\nLower the similarity to also group photos that are merely alike."
        )
        self.stack.setCurrentWidget(self.scroll if self.groups else self.empty_label)
        self.scroll.verticalScrollBar().setValue(0)
        self._add_page()

    def _add_page(self) -> None:
        start = len(self.rows)
        for number, group in enumerate(self.groups[start : start + GROUPS_PER_PAGE], start + 1):
            row = GroupRow(group, number, self._router, self._list_host)
            row.set_columns(self._columns())
            row.trashOthers.connect(self.trash_others)
            row.keepChanged.connect(self._update_controls)
            row.openRequested.connect(self._open_photo)
            self._list.insertWidget(self._list.count() - 1, row)  # before the closing stretch
            self.rows.append(row)

    @Slot(int)
    def _maybe_add_page(self, value: int) -> None:
        bar = self.scroll.verticalScrollBar()
        if len(self.rows) < len(self.groups) and value >= bar.maximum() - bar.pageStep():
            self._add_page()

    # -- trashing ------------------------------------------------------------------------------------

    @Slot(object)
    def trash_others(self, group: DuplicateGroup) -> int | None:
        """Move every photo of ``group`` but the kept one to the trash; the request id, if one was sent."""
        return self._trash([group])

    def trash_all_unkept(self, *, confirm: bool = True) -> int | None:
        """Move every photo marked for the trash, in all groups, after the user confirms."""
        groups = [g for g in self.groups if not g.busy]
        count = sum(len(g.others()) for g in groups)
        if not count:
            return None
        if confirm and not self._confirm_trash_all(groups, count):
            return None
        # The question ran an event loop: an earlier trash request may have finished groups meanwhile.
        return self._trash([g for g in groups if g.alive and any(g is h for h in self.groups)])

    def _confirm_trash_all(self, groups: list[DuplicateGroup], count: int) -> bool:
        size = human_size(sum(g.removable_bytes() for g in groups))
        box = QMessageBox(
            QMessageBox.Icon.Question, "Move to Trash", "", QMessageBox.StandardButton.Cancel, self
        )
        box.setObjectName("confirmTrashAll")
        box.setText(f"Move {_plural(count, 'photo')} ({size}) to the system trash?")
        box.setInformativeText(
            f"The photo marked “Keep” in each of the {_plural(len(groups), 'group')} stays where it is, "
            "and so do the photos not marked “Move to trash”. "
            f"The marked ones leave “{self.collection}” and go to the system trash, "
            "from where you can restore them."
        )
        move = box.addButton("Move to Trash", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is move

    def _trash(self, groups: list[DuplicateGroup]) -> int | None:
        ids = [str(d["id"]) for g in groups if not g.busy for d in g.others()]
        if not ids or self._closed:
            return None
        request = self.bridge.call("trash_documents", self.collection, ids)
        request.done.connect(lambda results, rid=request.id: self._on_trashed(rid, results))
        request.failed.connect(lambda problem, rid=request.id: self._on_failed(rid, "trash", problem))
        request_id = request.id
        self._trash_requests[request_id] = ids
        for group in groups:
            group.busy = True
            group.errors.clear()
        self._set_status(f"Moving {_plural(len(ids), 'photo')} to the trash…")
        self._refresh_rows(groups)
        self._update_controls()
        return request_id

    def _on_trashed(self, request_id: int, results: list[dict]) -> None:
        ids = None if self._closed else self._trash_requests.pop(request_id, None)
        if ids is None:
            return
        moved = {str(r["id"]) for r in results if r.get("success")}
        gone_already = sum(1 for r in results if r.get("success") and not r.get("trashed", True))
        failures = {
            str(r["id"]): str(r.get("error") or "unknown error") for r in results if not r.get("success")
        }
        touched = self._groups_with(ids)
        for group in touched:
            group.remove(moved)
            group.errors.update({k: v for k, v in failures.items() if k in group.ids()})
            group.busy = self._still_busy(group)
        parts = [f"Moved {_plural(len(moved) - gone_already, 'photo')} to the trash."] if moved else []
        if gone_already:
            parts.append(
                f"{_plural(gone_already, 'photo')} had already been deleted and left the collection."
            )
        if failures:
            reasons = "; ".join(sorted({plain_reason(r) for r in failures.values()}))
            parts.append(f"{_plural(len(failures), 'photo')} could not be moved and stayed: {reasons}.")
        self._set_status(" ".join(parts))
        self._show_changes(touched)
        self.trashFinished.emit(results)

    def _groups_with(self, ids: list[str]) -> list[DuplicateGroup]:
        wanted = set(ids)
        return [g for g in self.groups if wanted.intersection(g.ids())]

    def _still_busy(self, group: DuplicateGroup) -> bool:
        members = set(group.ids())
        return any(members.intersection(ids) for ids in self._trash_requests.values())

    def _show_changes(self, touched: list[DuplicateGroup]) -> None:
        """Rebuild the rows of groups that changed; groups under two photos leave the list."""
        rows = []
        for row in self.rows:
            if row.group.alive:
                if row.group in touched:
                    row.refresh()
                rows.append(row)
            else:
                row.deleteLater()
        self.rows = rows
        self.groups = [g for g in self.groups if g.alive]
        for number, row in enumerate(self.rows, 1):
            row.set_number(number)
        if not self.groups:
            self.stack.setCurrentWidget(self.empty_label)
            self.empty_label.setText("No duplicates left at this similarity.")
        elif len(self.rows) < GROUPS_PER_PAGE:
            self._add_page()
        self._update_controls()

    def _refresh_rows(self, groups: list[DuplicateGroup]) -> None:
        for row in self.rows:
            if row.group in groups:
                row.update_state()

    def _on_failed(self, request_id: int, operation: str, problem: EngineProblem) -> None:
        if self._closed:
            return
        if operation == "duplicates" and request_id == self._find_request:
            self._find_request = None
            if self.groups:
                self._set_status(f"Could not look for duplicates: {problem.message}")
            else:
                self.empty_label.setText(f"Could not look for duplicates:\n{problem.message}")
                self.stack.setCurrentWidget(self.empty_label)
        elif operation == "trash" and request_id in self._trash_requests:
            touched = self._groups_with(self._trash_requests.pop(request_id))
            for group in touched:
                group.busy = self._still_busy(group)
            self._refresh_rows(touched)
            self._set_status(f"Nothing was moved to the trash: {problem.message}")
        else:
            return
        self._update_controls()

    # -- the rest ------------------------------------------------------------------------------------

    @Slot()
    def _update_controls(self) -> None:
        finding = self._find_request is not None
        self.find_button.setEnabled(not finding and not self._trash_requests)
        self.threshold_control.setEnabled(not finding)
        self.busy_bar.setVisible(self.busy)
        if finding:
            self.find_button.setText("Searching…")
        elif self.find_button.text() == "Searching…":
            self.find_button.setText("Search again" if self.groups else "Find")
        self.summary_label.setText(summary_text(self.groups) if self.groups else "")
        self.summary_label.setVisible(bool(self.groups))
        self.hint_label.setVisible(bool(self.groups))
        self.trash_all_button.setEnabled(not finding and any(not g.busy and g.others() for g in self.groups))

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))  # no blank line above the list when there is nothing to say

    @Slot(str)
    def _open_photo(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def _cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._own_loader:
            self._loader.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._cleanup()
        super().closeEvent(event)


def open_duplicates(window: MainWindow) -> DuplicatesDialog | None:
    """Show the "Find duplicates" window for the window's current collection (raising one already open)."""
    name = window.search.collection_name
    if not name:
        window.show_error("Find Duplicates", "Choose a collection with photos first.")
        return None
    for child in window.findChildren(DuplicatesDialog):
        if child.isVisible() and child.collection == name:
            child.raise_()
            child.activateWindow()
            return child
    dialog = DuplicatesDialog(window.bridge, name, window.results_model.loader, parent=window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
