"""The bridge between the window and the library: one request object per call, answered on the GUI
thread; searches superseded in one place; long work stepped so that searches run between its steps;
cancel and shutdown that keep what was committed. A real library (tiny model) on a real engine thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Signal

from app.engine import Engine
from app.gui.bridge import LibraryBridge, Request, make_bridge
from app.library import ImportProgress, ImportStarted, photo_schema
from app.library.jobs import FIRST_CHUNK
from app.library.problems import MODEL_MISSING, NOT_FOUND, REQUEST
from app.paths import repo_root
from app.shapes import write_shape_folder

from .conftest import ENGINE_WAIT_MS, IMPORT_WAIT_MS, SEARCH_WAIT_MS, requires_tiny_model

TINY = "photoseek/tiny-shapes"
LIBRARY = {"q": "*", "per_page": 250, "page": 1, "exclude_fields": "embedding"}


@pytest.fixture
def bridge(qtbot, photoseek_dirs: Path):
    library = make_bridge(photoseek_dirs)
    with qtbot.waitSignal(library.opened, timeout=ENGINE_WAIT_MS):
        library.start()
    yield library
    assert library.shutdown(), "the engine thread did not stop"


def _ending(qtbot, request: Request, timeout: int) -> tuple[str, object]:
    ends: list[tuple[str, object]] = []
    request.done.connect(lambda result: ends.append(("done", result)))
    request.failed.connect(lambda problem: ends.append(("failed", problem)))
    qtbot.waitUntil(lambda: bool(ends), timeout=timeout)
    return ends[0]


def answer(qtbot, request: Request, timeout: int = SEARCH_WAIT_MS) -> object:
    """Wait for ``request`` to end and return its result (a failure fails the test, naming the problem)."""
    kind, payload = _ending(qtbot, request, timeout)
    assert kind == "done", f"{request.method} failed: {getattr(payload, 'message', payload)}"
    return payload


def failure(qtbot, request: Request):
    kind, payload = _ending(qtbot, request, ENGINE_WAIT_MS)
    assert kind == "failed", f"{request.method} did not fail: {payload!r}"
    return payload


class SignalPoster(QObject):
    call = Signal(object)

    def emit(self, call: object) -> None:
        self.call.emit(call)


def many_shapes(folder: Path, per_class: int) -> list[Path]:
    return write_shape_folder(folder, per_class=per_class, size=64, fmt="PNG")


def collection_count(data_dir: Path, name: str) -> int:
    with Engine(data_dir) as engine:
        return int(engine.collections[name].retrieve()["num_documents"])


@requires_tiny_model
def test_only_the_newest_of_rapid_searches_is_answered(bridge: LibraryBridge, qtbot) -> None:
    answer(qtbot, bridge.call("create_collection", photo_schema("c", TINY)))
    ended: list[Request] = []
    bridge.requestFinished.connect(ended.append)
    searches = [
        bridge.call("search", "c", {**LIBRARY, "q": word, "query_by": "embedding"}, supersede="search")
        for word in ("a", "a r", "a red")
    ]
    page = answer(qtbot, searches[-1])
    assert page.found == 0 and page.elapsed_ms > 0
    # Everything queued before the newest search was handled before it: an answer to a stale one would
    # have arrived first. None did, even where the engine thread ran one before the next was asked for.
    assert [r for r in ended if r.method == "search"] == [searches[-1]]


@requires_tiny_model
def test_a_search_asked_during_an_import_runs_between_its_chunks(qtbot, tmp_path, photoseek_dirs) -> None:
    # The runner on the test's own thread: what it posts itself and what is posted to it queue up in one
    # event loop, so the order is the runner's, not the thread scheduler's.
    from app.gui.bridge import _Call, _Gate, _Runner
    from app.library import LibraryService

    files = many_shapes(tmp_path / "many", per_class=1)  # 48 files: several chunks
    assert len(files) > FIRST_CHUNK
    runner = _Runner(LibraryService(photoseek_dirs), _Gate())
    runner.run(_Call(0, "open", (), {}, None))
    events: list[str] = []

    def on_reply(request_id: int, kind: str, payload: object) -> None:
        if request_id == 1 and kind == "progress" and isinstance(payload, ImportProgress):
            if payload.imported_ids:
                events.append("batch")
                if events.count("batch") == 1:  # asked while the import still has chunks to go
                    poster.emit(_Call(2, "search", ("Photos", LIBRARY), {}, "search"))
        elif kind == "done":
            events.append("search" if request_id == 2 else "finished")

    runner.replied.connect(on_reply)
    poster = SignalPoster()
    poster.call.connect(runner.run, Qt.ConnectionType.QueuedConnection)
    arguments = ("Photos", [str(tmp_path / "many")], photo_schema("Photos", TINY))
    runner.run(_Call(1, "import_paths", arguments, {}, None))
    qtbot.waitUntil(lambda: "finished" in events, timeout=IMPORT_WAIT_MS)
    runner.service.close()

    assert events.index("batch") < events.index("search") < events.index("finished")
    assert events.count("batch") >= 2


@requires_tiny_model
def test_a_cancelled_import_keeps_what_it_committed(
    bridge: LibraryBridge, qtbot, tmp_path, photoseek_dirs
) -> None:
    files = many_shapes(tmp_path / "many", per_class=4)  # 192 files
    request = bridge.call("import_paths", "Photos", [str(tmp_path / "many")], photo_schema("Photos", TINY))
    request.progress.connect(
        lambda p: request.cancel() if isinstance(p, ImportProgress) and p.done > 0 else None
    )
    summary = answer(qtbot, request, IMPORT_WAIT_MS)

    assert summary.cancelled
    assert 0 < summary.imported < len(files)
    assert summary.not_attempted == len(files) - summary.imported
    assert bridge.shutdown()
    assert collection_count(photoseek_dirs, "Photos") == summary.imported


@requires_tiny_model
def test_unsupported_and_broken_files_are_reported_not_dropped(
    bridge: LibraryBridge, qtbot, tmp_path
) -> None:
    folder = tmp_path / "mixed"
    write_shape_folder(folder, per_class=1, colours=("red",), shapes=("circle", "star"), fmt="JPEG")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    request = bridge.call("import_paths", "Photos", [str(folder)], photo_schema("Photos", TINY))
    summary = answer(qtbot, request, IMPORT_WAIT_MS)
    reasons = {Path(p.path).name: p.reason for p in summary.problems}
    assert summary.imported == 2
    assert set(reasons) == {"notes.txt", "broken.jpg"}
    assert "not a supported image type" in reasons["notes.txt"]
    assert reasons["broken.jpg"]  # the engine's reason, e.g. "Error while processing image: ..."
    # The numbers add up: 3 photos (2 imported, 1 unreadable), and one other file.
    assert summary.headline() == "Imported 2 of 3 photos, 1 could not be read; 1 other file skipped"


@requires_tiny_model
def test_library_errors_arrive_as_readable_problems(bridge: LibraryBridge, qtbot) -> None:
    problem = failure(qtbot, bridge.call("search", "no-such-collection", LIBRARY))
    assert problem.kind == NOT_FOUND
    assert "no-such-collection" in problem.message
    assert "Traceback" not in problem.message

    answer(qtbot, bridge.call("create_collection", photo_schema("c", TINY)))
    missing = {**LIBRARY, "vector_query": "embedding:([], id:missing)"}
    problem = failure(qtbot, bridge.call("search", "c", missing))
    assert problem.kind == REQUEST
    assert problem.message == "Document id referenced in vector query is not found."


def test_a_search_that_needs_a_missing_model_says_so(bridge: LibraryBridge, qtbot) -> None:
    # The CLIP weights are never in a test's private cache dir. Searches used to go through multi_search,
    # which turned ModelUnavailable into a plain request error: the app could never offer the download.
    answer(qtbot, bridge.call("create_collection", photo_schema("clip", "ts/clip-vit-b-p32")))
    states: list[str] = []
    bridge.modelStateChanged.connect(lambda state, model: states.append(f"{state} {model}"))
    words = {**LIBRARY, "q": "a dog", "query_by": "embedding"}
    problem = failure(qtbot, bridge.call("search", "clip", words))
    assert problem.kind == MODEL_MISSING and problem.model == "ts/clip-vit-b-p32"
    assert problem.message.startswith("The model “ts/clip-vit-b-p32” is not on this computer yet.")
    assert states == ["loading ts/clip-vit-b-p32", "missing ts/clip-vit-b-p32"]


def test_missing_model_weights_are_reported_as_missing(bridge: LibraryBridge, qtbot) -> None:
    answer(qtbot, bridge.call("create_collection", photo_schema("clip", "ts/clip-vit-b-p32")))
    with qtbot.waitSignal(bridge.modelStateChanged, timeout=ENGINE_WAIT_MS) as state:
        assert answer(qtbot, bridge.call("warm_up", "clip")) == "missing"
    assert state.args == ["missing", "ts/clip-vit-b-p32", "", ""]


def test_offline_download_fails_with_instructions(bridge: LibraryBridge, qtbot, monkeypatch) -> None:
    # Port 9 (discard) on localhost refuses connections at once: a machine with no way out.
    monkeypatch.setenv("PHOTOSEEK_MODEL_BASE_URL", "http://127.0.0.1:9")
    problem = failure(qtbot, bridge.call("fetch_model", "ts/clip-vit-b-p32"))
    assert problem.kind == MODEL_MISSING
    assert "Could not download" in problem.message and "model_path" in problem.message


@requires_tiny_model
def test_shutdown_during_import_stops_the_thread_and_keeps_committed_work(
    qtbot, tmp_path: Path, photoseek_dirs: Path
) -> None:
    many_shapes(tmp_path / "many", per_class=4)
    bridge = make_bridge(photoseek_dirs)
    bridge.start()
    progress: list[int] = []
    request = bridge.call("import_paths", "Photos", [str(tmp_path / "many")], photo_schema("Photos", TINY))
    request.progress.connect(lambda p: progress.append(p.done) if isinstance(p, ImportProgress) else None)
    qtbot.waitUntil(lambda: any(progress), timeout=IMPORT_WAIT_MS)

    assert bridge.shutdown()
    assert bridge._thread.isFinished()
    assert collection_count(photoseek_dirs, "Photos") >= max(progress)


def test_an_import_announces_its_total_before_progress(bridge: LibraryBridge, qtbot, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    reports: list[object] = []
    request = bridge.call("import_paths", "Photos", [str(tmp_path / "empty")], photo_schema("Photos", TINY))
    request.progress.connect(reports.append)
    summary = answer(qtbot, request)
    assert reports == [ImportStarted(0)]
    assert summary.total == 0 and summary.headline() == "Imported 0 of 0 photos"


def test_torch_is_imported_on_the_engine_thread_not_the_gui_thread(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys, threading
        from importlib.abc import MetaPathFinder

        importers = []

        class Spy(MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    importers.append(threading.current_thread() is threading.main_thread())
                return None

        sys.meta_path.insert(0, Spy())
        from PySide6.QtWidgets import QApplication
        from PySide6.QtCore import QTimer
        app = QApplication([])
        from app.gui.main_window import MainWindow
        window = MainWindow()
        window.show()
        print("torch at show:", "torch" in sys.modules)
        bridge = window.bridge
        bridge.modelStateChanged.connect(lambda state, _m: state == "ready" and app.quit())
        def failed(problem):
            print("failed", problem.message)
            app.quit()
        def created(_result):
            bridge.call("warm_up", "Photos").failed.connect(failed)
        bridge.call("create_collection", {"name": "Photos", "fields": [
            {"name": "image", "type": "image", "store": False},
            {"name": "embedding", "type": "float[]",
             "embed": {"from": ["image"], "model_config": {"model_name": "photoseek/tiny-shapes"}}}]}
        ).done.connect(created)
        QTimer.singleShot(120000, app.quit)
        app.exec()
        window.close()
        print("torch imported on main thread:", any(importers), "imported at all:", bool(importers))
        """
    )
    env = {**__import__("os").environ, "PHOTOSEEK_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo_root(), env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "torch at show: False" in done.stdout
    if "failed" not in done.stdout:  # the tiny model is there: the warm-up really loaded torch
        assert "torch imported on main thread: False imported at all: True" in done.stdout


def test_a_local_weights_file_of_the_wrong_kind_is_refused(
    bridge: LibraryBridge, qtbot, tmp_path: Path
) -> None:
    wrong = tmp_path / "ViT-B-32.txt"
    wrong.write_text("not weights")
    problem = failure(qtbot, bridge.call("install_model_file", "ts/clip-vit-b-p32", str(wrong)))
    assert "ViT-B-32.txt" in problem.message and ".safetensors" in problem.message
    assert not any(Path(p).name.startswith("ViT-B-32") for p in _files_under(tmp_path / "photoseek-cache"))


def _files_under(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
