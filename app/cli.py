"""The ``photoseek`` command line. With no arguments it opens the desktop app.

Every subcommand talks to the same engine the GUI uses, through its Typesense-shaped API, so ``--json``
prints exactly what a Typesense client would get back. The engine (and with it numpy, hnswlib, torch) is
imported only once a subcommand needs it: ``photoseek --version`` and ``--help`` stay instant.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from app import __version__, cli_output
from app.library.defaults import DEFAULT_COLLECTION, default_collection, photo_schema
from app.resources import DEFAULT_MODEL, DEFAULT_MODEL_ENV, default_model

if TYPE_CHECKING:
    from app.engine import Engine

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see EXIT_STATUS_HELP)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return launch_gui()
    parser = build_parser()
    if _are_paths_to_open(argv, parser):
        # The desktop entry runs `photoseek %F`: "Open with Photoseek" imports what it was given.
        return launch_gui(open_paths=[os.path.abspath(a) for a in argv])
    # Known before parsing, so that even a usage error comes out as JSON when --json was asked for.
    as_json = "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        if not as_json:
            sys.stderr.write(exc.usage)
        return _fail(exc.message, EXIT_USAGE, as_json=as_json, prog=exc.prog)
    except SystemExit as exc:  # --help and --version: argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.self_test:
        from app.selftest import run_self_test

        return run_self_test()
    if args.command is None:
        return launch_gui(args.data_dir)
    logging.basicConfig(level=logging.WARNING, format="photoseek: %(message)s")
    if args.verbose:
        # Photoseek's own progress notes only: open_clip's INFO chatter would bury them.
        logging.getLogger("app").setLevel(logging.INFO)
    fail = partial(_fail, as_json=args.json)

    import sqlite3

    from app.engine.errors import ModelUnavailable, TypesenseError

    try:
        return args.handler(args)
    except CliError as exc:
        return fail(str(exc), exc.exit_code)
    except ModelUnavailable as exc:
        # JSON keeps the engine's own message (one sentence, every detail); people get the short version.
        text = exc.message if args.json else cli_output.model_unavailable_text(exc, verbose=args.verbose)
        return fail(text, EXIT_MODEL)
    except TypesenseError as exc:
        return fail(exc.message, EXIT_USAGE if 400 <= exc.code < 500 else EXIT_SOME_FAILED)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}", EXIT_USAGE)
    except sqlite3.Error as exc:
        return fail(f"the library database cannot be used: {exc}", EXIT_SOME_FAILED)
    except KeyboardInterrupt:
        print("\nphotoseek: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _are_paths_to_open(argv: list[str], parser: argparse.ArgumentParser) -> bool:
    commands = parser.get_default("command_names")
    return argv[0] not in commands and not argv[0].startswith("-") and all(os.path.exists(a) for a in argv)


def launch_gui(data_dir: str | None = None, open_paths: list[str] | None = None) -> int:
    if data_dir:
        # The GUI finds its library through app.paths, which honours this variable.
        os.environ["PHOTOSEEK_DATA_DIR"] = data_dir
    from app.display_check import display_problem

    problem = display_problem()
    if problem:
        return _fail(problem, EXIT_NO_DISPLAY)
    try:
        from app.gui.app import run_gui
    except ImportError as exc:
        return _fail(f"the desktop app cannot start ({exc}); see `photoseek --help` for the commands", 1)
    return run_gui(sys.argv[:1], open_paths=open_paths)


def _fail(message: str, code: int, *, as_json: bool = False, prog: str = "photoseek") -> int:
    # With --json, the error is one line of Typesense-shaped JSON, the last line on stderr: progress
    # notes may come before it, and scripts read the exit status first anyway.
    print(json.dumps({"message": message}) if as_json else f"{prog}: error: {message}", file=sys.stderr)
    return code


class UsageError(Exception):
    """An argument error found by argparse, raised instead of printed so that --json can shape it."""

    def __init__(self, prog: str, usage: str, message: str) -> None:
        super().__init__(message)
        self.prog, self.usage, self.message = prog, usage, message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, self.format_usage(), message)


# -- arguments ---------------------------------------------------------------------------------------------


def _global_options(*, repeated: bool) -> argparse.ArgumentParser:
    # Global options are accepted before or after the subcommand. The subcommands' copies default to
    # SUPPRESS, so that leaving an option out after the subcommand keeps what was given before it.
    # (Two parser objects, because set_defaults on a shared parent would change both.)
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if repeated else value

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--data-dir", metavar="DIR", default=default(None),
                         help="library folder (default: $PHOTOSEEK_DATA_DIR or the user data folder)")
    options.add_argument("--json", action="store_true", default=default(False),
                         help="print the engine's Typesense-format JSON instead of tables")
    options.add_argument("-v", "--verbose", action="store_true", default=default(False),
                         help="say more (e.g. list every file skipped as not an image)")
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="photoseek", parents=[_global_options(repeated=False)], epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Private photo search with CLIP. Without a command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"photoseek {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (model, index, queries, Qt) in a temporary library")
    # Subcommand parsers are _Parser too (argparse uses the parent's class), so their usage errors can
    # come out as JSON; Any because typeshed then wants the parent parsers to be _Parser as well.
    sub: Any = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _global_options(repeated=True)

    def add(name: str, handler: Any, help_text: str, *parents: argparse.ArgumentParser) -> Any:
        p = sub.add_parser(name, parents=[common, *parents], help=help_text, description=help_text,
                           epilog=EXIT_STATUS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(handler=handler)
        return p

    collection = argparse.ArgumentParser(add_help=False)
    collection.add_argument("-c", "--collection", default=None, metavar="NAME",
                            help=f"collection to use (default: {DEFAULT_COLLECTION}, the desktop app's)")
    creating = argparse.ArgumentParser(add_help=False)
    creating.add_argument("--model", metavar="MODEL",
                          help=f"a new collection's model (default: ${DEFAULT_MODEL_ENV} or {DEFAULT_MODEL})")
    creating.add_argument("--store-images", action="store_true",
                          help="keep each image's bytes in a new collection (by default only its embedding)")
    ranking = argparse.ArgumentParser(add_help=False)
    ranking.add_argument("-n", "--limit", type=_positive_int, default=10, metavar="N",
                         help="how many results (default: 10, at most 250)")
    ranking.add_argument("--threshold", type=_distance, metavar="D",
                         help="leave out results farther than cosine distance D (0..2; 0.3 = similarity 0.7)")

    p = add("index", cmd_index, "add image files and folders (recursively) to a collection",
            collection, creating)
    p.add_argument("paths", nargs="+", metavar="PATH", help="image file or folder")
    p = add("search", cmd_search, "find photos matching a text, or looking like an image",
            collection, ranking)
    p.add_argument("text", nargs="?", help="what to look for, e.g. \"a dog on a beach\"; combine with "
                   "spaced + and - and weights: \"beach:2 + sunset - people\"")
    p.add_argument("--image", metavar="FILE", help="search with this image instead of text")
    p = add("similar", cmd_similar, "find photos similar to a photo already in the collection",
            collection, ranking)
    p.add_argument("id", metavar="ID|PATH", help="document id (shown by search), or the path of a photo "
                   "in the collection")
    add("collections", cmd_collections, "list collections with their size, model and fields")
    from app.cli_import import add_import_command
    from app.cli_library import add_commands
    from app.cli_model import add_model_command

    add_import_command(add, collection, creating)
    add_commands(add, collection, creating)
    add_model_command(add, collection)
    parser.set_defaults(command_names=frozenset(sub.choices))
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _distance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 2:
        raise argparse.ArgumentTypeError(f"a cosine distance is between 0 and 2, got {text}")
    return value


# -- commands ----------------------------------------------------------------------------------------------


def cmd_index(args: argparse.Namespace) -> int:
    missing = [raw for raw in args.paths if not Path(raw).expanduser().exists()]
    if missing:
        raise CliError(f"no such file or folder: {', '.join(missing)}")
    with open_engine(args) as engine:
        ensure_collection(engine, args)
        documents = engine.collections[args.collection].documents
        results, cancelled, found = run_with_progress(
            partial(documents.import_files, args.paths), "Indexing", "photos"
        )
    summary = cli_output.index_summary(results, cancelled=cancelled, found=found or 0)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(cli_output.format_index_report(summary, args.verbose))
    if cancelled:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if summary["failed"] else EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.image is None):
        raise CliError("give either search text or --image FILE")
    if args.text is not None and not args.text.strip():
        raise CliError("the search text is empty")
    from app.engine.query_text import combined_query_params, parse_combined_query

    try:
        # Checked before the engine opens, so a typo fails fast without loading the model.
        combined = parse_combined_query(args.text) if args.text is not None else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    with open_engine(args) as engine:
        field = embedding_field(engine, args.collection)
        params: dict[str, Any] = {"per_page": args.limit, "exclude_fields": field}
        if args.image is not None:
            encoded = base64.b64encode(Path(args.image).expanduser().read_bytes()).decode("ascii")
            params.update(q="*", vector_query=vector_query(field, [f"image:{encoded}"], args.threshold))
        elif combined is not None:
            # "beach + sunset - people": the engine searches with the weighted sum of the terms.
            terms = combined_query_params(*combined)
            params.update(q="*", vector_query=vector_query(field, terms, args.threshold))
        else:
            params.update(q=args.text, query_by=field)
            if args.threshold is not None:
                params["vector_query"] = vector_query(field, [], args.threshold)
        return print_search(engine, args, params)


def cmd_similar(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        field = embedding_field(engine, args.collection)
        doc_id = similar_document_id(engine, args.collection, args.id)
        # Backquotes let ids with commas or parentheses through the vector_query grammar.
        params = {"q": "*", "per_page": args.limit, "exclude_fields": field,
                  "vector_query": vector_query(field, [f"id:`{doc_id}`"], args.threshold)}
        return print_search(engine, args, params)


def similar_document_id(engine: Engine, collection: str, wanted: str) -> str:
    """The id of the photo ``similar`` starts from: ``wanted`` is a document id, or the path of a photo
    in the collection (easier to type than an id, and what a file manager gives)."""
    from app.engine.errors import ObjectNotFound

    documents = engine.collections[collection].documents
    if os.path.isfile(os.path.expanduser(wanted)):
        absolute = Path(wanted).expanduser().absolute()
        for path in dict.fromkeys([str(absolute), str(absolute.resolve())]):
            if "`" in path:
                break
            found = documents.search({"q": "*", "filter_by": f"path:=`{path}`", "per_page": 1,
                                      "include_fields": "id"})
            if found["hits"]:
                return str(found["hits"][0]["document"]["id"])
        raise CliError(f"{wanted} is not in collection `{collection}` (photoseek index adds it; "
                       f"to search with any picture: photoseek search --image {wanted})")
    if "`" in wanted:
        raise CliError("a document id with a backquote (`) cannot be used in a vector query")
    try:
        documents[wanted].retrieve()
    except ObjectNotFound:
        raise CliError(f"no photo with the id `{wanted}` in collection `{collection}` (the id column of "
                       "photoseek search shows ids; a photo's file path works too)") from None
    return wanted


def cmd_collections(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        collections = engine.collections.retrieve()
    print(json.dumps(collections, indent=2) if args.json else cli_output.format_collections(collections))
    return EXIT_OK


# -- shared steps ------------------------------------------------------------------------------------------


@contextmanager
def open_engine(args: argparse.Namespace) -> Iterator[Engine]:
    from app import paths
    from app.engine import Engine

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
    embeds = [f.get("embed") for f in collection.get("fields") or [] if isinstance(f, dict)]
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
        try:
            spec = models.resolve_model(config)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if spec.pretrained is None or spec.model_path is not None or models.weights_available(spec):
            continue  # local models report their own missing files when loaded
        print(f"First use of the model `{spec.name}`: downloading its weights.", file=sys.stderr)
        run_with_progress(partial(models.download_weights, spec), "Downloading", "MB", unit=1e6)


def vector_query(field: str, params: list[str], threshold: float | None) -> str:
    if threshold is not None:
        params = [*params, f"distance_threshold:{threshold}"]
    return f"{field}:([], {', '.join(params)})" if params else f"{field}:([])"


def print_search(engine: Engine, args: argparse.Namespace, params: dict) -> int:
    # documents.search is multi_search's per-search call; it keeps the error's type (a missing model
    # stays ModelUnavailable and exits 3, where multi_search would fold it into a plain 400 result).
    result = engine.collections[args.collection].documents.search(params)
    print(json.dumps(result, indent=2) if args.json else cli_output.format_hits(result))
    return EXIT_OK


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
