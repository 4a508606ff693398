"""filter_by: every operator, on every type, and its errors. Each row is one case over the books."""

from __future__ import annotations

from .data import load_books
from .harness import Run, add_case

AREA = "search/filter/sort/facet/schema"

FILTERS: dict[str, str] = {
    "int_eq": "year:=1965",
    "int_colon": "year:1965",
    "int_ne": "year:!=1965",
    "int_gt": "year:>1977",
    "int_ge": "year:>=1977",
    "int_lt": "year:<1968",
    "int_le": "year:<=1968",
    "int_range": "year:[1960..1980]",
    "int_list": "year:[1937, 1984, 2001]",
    "int_list_with_range": "year:[1937, 1980..1986]",
    "int64": "pages:>400",
    "float_gt": "rating:>4.2",
    "float_range": "rating:[3.9..4.2]",
    "float_eq": "rating:=3.9",
    "bool_true": "in_print:true",
    "bool_false": "in_print:=false",
    "string_exact": "author:=Tolkien",
    "string_exact_is_whole_value": "title:=Hobbit",
    "string_exact_whole_title": "title:=The Hobbit",
    "string_word_match": "title:Hobbit",
    "string_word_case": "title:hobbit",
    "string_exact_backticks": "author:=`Le Guin`",
    "string_list": "author:=[Gibson, Simmons]",
    "string_ne": "author:!=Tolkien",
    "string_array_any": "tags:=cyberpunk",
    "string_array_list": "tags:=[cyberpunk, fantasy]",
    "int_array": "editions:=1951",
    "int_array_range": "editions:[1990..2000]",
    "and": "year:>1960 && in_print:true",
    "or": "author:=Tolkien || author:=Gibson",
    "parentheses": "(author:=Tolkien || tags:=cyberpunk) && year:<1985",
    "nested_parentheses": "((year:<1950) || (year:>1985 && rating:>4.0)) && in_print:true",
    "id_eq": "id:=3",
    "id_list": "id:[1, 5, 8]",
    "id_ne": "id:!=2",
    "string_array_ne": "tags:!=scifi",
    "string_list_word_match": "author:[gibson, tolkien]",
    "int_array_ge": "editions:>=2000",
    "or_mixed_types": "rating:>=4.5 || in_print:false",
    "string_exact_space_no_backticks": "author:=Le Guin",
    "spaces_around_operators": "year: > 1980 && in_print : true",
    "empty_expression": "",
}

# Filters Typesense refuses: the status code and message are compared.
BAD_FILTERS: dict[str, str] = {
    "bad_unknown_field": "colour:=red",
    "bad_int_value": "year:>abc",
    "bad_bool_value": "in_print:maybe",
    "bad_unbalanced": "(year:>1960",
    "bad_no_value": "year:",
    "bad_operator": "year:=>1960",
}


def _filter_case(expression: str) -> object:
    def run(t: Run) -> None:
        load_books(t)
        t.ids(f"filter_by {expression}", {"q": "*", "filter_by": expression, "sort_by": "pages:asc",
                                          "per_page": 20})

    return run


for _name, _expr in {**FILTERS, **BAD_FILTERS}.items():
    add_case(f"filter_{_name}", AREA, _filter_case(_expr))  # type: ignore[arg-type]


def _filter_with_text_case(t: Run) -> None:
    load_books(t)
    t.ids("text and filter", {"q": "the", "query_by": "title", "filter_by": "year:>1950",
                              "sort_by": "pages:asc"})


add_case("filter_with_text_query", AREA, _filter_with_text_case)


def _filter_full_shape(t: Run) -> None:
    load_books(t)
    t.search("search", {"q": "*", "filter_by": "author:=Gibson", "sort_by": "year:desc"})


add_case("filter_full_response_shape", AREA, _filter_full_shape)
