"""Shared test setup: a headless Qt platform, private data/cache dirs per test, the tiny model as default,
and a check that no test leaves a thread running.

Kept generic (engine tests use it too): nothing here imports Qt; GUI fixtures live in tests/gui/conftest.py.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

# Before anything can import Qt: tests never need (or may have) a display. The GUI tests' second pass in
# tools/run-tests.sh asks for a virtual X server's display instead (PHOTOSEEK_TEST_QT_PLATFORM=xcb), so that
# window sizes meet a real screen; nothing else chooses the platform (a developer's own QT_QPA_PLATFORM
# would put windows on their desktop).
os.environ["QT_QPA_PLATFORM"] = os.environ.get("PHOTOSEEK_TEST_QT_PLATFORM") or "offscreen"
os.environ["PHOTOSEEK_DEFAULT_MODEL"] = "photoseek/tiny-shapes"
# The tiny model runs in fp32 everywhere, so rankings the tests assert do not depend on which path a
# calibration on this machine would pick; tests/test_compute.py exercises the measured choice itself.
os.environ["PHOTOSEEK_DEVICE"] = "cpu:fp32"
# send2trash reads XDG_DATA_HOME once, when first imported: a private one set before any test runs keeps
# "move to trash" tests out of the real user's trash (platformdirs follows it too).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="photoseek-test-xdg-")

import sys

import numpy  # noqa: F401  (see _os_threads: numpy's BLAS pool must belong to the main thread)
import pytest

atexit.register(shutil.rmtree, os.environ["XDG_DATA_HOME"], ignore_errors=True)

# How long a test's threads get to finish after it ends (engine threads close their database, decode
# pools drain) before the test is failed for leaving them behind.
THREAD_GRACE_SECONDS = 5.0

# OS thread names that are shared, long-lived pools rather than work a test started: Qt's global pool
# keeps idle workers for 30 s (its activeThreadCount() is checked instead), and Qt starts a D-Bus
# thread once per process on some systems.
_PERSISTENT_OS_THREADS = ("Thread (pooled)", "QDBusConnection", "QXcbEventQueue")


@pytest.fixture(autouse=True)
def photoseek_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every Photoseek directory at this test's tmp dir, so no test touches the real home."""
    data = tmp_path / "photoseek-data"
    monkeypatch.setenv("PHOTOSEEK_DATA_DIR", str(data))
    monkeypatch.setenv("PHOTOSEEK_CACHE_DIR", str(tmp_path / "photoseek-cache"))
    monkeypatch.setenv("PHOTOSEEK_DEFAULT_MODEL", "photoseek/tiny-shapes")
    return data


@pytest.fixture
def service(photoseek_dirs: Path) -> Iterator:
    """A library service over this test's own library; the events it sent are in ``service.events``."""
    from app.library.service import LibraryService

    events: list[object] = []
    library = LibraryService(photoseek_dirs, on_event=events.append)
    library.open()
    library.events = events  # type: ignore[attr-defined]
    yield library
    library.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator:
    """An engine over this test's own library, holding the "images" collection of the seed schema (an
    image field embedded by the default tiny model). Test files that need another engine define their own."""
    from engine_helpers import seed_schema

    from app.engine import Engine

    eng = Engine(tmp_path / "data")
    eng.collections.create(seed_schema(("image",)))
    yield eng
    eng.close()


def _python_threads() -> set[threading.Thread]:
    # _DummyThread entries stand for threads Python did not start (e.g. QThreads that ran Python code);
    # they never leave threading's table, so they say nothing about what is still running.
    return {t for t in threading.enumerate() if t.is_alive() and not isinstance(t, threading._DummyThread)}


def _os_threads() -> dict[int, str]:
    """Thread id -> name for every thread of this process (Linux), including QThreads.

    Native worker pools (OpenBLAS, OpenMP) belong to the thread that first used them and live as long as
    it does; numpy is imported above so its pool belongs to the main thread and is there before any test.
    """
    threads: dict[int, str] = {}
    try:
        entries = os.listdir("/proc/self/task")
    except OSError:
        return threads
    for entry in entries:
        try:
            with open(f"/proc/self/task/{entry}/comm", encoding="utf-8", errors="replace") as handle:
                threads[int(entry)] = handle.read().strip()
        except OSError:
            continue  # it ended while we looked
    return threads


def _python_thread_ids() -> set[int]:
    return {t.native_id for t in _python_threads() if t.native_id is not None}


def _qt_pool_busy() -> int:
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is None or qtcore.QCoreApplication.instance() is None:
        return 0
    return qtcore.QThreadPool.globalInstance().activeThreadCount()


def _torch_threads_started() -> bool:
    """Whether torch has set up its process-wide thread pool (the engine does so before its first model).

    ``torch.set_num_threads`` starts a pool thread that lives as long as the process, named after whichever
    thread called it: often a QThread that has long finished. It is torch's, not a test's leftover.
    """
    embedder = sys.modules.get("app.engine.embedder")
    return "torch" in sys.modules and bool(getattr(embedder, "_threads_configured", False))


def _leftovers(
    py_before: set[threading.Thread], os_before: dict[int, str], torch_pool_new: bool
) -> list[str]:
    found = [f"Python thread {t.name!r}" for t in _python_threads() - py_before]
    main_name = os_before.get(os.getpid(), "")
    for tid, name in _os_threads().items():
        if tid in os_before or name.startswith(_PERSISTENT_OS_THREADS):
            continue
        # Native pools started from the main thread carry its name and live as long as the process.
        if name == main_name or (torch_pool_new and tid not in _python_thread_ids()):
            continue
        found.append(f"OS thread {tid} {name!r}")
    busy = _qt_pool_busy()
    if busy:
        found.append(f"{busy} busy QThreadPool worker(s)")
    return found


@pytest.fixture(autouse=True)
def no_threads_left_behind(request: pytest.FixtureRequest):
    """Fail a test that leaves threads running once it (and its fixtures) are done."""
    py_before = _python_threads()
    os_before = _os_threads()
    torch_before = _torch_threads_started()
    yield
    torch_pool_new = not torch_before and _torch_threads_started()
    deadline = time.monotonic() + THREAD_GRACE_SECONDS
    leftovers = _leftovers(py_before, os_before, torch_pool_new)
    while leftovers and time.monotonic() < deadline:
        _process_qt_events()
        time.sleep(0.05)
        leftovers = _leftovers(py_before, os_before, torch_pool_new)
    if leftovers:
        pytest.fail(f"{request.node.nodeid} left threads running: {', '.join(leftovers)}", pytrace=False)


def _process_qt_events() -> None:
    # Deferred deletes and queued "finished" signals only run with an event loop turning.
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is not None and qtcore.QCoreApplication.instance() is not None:
        qtcore.QCoreApplication.processEvents()
        qtcore.QCoreApplication.sendPostedEvents(None, qtcore.QEvent.Type.DeferredDelete)


@pytest.fixture
def fresh_embedders() -> Iterator[None]:
    """No loaded model carried between tests: specs dressed up by weights tests share names."""
    from app.engine.embedder import clear_embedder_cache

    clear_embedder_cache()
    yield
    clear_embedder_cache()


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch):
    """The tiny model's spec, from the repository's copy."""
    from app.engine import models

    monkeypatch.delenv(models.TINY_DIR_ENV, raising=False)
    return models.resolve_model({"model_name": models.TINY_NAME})
