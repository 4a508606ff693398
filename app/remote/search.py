"""One Photoseek search against a Typesense 0.24 server, answered in the engine's result shape.

The server has raw-vector queries only: text (``q`` on an embedding field), ``image:``, ``queries:`` and
``id:`` queries are turned into a vector here (app.remote.embedding) and sent in multi_search POST bodies
(a 512-d vector does not fit the 4,000 characters of a GET query string).

``id:`` ("find similar") searches with the photo's stored vector and leaves the photo out: one more hit
is asked for so that a page stays full. ``distance_threshold`` (not in 0.24) is applied here: as the
engine does, a vector search asks for the nearest ``page x per_page`` hits (``k``), and here all of those
come back, so that hits beyond the threshold are dropped and ``found`` counts the hits that remain, as
the engine counts them. Facet counts (``facet_by``) of a vector search are the server's, over its hits
before the threshold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from app.engine.errors import ObjectNotFound, ObjectUnprocessable, RequestMalformed
from app.engine.schema import Schema
from app.engine.vector_query import VectorQuery, parse_vector_query
from app.remote.connection import Connection, raise_line_error
from app.remote.embedding import EmbedderFor, query_vector
from app.remote.fusion import HYBRID_VECTOR_HITS, fuse

SERVER_PAGE = 250  # the most hits Typesense gives per page
MAX_PER_PAGE = 250


def _count(params: dict, key: str, default: int) -> int:
    value = params.get(key, default)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RequestMalformed(f"Parameter `{key}` must be an unsigned integer.")
    return value


def _fields(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value] if isinstance(value, list) else []


class RemoteSearch:
    """Searches of one collection; ``schema`` is its Photoseek schema (None for a plain server collection,
    whose searches go through unchanged)."""

    def __init__(self, conn: Connection, name: str, schema: Schema | None, embedder_for: EmbedderFor) -> None:
        self.conn = conn
        self.name = name
        self.schema = schema
        self.embedder_for = embedder_for

    def _send(self, params: dict) -> dict:
        body = {"searches": [{**params, "collection": self.name}]}
        answer = self.conn.call(lambda client: client.multi_search.perform(body, {}))
        return raise_line_error(answer["results"][0])

    def stored_vector(self, field: str) -> Callable[[str], np.ndarray]:
        def read(doc_id: str) -> np.ndarray:
            try:
                doc = self.conn.call(lambda c: c.collections[self.name].documents[doc_id].retrieve())
            except ObjectNotFound:
                raise RequestMalformed("Document id referenced in vector query is not found.") from None
            if not isinstance(doc.get(field), list):
                raise RequestMalformed("Document id referenced in vector query is not found.")
            return np.asarray(doc[field], dtype=np.float32)

        return read

    def search(self, params: dict) -> dict:
        started = time.perf_counter()
        if not isinstance(params, dict):
            raise RequestMalformed(f"The search parameters must be an object, got {type(params).__name__}.")
        if self.schema is None:
            return self._send(params)
        q = params.get("q")
        if not isinstance(q, str):
            raise RequestMalformed(
                "Parameter `q` is required." if q is None else "Parameter `q` must be a string."
            )
        per_page, page = _count(params, "per_page", 10), _count(params, "page", 1)
        if per_page > MAX_PER_PAGE:
            raise ObjectUnprocessable(f"Only upto {MAX_PER_PAGE} hits can be fetched per page.")
        if page == 0:
            raise ObjectUnprocessable("Page must be an integer of value greater than 0.")
        embed_fields = {e.field for e in self.schema.embeds}
        query_by = _fields(params.get("query_by"))
        text_by = [f for f in query_by if f not in embed_fields]
        wildcard = q.strip() in ("*", "")
        vq = parse_vector_query(params["vector_query"]) if params.get("vector_query") else None
        targets = [f for f in query_by if f in embed_fields]
        if not wildcard and targets:
            if vq is None:
                vq = VectorQuery(field=targets[0])
            elif vq.field in targets and not (vq.values or vq.queries) and vq.image is None:
                if vq.id is not None:
                    self.stored_vector(vq.field)(vq.id)  # the engine's 400 for a missing id
                vq = replace(vq, id=None)  # `q` is the query; the vector_query only brings options
        sent = {k: v for k, v in params.items() if k not in ("vector_query", "query_by", "page", "per_page")}
        if vq is None:
            if query_by:
                sent["query_by"] = ",".join(query_by)
            return self._send({**sent, "page": page, "per_page": per_page})
        if text_by:
            sent["query_by"] = ",".join(text_by)  # a hybrid search (app.remote.fusion)
        else:
            sent["q"] = "*"
        vector = query_vector(self.schema, vq, q, self.embedder_for, self.stored_vector(vq.field))
        window = page * per_page
        include = _fields(sent.get("include_fields"))
        if include and "id" not in include:
            sent["include_fields"] = ",".join([*include, "id"])  # the hits are told apart by id here
        if text_by:
            fetch = window if vq.k is not None else max(window, HYBRID_VECTOR_HITS)
            hits, _, answer = self._vector_hits({**sent, "q": "*"}, vq, vector, fetch)
            keyword = self._send({**sent, "page": 1, "per_page": SERVER_PAGE})
            hits = fuse(keyword.get("hits", []), hits, vq.alpha)
            found, answer = len(hits), {**answer, "facet_counts": keyword.get("facet_counts", [])}
        else:
            hits, found, answer = self._vector_hits(sent, vq, vector, window)
        if include and "id" not in include:
            for hit in hits:
                hit.get("document", {}).pop("id", None)
        return {
            **answer,
            "found": found,
            "hits": hits[(page - 1) * per_page : window],
            "page": page,
            "request_params": {"collection_name": self.name, "first_q": q, "per_page": per_page, "q": q},
            "search_time_ms": round((time.perf_counter() - started) * 1000),
        }

    def _vector_hits(
        self, sent: dict, vq: VectorQuery, vector: np.ndarray, window: int
    ) -> tuple[list[dict], int, dict]:
        """The nearest ``window`` hits (``k`` of the vector query when it sets one), the photo itself and
        those beyond the threshold left out; how many were found; the first server answer."""
        extra = 1 if vq.id is not None else 0  # the photo itself, left out below
        k = (vq.k if vq.k is not None else window) + extra
        wanted = min(window + extra, k)
        values = ", ".join(format(float(x), ".9g") for x in vector)
        sent = {**sent, "vector_query": f"{vq.field}:([{values}], k:{max(k, 1)})"}
        hits: list[dict] = []
        first: dict | None = None
        server_page = 1
        while True:
            size = min(SERVER_PAGE, max(wanted - len(hits), 0))
            answer = self._send({**sent, "page": server_page, "per_page": size})
            first = first or answer
            hits += answer.get("hits", [])
            if size == 0 or len(hits) >= wanted or len(answer.get("hits", [])) < size:
                break
            server_page += 1
        found = int(first.get("found", 0))
        kept = [h for h in hits if vq.id is None or str(h.get("document", {}).get("id")) != vq.id]
        found -= len(hits) - len(kept)
        if vq.distance_threshold is not None:
            near = [h for h in kept if h.get("vector_distance", 0.0) <= vq.distance_threshold]
            if len(near) < len(kept) or len(kept) >= found:
                found = len(near)  # the cut fell inside what came back: the count is exact
            kept = near
        limit = vq.k if vq.k is not None else window
        return kept[:limit], max(0, min(found, limit)), first
