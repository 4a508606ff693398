"""Library › Change Model…: asks the library for the models it may switch to and what a switch will do,
gets a missing model through the download offer first (ModelController), runs the switch as a background
job with progress and Cancel, and refreshes the window once the new model has taken over.

The switch belongs to this controller, not to the dialog: closing the chooser leaves the switch running,
with its progress in the status bar, and reopening the chooser shows it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal

from app.gui.bridge import Request
from app.gui.model_chooser import ModelChooser
from app.library.model_catalog import ModelChoice
from app.library.model_switch import SwitchPlan, SwitchProgress, SwitchSummary
from app.library.problems import EngineProblem

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow


class ModelSwitchController(QObject):
    switchFinished = Signal(object)  # SwitchSummary

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.dialog: ModelChooser | None = None
        self.request: Request | None = None
        self._progress: SwitchProgress | None = None
        self._waiting_for: tuple[ModelChoice, bool] | None = None  # a switch waiting for its download
        window.model.ready.connect(self._model_ready)
        window.model.declined.connect(self._model_declined)

    @property
    def running(self) -> bool:
        return self.request is not None

    def show_chooser(self) -> ModelChooser | None:
        window = self._window
        name = window.current_collection()
        if name is None:
            window.show_error("Change Model", "There is no library yet: import photos first.")
            return None
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        dialog = ModelChooser(name, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(self._plan)
        dialog.switchRequested.connect(self.switch)
        dialog.cancelRequested.connect(self.cancel)
        dialog.destroyed.connect(lambda: setattr(self, "dialog", None))
        self.dialog = dialog
        if self._progress is not None:
            dialog.show_progress(self._progress)
        request = window.bridge.call("model_choices", name)
        request.done.connect(lambda choices, d=dialog: self._listed(d, choices))
        request.failed.connect(lambda problem, d=dialog: self._failed_in(d, problem))
        dialog.show()
        return dialog

    def _listed(self, dialog: ModelChooser, choices: list[ModelChoice]) -> None:
        if dialog is self.dialog:
            dialog.set_choices(choices)

    def _failed_in(self, dialog: ModelChooser, problem: EngineProblem) -> None:
        if dialog is self.dialog:
            dialog.show_problem(problem.message)

    def _plan(self, choice: ModelChoice) -> None:
        dialog = self.dialog
        if dialog is None:
            return
        request = self._window.bridge.call(
            "plan_model_switch", dialog.collection, choice.entry.model_config, supersede="model-plan"
        )
        request.done.connect(lambda plan, d=dialog: self._planned(d, plan))
        request.failed.connect(lambda problem, d=dialog: self._failed_in(d, problem))

    def _planned(self, dialog: ModelChooser, plan: SwitchPlan) -> None:
        if dialog is self.dialog:
            dialog.show_plan(plan)

    # -- the switch ------------------------------------------------------------------------------------

    def switch(self, choice: ModelChoice, remove_unembeddable: bool) -> Request | None:
        """Switch the current library to ``choice``; a model not here yet is downloaded first."""
        if self.running:
            return None
        if not choice.weights_present:
            self._waiting_for = (choice, remove_unembeddable)
            self._window.model.show_dialog(choice.name)
            return None
        name = self.dialog.collection if self.dialog is not None else self._window.current_collection()
        if name is None:
            return None
        config = choice.entry.model_config
        request = self._window.bridge.call("switch_model", name, config, remove_unembeddable)
        self.request = request
        request.progress.connect(self._on_progress)
        request.done.connect(self._on_done)
        request.failed.connect(self._on_failed)
        if self.dialog is not None:
            self.dialog.set_running(True)
        self._window.statusBar().showMessage(f"Switching “{name}” to {choice.entry.label}…", 5000)
        return request

    def cancel(self) -> None:
        if self.request is not None:
            self.request.cancel()

    def _model_ready(self, model: str) -> None:
        waiting, self._waiting_for = self._waiting_for, None
        if waiting is not None and waiting[0].name == model:
            from dataclasses import replace

            self.switch(replace(waiting[0], weights_present=True), waiting[1])

    def _model_declined(self, model: str) -> None:
        if self._waiting_for is not None and self._waiting_for[0].name == model:
            self._waiting_for = None
            if self.dialog is not None:
                self.dialog.show_problem("The model was not downloaded: the library keeps its model.")

    def _on_progress(self, progress: object) -> None:
        if not isinstance(progress, SwitchProgress):
            return
        self._progress = progress
        if self.dialog is not None:
            self.dialog.show_progress(progress)
        percent = 100 * progress.done // max(1, progress.total)
        self._window.statusBar().showMessage(f"Switching model: {percent}% ({progress.done:,} photos)…")

    def _on_done(self, summary: SwitchSummary) -> None:
        self.request = None
        self._progress = None
        window = self._window
        text = summary.message
        if self.dialog is not None:
            self.dialog.show_summary(summary)
            text = self.dialog.status.text()  # the models by the names the list gives them
        window.statusBar().showMessage(text, 15000)
        if summary.switched:
            # The grid's results came from the old vectors: ask again with the new model.
            window.model.warm_up(window.collection(summary.collection))
            if window.search.collection_name == summary.collection:
                window.search.refresh()
            if self.dialog is not None:
                request = window.bridge.call("model_choices", summary.collection)
                request.done.connect(lambda choices, d=self.dialog: self._relisted(d, choices, summary))
        self.switchFinished.emit(summary)

    def _relisted(self, dialog: ModelChooser, choices: list[ModelChoice], summary: SwitchSummary) -> None:
        if dialog is self.dialog:
            dialog.set_choices(choices)
            dialog.show_summary(summary)

    def _on_failed(self, problem: EngineProblem) -> None:
        self.request = None
        self._progress = None
        message = f"The model was not switched: {problem.message} The library keeps its model."
        if self.dialog is not None:
            self.dialog.show_problem(message)
        self._window.statusBar().showMessage(message, 15000)
