"""The ``photoseek`` command line. With no arguments it opens the desktop app.

Every subcommand talks to the same engine the GUI uses, through its Typesense-shaped API, so ``--json``
prints exactly what a Typesense client would get back. The engine (and with it numpy, hnswlib, torch) is
imported only once a subcommand needs it: ``photoseek --version`` and ``--help`` stay instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from app import __version__, cli_output
from app.cli_common import (  # the exit statuses are part of this module's interface too
    EXIT_INTERRUPTED,
    EXIT_MODEL,
    EXIT_NO_DISPLAY,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_STATUS_HELP,
    EXIT_USAGE,
    CliError,
    ensure_collection,
    open_engine,
    run_with_progress,
)
from app.cli_search import cmd_search, cmd_similar
from app.library.defaults import DEFAULT_COLLECTION
from app.resources import DEFAULT_MODEL, DEFAULT_MODEL_ENV

if TYPE_CHECKING:
    from app.engine.compute import ComputeRequest

__all__ = ["EXIT_INTERRUPTED", "EXIT_MODEL", "EXIT_NO_DISPLAY", "EXIT_OK", "EXIT_SOME_FAILED",
           "EXIT_USAGE", "CliError", "build_parser", "main"]

def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see EXIT_STATUS_HELP)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return launch_gui()
    parser = build_parser()
    if _are_paths_to_open(argv, parser):
        # The desktop entry runs `photoseek %F`: "Open with Photoseek" imports what it was given.
        return launch_gui(open_paths=[os.path.abspath(a) for a in argv])
    # Known before parsing, so that even a usage error comes out as JSON when --json was asked for
    # (argparse also takes an unambiguous abbreviation such as --js).
    options = argv[: argv.index("--")] if "--" in argv else argv
    as_json = any(len(a) > 3 and "--json".startswith(a) for a in options)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        if not as_json:
            sys.stderr.write(exc.usage)
        return _fail(exc.message, EXIT_USAGE, as_json=as_json, prog=exc.prog)
    except SystemExit as exc:  # --help and --version: argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from app.engine import compute

    try:
        # --device wins over PHOTOSEEK_DEVICE; a bad variable is said before any work starts.
        compute.use_request(args.device)
        compute.effective_request()
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE, as_json=args.json)
    if args.self_test:
        from app.selftest import run_self_test

        return run_self_test()
    if args.command is None:
        return launch_gui(args.data_dir, as_json=args.json)
    logging.basicConfig(level=logging.WARNING, format="photoseek: %(message)s")
    if args.verbose:
        # Photoseek's own progress notes only: open_clip's INFO chatter would bury them.
        logging.getLogger("app").setLevel(logging.INFO)
    fail = partial(_fail, as_json=args.json)

    import sqlite3

    from app.engine.errors import MissingCollection, ModelUnavailable, TypesenseError

    try:
        return args.handler(args)
    except CliError as exc:
        return fail(str(exc), exc.exit_code)
    except ModelUnavailable as exc:
        # JSON keeps the engine's own message (one sentence, every detail); people get the short version.
        text = exc.message if args.json else cli_output.model_unavailable_text(exc, verbose=args.verbose)
        return fail(text, EXIT_MODEL)
    except MissingCollection as exc:  # the engine words it as Typesense does: a bare "Not Found"
        return fail(f"Collection `{exc.collection}` not found.", EXIT_USAGE)
    except TypesenseError as exc:
        return fail(exc.message, EXIT_USAGE if 400 <= exc.code < 500 else EXIT_SOME_FAILED)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}", EXIT_USAGE)
    except sqlite3.Error as exc:
        return fail(f"the library database cannot be used: {exc}", EXIT_SOME_FAILED)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # off the ^C the terminal echoed
        return fail("interrupted", EXIT_INTERRUPTED)


def _are_paths_to_open(argv: list[str], parser: argparse.ArgumentParser) -> bool:
    commands = parser.get_default("command_names")
    return argv[0] not in commands and not argv[0].startswith("-") and all(os.path.exists(a) for a in argv)


def launch_gui(
    data_dir: str | None = None, open_paths: list[str] | None = None, *, as_json: bool = False
) -> int:
    if data_dir:
        # The GUI finds its library through app.paths, which honours this variable.
        os.environ["PHOTOSEEK_DATA_DIR"] = data_dir
    from app.display_check import CLI_HINT, display_problem

    problem = display_problem()
    if problem:
        return _fail(problem, EXIT_NO_DISPLAY, as_json=as_json)
    try:
        from app.gui.app import run_gui
    except ImportError as exc:  # e.g. a system without libEGL/libGL, which Qt's GUI modules link to
        return _fail(f"the window cannot open: Qt does not load ({exc}); {CLI_HINT}", EXIT_NO_DISPLAY,
                     as_json=as_json)
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
    options.add_argument("--server", metavar="URL[,URL...]", default=default(None),
                         help="use a library kept on a Typesense server or cluster instead of --data-dir "
                         "(the API key from $PHOTOSEEK_SERVER_API_KEY or the system keyring, never the "
                         "command line)")
    options.add_argument("--json", action="store_true", default=default(False),
                         help="print the engine's Typesense-format JSON instead of tables")
    options.add_argument("--device", type=_device, metavar="WHERE", default=default(None),
                         help="where the model runs: auto (default: the fastest path measured on this "
                         "computer), cpu, cpu:fp32, cpu:int8, cpu:bf16, cuda, cuda:fp16, mps... "
                         "(also $PHOTOSEEK_DEVICE)")
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
    from app.cli_serve import add_serve_command

    add_import_command(add, collection, creating)
    add_commands(add, collection, creating)
    add_model_command(add, collection)
    add_serve_command(add)
    parser.set_defaults(command_names=frozenset(sub.choices))
    return parser


def _device(text: str) -> ComputeRequest:
    from app.engine.compute import parse_request

    try:
        return parse_request(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def cmd_collections(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        collections = engine.collections.retrieve()
    print(json.dumps(collections, indent=2) if args.json else cli_output.format_collections(collections))
    return EXIT_OK


