"""The model in the window: its state in the status bar, the download dialog when a model is missing, and
the way back to that dialog (Library › Model…, or the status bar's link) after the user said "not now".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel

from app.gui.collection_dialog import model_label
from app.gui.model_dialog import ModelDialog
from app.library.model_files import model_of
from app.library.problems import EngineProblem
from app.resources import default_model

if TYPE_CHECKING:
    from app.gui.main_window import MainWindow


class ModelController(QObject):
    ready = Signal(str)  # model name, once its weights were installed from the dialog
    declined = Signal(str)  # model name, when its offer was closed without getting it

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.dialog: ModelDialog | None = None
        self._retries: list[Callable[[], None]] = []
        self._declined: set[str] = set()  # models whose dialog the user closed: ask again only when asked
        self._first_run_offered = False  # the offer before a first import is made once per window
        self._states: dict[str, str] = {}
        self._runs_on: dict[str, tuple[str, str]] = {}  # model -> (label, one line on how it was chosen)
        self.status = QLabel()
        self.status.setObjectName("modelStatus")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.linkActivated.connect(lambda _link: self.show_dialog())
        window.bridge.modelStateChanged.connect(self._on_state)

    def current_model(self) -> str:
        window = self._window
        return model_of(window.collection(window.search.collection_name)) or default_model()

    def state(self, model: str) -> str:
        return self._states.get(model, "idle")

    def warm_up(self, collection: dict | None) -> None:
        """Show the collection's model and load it now, so its first search does not wait for it. A
        library without photos only checks the model its first import needs, and offers it (once) when
        its weights are missing, rather than letting that import fail."""
        model = model_of(collection)
        self._show(model or default_model(), self.state(model) if model else "idle")
        if collection is not None and model is not None:
            request = self._window.bridge.call("warm_up", collection["name"])
        elif not self._first_run_offered:
            model = default_model()
            request = self._window.bridge.call("warm_up", None, model)
        else:
            return
        request.done.connect(lambda state: self._offer_first_run(state, model))

    def _library_is_empty(self) -> bool:
        window = self._window
        names = (
            window.collections_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(window.collections_list.count())
        )
        return all(int((window.collection(name) or {}).get("num_documents", 0)) == 0 for name in names)

    def _offer_first_run(self, state: object, model: str | None) -> None:
        if state != "missing" or model is None or self._first_run_offered or model in self._declined:
            return
        if not self._library_is_empty() or (self.dialog is not None and self.dialog.isVisible()):
            return
        self._first_run_offered = True
        self.show_dialog(model, first_run=True)

    def runs_on(self, model: str) -> str:
        """Where and how ``model`` runs, in one line (About); empty until it was loaded."""
        return self._runs_on.get(model, ("", ""))[1] if self.state(model) == "ready" else ""

    @Slot(str, str, str, str)
    def _on_state(self, state: str, model: str, runs_on: str = "", detail: str = "") -> None:
        self._states[model] = state
        if state == "ready" and runs_on:
            self._runs_on[model] = (runs_on, detail or runs_on)
        elif state != "ready":
            self._runs_on.pop(model, None)  # it loads again, perhaps elsewhere (Run the Model On)
        if model == self.current_model():
            self._show(model, state)

    def _show(self, model: str, state: str) -> None:
        label = model_label(model)
        runs_on, detail = self._runs_on.get(model, ("", ""))
        ready = f"Model: {label} – ready · {runs_on}" if runs_on else f"Model: {label} – ready"
        text = {
            "loading": f"Model: {label} – loading…",
            "ready": ready,
            "missing": f"Model: {label} – <a href='model'>not downloaded yet</a>",
        }.get(state, f"Model: {label}")
        self.status.setText(text)
        self.status.setToolTip(f"Runs on {detail}" if state == "ready" and detail else "")

    def offer(self, problem: EngineProblem, retry: Callable[[], None] | None = None) -> bool:
        """A call needed a model that is not here: offer to get it, and run ``retry`` once it is.
        Returns False (and offers nothing) when the user already closed the offer for this model."""
        model = problem.model or self.current_model()
        self._on_state("missing", model)
        if model in self._declined:
            return False
        if retry is not None:
            self._retries.append(retry)
        self.show_dialog(model)
        return True

    def show_dialog(self, model: str | None = None, *, first_run: bool = False) -> ModelDialog:
        """Library › Model…: download the model or choose a file, whatever happened before."""
        model = model or self.current_model()
        self._declined.discard(model)
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        dialog = ModelDialog(model, self._window.bridge, self._window, first_run=first_run)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.modelReady.connect(self._on_ready)
        dialog.rejected.connect(lambda: self._on_declined(model))
        dialog.destroyed.connect(lambda: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _on_declined(self, model: str) -> None:
        self._retries.clear()
        if self.state(model) != "ready":
            self._declined.add(model)
            self._window.statusBar().showMessage(
                f"Searching needs the model {model_label(model)}: get it any time from Library › Model…",
                10000,
            )
            self.declined.emit(model)

    @Slot(str)
    def _on_ready(self, model: str) -> None:
        retries, self._retries = self._retries, []
        self._declined.discard(model)
        installed = self.dialog.installed if self.dialog is not None else None
        note = "" if installed is None or installed.official else f" {installed.description}"
        self._window.statusBar().showMessage(f"The model {model_label(model)} is ready.{note}", 15000)
        self.warm_up(self._window.collection(self._window.search.collection_name))
        for retry in retries:
            retry()
        self.ready.emit(model)
