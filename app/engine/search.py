"""One search request against one collection, answered in Typesense's result shape."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from app.engine.collection import Collection
from app.engine.errors import ObjectNotFound, ObjectUnprocessable, RequestMalformed
from app.engine.facets import parse_facet_request
from app.engine.filter_by import parse_filter
from app.engine.images import ImageError, decode_base64
from app.engine.keyword import highlights, keyword_hits
from app.engine.sort_by import TEXT_MATCH, VECTOR_DISTANCE, SortKey, default_keys, parse_sort_by, sort_hits
from app.engine.tokens import Tokenizer, tokenizer_for
from app.engine.vector_query import VectorQuery, parse_vector_query
from app.engine.vector_search import AllowedLabels, search_allowed

MAX_PER_PAGE = 250
# Filters remembered per collection: each up to one int per document, plus for a selective filter its
# documents' vectors (at most flat.FLAT_MAX_BYTES each).
FILTER_CACHE_SIZE = 4
DEFAULT_ALPHA = 0.3
# How many nearest neighbours a hybrid search fuses with the keyword matches when vector_query sets no `k`:
# as many as Typesense keeps of the keyword side (its default topster size), and at least the page's end,
# so that page 2 is fused from the same lists as page 1 and a keyword match does not crowd the vector
# side out of the ranking by appearing in a list ten times as long.
HYBRID_VECTOR_HITS = 250
UINT32_MAX = 2**32 - 1  # Typesense parses page, per_page and vector_query's counts as uint32
# ASCII only: str.isdigit() also takes "²", which int() then refuses.
_DIGITS = re.compile(r"[0-9]+")
# Typed here because Photoseek reads them (or, for sort_by, because a wrong type is a caller's bug that
# silently ignoring the parameter would hide).
_STRING_PARAMS = ("filter_by", "sort_by")


def _uint_param(params: dict, key: str, default: int) -> int:
    """A count as Typesense reads it: a uint32, given as a number or as digits (its HTTP API is text)."""
    value = params.get(key, default)
    # Length first: int() of thousands of digits is a ValueError (and slow), not a count.
    if isinstance(value, str) and len(value.strip()) <= 20 and _DIGITS.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT32_MAX:
        raise RequestMalformed(f"Parameter `{key}` must be an unsigned integer.")
    return value


def _field_list(params: dict, key: str) -> list[str]:
    value = params.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise RequestMalformed(f"Parameter `{key}` must be a comma-separated string of field names.")


def _check_strings(params: dict) -> None:
    for key in _STRING_PARAMS:
        if params.get(key) is not None and not isinstance(params[key], str):
            raise RequestMalformed(f"Parameter `{key}` must be a string.")


def search(coll: Collection, params: dict) -> dict:
    started = time.perf_counter()
    if not isinstance(params, dict):
        raise RequestMalformed(f"The search parameters must be an object, got {type(params).__name__}.")
    q = params.get("q")
    if q is None:
        raise RequestMalformed("Parameter `q` is required.")
    if not isinstance(q, str):
        raise RequestMalformed("Parameter `q` must be a string.")
    _check_strings(params)
    per_page = _uint_param(params, "per_page", 10)
    if per_page > MAX_PER_PAGE:
        raise ObjectUnprocessable(f"Only upto {MAX_PER_PAGE} hits can be fetched per page.")
    page = _uint_param(params, "page", 1)
    if page == 0:
        raise ObjectUnprocessable("Page must be an integer of value greater than 0.")
    schema_fields = coll.schema.by_name
    # Parsed before anything else runs so a bad filter fails fast, before any model is loaded.
    tokenizer = tokenizer_for(coll.schema.extra)
    # A blank filter is no filter, as in Typesense.
    filter_text = params["filter_by"] if params.get("filter_by") and params["filter_by"].strip() else None
    matches = parse_filter(filter_text, schema_fields, tokenizer) if filter_text else None
    facets = parse_facet_request(params, schema_fields)
    sort_text = params.get("sort_by")
    sort_keys = parse_sort_by(sort_text, schema_fields) if sort_text and sort_text.strip() else None
    query_by = _field_list(params, "query_by")
    for fname in query_by:
        if fname not in schema_fields:
            raise ObjectNotFound(f"Could not find a field named `{fname}` in the schema.")
    vector_fields = coll.schema.vector_fields
    embed_fields = {e.field for e in coll.schema.embeds}
    text_fields = [f for f in query_by if schema_fields[f]["type"] in ("string", "string[]")]
    wildcard = q.strip() in ("*", "")
    if not wildcard and not query_by:
        raise RequestMalformed("No search fields specified for the query.")
    for fname in query_by:
        if fname not in text_fields and fname not in embed_fields:
            raise RequestMalformed(f"Field `{fname}` should be a string or a string array.")

    vq: VectorQuery | None = None
    if params.get("vector_query"):
        vq = parse_vector_query(params["vector_query"])
        if vq.field not in vector_fields:
            raise RequestMalformed(f"Field `{vq.field}` does not have a vector query index.")
    if not wildcard:
        targets = [f for f in query_by if f in embed_fields]
        if vq is None and targets:
            vq = VectorQuery(field=targets[0])
        elif vq is not None and vq.field in targets and not (vq.values or vq.queries) and vq.image is None:
            # `q` embedded by a query_by field is the query, as in Typesense; the vector_query (an `id`
            # among them) then only brings its options (k, alpha, distance_threshold...).
            if vq.id is not None and coll.db.label_of(coll.id, vq.id) is None:
                raise RequestMalformed("Document id referenced in vector query is not found.")
            vq = replace(vq, id=None)
    if sort_keys and vq is None and any(k.field == VECTOR_DISTANCE for k in sort_keys):
        raise ObjectNotFound(f"Could not find a field named `{VECTOR_DISTANCE}` in the schema for sorting.")

    window = page * per_page
    make_hit = _hit_maker(coll, params, "" if wildcard else q, text_fields, tokenizer)
    ranked: list[dict] | None = None  # stays None for a listing, whose facets count every match
    allowed: AllowedLabels | None = None
    if matches is not None and (vq is not None or not wildcard):
        allowed = _matching_labels(coll, matches, params["filter_by"])
    if vq is not None:
        hybrid = bool(text_fields) and not wildcard
        fetch = window if not hybrid or vq.k is not None else max(window, HYBRID_VECTOR_HITS)
        ranked = _vector_hits(coll, vq, q, fetch, allowed)
        if hybrid:
            alpha = vq.alpha if vq.alpha is not None else DEFAULT_ALPHA
            words = keyword_hits(coll.db.all_bodies(coll.id), q, text_fields, tokenizer)
            keyword = _only_allowed(words, allowed)
            ranked = _fuse(ranked, keyword, alpha, coll, vq.field)
        if sort_keys:
            ranked = _sorted(coll, ranked, sort_keys)
        found = len(ranked)
        chosen = ranked[(page - 1) * per_page : window]
        labels = [h["label"] for h in chosen]
        bodies = coll.db.bodies(labels)
        hits = [make_hit(h["label"], bodies[h["label"]], h) for h in chosen if h["label"] in bodies]
    elif not wildcard:
        ranked = _only_allowed(keyword_hits(coll.db.all_bodies(coll.id), q, text_fields, tokenizer), allowed)
        keys = sort_keys or [SortKey(TEXT_MATCH, True), *default_keys(coll.schema.default_sorting_field)]
        if sort_keys or coll.schema.default_sorting_field:
            ranked = _sorted(coll, ranked, keys)
        found = len(ranked)
        chosen = ranked[(page - 1) * per_page : window]
        bodies = coll.db.bodies([h["label"] for h in chosen])
        hits = [make_hit(h["label"], bodies[h["label"]], h) for h in chosen]
    elif sort_keys or coll.schema.default_sorting_field:
        # A sorted listing reads every matching body: the order needs their values.
        keys = sort_keys or default_keys(coll.schema.default_sorting_field)
        rows_all = coll.db.all_bodies(coll.id)
        bodies_all = {label: body for label, body in rows_all if matches is None or matches(body)}
        listed = sort_hits([{"label": label} for label in bodies_all], keys, bodies_all, schema_fields)
        found, offset = len(listed), (page - 1) * per_page
        hits = [make_hit(h["label"], bodies_all[h["label"]], {}) for h in listed[offset : offset + per_page]]
    elif matches is not None:
        matched = _matching_labels(coll, matches, params["filter_by"]).newest_first
        found, offset = len(matched), (page - 1) * per_page
        shown = coll.db.bodies(matched[offset : offset + per_page])
        rows = [(label, shown[label]) for label in matched[offset : offset + per_page] if label in shown]
        hits = [make_hit(label, body, {}) for label, body in rows]
    else:
        found = coll.count()
        rows = coll.db.newest(coll.id, per_page, (page - 1) * per_page)
        hits = [make_hit(label, body, {}) for label, body in rows]
    facet_counts: list[dict] = []
    if facets is not None:
        if ranked is None:
            matching = (b for _, b in coll.db.all_bodies(coll.id) if matches is None or matches(b))
            facet_counts = facets.count(matching)
        else:
            facet_counts = facets.count(coll.db.bodies([h["label"] for h in ranked]).values())
    return {
        "facet_counts": facet_counts,
        "found": found,
        "hits": hits,
        "out_of": coll.count(),
        "page": page,
        "request_params": {"collection_name": coll.name, "first_q": q, "per_page": per_page, "q": q},
        "search_cutoff": False,
        "search_time_ms": round((time.perf_counter() - started) * 1000),
    }


def embedded_query(embedder: Any, vq: VectorQuery, q: str, anchor: np.ndarray | None) -> np.ndarray:
    """The query vector the model makes: of the uploaded image (``image:``) or the stored photo
    (``anchor``, from ``id:``), refined by ``queries``; else of the text ``q``. Shared with app.remote,
    which embeds here on the desktop for a library kept on a Typesense server."""
    if vq.image is not None:
        try:
            data = decode_base64(vq.image)
        except ImageError as exc:
            raise RequestMalformed(f"Error while processing image: {exc}") from None
        (result,) = embedder.embed_images([data])
        if isinstance(result, ImageError):
            raise RequestMalformed(f"Error while processing image: {result}")
        anchor = result
    if anchor is not None and vq.queries is None:
        return anchor
    texts = vq.queries if vq.queries is not None else [q]
    return _weighted(anchor, embedder.embed_texts(texts), vq.query_weights, len(texts))


def _weighted(
    anchor: np.ndarray | None, texts: np.ndarray, weights: list[float] | None, n: int
) -> np.ndarray:
    """Photoseek extension: ``queries`` refine an ``id:`` or ``image:`` query ("this photo, at night").
    The photo or image is one more term, first; without ``query_weights`` every term weighs the same."""
    vectors = texts if anchor is None else np.vstack([anchor[None, :], texts])
    if weights is None:
        weights = [1.0 / len(vectors)] * len(vectors)
    elif anchor is not None and len(weights) != n + 1:
        raise RequestMalformed(
            "With an `id` or `image`, `query_weights` needs one weight for the photo first, then one per "
            f"query: {n + 1} in all."
        )
    elif anchor is None and len(weights) != n:
        raise RequestMalformed("The number of `query_weights` must match the number of `queries`.")
    # Summed in float64 and scaled to unit length: only the weights' ratios matter to a cosine search, and
    # weights near float32's limit (which vector_query allows) would overflow a float32 sum.
    combined = np.sum(vectors.astype(np.float64) * np.asarray(weights, dtype=np.float64)[:, None], axis=0)
    length = float(np.linalg.norm(combined))
    if not length:
        raise RequestMalformed("The weighted queries cancel each other out.")
    return (combined / length).astype(np.float32)


def query_vector(coll: Collection, vq: VectorQuery, q: str) -> tuple[np.ndarray, set[int]]:
    """The vector to search with, and labels to leave out of the hits."""
    dims = coll.schema.vector_fields[vq.field]
    exclude: set[int] = set()
    if vq.values:
        if len(vq.values) != dims:
            raise RequestMalformed(
                f"Query field `{vq.field}` must have {dims} dimensions, but the query vector has "
                f"{len(vq.values)}."
            )
        with np.errstate(over="ignore"):
            vector = np.asarray(vq.values, dtype=np.float32)
        if not np.all(np.isfinite(vector)):
            raise RequestMalformed("The query vector has values that do not fit a 32-bit float.")
        if not np.any(vector):
            raise RequestMalformed("The query vector is all zeros, which has no direction to compare.")
        return vector, exclude
    anchor: np.ndarray | None = None  # a stored photo's or an uploaded image's vector
    if vq.id is not None:
        label = coll.db.label_of(coll.id, vq.id)
        vec = coll.db.vector(label, vq.field) if label is not None else None
        if label is None or vec is None:
            raise RequestMalformed("Document id referenced in vector query is not found.")
        exclude.add(label)
        anchor = vec
    needs_model = (
        vq.image is not None or vq.queries is not None or (anchor is None and q.strip() not in ("*", ""))
    )
    if needs_model:
        if vq.field not in {e.field for e in coll.schema.embeds}:
            raise RequestMalformed(
                f"Field `{vq.field}` has no model to embed the query with: pass a vector or an `id`."
            )
        return embedded_query(coll.embedder(vq.field), vq, q, anchor), exclude
    if anchor is not None:
        return anchor, exclude
    raise RequestMalformed("When a vector query value is empty, an `id` parameter must be present.")


def _sorted(coll: Collection, ranked: list[dict], keys: list[SortKey]) -> list[dict]:
    """Ranked hits in ``sort_by`` order, reading the bodies only when a clause needs a field's value."""
    needs_bodies = any(not k.field.startswith("_") for k in keys)
    bodies = coll.db.bodies([h["label"] for h in ranked]) if needs_bodies else {}
    return sort_hits(ranked, keys, bodies, coll.schema.by_name)


