"""The filter bar under the search field: narrow any search (or the library) to a folder, a file type and
a range of days the photos were taken, as a Typesense ``filter_by`` string.

Its choices come from a facet-only search (``options_params``) over the whole collection: the bar asks for
one with ``optionsWanted`` and takes the answer in ``set_facets``. It asks again when the collection
changes or its photo count does (imports, removals), a little after the count settles.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QDate, QDateTime, QSignalBlocker, Qt, QTime, QTimer, Signal, Slot
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyleOptionButton,
    QToolButton,
    QWidget,
)

from app.gui.icons import icon, set_themed_icon

OPTION_FIELDS = "folder,file_type,captured_at"
MAX_OPTIONS = 500
# Imports report a new count after every batch: refresh the choices once they pause this long.
REFRESH_MS = 1500
# Editing a date fires on every keystroke and arrow step; search once the editing pauses.
DATE_SETTLE_MS = 300
SHORT_PATH_CHARS = 40
DATE_FORMAT = "d MMM yyyy"
_BARE_VALUE = re.compile(r"[A-Za-z0-9_.\-]+")


def options_params() -> dict:
    """The facet-only search whose answer fills the bar (see ``set_facets``)."""
    return {"q": "*", "per_page": 0, "facet_by": OPTION_FIELDS, "max_facet_values": MAX_OPTIONS}


def quote(value: str) -> str:
    """A filter_by value: bare when it is a plain word, else backquoted (paths, commas, spaces)."""
    return value if _BARE_VALUE.fullmatch(value) else f"`{value}`"


def is_within(folder: str, parent: str) -> bool:
    """Whether ``folder`` is ``parent`` or one of its subfolders (either path separator)."""
    if folder == parent:
        return True
    base = parent.rstrip("/\\")
    return folder.startswith((base + "/", base + "\\"))


def short_path(path: str, home: str | None = None) -> str:
    """``~/Pictures/Trip`` rather than the full path; long ones keep their last two folders."""
    home = home if home is not None else str(Path.home())
    shown = path
    if home and home not in ("/", "\\") and is_within(path, home):
        shown = "~" + path[len(home.rstrip("/\\")) :]
    if len(shown) <= SHORT_PATH_CHARS:
        return shown
    sep = "\\" if "\\" in shown and "/" not in shown else "/"
    parts = [p for p in shown.split(sep) if p]
    return "…" + sep + sep.join(parts[-2:]) if len(parts) > 2 else shown


def day_range_seconds(first: QDate, last: QDate) -> tuple[int, int]:
    """Unix seconds from the start of ``first`` to the end of ``last``, whole days in local time."""
    first, last = min(first, last), max(first, last)
    start = QDateTime(first, QTime(0, 0)).toSecsSinceEpoch()
    end = QDateTime(last.addDays(1), QTime(0, 0)).toSecsSinceEpoch() - 1
    return start, end


def _counts(result: dict, field: str) -> list[tuple[str, int]]:
    for entry in result.get("facet_counts") or []:
        if entry.get("field_name") == field:
            return [(str(c["value"]), int(c["count"])) for c in entry.get("counts", [])]
    return []


def _stats(result: dict, field: str) -> dict:
    for entry in result.get("facet_counts") or []:
        if entry.get("field_name") == field:
            return dict(entry.get("stats") or {})
    return {}


class FramedCheckBox(QCheckBox):
    """A check box whose box always shows. Fusion draws the box's frame in the window colour, darkened:
    on a dark palette that is almost the colour around it, and an unticked "Taken" all but vanished.
    The frame is drawn again in the placeholder-text colour, which stands out on light and dark alike."""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        option = QStyleOptionButton()
        self.initStyleOption(option)
        box = self.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, self)
        group = QPalette.ColorGroup.Active if self.isEnabled() else QPalette.ColorGroup.Disabled
        painter = QPainter(self)
        painter.setPen(QPen(self.palette().color(group, QPalette.ColorRole.PlaceholderText), 1))
        painter.drawRect(box.adjusted(0, 0, -1, -1))


class FilterBar(QWidget):
    """Folder, type and "taken" date controls; ``filterChanged`` carries the combined filter_by."""

    filterChanged = Signal(str)  # the filter_by for every search ("" = no filter)
    optionsWanted = Signal(object)  # search params (options_params()) whose answer goes to set_facets
    optionsChanged = Signal()  # set_facets filled the controls

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterBar")
        self._collection: str | None = None
        self._count = -1
        self._folders: dict[str, int] = {}  # folder value -> photos directly in it
        self._emitted = ""
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.request_options)
        self._date_timer = QTimer(self)
        self._date_timer.setSingleShot(True)
        self._date_timer.setInterval(DATE_SETTLE_MS)
        self._date_timer.timeout.connect(self._emit_filter)

        self.folder_combo = QComboBox()
        self.folder_combo.setObjectName("folderFilter")
        self.folder_combo.setToolTip("Show only photos in this folder (and its subfolders)")
        self.folder_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.folder_combo.setMinimumContentsLength(14)
        self.folder_combo.setMaximumWidth(360)
        self.type_combo = QComboBox()
        self.type_combo.setObjectName("typeFilter")
        self.type_combo.setToolTip("Show only photos of this file type")
        self.type_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.date_check = FramedCheckBox("Taken")
        self.date_check.setObjectName("dateFilter")
        self.date_check.setToolTip("Show only photos taken (or, without a camera date, saved) in these days")
        self.date_from = self._date_edit("dateFrom")
        self.date_to = self._date_edit("dateTo")
        self.date_dash = QLabel("–")
        self.clear_button = QToolButton()
        self.clear_button.setObjectName("clearFilters")
        self.clear_button.setText("Clear filters")
        set_themed_icon(self.clear_button, "close")
        self.clear_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.clear_button.setAutoRaise(True)
        self.clear_button.setToolTip("Show all photos again")
        self.clear_button.hide()

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.folder_combo)
        layout.addWidget(self.type_combo)
        layout.addSpacing(8)
        layout.addWidget(self.date_check)
        layout.addWidget(self.date_from)
        layout.addWidget(self.date_dash)
        layout.addWidget(self.date_to)
        layout.addWidget(self.clear_button)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

        self._fill_folders()
        self._fill_types([])
        self._set_dates_enabled(False)
        self.folder_combo.currentIndexChanged.connect(self._emit_filter)
        self.type_combo.currentIndexChanged.connect(self._emit_filter)
        self.date_check.toggled.connect(self._on_date_toggled)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(lambda _date: self._date_timer.start())
        self.clear_button.clicked.connect(self.clear_filters)
        self.hide()

    def _date_edit(self, name: str) -> QDateEdit:
        edit = QDateEdit(QDate.currentDate())
        edit.setObjectName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat(DATE_FORMAT)
        return edit

    # -- the filter ------------------------------------------------------------------------------------

    def folder(self) -> str | None:
        return self.folder_combo.currentData()

    def file_type(self) -> str | None:
        return self.type_combo.currentData()

    def date_range(self) -> tuple[QDate, QDate] | None:
        if not self.date_check.isChecked():
            return None
        return self.date_from.date(), self.date_to.date()

    def is_active(self) -> bool:
        return bool(self.folder() or self.file_type() or self.date_range())

    def filter_by(self) -> str:
        """The Typesense filter for the current choices ("" when nothing is chosen)."""
        clauses = []
        folder = self.folder()
        if folder:
            # Subfolders by listing them: filter_by matches whole values, it has no prefix match.
            inside = sorted(f for f in self._folders if is_within(f, folder))
            clauses.append(f"folder:[{', '.join(quote(f) for f in inside or [folder])}]")
        file_type = self.file_type()
        if file_type:
            clauses.append(f"file_type:={quote(file_type)}")
        days = self.date_range()
        if days is not None:
            start, end = day_range_seconds(*days)
            clauses.append(f"captured_at:[{start}..{end}]")
        return " && ".join(clauses)

    @Slot()
    def clear_filters(self) -> None:
        self._unchoose()
        self._emit_filter()

    def _unchoose(self) -> None:
        """Back to all folders, all types, any date, without a signal per control."""
        for control in (self.folder_combo, self.type_combo):
            with QSignalBlocker(control):
                control.setCurrentIndex(0)
        with QSignalBlocker(self.date_check):
            self.date_check.setChecked(False)
        self._set_dates_enabled(False)

    @Slot()
    def _emit_filter(self) -> None:
        self._date_timer.stop()
        self.clear_button.setVisible(self.is_active())
        text = self.filter_by()
        if text != self._emitted:
            self._emitted = text
            self.filterChanged.emit(text)

    @Slot(bool)
    def _on_date_toggled(self, on: bool) -> None:
        self._set_dates_enabled(on)
        self._emit_filter()

    def _set_dates_enabled(self, on: bool) -> None:
        for widget in (self.date_from, self.date_dash, self.date_to):
            widget.setEnabled(on)

    # -- the choices -----------------------------------------------------------------------------------

    @Slot(object)
    def on_collection(self, collection: dict | None) -> None:
        """The shown collection was set or re-counted: start over for a new one, refresh on a new count."""
        name = (collection or {}).get("name")
        count = int((collection or {}).get("num_documents", 0))
        if name != self._collection:
            # The search controller drops the filter itself on a switch; just forget the old choices.
            self._collection, self._count = name, count
            self._refresh_timer.stop()
            self._folders = {}
            self._unchoose()
            self._fill_folders()
            self._fill_types([])
            self._emitted = ""
            self.clear_button.hide()
            if name is None:
                self.hide()
            else:
                self.request_options()  # the answer shows or hides the bar: no jump in between
        elif count != self._count:
            self._count = count
            self._refresh_timer.start()

    @Slot()
    def request_options(self) -> None:
        self._refresh_timer.stop()
        if self._collection is not None:
            self.optionsWanted.emit(options_params())

    @Slot(object)
    def set_facets(self, result: dict) -> None:
        """Fill the choices from a facet search's result (``options_params``), keeping what is chosen."""
        asked = (result.get("request_params") or {}).get("collection_name")
        if asked is not None and asked != self._collection:
            return
        # A value with a backquote cannot be written in filter_by, so it cannot be offered.
        self._folders = {v: n for v, n in _counts(result, "folder") if "`" not in v}
        self._fill_folders()
        self._fill_types([(v, n) for v, n in _counts(result, "file_type") if "`" not in v])
        stats = _stats(result, "captured_at")
        if not self.date_check.isChecked() and "min" in stats and "max" in stats:
            # Unticked, the dates show the library's whole span: ticking then narrows from there.
            with QSignalBlocker(self.date_from), QSignalBlocker(self.date_to):
                self.date_from.setDate(QDateTime.fromSecsSinceEpoch(int(stats["min"])).date())
                self.date_to.setDate(QDateTime.fromSecsSinceEpoch(int(stats["max"])).date())
        # Nothing to choose from in an empty collection: the bar stays out of the welcome view.
        self.setVisible(bool(self._folders) or self.is_active())
        self._emit_filter()  # the chosen folder's subfolders may have changed
        self.optionsChanged.emit()

    def _fill_folders(self) -> None:
        combo = self.folder_combo
        chosen = combo.currentData()
        with QSignalBlocker(combo):
            combo.clear()
            folder_icon = icon("folder")
            combo.addItem(folder_icon, "All folders", None)
            shown = sorted(self._folders, key=str.casefold)
            if chosen and chosen not in self._folders:
                shown.append(chosen)  # emptied by a removal: keep the choice until the user changes it
            for folder in shown:
                total = sum(n for f, n in self._folders.items() if is_within(f, folder))
                combo.addItem(folder_icon, f"{short_path(folder)}  ({total:,})", folder)
                combo.setItemData(combo.count() - 1, folder, Qt.ItemDataRole.ToolTipRole)
            combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen else 0)

    def _fill_types(self, types: list[tuple[str, int]]) -> None:
        combo = self.type_combo
        chosen = combo.currentData()
        with QSignalBlocker(combo):
            combo.clear()
            combo.addItem("All types", None)
            for value, count in sorted(types, key=lambda item: item[0]):
                combo.addItem(f"{value.upper()}  ({count:,})", value)
            if chosen and combo.findData(chosen) < 0:
                combo.addItem(f"{chosen.upper()}  (0)", chosen)
            combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen else 0)
