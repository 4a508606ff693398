"""Library › Change Model…: the curated models with their size, speed here and languages, the library's
current one marked, what a switch will do (and which photos it cannot take along), and its progress.

A view only: ``ModelSwitchController`` (model_switch_controller.py) asks the library and drives it. The
dialog is modeless, so searching goes on while a switch runs, and closing it does not stop the switch.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.library.model_catalog import ModelChoice
from app.library.model_switch import SwitchPlan, SwitchProgress, SwitchSummary

COLUMNS = ("Model", "Download", "Speed on this computer", "Languages")
# Listing every photo a switch cannot take along would make the dialog as long as the library.
MAX_LISTED = 200


class ModelChooser(QDialog):
    """Emits ``chosen(choice)`` when the selection changes and ``switchRequested(choice, remove)``."""

    chosen = Signal(object)  # ModelChoice
    switchRequested = Signal(object, bool)  # ModelChoice, remove photos that cannot be embedded again
    cancelRequested = Signal()

    def __init__(self, collection: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelChooser")
        self.setWindowTitle("Change Model")
        self.collection = collection
        self._choices: list[ModelChoice] = []
        self._plan: SwitchPlan | None = None
        self.running = False

        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.list = QTreeWidget(self)
        self.list.setObjectName("modelList")
        self.list.setHeaderLabels(list(COLUMNS))
        self.list.setRootIsDecorated(False)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.list.header().setStretchLastSection(True)
        self.list.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.list.setMaximumHeight(180)  # a short list: the room goes to what a switch will do
        self.details = QLabel(self)
        self.details.setObjectName("modelDetails")
        self.details.setWordWrap(True)
        self.plan_label = QLabel(self)
        self.plan_label.setObjectName("switchPlan")
        self.plan_label.setWordWrap(True)
        self.cannot_list = QListWidget(self)
        self.cannot_list.setObjectName("cannotReembedList")
        self.cannot_list.setMaximumHeight(110)
        self.cannot_list.hide()
        self.remove_box = QCheckBox(self)
        self.remove_box.setObjectName("removeUnembeddable")
        self.remove_box.hide()
        self.remove_box.toggled.connect(lambda _on: self._update_buttons())
        self.progress = QProgressBar(self)
        self.progress.setObjectName("switchProgress")
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setObjectName("switchStatus")
        self.status.setWordWrap(True)

        self.switch_button = QPushButton("Switch to This Model", self)
        self.switch_button.setObjectName("switchModelButton")
        self.switch_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel Switch", self)
        self.cancel_button.setObjectName("cancelSwitchButton")
        close_button = QPushButton("Close", self)
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.switch_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.switch_button.clicked.connect(self._switch_clicked)
        self.cancel_button.clicked.connect(self.cancelRequested)
        close_button.clicked.connect(self.close)
        self.cancel_button.hide()  # a button box shows what it is given

        layout = QVBoxLayout(self)
        parts = (self.intro, self.list, self.details, self.plan_label, self.cannot_list, self.remove_box)
        for widget in (*parts, self.progress, self.status, buttons):
            layout.addWidget(widget)
        self.resize(960, 480)
        self.set_choices([])

    # -- what the controller shows ---------------------------------------------------------------------

    def set_choices(self, choices: list[ModelChoice]) -> None:
        self._choices = list(choices)
        self.list.clear()
        current = next((c for c in choices if c.current), None)
        label = current.entry.label if current else "…"
        self.intro.setText(
            f"The library “{self.collection}” searches with <b>{label}</b>. "
            "Choosing another model embeds every photo again in the background; searches keep using the "
            "current model until the new one is ready, then it takes over at once."
        )
        for choice in choices:
            speed = choice.speed or "not measured yet"
            title = f"{choice.entry.label} (current)" if choice.current else choice.entry.label
            if choice.unavailable:
                title += f" – needs {choice.entry.needs_package or 'more'}"
            item = QTreeWidgetItem([title, choice.size_text, speed, choice.entry.languages])
            item.setData(0, Qt.ItemDataRole.UserRole, choice.name)
            item.setToolTip(0, choice.name)
            if choice.current:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
            if choice.unavailable:
                for column in range(len(COLUMNS)):
                    item.setForeground(column, self.palette().placeholderText())
            self.list.addTopLevelItem(item)
        if current is not None:
            self.list.setCurrentItem(self.list.topLevelItem(choices.index(current)))
        self._selection_changed()

    def select(self, model_name: str) -> None:
        for row in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(row)
            if item.data(0, Qt.ItemDataRole.UserRole) == model_name:
                self.list.setCurrentItem(item)
                return
        raise KeyError(model_name)

    def selected(self) -> ModelChoice | None:
        row = self.list.indexOfTopLevelItem(self.list.currentItem()) if self.list.currentItem() else -1
        return self._choices[row] if 0 <= row < len(self._choices) else None

    def show_plan(self, plan: SwitchPlan) -> None:
        choice = self.selected()
        if choice is None or choice.name != plan.target_model:
            return  # the answer for an earlier selection
        self._plan = plan
        resumed = f" ({plan.resumable:,} already done by an earlier switch)" if plan.resumable else ""
        count = len(plan.cannot)
        photos = plan.photos - count
        text = f"Switching embeds {photos:,} photo{'s' if photos != 1 else ''} again{resumed}."
        if count:
            text += (
                f"<br><b>{count:,} photo{'s' if count != 1 else ''} cannot be embedded again</b> (listed "
                "below): the new model has nothing to look at. They stay in the library unless you agree "
                "to remove them; without that, the switch stops and the library keeps its model."
            )
            self.cannot_list.clear()
            for item in plan.cannot[:MAX_LISTED]:
                self.cannot_list.addItem(f"{item.label} — {item.reason}")
            if count > MAX_LISTED:
                self.cannot_list.addItem(f"… and {count - MAX_LISTED:,} more")
            self.remove_box.setText(
                f"Remove these {count:,} photos from the library when switching (also any file found "
                "unreadable during the switch; your files are not touched)"
            )
        self.plan_label.setText(text)
        self.cannot_list.setVisible(bool(count))
        self.remove_box.setVisible(bool(count))
        self.remove_box.setChecked(False)
        self._update_buttons()

    def show_progress(self, progress: SwitchProgress) -> None:
        self.set_running(True)
        self.progress.setRange(0, max(1, progress.total))
        self.progress.setValue(progress.done)
        self.status.setText(
            f"Embedding {progress.done:,} of {progress.total:,} photos with {self.label(progress.model)}… "
            "Searches use the current model until this is done."
        )

    def show_summary(self, summary: SwitchSummary) -> None:
        self.set_running(False)
        text = summary.message
        if summary.switched:
            text = f"The library now uses {self.label(summary.model)} ({summary.embedded:,} photos embedded)."
        if summary.removed:
            names = ", ".join(r.label for r in summary.removed[:5])
            more = f" and {len(summary.removed) - 5:,} more" if len(summary.removed) > 5 else ""
            count = len(summary.removed)
            text += f" Removed {count:,} photos that could not be embedded again: {names}{more}."
        if summary.blocking:
            self.cannot_list.clear()
            for item in summary.blocking[:MAX_LISTED]:
                self.cannot_list.addItem(f"{item.label} — {item.reason}")
            self.cannot_list.show()
        self.status.setText(text)
        if summary.switched:
            self.progress.setValue(self.progress.maximum())

    def label(self, model_name: str) -> str:
        """How the list calls ``model_name`` (its name where it is not listed)."""
        return next((c.entry.label for c in self._choices if c.name == model_name), model_name)

    def show_problem(self, message: str) -> None:
        self.set_running(False)
        self.status.setText(message)

    def set_running(self, running: bool) -> None:
        self.running = running
        self.progress.setVisible(running or self.progress.value() > 0)
        self.cancel_button.setVisible(running)
        self._update_buttons()

    # -- internals -------------------------------------------------------------------------------------

    def _selection_changed(self) -> None:
        choice = self.selected()
        self._plan = None
        self.plan_label.setText("")
        self.cannot_list.hide()
        self.remove_box.hide()
        if choice is None:
            self.details.setText("")
        else:
            lines = [choice.entry.summary]
            if not choice.weights_present and choice.entry.download_bytes:
                lines.append(f"Not on this computer yet: switching first downloads it ({choice.size_text}).")
            lines += choice.notes
            if choice.unavailable:
                lines.append(f"<b>Cannot be used here:</b> {choice.unavailable}")
            self.details.setText("<br>".join(lines))
            if not choice.current and not choice.unavailable:
                self.chosen.emit(choice)
        self._update_buttons()

    def _update_buttons(self) -> None:
        choice = self.selected()
        plan = self._plan
        ready = (
            choice is not None and not choice.current and not choice.unavailable and not self.running
            and plan is not None and (not plan.cannot or self.remove_box.isChecked())
        )  # fmt: skip
        self.switch_button.setEnabled(ready)

    def _switch_clicked(self) -> None:
        choice = self.selected()
        if choice is not None and self.switch_button.isEnabled():
            self.switchRequested.emit(choice, self.remove_box.isChecked())
