"""Turning an incoming document into what gets stored: validation, ids, embedding inputs.

Preparation is pure (no database, no model) so the importer can run it on a worker thread ahead of the
model. ``store: false`` values are separated out here and never reach a stored body.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.errors import RequestMalformed, TypesenseError
from app.engine.schema import Schema, check_value
from app.engine.vector_check import vector_problem

ACTIONS = ("create", "upsert", "update", "emplace")


class EmbeddingError(RequestMalformed):
    """A document's embedding could not be computed (bad image, ...); import lines carry it separately."""


@dataclass
class Prepared:
    """A validated document, ready for embedding and storage."""

    doc_id: str | None
    body: dict  # what is stored: store:false fields removed, embeddings excluded (they live in `vectors`)
    given: frozenset[str]  # fields present in the request, stored or not
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # explicit or computed, by field
    texts: dict[str, str] = field(default_factory=dict)  # embed field -> joined text to embed
    images: list[tuple[str, bytes | str]] = field(default_factory=list)  # (embed field, bytes or base64)


def parse_line(line: str | bytes | dict) -> dict:
    """One import line (or an already-parsed dict) as a document dict."""
    if isinstance(line, dict):
        return line
    if not isinstance(line, (str, bytes)):
        raise RequestMalformed(
            f"Bad JSON: not a properly formed document (a JSON object is needed, got {type(line).__name__})."
        )
    try:
        doc = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        # Typesense's "Bad JSON: " and its parser's words; these are Python's parser's.
        raise RequestMalformed(f"Bad JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise RequestMalformed("Bad JSON: not a properly formed document.")
    return doc


def public_view(schema: Schema, doc: dict) -> dict:
    """``doc`` without its store:false fields, for echoing back in responses."""
    hidden = schema.unstored
    return {k: v for k, v in doc.items() if k not in hidden}


def plain_vectors(schema: Schema, doc: dict) -> dict[str, np.ndarray]:
    """The document's vector fields that hold a flat list of floats, converted once (float64).

    Such a list can hold no text and no nesting, so the line check need not walk its hundreds of numbers,
    and ``prepare`` validates it from the array. Anything else (ints, text, nesting) is left out, and
    takes the element-by-element checks that name what is wrong.
    """
    found: dict[str, np.ndarray] = {}
    for fname in schema.vector_fields:
        value = doc.get(fname)
        if type(value) is list and value:
            try:
                arr = np.asarray(value)
            except (ValueError, TypeError):
                continue
            if arr.ndim == 1 and arr.dtype == np.float64:
                found[fname] = arr
    return found


def prepare(
    schema: Schema,
    doc: dict,
    *,
    partial: bool = False,
    touched: frozenset[str] | None = None,
    arrays: dict[str, np.ndarray] | None = None,
) -> Prepared:
    """Validate ``doc`` against ``schema``; raise a TypesenseError naming the problem.

    ``partial`` is for update/emplace of an existing document: ``doc`` is then the stored document merged
    with the update, and ``touched`` the fields the update sets; embeddings are recomputed only when one
    of their sources is touched. ``arrays`` are ``plain_vectors(schema, doc)``, when the caller has them.
    """
    arrays = arrays or {}
    doc_id = doc.get("id")
    if "id" in doc:
        # Typesense's order: an empty id first, then one that is not a string (null included).
        if doc_id == "":
            raise RequestMalformed("The `id` should not be empty.")
        if not isinstance(doc_id, str):
            raise RequestMalformed("Document's `id` field should be a string.")
    fields = schema.by_name
    unstored = schema.unstored
    embed_fields = {e.field: e for e in schema.embeds}
    # Field by field in name order, as Typesense checks them: the first wrong one is the one named.
    for fname, fdef in sorted(fields.items()):
        if fname == "id":
            continue
        value = doc.get(fname)
        if value is None:
            needed = not fdef["optional"] and fname not in embed_fields
            if needed and fname not in doc and not partial:
                raise RequestMalformed(
                    f"Field `{fname}` has been declared in the schema, but is not found in the document."
                )
            if value is None and fname in doc and not fdef["optional"] and fname not in embed_fields:
                check_value(fdef, value)  # Typesense's message: "Field `x` must be a string.", say
                raise RequestMalformed(f"Field `{fname}` must not be null: it is not optional.")
            continue
        arr = arrays.get(fname)
        if arr is not None and len(arr) == fdef.get("num_dim", len(arr)) and np.isfinite(arr).all():
            continue  # what check_value asks of a float[] (numbers, finite, num_dim of them), in one go
        if str(fdef["type"]).endswith("[]") and not isinstance(value, list):
            raise RequestMalformed(f"Field `{fname}` must be an array.")
        check_value(fdef, value)
    # Vectors live in their own table (and the index); keeping them out of the JSON body halves its size.
    vector_fields = schema.vector_fields
    # A declared field set to null is left out, as Typesense leaves it out (an update removes it that way);
    # an undeclared one is kept as null, as there.
    body = {
        k: v
        for k, v in doc.items()
        if k not in unstored and k not in vector_fields and not (v is None and k in fields and k != "id")
    }
    if doc_id is not None:
        body["id"] = doc_id
    for fname, value in body.items():
        if isinstance(value, bytes) and fields.get(fname, {}).get("type") == "image":
            # Python callers may pass raw bytes; a stored image is kept as base64, as Typesense keeps it.
            body[fname] = base64.b64encode(value).decode("ascii")
    check_storable(body)
    prepared = Prepared(doc_id=doc_id, body=body, given=frozenset(k for k, v in doc.items() if v is not None))
    for fname, vector_dims in schema.vector_fields.items():
        value = doc.get(fname)
        if value is not None and fname not in unstored:
            prepared.vectors[fname] = _as_vector(fname, arrays.get(fname, value), vector_dims)
    for spec in embed_fields.values():
        if spec.field in prepared.vectors:
            continue  # the caller supplied the embedding itself
        if partial and touched is not None and not any(src in touched for src in spec.sources):
            continue  # untouched by this update: the stored embedding stays
        _collect_embed_inputs(prepared, spec.field, spec.sources, doc, fields, unstored, partial)
    return prepared


def check_storable(body: dict) -> None:
    """Raise a 400 naming the field unless SQLite can store ``body`` as JSON text and read it back.

    Python's json writes NaN and Infinity, which are not JSON: SQLite's json functions then fail on the
    row, and with it every rescan and listing that reads it. Lone surrogates are valid in Python strings
    but not in UTF-8, which SQLite stores.
    """
    for key, value in body.items():
        try:
            json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            raise RequestMalformed(f"Field `{key}` holds text that is not valid Unicode.") from None
        except ValueError:
            raise RequestMalformed(
                f"Field `{key}` holds NaN or an infinite number, which JSON cannot store."
            ) from None
        except RecursionError:
            raise RequestMalformed(f"Field `{key}` is nested too deeply to store.") from None
        except TypeError as exc:
            raise RequestMalformed(
                f"Field `{key}` holds a value that cannot be stored as JSON: {exc}."
            ) from None
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise RequestMalformed("A field name is not valid Unicode.") from None


def _as_vector(fname: str, value: list | np.ndarray, dims: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        vec = np.asarray(value, dtype=np.float32)
    if vec.shape != (dims,):
        raise RequestMalformed(f"Field `{fname}` must have {dims} dimensions.")
    # Caught here, before the write, in the index's own terms: a stored vector the index refused would
    # break every rebuild of it.
    problem = vector_problem(vec)
    if problem is not None:
        raise RequestMalformed(f"Field `{fname}` {problem}.")
    return vec


def _collect_embed_inputs(
    prepared: Prepared,
    target: str,
    sources: tuple[str, ...],
    doc: dict,
    fields: dict[str, dict],
    unstored: frozenset[str],
    partial: bool,
) -> None:
    texts: list[str] = []
    missing: list[str] = []
    for src in sources:
        value = doc.get(src)
        if value is None:
            missing.append(src)
            continue
        if fields[src]["type"] == "image":
            # Base64 text is decoded by the embedder's decode threads, in parallel; a bad string comes
            # back from there as this line's "Error while processing image".
            prepared.images.append((target, value))
        elif isinstance(value, list):
            texts.extend(str(v) + " " for v in value)
        else:
            texts.append(str(value) + " ")
    if partial and any(m in unstored for m in missing):
        # The stored document lacks the unstored inputs, so the embedding cannot be recomputed.
        raise RequestMalformed(
            "One or more of the fields to embed is missing in the both the old and new documents"
        )
    if len(missing) == len(sources):
        raise EmbeddingError(f"Field `{missing[0]}` is needed to create embedding.")
    if texts:
        prepared.texts[target] = "".join(texts)


def combine(text_vector: np.ndarray | None, image_vectors: list[np.ndarray]) -> np.ndarray:
    """Typesense's multi-field embedding: the element-wise mean of one text and each image embedding."""
    parts = ([text_vector] if text_vector is not None else []) + image_vectors
    return np.mean(np.stack(parts), axis=0).astype(np.float32)


def error_result(exc: TypesenseError) -> dict:
    result: dict[str, Any] = {"code": exc.code, "error": exc.message, "success": False}
    if isinstance(exc, EmbeddingError):
        result["embedding_error"] = {"error": exc.message}
    return result
