"""Switching a library (a collection) to another model: the plan shown before, the job that re-embeds in
the background, and how it ended.

The job embeds a chunk of photos per step into the engine's shadow file (app.engine.model_swap), so
searches between steps keep answering from the old vectors; its last step swaps the new vectors and model
in, in one transaction. Photos that cannot be embedded again (added from base64 with ``store: false``, or
whose file is missing or unreadable now) are never dropped silently: the plan lists them first, and the
switch removes them only when the caller agreed (``remove_unembeddable``); without that agreement a switch
that meets one stops before the swap, the library still on its old model and the work done kept for the
next try. Qt-free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.library.jobs import ChunkPacer, Job
from app.library.model_files import model_config_of

if TYPE_CHECKING:
    from app.engine.model_swap import NotReembedded

# How often the swap may find documents that changed meanwhile (another process writing) before it
# gives up and leaves the library on its old model.
MAX_SWAP_TRIES = 5


@dataclass(frozen=True)
class SwitchPlan:
    """What a switch will do, said before it starts."""

    collection: str
    current_model: str
    target_model: str
    photos: int  # photos with vectors, all of which are embedded again
    cannot: list[NotReembedded]  # no image left, or the file is gone: removed only if the user agrees
    resumable: int  # new vectors already computed by an earlier, interrupted switch to this model


@dataclass(frozen=True)
class SwitchProgress:
    done: int
    total: int
    model: str


@dataclass(frozen=True)
class SwitchSummary:
    collection: str
    previous_model: str
    model: str
    switched: bool
    cancelled: bool = False
    embedded: int = 0
    removed: list[NotReembedded] = field(default_factory=list)
    # Photos that stopped the switch (the caller did not agree to remove them); the library is unchanged.
    blocking: list[NotReembedded] = field(default_factory=list)
    message: str = ""


def plan_switch(engine: Any, collection: str, model_config: dict) -> SwitchPlan:
    from app.engine.model_swap import ModelSwap

    swap = ModelSwap(engine, collection, model_config)
    photos, cannot = swap.sources()
    with swap.shadow() as conn:
        resumable = photos - len(swap.todo(conn))
    current = model_config_of(engine.collections[collection].retrieve()) or {}
    return SwitchPlan(
        collection, str(current.get("model_name", "")), str(model_config["model_name"]), photos, cannot,
        max(0, resumable - len(cannot)),
    )  # fmt: skip


class ModelSwitchJob(Job[SwitchSummary]):
    """Re-embeds a collection with another model, a chunk per step, then swaps it in at once."""

    def __init__(self, service: Any, collection: str, model_config: dict, remove_unembeddable: bool) -> None:
        from app.engine.model_swap import ModelSwap

        super().__init__()
        self.collection = collection
        self.model_config = dict(model_config)
        self.remove_unembeddable = remove_unembeddable
        self._service = service
        self._swap = ModelSwap(service.client, collection, model_config)
        current = model_config_of(service.client.collections[collection].retrieve()) or {}
        self.previous_model = str(current.get("model_name", ""))
        self._todo: list[int] | None = None
        self._total = 0
        self._done = 0
        self._embedded = 0
        self._tries = 0
        self._pacer = ChunkPacer()

    @property
    def model(self) -> str:
        return str(self.model_config["model_name"])

    def _step(self) -> bool:
        if self.cancelled:
            return self._end(False, cancelled=True, message="Cancelled: the library keeps its model.")
        if self._todo is None:
            from app.engine.model_swap import ModelSwap

            # Built again: a switch that ran before this one (queued behind it) changed the collection.
            self._swap = ModelSwap(self._service.client, self.collection, self.model_config)
        with self._swap.shadow() as conn:
            if self._todo is None:
                self._todo = self._swap.todo(conn)
                self._total = self._swap.sources()[0]
                self._done = self._total - len(self._todo)
                self.report(SwitchProgress(self._done, self._total, self.model))
            if self._todo:
                return self._embed_chunk(conn, self._todo)
            return self._commit(conn)

    def _embed_chunk(self, conn: Any, todo: list[int]) -> bool:
        chunk, todo[:] = todo[: self._pacer.size], todo[self._pacer.size :]
        started = time.perf_counter()
        with self._service.embedding_with(self.model):
            self._swap.embed(conn, chunk)
        self._pacer.measured(len(chunk), time.perf_counter() - started)
        self._embedded += len(chunk)
        self._done = min(self._total, self._done + len(chunk))
        self.report(SwitchProgress(self._done, self._total, self.model))
        return False

    def _commit(self, conn: Any) -> bool:
        from app.engine.model_swap import Stale

        failures = self._swap.failures(conn)
        if failures and not self.remove_unembeddable:
            count = len(failures)
            return self._end(
                False,
                blocking=failures,
                message=(
                    f"Not switched: {count} photo{'s' if count != 1 else ''} cannot be embedded again. "
                    "The library keeps its model; agree to remove them, or fix their files, and switch again."
                ),
            )
        try:
            removed_ids = self._swap.commit(conn, {f.id for f in failures})
        except Stale:
            self._tries += 1
            if self._tries >= MAX_SWAP_TRIES:
                raise
            self._todo = None  # photos changed meanwhile (another process): embed those, then try again
            return False
        self._swap.discard()
        removed = [f for f in failures if f.id in set(removed_ids)]
        self._service.model_switched(self.collection, self.model, [f.id for f in removed])
        return self._end(True, removed=removed, message=f"The library now uses {self.model}.")

    def _end(
        self,
        switched: bool,
        *,
        cancelled: bool = False,
        removed: list[NotReembedded] | None = None,
        blocking: list[NotReembedded] | None = None,
        message: str = "",
    ) -> bool:
        self.result = SwitchSummary(
            self.collection, self.previous_model, self.model, switched, cancelled, self._embedded,
            removed or [], blocking or [], message,
        )  # fmt: skip
        return True
