"""``photoseek serve``: the library behind Typesense's HTTP API (see docs/serve.md), for scripts, other
tools and other languages. Loopback only unless ``--host`` says otherwise; every request needs the key."""

from __future__ import annotations

import argparse
import asyncio
import errno
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.cli_common import EXIT_OK, CliError


def add_serve_command(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Register ``photoseek serve`` with ``add(name, handler, help, *parents)`` from ``app.cli``."""
    p = add("serve", cmd_serve, "answer Typesense's HTTP API (for scripts and other tools) on this computer")
    p.add_argument("--host", default=None, metavar="HOST",
                   help="address to listen on (default: 127.0.0.1, this computer only)")
    p.add_argument("--port", type=_port, default=8108, metavar="PORT",
                   help="TCP port (default: 8108, Typesense's; 0 picks a free one)")
    p.add_argument("--api-key-file", metavar="FILE",
                   help="file holding the API key clients must send (default: $PHOTOSEEK_API_KEY, else a key "
                        "generated once and kept in the library folder)")
    p.add_argument("--api-key", metavar="KEY", help=argparse.SUPPRESS)  # visible in `ps`: warned about
    p.add_argument("--max-body-mb", type=_mib, default=64, metavar="MB",
                   help="largest request body except imports, in MiB (default: 64)")
    p.add_argument("--max-import-mb", type=_mib, default=1024, metavar="MB",
                   help="largest import body, in MiB (default: 1024; imports are streamed, not held)")


def cmd_serve(args: argparse.Namespace) -> int:
    from app import paths
    from app.server.app import DEFAULT_HOST, is_loopback, serve
    from app.server.http import MIB, Limits
    from app.server.keys import ApiKeyError, resolve_api_key

    data_dir = Path(args.data_dir).expanduser() if args.data_dir else paths.data_dir()
    if data_dir.exists() and not data_dir.is_dir():
        raise CliError(f"the library folder {data_dir} is a file, not a folder")
    try:
        key = resolve_api_key(data_dir, args.api_key_file, args.api_key)
    except ApiKeyError as exc:
        raise CliError(str(exc)) from None
    for warning in key.warnings:
        print(f"photoseek: warning: {warning}", file=sys.stderr)
    host = args.host or DEFAULT_HOST
    if not is_loopback(host):
        print(f"photoseek: warning: listening on {host}: other computers that can reach it may query and "
              "change this library (with the API key, sent in clear text over plain HTTP)", file=sys.stderr)
    limits = Limits(max_body=args.max_body_mb * MIB, max_import=args.max_import_mb * MIB)

    def listening(bound_host: str, port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"Photoseek serve: listening on http://{shown}:{port} (library {data_dir}; API key from "
              f"{key.source}). Ctrl+C stops.", flush=True)

    try:
        asyncio.run(serve(data_dir, key.value, host, args.port, limits, on_listening=listening))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise CliError(f"port {args.port} on {host} is already in use (another photoseek serve, or a "
                       "Typesense server?): choose another with --port") from None
    print("Photoseek serve: stopped; the library is saved.", flush=True)
    return EXIT_OK


def _port(text: str) -> int:
    return _bounded(text, 0, 65535, "a port")


def _mib(text: str) -> int:
    return _bounded(text, 1, 1 << 20, "a size in MiB")


def _bounded(text: str, low: int, high: int, what: str) -> Any:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} (a whole number), got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} is between {low} and {high}, got {value}")
    return value
