"""What the ``photoseek`` commands share: exit statuses, the error type, opening the library, making sure
a collection and its model are there, and a progress line wired to Ctrl+C. Imports the engine lazily."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from app import cli_output
from app.library.defaults import default_collection, photo_schema
from app.resources import default_model

if TYPE_CHECKING:
    from app.engine import Engine
    from app.engine.models import ModelSpec

T = TypeVar("T")

EXIT_OK = 0
EXIT_SOME_FAILED = 1  # index/import finished, but some photos or lines failed
EXIT_USAGE = 2  # bad arguments, bad request, unknown collection or document
EXIT_MODEL = 3  # the model's weights are not available
EXIT_NO_DISPLAY = 4  # the window cannot open here (no display); the commands still work
EXIT_INTERRUPTED = 130  # Ctrl+C, as shells report SIGINT

EXIT_STATUS_HELP = """\
exit status:
  0    success
  1    index/import finished but some photos or JSONL lines failed (they are listed)
  2    bad arguments, bad request, or unknown collection/document
  3    the model's weights are not available (the message says how to install them)
  4    the window cannot open: no display (e.g. over SSH); the commands work without one
  130  interrupted with Ctrl+C (what was already imported stays imported)
"""


class CliError(Exception):
    """A problem with what the user asked for, reported as ``photoseek: error: ...``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def open_engine(args: argparse.Namespace, *, on_server: bool = True) -> Iterator[Engine]:
    """The library the command works on: the local one (--data-dir), or with --server one kept on a
    Typesense server, answering the same calls (``on_server=False``: a command the server cannot do)."""
    from app import paths
    from app.engine import Engine

    if getattr(args, "server", None):
        if not on_server:
            raise CliError(f"`photoseek {args.command}` works on a local library only, not with --server")
        if args.data_dir:
            raise CliError("give --server or --data-dir, not both: a library is in one place")
        from app.cli_server import open_server_library

        engine = cast(Engine, open_server_library(args.server))
    else:
        data_dir = Path(args.data_dir).expanduser() if args.data_dir else paths.data_dir()
        if data_dir.exists() and not data_dir.is_dir():
            raise CliError(f"the library folder {data_dir} is a file, not a folder")
        engine = Engine(data_dir)
    try:
        if getattr(args, "collection", "") is None:
            # The app's default collection, so the CLI and the window share one library.
            args.collection = default_collection(c["name"] for c in engine.collections.retrieve())
        yield engine
    finally:
        engine.close()


def _embed_configs(collection: dict) -> list[dict]:
    # Tolerant of a user's malformed schema: the engine names what is wrong with it when it is created.
    fields = collection.get("fields")
    embeds = [f.get("embed") for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []
    configs = [e.get("model_config") for e in embeds if isinstance(e, dict)]
    return [c for c in configs if isinstance(c, dict) and c.get("model_name")]


def ensure_collection(engine: Engine, args: argparse.Namespace, schema: dict | None = None) -> bool:
    """Make sure ``args.collection`` exists and its models are here; True when this call created it.

    A new collection gets ``schema`` (its name set to the collection's), else the default photo schema.
    """
    name = args.collection
    if name in engine.collections:
        configs = _embed_configs(engine.collections[name].retrieve())
        in_use = [c.get("model_name") for c in configs]
        if args.model and in_use and args.model not in in_use:
            raise CliError(f"collection `{name}` uses the model `{in_use[0]}`, not `{args.model}`: "
                           "leave out --model, or choose another --collection")
        ensure_models(configs)
        return False
    if schema is None:
        model = args.model or default_model()
        schema = photo_schema(name, model, keep_copies=args.store_images)
    else:
        schema = {**schema, "name": name}
    # Fetch the weights before creating anything, so a failed download leaves no empty collection behind.
    configs = _embed_configs(schema)
    ensure_models(configs)
    engine.collections.create(schema)
    models_used = ", ".join(str(c.get("model_name")) for c in configs) or "no model"
    print(f"Created collection `{name}` (model {models_used}).", file=sys.stderr)
    return True


def embedding_field(engine: Engine, collection: str) -> str:
    """The collection's first embedding field (after making sure its model can run)."""
    if collection not in engine.collections and collection == default_collection(
        c["name"] for c in engine.collections.retrieve()
    ):
        raise CliError("the library has no photos yet: add some with photoseek index FOLDER")
    fields = engine.collections[collection].retrieve()["fields"]
    embedded = [f for f in fields if "embed" in f]
    if not embedded:
        raise CliError(f"collection `{collection}` has no embedding field (no field with `embed`) to search")
    ensure_models([embedded[0]["embed"]["model_config"]])
    return embedded[0]["name"]


def ensure_models(model_configs: list[dict]) -> None:
    """Download missing weights of downloadable models, with progress; Ctrl+C stops the download."""
    from app.engine import models

    for config in model_configs:
        spec = resolved_model(config)
        if spec.pretrained is None or spec.model_path is not None or models.weights_available(spec):
            continue  # local models report their own missing files when loaded
        print(f"First use of the model `{spec.name}`: downloading its weights.", file=sys.stderr)
        run_with_progress(partial(models.download_weights, spec), "Downloading", "MB", unit=1e6)


def resolved_model(model_config: dict) -> ModelSpec:
    """The model a config names; an unknown name is the user's error (exit 2), said as the engine says it."""
    from app.engine import models

    try:
        return models.resolve_model(model_config)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def run_with_progress(
    work: Callable[..., T], verb: str, noun: str, unit: float = 1.0
) -> tuple[T, bool, int | None]:
    """Run ``work(progress=..., cancel=...)`` with a progress line on stderr and Ctrl+C wired to ``cancel``.

    Returns (what work returned, whether the user cancelled, the total work last reported). The first
    Ctrl+C asks the engine to stop after its current batch, keeping what it committed; a second one
    interrupts at once. Work that fails after a Ctrl+C counts as interrupted, not as an error.
    """
    reporter = cli_output.ProgressReporter(sys.stderr, verb, noun, unit=unit)
    cancel = threading.Event()

    def on_interrupt(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        reporter.finish()
        print("Stopping after the current batch (Ctrl+C again to stop at once)...", file=sys.stderr)

    # Signal handlers can only be set from the main thread; elsewhere Ctrl+C keeps its default meaning.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main_thread else None
    try:
        result = work(progress=reporter, cancel=cancel)
    except Exception as exc:
        if cancel.is_set():
            raise KeyboardInterrupt from exc
        raise
    finally:
        reporter.finish()
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    return result, cancel.is_set(), reporter.total
