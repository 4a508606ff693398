"""CLIP on the desktop for a library on a server: documents become vectors + metadata, queries vectors.

The same validation (app.engine.documents.prepare), models and fast path as the embedded engine; what
leaves this module for the server never holds an image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from app.engine.documents import EmbeddingError, Prepared, combine, parse_line, prepare
from app.engine.errors import RequestMalformed, TypesenseError
from app.engine.image_input import decode_base64
from app.engine.images import ImageError
from app.engine.schema import Schema
from app.engine.search import embedded_query  # the engine's own rules for image, text, combined
from app.engine.vector_query import VectorQuery

EmbedderFor = Callable[[dict], Any]  # model_config -> app.engine.embedder.Embedder
IMAGE_BATCH = 16


def content_id(data: bytes) -> str:
    """A photo's document id on a server: the sha1 of its bytes (as app.engine.files records a file's
    content hash), so two desktops importing the same file write the same document."""
    return hashlib.sha1(data).hexdigest()


def image_fields(schema: Schema) -> frozenset[str]:
    return frozenset(f["name"] for f in schema.fields if f["type"] == "image")


def server_documents(
    schema: Schema, docs: list[Any], embedder_for: EmbedderFor
) -> list[dict | TypesenseError]:
    """Each document (a dict or a line of JSON) as the server stores it (metadata and vectors), or the
    error that line gets."""
    prepared: list[Prepared | TypesenseError] = []
    for doc in docs:
        try:
            prepared.append(prepare(schema, parse_line(doc)))
        except TypesenseError as exc:
            prepared.append(exc)
    images: dict[int, dict[str, list[np.ndarray]]] = {}
    failed: dict[int, TypesenseError] = {}
    first_image: dict[int, bytes] = {}
    for spec in schema.embeds:
        items = [
            (i, data)
            for i, p in enumerate(prepared)
            if isinstance(p, Prepared)
            for fname, data in p.images
            if fname == spec.field
        ]
        if items:
            embedder = embedder_for(spec.model_config)
            for i, result in embedder.embed_image_stream(
                _decoded(items, first_image, failed), batch_size=IMAGE_BATCH
            ):
                if isinstance(result, ImageError):
                    failed.setdefault(i, EmbeddingError(f"Error while processing image: {result}"))
                elif result is not None:
                    images.setdefault(i, {}).setdefault(spec.field, []).append(result)
        texts = [i for i, p in enumerate(prepared) if isinstance(p, Prepared) and spec.field in p.texts]
        text_vectors: dict[int, np.ndarray] = {}
        if texts:
            out = embedder_for(spec.model_config).embed_texts([prepared[i].texts[spec.field] for i in texts])  # type: ignore[union-attr]
            text_vectors = dict(zip(texts, out, strict=True))
        for i, p in enumerate(prepared):
            found = images.get(i, {}).get(spec.field, [])
            if isinstance(p, Prepared) and (i in text_vectors or found):
                p.vectors[spec.field] = combine(text_vectors.get(i), found)
    unsent = image_fields(schema)
    out_docs: list[dict | TypesenseError] = []
    for i, p in enumerate(prepared):
        if isinstance(p, TypesenseError) or i in failed:
            out_docs.append(p if isinstance(p, TypesenseError) else failed[i])
            continue
        # A kept copy (store: true) is a Photoseek library's choice; a server library never holds one.
        body = {k: v for k, v in p.body.items() if k not in unsent}
        if "id" not in body and i in first_image:
            body["id"] = content_id(first_image[i])
        for fname, vector in p.vectors.items():
            body[fname] = [float(x) for x in vector]
        out_docs.append(body)
    return out_docs


def _decoded(
    items: list[tuple[int, bytes | str]], first: dict[int, bytes], failed: dict[int, TypesenseError]
) -> Iterator[tuple[int, bytes | None]]:
    """Base64 decoded here (the id needs the bytes); a value that is no base64 fails its line."""
    for i, data in items:
        try:
            raw = decode_base64(data) if isinstance(data, str) else bytes(data)
        except ImageError as exc:
            failed.setdefault(i, EmbeddingError(f"Error while processing image: {exc}"))
            yield i, None
            continue
        first.setdefault(i, raw)
        yield i, raw


def query_vector(
    schema: Schema,
    vq: VectorQuery,
    q: str,
    embedder_for: EmbedderFor,
    stored_vector: Callable[[str], np.ndarray],
) -> np.ndarray:
    """The vector a query searches with, computed as the embedded engine computes it
    (app.engine.search.query_vector); ``stored_vector(id)`` reads a document's vector from the server."""
    dims = schema.vector_fields.get(vq.field)
    if dims is None:
        raise RequestMalformed(f"Field `{vq.field}` does not have a vector query index.")
    if vq.values:
        if len(vq.values) != dims:
            raise RequestMalformed(
                f"Query field `{vq.field}` must have {dims} dimensions, but the query vector has "
                f"{len(vq.values)}."
            )
        return np.asarray(vq.values, dtype=np.float32)
    anchor = stored_vector(vq.id) if vq.id is not None else None
    needs_model = (
        vq.image is not None or vq.queries is not None or (anchor is None and q.strip() not in ("*", ""))
    )
    if not needs_model:
        if anchor is None:
            raise RequestMalformed("When a vector query value is empty, an `id` parameter must be present.")
        return anchor
    spec = next((e for e in schema.embeds if e.field == vq.field), None)
    if spec is None:
        raise RequestMalformed(
            f"Field `{vq.field}` has no model to embed the query with: pass a vector or an `id`."
        )
    return embedded_query(embedder_for(spec.model_config), vq, q, anchor)
