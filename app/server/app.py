"""`photoseek serve`'s aiohttp application and its life: start, listen, and stop cleanly on Ctrl+C or
SIGTERM (requests in flight finish, then the Engine is closed on its own thread and its index files saved).

aiohttp was chosen for the server: mature and well kept, asyncio-native (many slow clients cost no
threads), it streams request bodies (an import is read a piece at a time) and needs no separate server
process such as uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from app.server.http import API_KEY, LIMITS_KEY, Limits, guard
from app.server.routes import WORKER, add_routes
from app.server.worker import EngineWorker

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8108
SHUTDOWN_GRACE_SECONDS = 30.0
# The request line's limit (aiohttp's default is 8 KiB): a raw 1024-d vector in a GET search's query
# string is about 10 KB. Typesense refuses query strings over 4,000 characters; here they just work.
MAX_REQUEST_LINE = 256 * 1024


def build_app(worker: EngineWorker, api_key: str, limits: Limits) -> web.Application:
    # client_max_size bounds every body read whole; imports are read in pieces and bounded as they come.
    app = web.Application(middlewares=[guard], client_max_size=limits.max_body)
    app[WORKER] = worker
    app[API_KEY] = api_key
    app[LIMITS_KEY] = limits
    add_routes(app)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(
    data_dir: Path,
    api_key: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    limits: Limits | None = None,
    on_listening: Callable[[str, int], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; ``on_listening(host, port)`` is told the port actually bound."""
    loop = asyncio.get_running_loop()
    worker = await loop.run_in_executor(None, EngineWorker, data_dir)
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows: Ctrl+C raises
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    runner = web.AppRunner(build_app(worker, api_key, limits or Limits()), handle_signals=False,
                           access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
                           max_line_size=MAX_REQUEST_LINE)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        if on_listening is not None:
            bound = runner.addresses[0]
            on_listening(host, int(bound[1]))
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        await loop.run_in_executor(None, worker.close)
