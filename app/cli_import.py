"""``photoseek import``: Typesense JSONL documents into a collection, one result per line.

A collection that does not exist yet is created for the import: from ``--schema FILE`` (a Typesense
collection schema), else with the photo schema whose ``name`` and ``path`` are optional, so documents made
for Typesense's image search (``{"name": ..., "image": "<base64>"}``) import as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from app import cli_output
from app.cli_common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    CliError,
    ensure_collection,
    open_engine,
    run_with_progress,
)

IMPORT_ACTIONS = ("create", "upsert", "update", "emplace")
# Fields of the default photo schema that documents brought from elsewhere may leave out.
OPTIONAL_WHEN_IMPORTED = ("name", "path")


def add_import_command(
    add: Callable[..., argparse.ArgumentParser],
    collection: argparse.ArgumentParser,
    creating: argparse.ArgumentParser,
) -> None:
    """Register ``photoseek import`` with ``add(name, handler, help, *parents)`` from ``app.cli``."""
    p = add("import", cmd_import, "import Typesense JSONL documents; exits 1 if any line fails",
            collection, creating)
    p.add_argument("file", metavar="FILE.jsonl", help="JSONL file, one document per line ('-' reads stdin)")
    p.add_argument("--action", choices=IMPORT_ACTIONS, default="create", help="Typesense import action")
    p.add_argument("--schema", metavar="FILE.json",
                   help="create a new collection with this Typesense schema (default: name and path "
                        "optional, image with store: false, embedding from the image)")


def cmd_import(args: argparse.Namespace) -> int:
    from_stdin = args.file == "-"
    source = "standard input" if from_stdin else args.file
    try:
        text = sys.stdin.read() if from_stdin else Path(args.file).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{source} is not UTF-8 text (byte {exc.start}): JSONL must be UTF-8") from None
    # Blank lines are not documents, but line numbers in messages must still match the file. Only "\n"
    # ends a line: str.splitlines() would also cut at U+2028 or U+0085, which JSON strings may hold as is.
    raw_lines = (line.removesuffix("\r") for line in text.split("\n"))
    numbered = [(n, line) for n, line in enumerate(raw_lines, start=1) if line.strip()]
    if not numbered:
        raise CliError(f"{source} has no documents (it is empty)")
    schema = read_schema(args.schema) if args.schema else None
    with open_engine(args) as engine:
        if schema is not None and args.collection in engine.collections:
            raise CliError(f"collection `{args.collection}` exists already: --schema only shapes a new "
                           "collection (leave it out, or choose another --collection)")
        if schema is None and args.collection not in engine.collections:
            schema = import_schema(args)
        created = ensure_collection(engine, args, schema)
        documents = engine.collections[args.collection].documents
        lines = [line for _, line in numbered]
        # Not partial(): mypy types a partial of an overloaded method by its first overload (JSONL text).
        results, cancelled, _ = run_with_progress(
            lambda **kw: documents.import_(lines, {"action": args.action}, **kw), "Importing", "documents"
        )
        if created and not any(r.get("success") for r in results):
            # An import that stored nothing leaves nothing behind: the next try starts from scratch, and
            # perhaps with a schema that fits the documents.
            engine.collections[args.collection].delete()
            print(f"Nothing was imported, so the new collection `{args.collection}` was removed again.",
                  file=sys.stderr)
    if args.json:
        print("\n".join(json.dumps(result) for result in results))
    else:
        line_numbers = [n for n, _ in numbered]
        print(cli_output.format_import_report(results, line_numbers, cancelled=cancelled))
    if cancelled:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if any(not r.get("success") for r in results) else EXIT_OK


def import_schema(args: argparse.Namespace) -> dict:
    """The photo schema with the fields JSONL documents may lack made optional."""
    from app.library.defaults import photo_schema
    from app.resources import default_model

    schema = photo_schema(args.collection, args.model or default_model(), keep_copies=args.store_images)
    for field in schema["fields"]:
        if field["name"] in OPTIONAL_WHEN_IMPORTED:
            field["optional"] = True
    return schema


def read_schema(path: str) -> dict:
    try:
        schema = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not a JSON schema: {exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    if not isinstance(schema, dict):
        raise CliError(f"{path} must hold one JSON object, a Typesense collection schema")
    return schema