def _only_allowed(hits: list[dict], allowed: AllowedLabels | None) -> list[dict]:
    if allowed is None:
        return hits
    keep = allowed.as_set()
    return [h for h in hits if h["label"] in keep]


def _matching_labels(coll: Collection, matches: Callable[[dict], bool], text: str) -> AllowedLabels:
    """The documents a filter matches: newest first, and as the arrays and sets the searches use.

    Remembered until the collection next changes: someone who set a filter then types query after query
    against it, and checking 100k documents again for each would cost about half a second every time.
    """
    key = (text, coll.db.current_seq())
    cached = coll.filter_cache.get(key)
    if cached is None:
        cached = AllowedLabels([label for label, body in coll.db.all_bodies(coll.id) if matches(body)])
        while len(coll.filter_cache) >= FILTER_CACHE_SIZE:
            coll.filter_cache.pop(next(iter(coll.filter_cache)))
        coll.filter_cache[key] = cached
    return cached


def _vector_hits(
    coll: Collection, vq: VectorQuery, q: str, window: int, allowed: AllowedLabels | None = None
) -> list[dict]:
    vector, exclude = query_vector(coll, vq, q)
    idx = coll.index(vq.field)
    # A far page asks for page x per_page hits (up to 10^12): no index holds more than its own size.
    k = min(vq.k if vq.k is not None else window, len(idx))
    if k <= 0 or (allowed is not None and not len(allowed)):
        return []
    if allowed is None:
        labels, distances = idx.search(
            vector, k, ef=vq.ef, flat_search_cutoff=vq.flat_search_cutoff, exclude=exclude
        )
    else:
        labels, distances = search_allowed(
            idx, vector, k, allowed, fname=vq.field, ef=vq.ef, flat_search_cutoff=vq.flat_search_cutoff,
            exclude=exclude,
        )
    out = []
    for label, dist in zip(labels.tolist(), distances.tolist(), strict=True):
        if vq.distance_threshold is not None and dist > vq.distance_threshold:
            continue
        out.append({"label": label, "vector_distance": float(dist)})
    # Equal distances (copies of one photo) newest first, as Typesense breaks ties.
    out.sort(key=lambda hit: (hit["vector_distance"], -hit["label"]))
    return out


