"""Raw-vector vector_query (with and without filter_by), its errors, and multi_search."""

from __future__ import annotations

from .data import VECTOR_FIELDS, load_books, load_vectors
from .harness import Run, case

AREA = "search/filter/sort/facet/schema"


def _hits(t: Run, label: str, params: dict) -> None:
    """Ids in order and their distances (rounded by the harness)."""

    def run() -> object:
        result = t.docs.search(params)
        return {"found": result["found"],
                "hits": [(h["document"]["id"], h.get("vector_distance")) for h in result["hits"]]}

    t.call(label, run)


@case(AREA)
def vec_nearest(t: Run) -> None:
    load_vectors(t)
    _hits(t, "k=3", {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0], k: 3)"})


@case(AREA)
def vec_all_ranked(t: Run) -> None:
    load_vectors(t)
    _hits(t, "k=10", {"q": "*", "vector_query": "vec:([0.1, 0.2, 0.9, 0.3], k: 10)"})


@case(AREA)
def vec_full_shape(t: Run) -> None:
    load_vectors(t)
    t.search("search", {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0])", "per_page": 2,
                        "exclude_fields": "vec"})


@case(AREA)
def vec_with_filter(t: Run) -> None:
    load_vectors(t)
    _hits(t, "group 2", {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0], k: 5)",
                         "filter_by": "group:=2"})


@case(AREA)
def vec_with_filter_or(t: Run) -> None:
    load_vectors(t)
    _hits(t, "group 1 or 3", {"q": "*", "vector_query": "vec:([0.0, 1.0, 0.0, 0.0], k: 10)",
                              "filter_by": "group:[1, 3] && label:!=eta"})


@case(AREA)
def vec_filter_matches_none(t: Run) -> None:
    load_vectors(t)
    _hits(t, "none", {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0], k: 5)", "filter_by": "group:=9"})


@case(AREA)
def vec_default_k_is_per_page(t: Run) -> None:
    load_vectors(t)
    _hits(t, "per_page 2", {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0])", "per_page": 2})


@case(AREA)
def vec_paging(t: Run) -> None:
    load_vectors(t)
    _hits(t, "page 2", {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0], k: 6)",
                        "per_page": 2, "page": 2})


@case(AREA)
def vec_include_fields(t: Run) -> None:
    load_vectors(t)
    t.call("docs", lambda: [h["document"] for h in t.docs.search(
        {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0])", "per_page": 2, "include_fields": "label"})
        ["hits"]])


@case(AREA)
def vec_wrong_length(t: Run) -> None:
    load_vectors(t)
    t.search("search", {"q": "*", "vector_query": "vec:([1.0, 0.0], k: 3)"})


@case(AREA)
def vec_unknown_field(t: Run) -> None:
    load_vectors(t)
    t.search("search", {"q": "*", "vector_query": "embedding:([1.0, 0.0, 0.0, 0.0], k: 3)"})


@case(AREA)
def vec_not_a_vector_field(t: Run) -> None:
    load_vectors(t)
    t.search("search", {"q": "*", "vector_query": "label:([1.0, 0.0, 0.0, 0.0], k: 3)"})


@case(AREA)
def vec_malformed(t: Run) -> None:
    load_vectors(t)
    t.search("search", {"q": "*", "vector_query": "vec:[1.0, 0.0, 0.0, 0.0]"})


@case(AREA)
def vec_document_wrong_dims(t: Run) -> None:
    t.create(t.schema(VECTOR_FIELDS))
    t.call("create", lambda: t.docs.create({"id": "x", "label": "x", "group": 1, "vec": [1.0, 0.0]}))


@case(AREA)
def vec_document_without_vector(t: Run) -> None:
    t.create(t.schema(VECTOR_FIELDS))
    t.call("create", lambda: t.docs.create({"id": "x", "label": "x", "group": 1}))


@case(AREA)
def vec_with_sort_by(t: Run) -> None:
    load_vectors(t)
    _hits(t, "sorted", {"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0], k: 10)",
                            "sort_by": "group:asc"})


@case(AREA)
def multi_two_searches(t: Run) -> None:
    load_books(t)
    body = {"searches": [{"collection": t.name, "q": "*", "filter_by": "author:=Tolkien",
                          "sort_by": "pages:asc"},
                         {"collection": t.name, "q": "dune", "query_by": "title"}]}
    t.call("multi", lambda: t.client.multi_search.perform(body, {}))


@case(AREA)
def multi_common_params(t: Run) -> None:
    load_books(t)
    body = {"searches": [{"filter_by": "year:<1970"}, {"filter_by": "year:>=1970"}]}
    t.call("multi", lambda: t.client.multi_search.perform(
        body, {"collection": t.name, "q": "*", "sort_by": "pages:asc", "per_page": 2}))


@case(AREA)
def multi_search_param_versus_common(t: Run) -> None:
    load_books(t)
    body = {"searches": [{"filter_by": "year:>=1970", "per_page": 1}]}
    t.call("multi", lambda: t.client.multi_search.perform(
        body, {"collection": t.name, "q": "*", "sort_by": "pages:asc", "per_page": 2}))


@case(AREA)
def multi_per_search_error(t: Run) -> None:
    load_books(t)
    body = {"searches": [{"collection": t.name, "q": "*", "filter_by": "colour:=red"},
                         {"collection": t.name + "_missing", "q": "*"},
                         {"collection": t.name, "q": "*", "sort_by": "pages:desc", "per_page": 1}]}
    t.call("multi", lambda: t.client.multi_search.perform(body, {}))


@case(AREA)
def multi_without_collection(t: Run) -> None:
    load_books(t)
    t.call("multi", lambda: t.client.multi_search.perform({"searches": [{"q": "*"}]}, {}))


@case(AREA)
def multi_vector_search(t: Run) -> None:
    load_vectors(t)
    body = {"searches": [{"collection": t.name, "q": "*", "exclude_fields": "vec",
                          "vector_query": "vec:([0.0, 0.0, 1.0, 0.0])", "per_page": 2}]}
    t.call("multi", lambda: t.client.multi_search.perform(body, {}))


@case(AREA)
def multi_empty(t: Run) -> None:
    t.call("multi", lambda: t.client.multi_search.perform({"searches": []}, {}))


@case(AREA)
def multi_vector_error_beside_good_search(t: Run) -> None:
    load_vectors(t)
    not_a_vector = "label:([1.0, 0.0, 0.0, 0.0], k: 2)"
    body = {"searches": [{"collection": t.name, "q": "*", "vector_query": not_a_vector},
                         {"collection": t.name, "q": "*", "filter_by": "group:=3", "exclude_fields": "vec",
                          "sort_by": "group:asc"}]}
    t.call("multi", lambda: t.client.multi_search.perform(body, {}))
