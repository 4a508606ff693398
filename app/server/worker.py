"""The one thread that owns the Engine while `photoseek serve` runs.

An Engine belongs to the thread that opened it (its SQLite connection, indexes and model), so every
request's engine work is queued to this single thread, in arrival order. A long import is sent as many
small jobs, so the searches that arrive meanwhile queue between them and are answered in the gaps.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from app.engine import Engine

T = TypeVar("T")
log = logging.getLogger(__name__)


class EngineWorker:
    """Runs ``fn(engine)`` jobs one at a time on a dedicated thread that opened the Engine."""

    def __init__(self, data_dir: Path) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photoseek-engine")
        self._engine: Engine | None = None
        # Opened as the first job, so the Engine's owner is the executor's thread, and a library that cannot
        # be opened fails here, at startup, with the engine's own message.
        try:
            self._executor.submit(self._open, data_dir).result()
        except BaseException:
            self._executor.shutdown(wait=True)
            raise

    def _open(self, data_dir: Path) -> None:
        from app.engine import Engine

        self._engine = Engine(data_dir)

    def _run(self, fn: Callable[[Engine], T]) -> T:
        if self._engine is None:
            raise RuntimeError("the engine is closed")
        return fn(self._engine)

    async def call(self, fn: Callable[[Engine], T]) -> T:
        """Queue ``fn(engine)`` behind the jobs already waiting and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._run, fn))

    def close(self) -> None:
        """Close the Engine on its own thread (index files saved), after the jobs already queued."""

        def close_engine() -> None:
            if self._engine is not None:
                engine, self._engine = self._engine, None
                engine.close()

        try:
            self._executor.submit(close_engine).result()
        finally:
            self._executor.shutdown(wait=True)
