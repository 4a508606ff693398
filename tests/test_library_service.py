"""The library service without Qt: imports, follows and rescans as steppable jobs with typed results,
searches that raise the engine's own errors, events for what changed, and one default collection for the
CLI and the app. Real engine, tiny model, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.errors import ModelUnavailable, ObjectNotFound
from app.library import (
    DEFAULT_COLLECTION,
    CollectionsChanged,
    FolderScanResult,
    FoldersChanged,
    ImportProgress,
    ImportStarted,
    ImportSummary,
    LibraryService,
    ModelStateChanged,
    ScanFinished,
    SearchPage,
    default_collection,
    photo_schema,
)
from app.library.problems import MODEL_MISSING, problem_from_exception
from app.paths import repo_root
from app.shapes import write_shape_folder

TINY = "photoseek/tiny-shapes"
ASKED_FOR_FP32 = "CPU, float32 (set by PHOTOSEEK_DEVICE, --device or the settings)"


def test_the_engine_and_the_library_never_import_qt() -> None:
    script = (
        "import sys\n"
        "import app.engine, app.library, app.library.service, app.library.folder_jobs, app.cli\n"
        "import app.server, app.server.app, app.server.importing, app.cli_serve\n"
        "import app.remote.client, app.remote.search, app.remote.files, app.cli_server\n"
        "from app.engine import Engine\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo_root(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_import_is_a_job_stepped_a_chunk_at_a_time(service: LibraryService, tmp_path: Path) -> None:
    files = write_shape_folder(tmp_path / "many", per_class=1, size=64, fmt="PNG")  # 48: two chunks or more
    (tmp_path / "many" / "notes.txt").write_text("not a photo")
    job = service.import_paths(DEFAULT_COLLECTION, [str(tmp_path / "many")], photo_schema("Photos", TINY))
    reports: list[object] = []
    job.report = reports.append
    steps = 0
    while not job.step():
        steps += 1
    summary = job.result

    assert isinstance(summary, ImportSummary)
    assert steps >= 1 and reports[0] == ImportStarted(len(files))  # two chunks at least
    progress = [r for r in reports if isinstance(r, ImportProgress)]
    assert progress[-1].done == len(files)
    assert sum(len(r.imported_ids) for r in progress) == len(files)
    assert summary.imported == len(files) and summary.other_files == 1 and summary.failed == 0
    assert summary.headline() == f"Imported {len(files)} of {len(files)} photos; 1 other file skipped"
    # The library's count moved with the import, and the model said when it was ready.
    counts = [e.collections[0]["num_documents"] for e in service.events if isinstance(e, CollectionsChanged)]
    assert counts == sorted(counts) and counts[-1] == len(files)
    # conftest asks for cpu:fp32, so the ready event says that is where the model runs.
    assert ModelStateChanged("ready", TINY, "CPU, float32", ASKED_FOR_FP32) in service.events


def test_a_cancelled_import_stops_after_the_current_step(service: LibraryService, tmp_path: Path) -> None:
    files = write_shape_folder(tmp_path / "many", per_class=2, size=64, fmt="PNG")
    job = service.import_paths("Photos", [str(tmp_path / "many")], photo_schema("Photos", TINY))
    job.step()  # announces the total and imports the first chunk (the first chunk is always one batch)
    job.cancel()
    summary = job.run()
    assert summary.cancelled and 0 < summary.imported < len(files)
    assert summary.imported + summary.not_attempted == len(files)
    assert service.collections()[0]["num_documents"] == summary.imported


def test_following_a_folder_walks_then_imports_in_one_job(service: LibraryService, tmp_path: Path) -> None:
    folder = tmp_path / "Camera"
    write_shape_folder(folder, per_class=1, colours=("red", "blue"), shapes=("circle", "square"))
    job = service.follow_folders("Photos", [str(folder)], photo_schema("Photos", TINY))
    reports: list[object] = []
    job.report = reports.append
    result = job.run()

    assert isinstance(result, FolderScanResult) and result.summary is not None
    assert result.summary.imported == 4
    kinds = [type(r).__name__ for r in reports]
    assert kinds.index("ScanFinished") < kinds.index("ImportStarted") < kinds.index("ImportProgress")
    assert any(isinstance(e, FoldersChanged) and e.folders for e in service.events)

    # Following it again says it is up to date; a plain rescan finds nothing to import.
    again = service.follow_folders("Photos", [str(folder)]).run()
    assert again.summary is not None and again.summary.unchanged == 4 and again.summary.imported == 0
    rescan = service.rescan_folders("Photos")
    steps: list[object] = []
    rescan.report = steps.append
    quiet = rescan.run()
    assert quiet.summary is None and quiet.checked == 4
    assert [type(s) for s in steps] == [ScanFinished]


def test_unfollowing_drops_the_photos_still_waiting_to_import(
    service: LibraryService, tmp_path: Path
) -> None:
    folder = tmp_path / "Big"
    write_shape_folder(folder, per_class=2, size=64)
    job = service.follow_folders("Photos", [str(folder)], photo_schema("Photos", TINY))
    while job.import_job is None or not job.import_job.tally.imported:
        job.step()
    service.unfollow_folder("Photos", str(folder), remove_photos=True)
    result = job.run()
    assert result.summary is not None and result.summary.not_attempted == 0
    assert service.collections()[0]["num_documents"] == 0


def test_search_answers_a_typed_page_and_raises_the_engines_errors(
    service: LibraryService, tmp_path: Path
) -> None:
    write_shape_folder(tmp_path / "few", per_class=1, colours=("red",), shapes=("circle", "square"))
    service.import_paths("Photos", [str(tmp_path / "few")], photo_schema("Photos", TINY)).run()
    words = {"q": "a red circle", "query_by": "embedding", "exclude_fields": "embedding"}
    page = service.search("Photos", words)
    assert isinstance(page, SearchPage) and page.found == 2 and page.page == 1
    assert page.hits[0]["document"]["name"].startswith("red_circle")
    with pytest.raises(ObjectNotFound):
        service.search("Nope", {"q": "*"})


def test_a_missing_model_raises_model_unavailable_naming_the_model(service: LibraryService) -> None:
    service.create_collection(photo_schema("clip", "ts/clip-vit-b-p32"))
    with pytest.raises(ModelUnavailable) as raised:
        service.search("clip", {"q": "a dog", "query_by": "embedding"})
    problem = problem_from_exception(raised.value)
    assert problem.kind == MODEL_MISSING and problem.model == "ts/clip-vit-b-p32"
    assert problem.message.startswith("The model “ts/clip-vit-b-p32” is not on this computer yet. ")
    assert service.events[-1] == ModelStateChanged("missing", "ts/clip-vit-b-p32")
    assert service.warm_up("clip") == "missing"


@pytest.fixture
def any_compute_path(monkeypatch: pytest.MonkeyPatch):
    """No PHOTOSEEK_DEVICE (conftest's cpu:fp32 would decide otherwise); the process-wide request and the
    loaded models are put back afterwards, so later tests run on conftest's path again."""
    from app.engine import compute
    from app.engine.embedder import clear_embedder_cache

    monkeypatch.delenv(compute.DEVICE_ENV, raising=False)
    yield
    compute.use_request(None)
    clear_embedder_cache()


def test_set_compute_refuses_what_is_not_a_path_and_reloads_the_model_on_a_new_one(
    service: LibraryService, any_compute_path: None, tmp_path: Path
) -> None:
    from app.engine import compute
    from app.engine.errors import RequestMalformed
    from app.library.problems import REQUEST

    service.set_compute("cpu:fp32")
    write_shape_folder(tmp_path / "few", per_class=1, colours=("red", "blue"), shapes=("circle", "square"))
    job = service.import_paths("Photos", [str(tmp_path / "few")], photo_schema("Photos", TINY))
    while not job.step():
        pass
    assert service.warm_up("Photos") == "ready"
    assert ModelStateChanged("ready", TINY, "CPU, float32", ASKED_FOR_FP32) in service.events

    for bad in ("gpu", "cpu:fp16"):
        with pytest.raises(RequestMalformed) as raised:
            service.set_compute(bad)
        problem = problem_from_exception(raised.value)
        assert problem.kind == REQUEST and f"`{bad}`" in problem.message and "use one of" in problem.message
    if not compute.device_available("cuda"):
        with pytest.raises(RequestMalformed, match="not available on this computer"):
            service.set_compute("cuda")
    assert str(compute.effective_request()) == "cpu:fp32"  # a refused path changes nothing
    assert service.warm_up("Photos") == "ready"

    service.events.clear()
    assert service.set_compute("cpu:int8") == "cpu:int8"
    assert service.events == [ModelStateChanged("idle", TINY)]  # the app warms it up again on this
    assert service.warm_up("Photos") == "ready"
    ready = service.events[-1]
    assert (ready.state, ready.runs_on) == ("ready", "CPU, int8") and "CPU, int8" in ready.runs_on_detail
    page = service.search("Photos", {"q": "red circle", "query_by": "embedding"})
    assert page.hits[0]["document"]["name"].startswith("red_circle")

    service.events.clear()
    assert service.set_compute("CPU:INT8") == "cpu:int8"
    assert service.events == []  # the same path again reloads nothing
    assert "cpu" in service.compute_devices()


def test_a_problem_without_a_known_model_reads_as_a_sentence() -> None:
    problem = problem_from_exception(ModelUnavailable("Its weights are not here."))
    assert problem.message == "This collection's model is not on this computer yet. Its weights are not here."


def test_a_missing_collection_is_named_although_the_engine_says_not_found_as_typesense(
    service: LibraryService,
) -> None:
    from app.engine.errors import ObjectNotFound
    from app.library.problems import NOT_FOUND

    with pytest.raises(ObjectNotFound) as raised:
        service.search("Holidays", {"q": "a red circle", "query_by": "embedding"})
    assert raised.value.message == "Not found."  # Typesense's words for a search's missing collection
    problem = problem_from_exception(raised.value)
    assert (problem.kind, problem.message) == (NOT_FOUND, "The collection “Holidays” is not in this library.")


def test_one_default_collection_for_the_cli_and_the_app() -> None:
    assert default_collection([]) == "Photos"
    assert default_collection(["Photos", "photos"]) == "Photos"
    # A library the CLI made before it shared the app's default keeps working.
    assert default_collection(["photos", "Trips"]) == "photos"


@pytest.fixture
def tiny_install_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where an installed tiny-model file goes. The tiny model has no download (it ships with the
    tests), so it is given a cache place the way a downloadable model has one."""
    from app.engine import models

    target = tmp_path / "cache" / "tiny" / "open_clip_model.safetensors"
    monkeypatch.setattr(
        models, "weights_sources", lambda spec, base_url=None: [models.WeightsSource("", target, None)]
    )
    return target


def test_a_fine_tuned_weights_file_is_kept_and_called_what_it_is(
    service: LibraryService, tiny_install_target: Path, tmp_path: Path
) -> None:
    # Such a file used to be refused as "corrupt… delete it and download it again".
    from safetensors.torch import load_file, save_file

    from app.engine.models import tiny_model_dir

    state = load_file(str(tiny_model_dir() / "open_clip_model.safetensors"))
    state["text_projection"] = state["text_projection"] + 0.01  # a little training
    fine_tuned = tmp_path / "my-tuned.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(fine_tuned))

    installed = service.install_model_file(TINY, str(fine_tuned)).run()
    assert installed is not None and not installed.official
    assert "Not the official" in installed.description and "fine-tuned" in installed.description
    assert tiny_install_target.read_bytes() == fine_tuned.read_bytes()

    official = service.install_model_file(TINY, str(tiny_model_dir() / "open_clip_model.safetensors")).run()
    assert official is not None and official.official


def test_a_damaged_weights_file_is_refused_and_keeps_the_one_there(
    service: LibraryService, tiny_install_target: Path, tmp_path: Path
) -> None:
    from app.engine.models import tiny_model_dir
    from app.engine.weights_check import WeightsFileError

    service.install_model_file(TINY, str(tiny_model_dir() / "open_clip_model.safetensors")).run()
    before = tiny_install_target.read_bytes()
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(before[: len(before) // 2])
    with pytest.raises(WeightsFileError) as refused:
        service.install_model_file(TINY, str(damaged)).run()
    assert refused.value.problem == "damaged"
    assert tiny_install_target.read_bytes() == before
    assert not list(tiny_install_target.parent.glob("*.copying"))
