"""Search: q/query_by, sort_by, facet_by, paging, include/exclude fields, and search errors."""

from __future__ import annotations

from .data import load_books
from .harness import Run, case

AREA = "search/filter/sort/facet/schema"


@case(AREA)
def search_wildcard_shape(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "pages:asc", "per_page": 3})


@case(AREA)
def search_wildcard_default_order(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*"})


@case(AREA)
def search_text_one_word(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "dune", "query_by": "title"})


@case(AREA)
def search_text_two_fields(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "gibson", "query_by": "title,author", "sort_by": "pages:asc"})


@case(AREA)
def search_text_array_field(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "cyberpunk", "query_by": "tags", "sort_by": "pages:asc"})


@case(AREA)
def search_text_no_match(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "zeppelin", "query_by": "title"})


@case(AREA)
def search_text_hit_shape(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "hyperion", "query_by": "title"})


@case(AREA)
def search_highlight_shape(t: Run) -> None:
    load_books(t)
    t.call("highlight",
           lambda: t.docs.search({"q": "hyperion", "query_by": "title"})["hits"][0]["highlights"])


@case(AREA)
def search_text_match_orders_hits(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "the", "query_by": "title", "sort_by": "_text_match:desc,pages:asc"})


@case(AREA)
def search_query_by_missing(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "dune"})


@case(AREA)
def search_query_by_unknown_field(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "dune", "query_by": "subtitle"})


@case(AREA)
def search_query_by_numeric_field(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "1965", "query_by": "year"})


@case(AREA)
def search_missing_q(t: Run) -> None:
    load_books(t)
    t.search("search", {"query_by": "title"})


@case(AREA)
def sort_asc(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "sort_by": "pages:asc"})


@case(AREA)
def sort_desc_float(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "sort_by": "rating:desc,pages:desc"})


@case(AREA)
def sort_two_fields(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "sort_by": "year:desc,pages:asc", "filter_by": "rating:<=4.1"})


@case(AREA)
def sort_three_fields(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "sort_by": "rating:asc,year:asc,pages:desc"})


@case(AREA)
def sort_unknown_field(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "weight:asc"})


@case(AREA)
def sort_bad_order(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "year:sideways"})


@case(AREA)
def sort_by_string_without_sort(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "title:asc"})


@case(AREA)
def sort_four_fields(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "year:asc,pages:asc,rating:asc,_text_match:desc"})


@case(AREA)
def facet_string(t: Run) -> None:
    load_books(t)
    t.call("facets", lambda: t.docs.search({"q": "*", "facet_by": "author"})["facet_counts"])


@case(AREA)
def facet_numeric_stats(t: Run) -> None:
    load_books(t)
    t.call("facets", lambda: t.docs.search({"q": "*", "facet_by": "year,rating"})["facet_counts"])


@case(AREA)
def facet_array_and_bool(t: Run) -> None:
    load_books(t)
    t.call("facets", lambda: t.docs.search({"q": "*", "facet_by": "tags,in_print"})["facet_counts"])


@case(AREA)
def facet_with_filter(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "facet_by": "author", "filter_by": "tags:=classic", "sort_by": "pages:asc"})


@case(AREA)
def facet_max_values(t: Run) -> None:
    load_books(t)
    t.call("facets", lambda: t.docs.search({"q": "*", "facet_by": "tags", "max_facet_values": 2})
           ["facet_counts"])


@case(AREA)
def facet_unfaceted_field(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "facet_by": "title"})


@case(AREA)
def facet_unknown_field(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "facet_by": "colour"})


@case(AREA)
def page_second(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "pages:asc", "per_page": 3, "page": 2})


@case(AREA)
def page_past_the_end(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "pages:asc", "per_page": 5, "page": 3})


@case(AREA)
def page_zero(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "sort_by": "pages:asc", "per_page": 3, "page": 0})


@case(AREA)
def page_per_page_over_limit(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "per_page": 251})


@case(AREA)
def page_per_page_zero(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "per_page": 0, "facet_by": "author"})


@case(AREA)
def fields_include(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "pages:asc", "per_page": 2, "include_fields": "title,year"})


@case(AREA)
def fields_exclude(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "pages:asc", "per_page": 2,
                        "exclude_fields": "tags,editions,pages,rating"})


@case(AREA)
def fields_include_and_exclude(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "pages:asc", "per_page": 2, "include_fields": "title,year",
                        "exclude_fields": "year"})


@case(AREA)
def fields_include_unknown(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "sort_by": "pages:asc", "per_page": 2, "include_fields": "title,nope"})


@case(AREA)
def search_text_two_words(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "the hobbit", "query_by": "title", "sort_by": "_text_match:desc,pages:asc"})


@case(AREA)
def search_after_update(t: Run) -> None:
    load_books(t)
    t.call("update", lambda: t.docs["2"].update({"author": "Tolkien", "year": 1999}))
    t.ids("filter", {"q": "*", "filter_by": "author:=Tolkien && year:>1990", "sort_by": "pages:asc"})
    t.call("facets", lambda: t.docs.search({"q": "*", "facet_by": "author"})["facet_counts"])


@case(AREA)
def facet_query(t: Run) -> None:
    load_books(t)
    t.call("facets", lambda: t.docs.search({"q": "*", "facet_by": "author", "facet_query": "author:tol"})
           ["facet_counts"])


@case(AREA)
def sort_by_bool(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "sort_by": "in_print:desc,pages:asc"})


@case(AREA)
def page_per_page_max(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "sort_by": "pages:desc", "per_page": 250})


@case(AREA)
def search_star_with_query_by(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "*", "query_by": "title", "sort_by": "pages:asc"})


@case(AREA)
def search_text_upper_case(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "NEUROMANCER", "query_by": "title"})


@case(AREA)
def search_text_with_punctuation(t: Run) -> None:
    load_books(t)
    t.ids("search", {"q": "dune!", "query_by": "title"})


@case(AREA)
def search_combined_text_filter_facet_page(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "the", "query_by": "title", "filter_by": "year:<1980", "facet_by": "author,year",
                        "sort_by": "pages:asc", "per_page": 1, "page": 2})
