"""The library's models in this process: which are loaded ("warm"), the events that say so and where each
runs, and switching where they run (the app's Library › Run the Model On, the CLI's --device).

Kept apart from ``service`` so the service stays about the library; like it, this is Qt-free and used from
the one thread that owns the service.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelStateChanged:
    state: str  # "idle" | "loading" | "ready" | "missing"
    model: str
    # Once "ready": where and in what precision the model runs ("CPU, int8"), and why in one line
    # (ComputeChoice.describe()). Empty when not known, e.g. a backend that does not say.
    runs_on: str = ""
    runs_on_detail: str = ""


class WarmModels:
    """The models this library has used since it opened (or since the compute path last changed).

    ``emit`` is looked up on every event (a callable returning the current sink), because the GUI's bridge
    replaces the service's ``on_event`` after the service was made.
    """

    def __init__(self, emit: Callable[[ModelStateChanged], None]) -> None:
        self._emit = emit
        self._warm: set[str] = set()

    def __contains__(self, model: object) -> bool:
        return model in self._warm

    @contextlib.contextmanager
    def using(self, model: str | None) -> Iterator[None]:
        """Around a call that runs ``model``: "loading" before its first use, "ready" (with where it runs)
        after it worked, "missing" when its weights are not here (naming the model in the error)."""
        from app.engine.errors import ModelUnavailable

        first = model is not None and model not in self._warm
        if first and model:
            self._emit(ModelStateChanged("loading", model))
        try:
            yield
        except ModelUnavailable as exc:
            if model:
                exc.model_name = model  # read by problem_from_exception
                self._emit(ModelStateChanged("missing", model))
            raise
        except Exception:
            # The call's own failure is reported by its caller; the model is not loaded, and a status
            # bar left saying "loading…" would never change.
            if first and model:
                self._emit(ModelStateChanged("idle", model))
            raise
        if first and model:
            self._warm.add(model)
            self._emit(ready(model))

    def forget(self, model: str) -> None:
        """``model`` must load again before its next use (new weights, another compute path)."""
        self._warm.discard(model)
        self._emit(ModelStateChanged("idle", model))

    def set_compute(self, text: str) -> str:
        """Run models on ``text`` ("auto", "cpu:int8", "cuda"...) from now on; the loaded ones are dropped
        and load again, on the new path, at their next use. Returns the request as understood ("auto").

        Raises RequestMalformed (a sentence the app shows as it is) for a value that is not a compute path
        or names a device this computer lacks: refused now rather than at the next search.
        """
        from app.engine import compute
        from app.engine.errors import RequestMalformed

        try:
            request = compute.parse_request(text)
            compute.candidates(request)
        except ValueError as exc:
            raise RequestMalformed(f"The model cannot run on that: {exc}") from None
        try:
            unchanged = compute.effective_request() == request
        except ValueError:  # a bad PHOTOSEEK_DEVICE: whatever was asked for now is a change
            unchanged = False
        compute.use_request(request)
        if not unchanged:
            from app.engine.embedder import clear_embedder_cache

            log.info("Models run on %s from now on", request)
            clear_embedder_cache()
            for model in sorted(self._warm):
                self.forget(model)
        return str(request)


def ready(model: str) -> ModelStateChanged:
    """The "ready" event of a model this process has loaded, saying where it runs when that is known."""
    from app.engine.embedder import loaded_compute_choice

    choice = loaded_compute_choice(model)
    if choice is None:
        return ModelStateChanged("ready", model)
    return ModelStateChanged("ready", model, choice.path.label, choice.describe())


def available_devices() -> list[str]:
    """The devices this computer can run models on ("cpu" always; "cuda", "mps" when present), and
    "cpu:bf16" when the processor has native bfloat16 (otherwise it is emulated and slower than fp32)."""
    from app.engine import compute

    found = ["cpu"] + [d for d in ("cuda", "mps") if compute.device_available(d)]
    return found + (["cpu:bf16"] if compute.cpu_has_native_bf16() else [])
