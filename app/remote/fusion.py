"""Keyword and vector hits fused into one ranking, as the embedded engine fuses a hybrid search.

A Typesense 0.24 server answers a keyword search or a vector search, never both at once (its 400:
"Vector query is supported only on wildcard (q=*) searches"). A hybrid search on a server library asks
for both and ranks here, with the engine's rank fusion (app.engine.search._fuse): a keyword hit at rank r
scores (1 - alpha) / r, a vector hit alpha / r.
"""

from __future__ import annotations

DEFAULT_ALPHA = 0.3  # the engine's (app.engine.search.DEFAULT_ALPHA)
# Vector hits fused with the keyword side when vector_query sets no `k`, as the engine fetches them.
HYBRID_VECTOR_HITS = 250


def fuse(keyword_hits: list[dict], vector_hits: list[dict], alpha: float | None) -> list[dict]:
    """Server hits of both searches, each list best first, as one list best first."""
    weight = DEFAULT_ALPHA if alpha is None else alpha
    fused: dict[str, dict] = {}
    scores: dict[str, float] = {}
    for rank, hit in enumerate(keyword_hits, start=1):
        doc_id = str(hit["document"].get("id"))
        fused[doc_id] = dict(hit)
        scores[doc_id] = scores.get(doc_id, 0.0) + (1 - weight) / rank
    for rank, hit in enumerate(vector_hits, start=1):
        doc_id = str(hit["document"].get("id"))
        entry = fused.setdefault(doc_id, dict(hit))
        entry["vector_distance"] = hit.get("vector_distance")
        scores[doc_id] = scores.get(doc_id, 0.0) + weight / rank
    ranked = sorted(fused, key=lambda doc_id: -scores[doc_id])
    out = []
    for doc_id in ranked:
        entry = fused[doc_id]
        entry.setdefault("text_match", 0)
        entry["hybrid_search_info"] = {"rank_fusion_score": scores[doc_id]}
        out.append(entry)
    return out
