"""POST /collections/:name/documents/import, streamed both ways.

The body is read a piece at a time and cut into JSONL lines; every 64 lines (or about 1 MB) go to the
engine's thread as one job, while the next chunk is read from the network. Searches that arrive during an
import queue between those jobs, so they are answered while it runs; each chunk's per-line results are
written back as soon as it is done. A multi-GB import never sits in memory: at most two chunks do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientError, StreamReader, web

from app.engine.errors import TypesenseError
from app.server.http import LIMITS_KEY, Limits, too_large, too_large_message
from app.server.http import query_params as _query_params
from app.server.routes import WORKER, dumps_line

log = logging.getLogger(__name__)

CHUNK_LINES = 64
CHUNK_BYTES = 1024 * 1024

# A chunk holds, in body order, a line of text for the engine or the result of a line that never reached it.
Chunk = list[Any]


class BodyTooLarge(Exception):
    def __init__(self, limit: int, what: str) -> None:
        super().__init__(what)
        self.limit, self.what = limit, what


async def _lines(content: StreamReader, limits: Limits) -> AsyncIterator[Chunk]:
    buffer = bytearray()
    total = 0
    chunk: Chunk = []
    chunk_bytes = 0
    while True:
        piece = await content.readany()
        total += len(piece)
        if total > limits.max_import:
            raise BodyTooLarge(limits.max_import, "import")
        if not piece:  # end of the body: what is left is the last line
            complete, buffer = [bytes(buffer)], bytearray()
        elif b"\n" not in piece:  # inside a long line (a photo in base64): only the new bytes are looked at
            buffer += piece
            complete = []
        else:
            head, *complete, rest = piece.split(b"\n")
            complete.insert(0, bytes(buffer + head))
            buffer = bytearray(rest)
        if len(buffer) > limits.max_body:  # one line (one document) is bounded like any other request
            raise BodyTooLarge(limits.max_body, "body")
        for raw in complete:
            if not raw.strip():
                continue
            chunk.append(_decoded(raw))
            chunk_bytes += len(raw)
            if len(chunk) >= CHUNK_LINES or chunk_bytes >= CHUNK_BYTES:
                yield chunk
                chunk, chunk_bytes = [], 0
        if not piece:
            break
    if chunk:
        yield chunk


def _decoded(raw: bytes) -> Any:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"code": 400, "document": raw[:200].decode("utf-8", "replace"), "success": False,
                "error": f"The line is not UTF-8 text (byte {exc.start})."}


def _import(worker_call: Any, name: str, chunk: Chunk, params: dict) -> Any:
    texts = [item for item in chunk if isinstance(item, str)]

    def run(engine: Any) -> list[Any]:
        if not texts:  # an empty body (the engine, like the client, refuses an empty list): 404 or nothing
            engine.collections[name].retrieve()
            return list(chunk)
        results = iter(engine.collections[name].documents.import_(texts, params))
        return [next(results) if isinstance(item, str) else item for item in chunk]

    return worker_call(run)


async def import_documents(request: web.Request) -> web.StreamResponse:
    name, params = request.match_info["name"], _query_params(request)
    worker, limits = request.app[WORKER], request.app[LIMITS_KEY]
    chunks = _lines(request.content, limits).__aiter__()
    try:
        first: Chunk = await anext(chunks, [])
    except BodyTooLarge as exc:
        return too_large(exc.limit, exc.what)
    # The first chunk runs before the answer starts: an unknown collection, a bad action or batch_size gets
    # its own status, as on Typesense, rather than an error on every line of a 200.
    results = await _import(worker.call, name, first, params)
    response = web.StreamResponse(status=200)
    response.content_type, response.charset = "text/plain", "utf-8"
    await response.prepare(request)
    try:
        started = await _write(response, results, started=False)
        await _stream_rest(response, chunks, worker.call, name, params, started)
        await response.write_eof()
    except ConnectionError:
        # The client went away: what was imported stays imported; nothing more is read or written.
        log.info("An import into %s ended early: the client disconnected", name)
    return response


async def _stream_rest(
    response: web.StreamResponse, chunks: AsyncIterator[Chunk], call: Any, name: str, params: dict,
    started: bool,
) -> None:
    read = asyncio.ensure_future(anext(chunks, None))
    try:
        while True:
            try:
                chunk = await read
            except BodyTooLarge as exc:
                line = {"code": 413, "error": too_large_message(exc.limit, exc.what), "success": False}
                await _write(response, [line], started)
                return
            except (ClientError, asyncio.IncompleteReadError) as exc:  # the body broke off
                raise ConnectionResetError(str(exc)) from exc
            if chunk is None:
                return
            # The next chunk is read from the network while the engine imports this one.
            read = asyncio.ensure_future(anext(chunks, None))
            try:
                results = await _import(call, name, chunk, params)
            except Exception as exc:  # the answer has started: every line of the chunk says what happened
                if not isinstance(exc, TypesenseError):
                    log.exception("Importing a chunk into %s failed", name)
                code = getattr(exc, "code", 500)
                message = getattr(exc, "message", f"Internal error: {type(exc).__name__}: {exc}")
                results = [{"code": code, "error": message, "success": False}] * len(chunk)
            started = await _write(response, results, started)
    finally:
        if not read.done():
            read.cancel()


async def _write(response: web.StreamResponse, results: list[Any], started: bool) -> bool:
    if not results:
        return started
    text = "\n".join(dumps_line(r) for r in results)
    await response.write((("\n" if started else "") + text).encode("utf-8"))
    return True
