"""``photoseek model``: which CLIP model the library uses, whether its weights are here, and getting them
here (download, or install a file brought from another computer: the offline route). The parser and the
shared steps are in ``app.cli``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import cli_output
from app.cli_common import EXIT_MODEL, EXIT_OK, CliError, ensure_models, open_engine, resolved_model

MODEL_ACTIONS = ("status", "download", "install")


def add_model_command(
    add: Callable[..., argparse.ArgumentParser], collection: argparse.ArgumentParser
) -> None:
    """Register ``photoseek model`` with ``add(name, handler, help, *parents)`` from ``app.cli``."""
    p = add("model", cmd_model,
            "the library's CLIP model: status (default), download its weights, or install a weights file",
            collection)
    p.add_argument("action", nargs="?", choices=MODEL_ACTIONS, default="status",
                   help="status (default), download, install FILE")
    p.add_argument("file", nargs="?", metavar="FILE",
                   help="with install: a weights file (.safetensors, .bin or .pt) downloaded elsewhere")
    p.add_argument("--model", metavar="MODEL",
                   help="this model instead of the collection's (default: the collection's, else "
                        "$PHOTOSEEK_DEFAULT_MODEL or the default)")


def cmd_model(args: argparse.Namespace) -> int:
    if args.action == "install" and not args.file:
        raise CliError("install needs the weights file: photoseek model install FILE")
    if args.action != "install" and args.file:
        raise CliError(f"only install takes a file, not {args.action}")
    name = args.model or library_model(args)
    if args.action == "download":
        ensure_models([{"model_name": name}])
    elif args.action == "install":
        from app.library.model_files import install_weights_file

        source = Path(args.file).expanduser()
        if source.is_dir():
            raise CliError(f"{args.file} is a folder: give the weights file itself (e.g. "
                           "open_clip_model.safetensors)")
        if not source.is_file():
            raise CliError(f"no such file: {args.file}")
        installed = install_weights_file(name, source)
        print(f"Installed the weights of `{name}` ({installed.description}) as {installed.path}.")
    status = model_status(name)
    if args.action == "status":
        print(json.dumps(status, indent=2) if args.json else format_status(status, named=bool(args.model)))
    return EXIT_OK if status["ready"] else EXIT_MODEL


def library_model(args: argparse.Namespace) -> str:
    """The model of the collection the command is about; the default model for a library without one."""
    from app.library.model_files import model_of
    from app.resources import default_model

    with open_engine(args, on_server=False) as engine:
        if args.collection in engine.collections:
            return model_of(engine.collections[args.collection].retrieve()) or default_model()
    return default_model()


def model_status(name: str) -> dict[str, Any]:
    """Whether ``name``'s weights are on this computer, where, and where they would be downloaded from."""
    from app.engine import models

    spec = resolved_model({"model_name": name})
    if spec.pretrained is None:  # a model folder on disk (the tiny test model): nothing to download
        return {"model": name, "ready": True, "weights": str(spec.local_dir or spec.model_path),
                "download_url": None}
    sources = models.weights_sources(spec)
    here = models.weights_path(spec) if models.weights_available(spec) else None
    return {
        "model": name,
        "ready": here is not None,
        "weights": str(here or (sources[0].path if sources else "")),
        "download_url": sources[0].url if sources else None,
    }


def format_status(status: dict[str, Any], *, named: bool = False) -> str:
    """The status as sentences; ``named``: the model was chosen with --model, so the install hint names it
    too (without --model, install picks the library's model, which may be another)."""
    if status["ready"]:
        return f"Model {status['model']}: ready (weights in {status['weights']})."
    lines = [f"Model {status['model']}: its weights are not on this computer yet."]
    if status["download_url"]:
        model_option = f"--model {status['model']} " if named else ""
        lines.append("  With internet: photoseek model download (or the first photoseek index does it).")
        lines += cli_output.offline_route(status["download_url"], model_option)
    return "\n".join(lines)
