"""The library as the app uses it: one object that owns the engine and the library's policy, free of Qt.

Every caller goes through here: the desktop app (from its one engine thread, see ``app.gui.bridge``), the
CLI and the tests. Quick calls return typed results or raise the engine's own exceptions; long work
(imports, following and rescanning folders, downloading a model) returns a ``Job`` to step. Changes that
others may want to show (the collections' counts, a collection's folders, a model's state) go out as
events through ``on_event``.

The engine is reached only through the Typesense-shaped client API (``collections[...].documents`` and so
on), so another backend with the same API can stand behind the service.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.library.defaults import photo_schema
from app.library.folder_jobs import FolderScanJob
from app.library.imports import ImportTally, scan_paths
from app.library.jobs import ChunkPacer, ImportJob, Job
from app.library.model_files import WeightsInstalled, install_weights_file, model_config_of, model_of
from app.library.model_state import ModelStateChanged, WarmModels, available_devices

if TYPE_CHECKING:
    from app.library.model_catalog import ModelChoice
    from app.library.model_switch import ModelSwitchJob, SwitchPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionsChanged:
    collections: list[dict]


@dataclass(frozen=True)
class FoldersChanged:
    collection: str
    folders: list[dict]


@dataclass(frozen=True)
class DocumentsRemoved:
    collection: str
    ids: list[str]


LibraryEvent = CollectionsChanged | FoldersChanged | ModelStateChanged | DocumentsRemoved


@dataclass(frozen=True)
class SearchPage:
    """One page of a search, as Typesense answers it, and how long the library took."""

    result: dict
    elapsed_ms: float

    @property
    def hits(self) -> list[dict]:
        return list(self.result.get("hits", []))

    @property
    def page(self) -> int:
        return int(self.result.get("page", 1) or 1)

    @property
    def found(self) -> int:
        return int(self.result.get("found", len(self.hits)))

    @property
    def out_of(self) -> int:
        return int(self.result.get("out_of", self.found))


class LibraryService:
    """Not thread-safe: one thread owns it (as one thread owns an Engine)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        allow_random_weights: bool = False,
        on_event: Callable[[LibraryEvent], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.allow_random_weights = allow_random_weights
        self.on_event: Callable[[LibraryEvent], None] = on_event or (lambda _event: None)
        self.client: Any = None
        self._collections: dict[str, dict] = {}
        # on_event is read at each event: the GUI's bridge replaces it after the service is made.
        self._models = WarmModels(lambda event: self.on_event(event))
        self._pacer = ChunkPacer()
        self._jobs: list[Job] = []  # unfinished imports and scans, so unfollowing can prune them

    # -- opening and collections -------------------------------------------------------------------------

    def open(self) -> list[dict]:
        """Open the library (torch and the engine load here, on the caller's thread); its collections."""
        from app.engine import Engine

        self.client = Engine(self.data_dir, allow_random_weights=self.allow_random_weights)
        return self.collections()

    def close(self) -> None:
        for job in self._jobs:
            job.cancel()
        self._jobs.clear()
        if self.client is not None:
            self.client.close()
        self.client = None

    def collections(self) -> list[dict]:
        listing = list(self.client.collections.retrieve())
        self._collections = {c["name"]: c for c in listing}
        return listing

    def _collections_changed(self) -> None:
        self.on_event(CollectionsChanged(self.collections()))

    def create_collection(self, schema: dict) -> dict:
        created = dict(self.client.collections.create(schema))
        self._collections_changed()
        return created

    def delete_collection(self, name: str) -> None:
        self.client.collections[name].delete()
        self._collections_changed()

    def ensure_collection(self, name: str, schema: dict | None) -> None:
        """Create ``name`` from ``schema`` unless it exists (a first import creating "Photos")."""
        if schema is not None and name not in {c["name"] for c in self.collections()}:
            self.create_collection(schema)

    def model_of(self, collection: str) -> str | None:
        return model_of(self._collections.get(collection))

    # -- searching ----------------------------------------------------------------------------------------

    def search(self, collection: str, params: dict) -> SearchPage:
        """One page of a Typesense search; raises the engine's errors (``ModelUnavailable`` included)."""
        started = time.perf_counter()
        embeds = params.get("q", "*") != "*" or "image:" in str(params.get("vector_query", ""))
        with self.embedding(collection) if embeds else contextlib.nullcontext():
            result = self.client.collections[collection].documents.search(dict(params))
        return SearchPage(result, (time.perf_counter() - started) * 1000.0)

    def facets(self, collection: str, params: dict) -> dict:
        """Facet counts (``facet_by``) over what ``params`` match, without hits."""
        return dict(self.client.collections[collection].documents.search({**params, "per_page": 0}))

    def embedding(self, collection: str) -> contextlib.AbstractContextManager[None]:
        """Around a call that runs the collection's model: says "loading" before its first use, "ready"
        (and where it runs) after it worked, "missing" when its weights are not here."""
        return self._models.using(self.model_of(collection))

    # -- documents ------------------------------------------------------------------------------------------

    def remove_documents(self, collection: str, ids: list[str]) -> list[str]:
        documents = self.client.collections[collection].documents
        removed: list[str] = []
        try:
            for doc_id in ids:
                documents[doc_id].delete()
                removed.append(doc_id)
        finally:
            if removed:
                self.on_event(DocumentsRemoved(collection, removed))
                self._collections_changed()
        return removed

    def find_duplicates(self, collection: str, threshold: float) -> list[dict]:
        groups = list(self.client.collections[collection].documents.find_duplicates(threshold=threshold))
        hidden = {
            f["name"]
            for f in self._collections.get(collection, {}).get("fields", [])
            if f.get("type") in ("image", "float[]")
        }
        for group in groups:
            # Stored images (base64) and vectors are large and of no use to a view: leave them here.
            group["documents"] = [{k: v for k, v in d.items() if k not in hidden} for d in group["documents"]]
        return groups

    def trash_documents(self, collection: str, ids: list[str]) -> list[dict]:
        """Move the photos' files to the system trash (never deleting them) and drop them from the
        collection; one result per id (``success``, ``error``, ``trashed``)."""
        results = list(self.client.collections[collection].documents.trash_files(list(ids)))
        removed = [str(r["id"]) for r in results if r["success"]]
        if removed:
            self.on_event(DocumentsRemoved(collection, removed))
            self._collections_changed()
        return results

    # -- importing ----------------------------------------------------------------------------------------

    def import_paths(self, collection: str, paths: list[str], create_schema: dict | None = None) -> ImportJob:
        """Import image files and folders (recursively); ``create_schema`` creates the collection first
        when it does not exist yet."""
        files, skipped = scan_paths([str(p) for p in paths])
        tally = ImportTally(collection, files, skipped, threading.Event(), create_schema=create_schema)
        return self._track(ImportJob(self, tally, self._pacer))

    def import_files(self, collection: str, files: list[str], *, progress: Any, cancel: Any) -> list[dict]:
        """Embed and store one chunk of an import (for ``ImportJob``)."""

        def committed(done: int, total: int | None) -> None:
            # After each committed batch: the library's photo count moves with the progress bar.
            self._collections_changed()
            progress(done, total)

        documents = self.client.collections[collection].documents
        return list(documents.import_files(files, progress=committed, cancel=cancel))

    def import_finished(self, collection: str) -> None:
        self._collections_changed()

    def _track(self, job: Any) -> Any:
        # The one place finished jobs are forgotten: a job is marked done only after its last step
        # returns, so pruning from inside that step (import_finished) never caught the job itself.
        self._jobs = [j for j in self._jobs if not j.done]
        self._jobs.append(job)
        return job

    # -- followed folders -----------------------------------------------------------------------------------

    def folders(self, collection: str) -> list[dict]:
        folders = list(self.client.collections[collection].folders.retrieve())
        self.on_event(FoldersChanged(collection, folders))
        return folders

    def folder_client(self, collection: str, create_schema: dict | None = None) -> Any:
        self.ensure_collection(collection, create_schema)
        return self.client.collections[collection].folders

    def follow_folders(
        self, collection: str, paths: list[str], create_schema: dict | None = None
    ) -> FolderScanJob:
        """Follow folders (creating the collection when asked) and bring them in step at once; the
        result always carries an import summary, so dropping a folder again says it is up to date."""
        job = FolderScanJob(
            self, collection, [str(p) for p in paths], self._pacer,
            follow=True, create_schema=create_schema, report_import=True,
        )  # fmt: skip
        return self._track(job)

    def rescan_folders(self, collection: str, paths: list[str] | None = None) -> FolderScanJob:
        """Rescan followed folders (all when ``paths`` is None) and embed what is new or changed."""
        chosen = None if paths is None else [str(p) for p in paths]
        return self._track(FolderScanJob(self, collection, chosen, self._pacer))

    def folders_rescanned(self, collection: str, reports: list[dict]) -> None:
        self.folders(collection)
        if any(r["removed"] or r["moved"] or r["touched"] for r in reports):
            self._collections_changed()

    def unfollow_folder(self, collection: str, path: str, remove_photos: bool = True) -> None:
        from app.engine.folders import normalize_folder

        # Photos of this folder still waiting to be embedded must not arrive after it is gone.
        prefix = normalize_folder(path).rstrip(os.sep) + os.sep
        for job in self._jobs:
            inner = getattr(job, "import_job", None) or job
            if isinstance(inner, ImportJob) and inner.collection == collection:
                inner.drop_waiting(lambda p: not p.startswith(prefix))
        self.client.collections[collection].folders.delete(path, remove_photos=remove_photos)
        self.folders(collection)
        self._collections_changed()

    # -- models ---------------------------------------------------------------------------------------------

    def warm_up(self, collection: str | None, first_model: str | None = None) -> str:
        """Load a collection's model now; its state: "ready", "missing" (weights not here) or "none".

        With no such collection (a library before its first import), ``first_model`` (the model a first
        import would use) is only checked for its weights, so the app can offer it before that import.
        """
        config = model_config_of(self._collections.get(collection or ""))
        if config is None and not first_model:
            return "none"
        only_check, config = config is None, config or {"model_name": first_model}
        name = str(config["model_name"])
        if name in self._models:
            return "ready"
        from app.engine import models
        from app.engine.embedder import load_embedder

        spec = models.resolve_model(config)
        if not self.allow_random_weights and not models.weights_available(spec):
            self.on_event(ModelStateChanged("missing", name))
            return "missing"
        if only_check or collection is None:
            return "idle"
        with self.embedding(collection):
            load_embedder(spec, allow_random_weights=self.allow_random_weights)
            # The model alone is not all a first search waits for: the hnswlib index is read from disk
            # and the first inference sets up the compute path. One throwaway search pays for both now.
            fields = self._collections[collection].get("fields", [])
            field = next((f["name"] for f in fields if f.get("embed")), None)
            params = {"q": "photo", "query_by": field, "per_page": 1, "exclude_fields": field}
            try:
                self.client.collections[collection].documents.search(params)
            except Exception as exc:  # only a head start: the user's own search reports any problem
                log.info("Warming up %s stopped at its first search: %s", collection, exc)
        return "ready"

    def fetch_model(self, model_name: str) -> DownloadJob:
        return DownloadJob(self, model_name, None)

    def install_model_file(self, model_name: str, path: str) -> DownloadJob:
        return DownloadJob(self, model_name, Path(path))

    def model_installed(self, model_name: str) -> None:
        self._models.forget(model_name)

    def set_compute(self, text: str) -> str:
        """Where models run from now on ("auto", "cpu:int8", "cuda"...): loaded models say "idle" and
        load on the new path at their next use. Raises RequestMalformed for a path this computer lacks."""
        return self._models.set_compute(text)

    def compute_devices(self) -> list[str]:
        """The devices this computer offers ("cpu", and "cuda", "mps", "cpu:bf16" where present); asked
        here because finding out imports torch, which the GUI thread never does."""
        return available_devices()

    # -- switching a collection's model (app.library.model_switch) ------------------------------------

    def model_choices(self, collection: str | None) -> list[ModelChoice]:
        """The models a collection may switch to (curated, local, its own), as they stand here."""
        from app.library.model_catalog import choices

        return choices(model_config_of(self._collections.get(collection or "")))

    def plan_model_switch(self, collection: str, model_config: dict) -> SwitchPlan:
        """What switching ``collection`` to ``model_config`` does: photos to embed, those that cannot be."""
        from app.library.model_switch import plan_switch

        return plan_switch(self.client, collection, model_config)

    def switch_model(
        self, collection: str, model_config: dict, remove_unembeddable: bool = False
    ) -> ModelSwitchJob:
        """Re-embed ``collection`` with another model in the background; searches answer from the old
        vectors until the new ones are swapped in at once (see app.library.model_switch)."""
        from app.library.model_switch import ModelSwitchJob

        return self._track(ModelSwitchJob(self, collection, model_config, remove_unembeddable))

    def embedding_with(self, model: str) -> contextlib.AbstractContextManager[None]:
        return self._models.using(model)

    def model_switched(self, collection: str, model: str, removed_ids: list[str]) -> None:
        if removed_ids:
            self.on_event(DocumentsRemoved(collection, removed_ids))
        self._collections_changed()

    def default_schema(self, name: str) -> dict:
        from app.resources import default_model

        return photo_schema(name, default_model())


@dataclass(frozen=True)
class DownloadProgress:
    done: int
    total: int  # 0: unknown


class DownloadJob(Job[WeightsInstalled]):
    """Downloads a model's weights, or installs a file the user has. One step: the download reports its
    own progress and checks ``cancel`` between blocks."""

    def __init__(self, service: LibraryService, model_name: str, local_file: Path | None) -> None:
        super().__init__()
        self.model_name = model_name
        self._service = service
        self._local_file = local_file

    def _step(self) -> bool:
        from app.engine.errors import ModelUnavailable

        try:
            self._fetch()
        except ModelUnavailable as exc:
            exc.model_name = self.model_name  # read by problem_from_exception
            raise
        return True

    def _fetch(self) -> None:
        from app.engine import models
        from app.engine.errors import ModelUnavailable

        if self._local_file is not None:
            self.result = install_weights_file(self.model_name, self._local_file, self.cancel_event)
        else:
            spec = models.resolve_model({"model_name": self.model_name})
            path = models.download_weights(
                spec,
                progress=lambda done, total: self.report(DownloadProgress(int(done), int(total or 0))),
                cancel=self.cancel_event,
            )
            self.result = WeightsInstalled(Path(path), official=True, description="the official file")
        if self.cancelled:
            raise ModelUnavailable("The download was cancelled.")
        self._service.model_installed(self.model_name)
