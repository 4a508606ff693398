"""The engine worker: requests tagged with ids, superseded searches dropped, chunked and cancellable
imports, readable errors, clean shutdown, and torch loaded off the GUI thread. Real engine, tiny model."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Signal

from app.engine import Engine
from app.gui.collection_dialog import photo_schema
from app.gui.engine_client import EngineClient
from app.gui.engine_worker import FIRST_CHUNK, EngineWorker, SearchGate
from app.gui.problems import MODEL_MISSING, NOT_FOUND, REQUEST
from app.paths import repo_root
from app.shapes import write_shape_folder

from .conftest import ENGINE_WAIT_MS, IMPORT_WAIT_MS, SEARCH_WAIT_MS, requires_tiny_model

TINY = "photoseek/tiny-shapes"
LIBRARY = {"q": "*", "per_page": 250, "page": 1, "exclude_fields": "embedding"}


@pytest.fixture
def client(qtbot, photoseek_dirs: Path):
    engine_client = EngineClient(photoseek_dirs)
    with qtbot.waitSignal(engine_client.opened, timeout=ENGINE_WAIT_MS):
        engine_client.start()
    yield engine_client
    assert engine_client.shutdown(), "the engine thread did not stop"


@pytest.fixture
def worker(photoseek_dirs: Path):
    """A worker driven directly on the test's thread: slot calls run synchronously, in a known order."""
    engine_worker = EngineWorker(photoseek_dirs, SearchGate())
    engine_worker.open()
    yield engine_worker
    engine_worker.close()


def many_shapes(folder: Path, per_class: int) -> list[Path]:
    return write_shape_folder(folder, per_class=per_class, size=64, fmt="PNG")


def collection_count(data_dir: Path, name: str) -> int:
    with Engine(data_dir) as engine:
        return int(engine.collections[name].retrieve()["num_documents"])


class _Poster(QObject):
    """Posts requests to a same-thread worker through queued connections, as the GUI's client does."""

    search = Signal(int, str, object)


@requires_tiny_model
def test_stale_search_is_skipped_before_running_and_not_reported(worker: EngineWorker, qtbot) -> None:
    worker.create_collection(1, photo_schema("c", TINY))
    answers: list[int] = []
    worker.searchFinished.connect(lambda request_id, _result: answers.append(request_id))
    worker._gate.advance(5)
    worker.search(4, "c", LIBRARY)  # superseded by 5 before its turn came
    worker.search(5, "c", LIBRARY)
    assert answers == [5]


@requires_tiny_model
def test_client_reports_only_the_newest_of_rapid_searches(
    client: EngineClient, qtbot, tmp_path: Path
) -> None:
    with qtbot.waitSignal(client.collectionsChanged, timeout=ENGINE_WAIT_MS):
        client.create_collection(photo_schema("c", TINY))
    answers: list[int] = []
    client.searchFinished.connect(lambda request_id, _result: answers.append(request_id))
    ids = [
        client.search("c", {**LIBRARY, "q": word, "query_by": "embedding"}) for word in ("a", "a r", "a red")
    ]
    qtbot.waitUntil(lambda: ids[-1] in answers, timeout=SEARCH_WAIT_MS)
    qtbot.wait(200)  # anything stale would have arrived by now: it was queued before the last
    assert answers == [ids[-1]]


@requires_tiny_model
def test_search_posted_during_an_import_runs_between_its_chunks(
    worker: EngineWorker, qtbot, tmp_path
) -> None:
    files = many_shapes(tmp_path / "many", per_class=1)  # 48 files: several chunks
    assert len(files) > FIRST_CHUNK
    events: list[str] = []
    worker.importBatch.connect(lambda *_: events.append("batch"))
    worker.importFinished.connect(lambda *_: events.append("finished"))
    worker.searchFinished.connect(lambda *_: events.append("search"))
    poster = _Poster()
    poster.search.connect(worker.search, Qt.ConnectionType.QueuedConnection)

    worker.start_import(
        1, "Photos", [str(tmp_path / "many")], photo_schema("Photos", TINY), threading.Event()
    )
    poster.search.emit(2, "Photos", LIBRARY)  # queued behind the import's first step
    qtbot.waitUntil(lambda: "finished" in events, timeout=IMPORT_WAIT_MS)

    assert events.index("batch") < events.index("search") < events.index("finished")
    assert events.count("batch") >= 2


@requires_tiny_model
def test_cancelled_import_keeps_what_it_committed(
    client: EngineClient, qtbot, tmp_path, photoseek_dirs
) -> None:
    files = many_shapes(tmp_path / "many", per_class=4)  # 192 files
    summaries = []
    client.importFinished.connect(lambda _id, summary: summaries.append(summary))
    cancelled = []

    def cancel_on_first_progress(request_id: int, done: int, total: int) -> None:
        if done > 0 and not cancelled:
            cancelled.append(done)
            client.cancel(request_id)

    client.importProgress.connect(cancel_on_first_progress)
    client.import_paths("Photos", [str(tmp_path / "many")], create_schema=photo_schema("Photos", TINY))
    qtbot.waitUntil(lambda: bool(summaries), timeout=IMPORT_WAIT_MS)
    summary = summaries[0]

    assert summary.cancelled
    assert 0 < summary.imported < len(files)
    assert summary.not_attempted == len(files) - summary.imported
    assert client.shutdown()
    assert collection_count(photoseek_dirs, "Photos") == summary.imported


