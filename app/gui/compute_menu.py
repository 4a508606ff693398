"""Library › Run the Model On: where the model runs, saved in the settings ("compute_device"), and which of
--device, PHOTOSEEK_DEVICE and that setting decides when the window opens.

The choice itself is made by the library on its thread (``LibraryService.set_compute``): it checks that
this computer has the device and drops the loaded models, which then load again on the new path. The GUI
thread never imports torch, so which GPUs are here is asked of the library once it is open, and the GPU
entries appear then.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from app.engine import compute
from app.library.problems import EngineProblem

if TYPE_CHECKING:
    from app.gui.bridge import Request
    from app.gui.main_window import MainWindow

log = logging.getLogger(__name__)

# (request, menu text) in menu order. Only the first three are offered everywhere: bfloat16 only where the
# processor has it natively (emulated it is slower than float32), the GPUs only where they are present.
CHOICES = (
    ("auto", "Automatic (fastest measured)"),
    ("cpu:fp32", "CPU, float32"),
    ("cpu:int8", "CPU, int8"),
    ("cpu:bf16", "CPU, bfloat16"),
    ("cuda", "GPU (CUDA)"),
    ("mps", "GPU (Apple)"),
)
_EVERYWHERE = ("auto", "cpu:fp32", "cpu:int8")


class ComputeMenu(QObject):
    """The submenu, its setting, and switching the library to the path chosen."""

    switched = Signal(str)  # the request in effect ("cpu:int8"), once the library took it

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.current = "auto"
        self.decided_by: str | None = None  # "PHOTOSEEK_DEVICE=..." or "--device ..." when not the menu
        self.menu = QMenu("Run the Model On", window)
        self.menu.setObjectName("computeMenu")
        self.menu.setToolTipsVisible(True)
        # Shown only while the environment or the command line decides: a sentence where it is seen,
        # rather than greyed-out entries nobody explains.
        self.note = self.menu.addAction("")
        self.note.setObjectName("computeNote")
        self.note.setEnabled(False)
        self.note.setVisible(False)
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for request, text in CHOICES:
            action = QAction(text, self.menu)
            action.setObjectName(f"compute:{request}")
            action.setCheckable(True)
            action.setVisible(request in _EVERYWHERE)
            action.triggered.connect(lambda _checked=False, r=request: self.choose(r))
            self.group.addAction(action)
            self.menu.addAction(action)
            self.actions[request] = action
        self.actions["auto"].setToolTip("Measure the paths this computer offers once, and use the fastest")
        window.bridge.opened.connect(self._ask_devices)

    # -- at start ---------------------------------------------------------------------------------------

    def apply_at_start(self) -> None:
        """Apply the saved choice, unless PHOTOSEEK_DEVICE or --device decides for this run. Call right
        after the bridge started: the library's first call after opening is then this switch."""
        saved = self._saved()
        try:
            current = compute.effective_request()
        except ValueError as exc:
            # A bad PHOTOSEEK_DEVICE (the CLI refuses it before starting): say so, and run on the
            # automatic choice, which the menu can then change for this run.
            compute.use_request(compute.ComputeRequest())
            log.warning("%s; the model runs on the automatic choice", exc)
            self._window.statusBar().showMessage(f"{exc}. The model runs on the automatic choice.", 30000)
            self._check("auto")
            return
        env = _env_request()
        # A request already in effect that neither the environment nor the setting made came from
        # --device (the CLI set it before opening the window). Both win over the setting for this run.
        if env is not None or (not current.is_auto and current != saved):
            by_env = env is not None and current == env
            by = f"{compute.DEVICE_ENV}={os.environ.get(compute.DEVICE_ENV, '').strip()}" if by_env else (
                f"--device {current}"
            )
            self._decided_elsewhere(by, str(current))
            # The library checks the device is here (a GPU asked for on a computer without one) on its own
            # thread, where torch may be imported; refused, the window runs on the automatic choice.
            call = self._window.bridge.call("set_compute", str(current))
            call.failed.connect(lambda problem: self._not_here(by, problem))
            return
        self._check(str(saved))
        self._switch(str(saved), at_start=True)

    def _not_here(self, by: str, problem: EngineProblem) -> None:
        log.warning("%s: %s; the model runs on the automatic choice", by, problem.message)
        self._window.statusBar().showMessage(
            f"{by}: {problem.message} The model runs on the automatic choice.", 30000
        )
        self.decided_by = None
        self.note.setVisible(False)
        self.menu.menuAction().setToolTip("")
        for action in self.actions.values():
            action.setEnabled(True)
            action.setToolTip("")
        self._switch("auto", at_start=True)

    def _saved(self) -> compute.ComputeRequest:
        text = self._window.settings.compute_device
        try:
            return compute.parse_request(text)
        except ValueError as exc:
            log.warning("settings: compute_device %r is not a compute path (%s); using auto", text, exc)
            return compute.ComputeRequest()

    def _decided_elsewhere(self, by: str, request: str) -> None:
        self.decided_by = by
        self.current = request
        self._check(request)
        tip = f"{by} decides where the model runs in this session; start without it to choose here."
        self.note.setText(f"Set by {by} for this session")
        self.note.setToolTip(tip)
        self.note.setVisible(True)
        self.menu.menuAction().setToolTip(tip)
        for action in self.actions.values():
            action.setEnabled(False)
            action.setToolTip(tip)

    @Slot(object)
    def _ask_devices(self, _collections: object) -> None:
        self._window.bridge.call("compute_devices").done.connect(self._show_devices)

    @Slot(object)
    def _show_devices(self, devices: list[str]) -> None:
        for request in ("cpu:bf16", "cuda", "mps"):
            self.actions[request].setVisible(request in devices or self.current == request)

    # -- choosing ---------------------------------------------------------------------------------------

    def choose(self, request: str) -> Request | None:
        """A menu entry: switch the library to ``request``; the setting keeps it once the library took it.
        Returns the library's request, or None when there is nothing to switch."""
        if self.decided_by is not None or request == self.current:
            self._check(self.current)
            return None
        return self._switch(request, at_start=False)

    def _switch(self, request: str, *, at_start: bool) -> Request:
        call = self._window.bridge.call("set_compute", request)
        call.done.connect(lambda now: self._switched(str(now), by_user=not at_start))
        call.failed.connect(lambda problem: self._refused(request, problem, at_start=at_start))
        return call

    def _switched(self, request: str, *, by_user: bool) -> None:
        self.current = request
        self._check(request)
        window = self._window
        if by_user:  # at start the setting is where the request came from, and the window warms up anyway
            window.settings.compute_device = request
            window.settings.save()
            # The library dropped the loaded model: load it again now, so the status bar says where it
            # runs before the next search needs it.
            window.model.warm_up(window.collection(window.search.collection_name))
        self.switched.emit(request)

    def _refused(self, request: str, problem: EngineProblem, *, at_start: bool) -> None:
        self._check(self.current)
        what = "The saved choice of where the model runs" if at_start else "Run the Model On"
        log.warning("%s (%s): %s", what, request, problem.message)
        self._window.statusBar().showMessage(f"{what}: {problem.message}", 15000)

    def _check(self, request: str) -> None:
        action = self.actions.get(request)
        if action is not None:
            action.setChecked(True)
            return
        # A path the menu has no entry for (PHOTOSEEK_DEVICE=cuda:fp16, say): no entry is checked.
        checked = self.group.checkedAction()
        if checked is not None:
            self.group.setExclusive(False)
            checked.setChecked(False)
            self.group.setExclusive(True)


def _env_request() -> compute.ComputeRequest | None:
    """PHOTOSEEK_DEVICE's request; None when it is not set (or not usable, which was said already)."""
    if not os.environ.get(compute.DEVICE_ENV, "").strip():
        return None
    try:
        return compute.request_from_env()
    except ValueError:
        return None
