"""What every `photoseek serve` request goes through: the API key, body-size limits, and Typesense's error
bodies (``{"message": ...}`` with the engine error's status, 404 ``Not Found`` for an unknown route)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from app.engine.errors import TypesenseError

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Typesense's own answers, byte for byte where a client might compare them.
UNAUTHORIZED = "Forbidden - a valid `x-typesense-api-key` header must be sent."
NOT_FOUND = "Not Found"
BAD_JSON = "Bad JSON."
API_KEY_HEADER = "X-TYPESENSE-API-KEY"
API_KEY_PARAM = "x-typesense-api-key"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Limits:
    """Largest request bodies: imports (streamed, never held whole) and everything else (read whole)."""

    max_body: int = 64 * MIB
    max_import: int = 1024 * MIB


LIMITS_KEY = web.AppKey("limits", Limits)
API_KEY = web.AppKey("api_key", str)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def too_large_message(limit: int, what: str) -> str:
    if what == "import":
        flag, subject = "--max-import-mb", "an import"
    else:
        flag, subject = "--max-body-mb", "this request"
    return (f"The request body is larger than this server's limit of {limit // MIB} MiB for {subject} "
            f"(photoseek serve {flag}).")


def too_large(limit: int, what: str) -> web.Response:
    return error(413, too_large_message(limit, what))


def is_import(request: web.Request) -> bool:
    return request.method == "POST" and request.path.rstrip("/").endswith("/documents/import")


def _key_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get(API_KEY_HEADER) or request.query.get(API_KEY_PARAM) or ""
    # compare_digest: the time taken says nothing about how much of the key was right.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Like Typesense: an unknown route or method is a 404 before the key is looked at, and /health is open.
    if request.match_info.http_exception is not None:
        return error(404, NOT_FOUND)
    is_health = request.method == "GET" and request.path.rstrip("/") == "/health"
    if not is_health and not _key_ok(request, request.app[API_KEY]):
        return error(401, UNAUTHORIZED)
    limits = request.app[LIMITS_KEY]
    limit, what = (limits.max_import, "import") if is_import(request) else (limits.max_body, "body")
    if request.content_length is not None and request.content_length > limit:
        return too_large(limit, what)
    try:
        return await handler(request)
    except TypesenseError as exc:
        return error(exc.code, exc.message)
    except web.HTTPRequestEntityTooLarge:
        return too_large(limit, what)
    except web.HTTPException as exc:
        return error(exc.status, NOT_FOUND if exc.status in (404, 405) else exc.reason)
    except Exception as exc:  # a bug, not the request: say so, keep serving
        log.exception("Request %s %s failed", request.method, request.path)
        return error(500, f"Internal error: {type(exc).__name__}: {exc}")


async def json_body(request: web.Request) -> Any:
    """The request's JSON (bounded by the app's client_max_size); Typesense's "Bad JSON." otherwise."""
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(BAD_JSON) from None


class BadRequest(TypesenseError):
    code = 400


def query_params(request: web.Request) -> dict[str, Any]:
    """Query parameters as the engine takes them: text, as Typesense's HTTP API sends everything (the
    API key, when it came this way, is not one of them)."""
    return {k: v for k, v in request.query.items() if k != API_KEY_PARAM}