@requires_tiny_model
def test_unsupported_and_broken_files_are_reported_not_dropped(client: EngineClient, qtbot, tmp_path) -> None:
    folder = tmp_path / "mixed"
    write_shape_folder(folder, per_class=1, colours=("red",), shapes=("circle", "star"), fmt="JPEG")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with qtbot.waitSignal(client.importFinished, timeout=IMPORT_WAIT_MS) as finished:
        client.import_paths("Photos", [str(folder)], create_schema=photo_schema("Photos", TINY))
    summary = finished.args[1]
    reasons = {Path(p.path).name: p.reason for p in summary.problems}
    assert summary.imported == 2
    assert set(reasons) == {"notes.txt", "broken.jpg"}
    assert "not a supported image type" in reasons["notes.txt"]
    assert reasons["broken.jpg"]  # the engine's reason, e.g. "Error while processing image: ..."


@requires_tiny_model
def test_engine_errors_arrive_as_readable_problems(client: EngineClient, qtbot) -> None:
    with qtbot.waitSignal(client.failed, timeout=SEARCH_WAIT_MS) as failed:
        client.search("no-such-collection", LIBRARY)
    _request_id, operation, problem = failed.args
    assert operation == "search"
    assert problem.kind == NOT_FOUND
    assert "no-such-collection" in problem.message
    assert "Traceback" not in problem.message

    with qtbot.waitSignal(client.collectionsChanged, timeout=ENGINE_WAIT_MS):
        client.create_collection(photo_schema("c", TINY))
    with qtbot.waitSignal(client.failed, timeout=SEARCH_WAIT_MS) as failed:
        client.search("c", {**LIBRARY, "vector_query": "embedding:([], id:missing)"})
    assert failed.args[2].kind == REQUEST
    assert failed.args[2].message == "Document id referenced in vector query is not found."


def test_missing_model_weights_are_reported_as_missing(client: EngineClient, qtbot) -> None:
    # The CLIP weights are never in a test's private cache dir.
    with qtbot.waitSignal(client.collectionsChanged, timeout=ENGINE_WAIT_MS):
        client.create_collection(photo_schema("clip", "ts/clip-vit-b-p32"))
    with qtbot.waitSignal(client.modelState, timeout=ENGINE_WAIT_MS) as state:
        client.warm_up("clip")
    assert state.args == ["missing", "ts/clip-vit-b-p32"]


def test_offline_download_fails_with_instructions(client: EngineClient, qtbot, monkeypatch) -> None:
    # Port 9 (discard) on localhost refuses connections at once: a machine with no way out.
    monkeypatch.setenv("PHOTOSEEK_MODEL_BASE_URL", "http://127.0.0.1:9")
    with qtbot.waitSignal(client.failed, timeout=ENGINE_WAIT_MS) as failed:
        client.fetch_model("ts/clip-vit-b-p32")
    _request_id, operation, problem = failed.args
    assert operation == "download"
    assert problem.kind == MODEL_MISSING
    assert "Could not download" in problem.message and "model_path" in problem.message


@requires_tiny_model
def test_shutdown_during_import_stops_the_thread_and_keeps_committed_work(
    qtbot, tmp_path: Path, photoseek_dirs: Path
) -> None:
    many_shapes(tmp_path / "many", per_class=4)
    client = EngineClient(photoseek_dirs)
    client.start()
    progress: list[int] = []
    client.importProgress.connect(lambda _id, done, _total: progress.append(done))
    client.import_paths("Photos", [str(tmp_path / "many")], create_schema=photo_schema("Photos", TINY))
    qtbot.waitUntil(lambda: any(progress), timeout=IMPORT_WAIT_MS)

    assert client.shutdown()
    assert client._thread.isFinished()
    assert collection_count(photoseek_dirs, "Photos") >= max(progress)


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
        window.engineOpened.connect(lambda: window.client.warm_up("Photos"))
        window.client.modelState.connect(lambda state, _m: state == "ready" and app.quit())
        window.client.failed.connect(lambda *a: (print("failed", a[2].message), app.quit()))
        window.client.create_collection({"name": "Photos", "fields": [
            {"name": "image", "type": "image", "store": False},
            {"name": "embedding", "type": "float[]",
             "embed": {"from": ["image"], "model_config": {"model_name": "photoseek/tiny-shapes"}}}]})
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
    client: EngineClient, qtbot, tmp_path: Path
) -> None:
    wrong = tmp_path / "ViT-B-32.txt"
    wrong.write_text("not weights")
    with qtbot.waitSignal(client.failed, timeout=ENGINE_WAIT_MS) as failed:
        client.fetch_model("ts/clip-vit-b-p32", str(wrong))
    problem = failed.args[2]
    assert "ViT-B-32.txt" in problem.message and ".safetensors" in problem.message
    assert not any(Path(p).name.startswith("ViT-B-32") for p in _files_under(tmp_path / "photoseek-cache"))


def _files_under(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