def _fuse(
    vector_hits: list[dict], text_hits: list[dict], alpha: float, coll: Collection, fname: str
) -> list[dict]:
    """Typesense's rank fusion of keyword and vector results."""
    fused: dict[int, dict] = {}
    for rank, hit in enumerate(text_hits, start=1):
        entry = fused.setdefault(hit["label"], {"label": hit["label"], "score": 0.0})
        entry["score"] += (1 - alpha) / rank
        entry["text_match"] = hit["text_match"]
        entry["text_match_info"] = hit["text_match_info"]
    for rank, hit in enumerate(vector_hits):
        entry = fused.setdefault(hit["label"], {"label": hit["label"], "score": 0.0})
        entry["score"] += alpha / (rank + 1)
        entry["vector_distance"] = hit["vector_distance"]
    ranked = sorted(fused.values(), key=lambda e: -e["score"])
    for entry in ranked:
        entry.setdefault("text_match", 0)
        entry["hybrid_search_info"] = {"rank_fusion_score": entry.pop("score")}
    return ranked


def _hit_maker(
    coll: Collection, params: dict, q: str, text_fields: list[str], tokenizer: Tokenizer
) -> Callable[[int, dict, dict], dict]:
    """What turns a label and its stored body into a hit, with the request's field choices read once;
    a hit that matched words gets them highlighted (from the whole document, as Typesense does)."""
    include = _field_list(params, "include_fields")
    exclude = set(_field_list(params, "exclude_fields"))
    unstored = coll.schema.unstored
    wanted_vectors = [
        f
        for f in coll.schema.vector_fields
        if f not in exclude and (not include or f in include) and f not in unstored
    ]
    hidden = exclude | unstored

    def hit(label: int, body: dict, info: dict) -> dict:
        doc = dict(body)
        for fname in wanted_vectors:
            vec = coll.db.vector(label, fname)
            if vec is not None:
                doc[fname] = vec.tolist()
        if include:
            doc = {k: v for k, v in doc.items() if k in include}
        doc = {k: v for k, v in doc.items() if k not in hidden}
        out: dict[str, Any] = {"document": doc, "highlight": {}, "highlights": []}
        if info.get("text_match"):
            out["highlights"], out["highlight"] = highlights(body, q, text_fields, tokenizer)
        for key in ("text_match", "text_match_info", "hybrid_search_info", "vector_distance"):
            if key in info:
                out[key] = info[key]
        return out

    return hit
