"""Library upkeep on the command line: followed folders (``photoseek folders``) and near-duplicates
(``photoseek duplicates``). The parser and the shared steps are in ``app.cli``."""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
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

FOLDER_ACTIONS = ("list", "add", "remove", "rescan")


def add_commands(add, collection: argparse.ArgumentParser, creating: argparse.ArgumentParser) -> None:
    """Register the commands with ``add(name, handler, help, *parents)`` from ``app.cli.build_parser``."""
    p = add("folders", cmd_folders,
            "follow folders: list them, add or remove one, or rescan them to match the disk",
            collection, creating)
    p.add_argument("action", nargs="?", choices=FOLDER_ACTIONS, default="list",
                   help="list (default), add PATH..., remove PATH..., rescan [PATH...]")
    p.add_argument("paths", nargs="*", metavar="PATH", help="folder")
    p.add_argument("--keep-photos", action="store_true",
                   help="with remove: keep the folder's photos in the collection")
    p = add("duplicates", cmd_duplicates, "list groups of near-identical photos (best copy first)",
            collection)
    p.add_argument("--similarity", type=_similarity, default=None, metavar="S",
                   help="how alike photos must be, 0..1 (default 0.95)")


def _similarity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a similarity is above 0 and at most 1, got {text}")
    return value


def format_folders(folders: list[dict]) -> str:
    if not folders:
        return "No folders followed. Add one with: photoseek folders add PATH"
    rows = [
        [f["path"], str(f["documents"]), f["status"] + (f" ({f['reason']})" if f["reason"] else ""),
         time.strftime("%Y-%m-%d %H:%M", time.localtime(f["last_scan"])) if f["last_scan"] else "never"]
        for f in folders
    ]
    return cli_output.format_table(["Folder", "Photos", "Status", "Last scan"], rows)


def format_scans(reports: list[dict]) -> str:
    lines = []
    for r in reports:
        if r["status"] == "offline":
            lines.append(f"{r['folder']}: offline, photos kept. {r['reason']}")
            continue
        lines.append(
            f"{r['folder']}: {r['imported']} added, {len(r['moved'])} moved, {len(r['removed'])} removed, "
            f"{r['touched']} refreshed, {r['unchanged']} unchanged"
            + (f", {len(r['failed'])} failed" if r["failed"] else "")
        )
        lines += [f"  failed: {f['path']}: {f['error']}" for f in r["failed"]]
    return "\n".join(lines) or "Nothing to rescan."


def cmd_folders(args: argparse.Namespace) -> int:
    if args.action in ("add", "remove") and not args.paths:
        raise CliError(f"`folders {args.action}` needs at least one folder")
    with open_engine(args, on_server=False) as engine:
        if args.action == "list":
            if args.collection not in engine.collections:
                raise CliError(f"there is no collection `{args.collection}`")
            followed = engine.collections[args.collection].folders.retrieve()
            print(json.dumps(followed, indent=2) if args.json else format_folders(followed))
            return EXIT_OK
        if args.action == "remove":
            removed = [
                engine.collections[args.collection].folders.delete(p, remove_photos=not args.keep_photos)
                for p in args.paths
            ]
            said = [f"Stopped following {r['folder']}; {r['removed']} photos left the collection."
                    for r in removed]
            print(json.dumps(removed, indent=2) if args.json else "\n".join(said))
            return EXIT_OK
        ensure_collection(engine, args)
        folders = engine.collections[args.collection].folders
        wanted: list[str] | None = None
        if args.action == "add":
            for path in args.paths:
                if not Path(path).expanduser().is_dir():
                    raise CliError(f"not a folder: {path}")
                folders.add(path)
            wanted = [str(Path(p).expanduser().absolute()) for p in args.paths]
        elif args.paths:
            wanted = list(args.paths)
        reports, cancelled, _ = run_with_progress(partial(folders.sync, wanted), "Indexing", "photos")
    print(json.dumps(reports, indent=2) if args.json else format_scans(reports))
    if cancelled:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if any(r["failed"] for r in reports) else EXIT_OK


# What each photo of a group is, by its verdict (app.engine.duplicate_verdicts): only "copy" is a copy
# that a second, independent check confirmed; the app proposes only those for the trash.
_MARKS = {"reference": "keep", "exact": "copy", "same": "copy", "similar": "similar", "unchecked": "check"}


def format_groups(groups: list[dict]) -> str:
    if not groups:
        return "No near-duplicates found."
    lines = []
    confirmed = unconfirmed = 0
    for n, group in enumerate(groups, start=1):
        lines.append(f"Group {n} ({group['size']} photos, similarity >= {1 - group['max_distance']:.3f}):")
        verdicts = group.get("verdicts") or [{} for _ in group["documents"]]
        for i, (doc, verdict) in enumerate(zip(group["documents"], verdicts, strict=True)):
            size = f"{doc['width']}x{doc['height']}" if "width" in doc and "height" in doc else "?"
            mark = _MARKS.get(str(verdict.get("kind")), "keep" if i == 0 else "similar")
            lines.append(f"  {mark:<7}  {size:>11}  {cli_output.document_label(doc)}")
            if i > 0:
                confirmed += bool(verdict.get("confirmed"))
                unconfirmed += not verdict.get("confirmed")
                if verdict.get("reason"):
                    lines.append(f"  {'':<7}  {'':>11}  {verdict['reason']}")
    copies = "1 copy" if confirmed == 1 else f"{confirmed} copies"
    alike = "1 photo only looks" if unconfirmed == 1 else f"{unconfirmed} photos only look"
    lines.append(f"{copies} confirmed by a second check (pixels or file contents); {alike} alike to CLIP: "
                 "look before deleting.")
    return "\n".join(lines)


def cmd_duplicates(args: argparse.Namespace) -> int:
    with open_engine(args, on_server=False) as engine:
        if args.collection not in engine.collections:
            raise CliError(f"there is no collection `{args.collection}`")
        options = {} if args.similarity is None else {"threshold": 1.0 - args.similarity}
        groups = engine.collections[args.collection].documents.find_duplicates(**options)
        fields = engine.collections[args.collection].retrieve()["fields"]
    bulky = {f["name"] for f in fields if f["type"] in ("image", "float[]")}  # stored images, vectors
    for group in groups:
        group["documents"] = [{k: v for k, v in doc.items() if k not in bulky} for doc in group["documents"]]
    print(json.dumps(groups, indent=2) if args.json else format_groups(groups))
    return EXIT_OK
