"""Typesense's routes over the engine's client objects: collections, documents, search, multi_search.

Each handler parses the HTTP request here, on the event loop, and hands one closure to the engine's
thread; collection names and document ids are passed on as data (the engine never makes paths of them).
Imports stream and live in ``app.server.importing``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from app.server.http import BadRequest, json_body, query_params
from app.server.worker import EngineWorker

WORKER = web.AppKey("worker", EngineWorker)
WRITE_ACTIONS = ("create", "upsert", "update", "emplace")


def _ok(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _worker(request: web.Request) -> EngineWorker:
    return request.app[WORKER]


def _name(request: web.Request) -> str:
    return request.match_info["name"]


async def health(request: web.Request) -> web.Response:
    return _ok({"ok": True})


async def list_collections(request: web.Request) -> web.Response:
    return _ok(await _worker(request).call(lambda e: e.collections.retrieve()))


def _no_server_paths(schema: Any) -> None:
    """A schema from the network may not name a weights file: `model_config.model_path` would have the
    engine open any path on this computer (and say whether it exists) for whoever holds the key."""
    fields = schema.get("fields") if isinstance(schema, dict) else None
    for fdef in fields if isinstance(fields, list) else []:
        embed = fdef.get("embed") if isinstance(fdef, dict) else None
        config = embed.get("model_config") if isinstance(embed, dict) else None
        if isinstance(config, dict) and "model_path" in config:
            raise BadRequest(
                "`model_config.model_path` is not accepted over HTTP: a request may not name files on the "
                "server's computer. Install the weights on it (`photoseek model install FILE`) and give "
                "`model_name` only.")


async def create_collection(request: web.Request) -> web.Response:
    schema = await json_body(request)
    _no_server_paths(schema)
    return _ok(await _worker(request).call(lambda e: e.collections.create(schema)), 201)


async def get_collection(request: web.Request) -> web.Response:
    name = _name(request)
    return _ok(await _worker(request).call(lambda e: e.collections[name].retrieve()))


async def delete_collection(request: web.Request) -> web.Response:
    name = _name(request)
    return _ok(await _worker(request).call(lambda e: e.collections[name].delete()))


async def update_collection(request: web.Request) -> web.Response:
    name, changes = _name(request), await json_body(request)
    return _ok(await _worker(request).call(lambda e: e.collections[name].update(changes)))


async def write_document(request: web.Request) -> web.Response:
    """POST /collections/:name/documents with ``action`` create (default), upsert, update or emplace."""
    name, document = _name(request), await json_body(request)
    params = query_params(request)
    action = params.get("action", "create")
    if action not in WRITE_ACTIONS:
        raise BadRequest("Parameter `action` must be a create|update|upsert.")

    # One document by its id, whatever else the query says: Typesense ignores `filter_by` here, and
    # passed on it would turn this write into an update of every document the filter matches.
    one = {k: v for k, v in params.items() if k != "filter_by"}

    def write(engine: Any) -> dict:
        docs = engine.collections[name].documents
        if action == "emplace":
            return _emplace(docs, document, one)
        return getattr(docs, action)(document, one)

    return _ok(await _worker(request).call(write), 201)


def _emplace(docs: Any, document: Any, params: dict) -> dict:
    # The engine's client has no single-document emplace: a one-line import does it with the same rules.
    from app.engine.errors import error_for

    (result,) = docs.import_([document], {**params, "action": "emplace", "return_id": True})
    if not result.get("success"):
        raise error_for(int(result.get("code", 400)), str(result.get("error", "The document was refused.")))
    return docs[result["id"]].retrieve()


async def delete_by_filter(request: web.Request) -> web.Response:
    name, params = _name(request), query_params(request)
    return _ok(await _worker(request).call(lambda e: e.collections[name].documents.delete(params)))


async def update_by_filter(request: web.Request) -> web.Response:
    """PATCH /collections/:name/documents?filter_by=... (newer Typesense; the official client's
    ``documents.update``): ``{"num_updated": n}``."""
    name, changes, params = _name(request), await json_body(request), query_params(request)
    return _ok(await _worker(request).call(lambda e: e.collections[name].documents.update(changes, params)))


async def get_document(request: web.Request) -> web.Response:
    name, doc_id, params = _name(request), request.match_info["id"], query_params(request)
    return _ok(await _worker(request).call(lambda e: e.collections[name].documents[doc_id].retrieve(params)))


async def update_document(request: web.Request) -> web.Response:
    name, doc_id = _name(request), request.match_info["id"]
    changes, params = await json_body(request), query_params(request)
    return _ok(await _worker(request).call(
        lambda e: e.collections[name].documents[doc_id].update(changes, params)), 201)


async def delete_document(request: web.Request) -> web.Response:
    name, doc_id, params = _name(request), request.match_info["id"], query_params(request)
    return _ok(await _worker(request).call(lambda e: e.collections[name].documents[doc_id].delete(params)))


EXPORT_PAGE = 500  # documents per engine job: about 5 MB of JSONL with 512-d vectors


async def export_documents(request: web.Request) -> web.StreamResponse:
    """Sent a page at a time: a large library's export never sits whole in memory, and searches queued
    meanwhile are answered between pages. The first page is read before the answer starts, so a missing
    collection or a bad filter gets its own status."""
    name, params = _name(request), query_params(request)

    def page(after: int) -> Any:
        return lambda e: e.collections[name].documents.export_page(params, after, EXPORT_PAGE)

    text, after = await _worker(request).call(page(0))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    await response.prepare(request)
    separator = b""
    while True:
        if text:
            await response.write(separator + text.encode("utf-8"))
            separator = b"\n"
        if after is None:
            break
        text, after = await _worker(request).call(page(after))
    await response.write_eof()
    return response


async def search(request: web.Request) -> web.Response:
    """GET (the official clients' way; parameters in the query string) or POST with a JSON object body."""
    name, params = _name(request), query_params(request)
    if request.method == "POST":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("The search parameters must be a JSON object.")
        params = {**body, **params}
    return _ok(await _worker(request).call(lambda e: e.collections[name].documents.search(params)))


async def multi_search(request: web.Request) -> web.Response:
    body, common = await json_body(request), query_params(request)
    if not isinstance(body, dict) or not isinstance(body.get("searches"), list):
        raise BadRequest("Missing `searches` array.")
    return _ok(await _worker(request).call(lambda e: e.multi_search.perform(body, common)))


def add_routes(app: web.Application) -> None:
    from app.server.importing import import_documents

    docs = "/collections/{name}/documents"
    routes = [
        ("GET", "/health", health),
        ("GET", "/collections", list_collections),
        ("POST", "/collections", create_collection),
        ("GET", "/collections/{name}", get_collection),
        ("DELETE", "/collections/{name}", delete_collection),
        ("PATCH", "/collections/{name}", update_collection),
        ("POST", docs, write_document),
        ("DELETE", docs, delete_by_filter),
        ("PATCH", docs, update_by_filter),
        # Fixed segments before "{id}": the router takes the first resource whose path and method both
        # match, so DELETE .../documents/import is the document "import", as on Typesense.
        ("POST", docs + "/import", import_documents),
        ("GET", docs + "/export", export_documents),
        ("GET", docs + "/search", search),
        ("POST", docs + "/search", search),
        ("GET", docs + "/{id}", get_document),
        ("PATCH", docs + "/{id}", update_document),
        ("DELETE", docs + "/{id}", delete_document),
        ("POST", "/multi_search", multi_search),
    ]
    for method, path, handler in routes:
        # The official Python client asks for ".../documents/" (a trailing slash), which Typesense takes.
        for variant in (path, path + "/"):
            app.router.add_route(method, variant, handler)


def dumps_line(result: Any) -> str:
    """One import result line, compact like Typesense's."""
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False)
