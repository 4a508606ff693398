"""Search, filters, sorting and collection alter behave as a real Typesense 0.24.1 does.

Every expectation here was first asked of the real server (the typesense-server binary with the same
collection and documents); where Photoseek keeps another behaviour on purpose, the test says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import Engine
from app.engine.errors import ObjectNotFound, RequestMalformed, TypesenseError

SCHEMA = {
    "name": "t",
    "fields": [
        {"name": "name", "type": "string", "facet": True},
        {"name": "tags", "type": "string[]", "optional": True},
        {"name": "n", "type": "int32"},
        {"name": "f", "type": "float", "optional": True},
        {"name": "b", "type": "bool", "optional": True},
        {"name": "label", "type": "string", "sort": True, "optional": True},
        {"name": "v", "type": "float[]", "num_dim": 3, "optional": True},
    ],
}
DOCS = [
    {"id": "1", "name": "Red Apple", "tags": ["fruit", "red food"], "n": 5, "f": 1.5, "b": True,
     "label": "banana", "v": [1, 0, 0]},
    {"id": "2", "name": "red", "tags": ["Red"], "n": 3, "f": 2.5, "b": False, "label": "Apple",
     "v": [0.9, 0.1, 0]},
    {"id": "3", "name": "Redwood tree", "tags": ["tree"], "n": 7, "b": True, "label": "Éclair",
     "v": [0, 1, 0]},
    {"id": "4", "name": "blue sky red", "tags": [], "n": 1, "f": -1.0, "label": "zebra", "v": [0, 0, 1]},
    {"id": "5", "name": "green-apple", "tags": ["apple pie"], "n": 5, "f": 0.0, "b": False},
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(tmp_path / "data") as eng:
        eng.collections.create(SCHEMA)
        eng.collections["t"].documents.import_(DOCS)
        yield eng


def ids(engine: Engine, **params: object) -> list[str]:
    result = engine.collections["t"].documents.search({"q": "*", **params})
    return [hit["document"]["id"] for hit in result["hits"]]


def error(engine: Engine, **params: object) -> TypesenseError:
    with pytest.raises(TypesenseError) as caught:
        engine.collections["t"].documents.search({"q": "*", **params})
    return caught.value


# ------------------------------------------------------------------------------------------- filter_by


@pytest.mark.parametrize(
    ("filter_by", "expected"),
    [
        ("name:red", ["4", "2", "1"]),  # the word, any case: not "Redwood"
        ("name:re", []),  # no prefixes
        ("name:apple red", ["1"]),  # every word, any order
        ("name:green", []),  # "green-apple" is the one word "greenapple"
        ("name:`green-apple`", ["5"]),
        ("name:[red,tree]", ["4", "3", "2", "1"]),
        ("name:=Red", ["2"]),  # the whole value, any case
        ("name:!=red", ["5", "4", "3", "1"]),
        ("tags:red", ["2", "1"]),  # a word of any element
        ("tags:fruit food", ["1"]),  # words from different elements of one array
        ("tags:=red", ["2"]),
        ("tags:!=red", ["5", "4", "3", "1"]),  # documents without the value (or the field) too
        ("b:!=true", ["5", "4", "2"]),
        ("id:[1,3]", ["3", "1"]),
        ("n:[1..3,7]", ["4", "3", "2"]),
        ("f:[-1..0]", ["5", "4"]),
    ],
)
def test_filter_matches_as_typesense_does(engine: Engine, filter_by: str, expected: list[str]) -> None:
    assert ids(engine, filter_by=filter_by) == expected


def test_and_and_or_are_read_left_to_right(engine: Engine) -> None:
    # Typesense gives && no precedence over || (its docs say so since typesense/typesense#2882).
    assert ids(engine, filter_by="n:1 || n:3 && n:5") == []
    assert ids(engine, filter_by="b:false || n:>3 && name:red") == ["2", "1"]
    assert ids(engine, filter_by="n:1 || (n:3 && b:false)") == ["4", "2"]


def test_filter_on_unknown_or_vector_field_is_not_found(engine: Engine) -> None:
    assert error(engine, filter_by="x:1").message == "Could not find a filter field named `x` in the schema."
    assert isinstance(error(engine, filter_by="v:1"), ObjectNotFound)


def test_file_fields_keep_whole_value_matching() -> None:
    # A Photoseek extension (undeclared `folder`): `folder:/a/b` must not match `/ab` the way word
    # matching would ("ab" either way).
    from app.engine.filter_by import parse_filter

    predicate = parse_filter("folder:[`/a/b`]", {})
    assert predicate({"folder": "/a/b"}) and not predicate({"folder": "/ab"})


# ------------------------------------------------------------------------------------------- sort_by


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        ("n:desc", ["3", "5", "1", "2", "4"]),  # ties newest first
        ("n:asc", ["4", "2", "5", "1", "3"]),
        ("f:desc", ["2", "1", "5", "4", "3"]),  # a missing value last, either way
        ("f:asc", ["4", "5", "1", "2", "3"]),
        ("b:desc", ["3", "1", "5", "2", "4"]),
        ("n:desc,f:desc", ["3", "1", "5", "2", "4"]),
        (" n:DESC , f:asc", ["3", "5", "1", "2", "4"]),
        ("label:asc", ["2", "1", "3", "4", "5"]),  # no case, no accents; a missing string is the greatest
        ("label:desc", ["5", "4", "3", "1", "2"]),
        ("_seq_id:asc", ["1", "2", "3", "4", "5"]),
    ],
)
def test_sort_by_orders_a_listing(engine: Engine, sort_by: str, expected: list[str]) -> None:
    assert ids(engine, sort_by=sort_by) == expected


def test_sort_by_applies_after_a_filter_and_pages(engine: Engine) -> None:
    assert ids(engine, sort_by="n:desc", filter_by="b:true") == ["3", "1"]
    assert ids(engine, sort_by="n:desc", per_page=2, page=2) == ["1", "2"]


@pytest.mark.parametrize(
    ("sort_by", "code", "message"),
    [
        ("n", 400, "Parameter `sort_by` is malformed."),
        ("n:up", 400, "Order for field` n` should be either ASC or DESC."),
        ("n:desc,f:asc,b:desc,label:asc", 400, "Only upto 3 sort fields are allowed."),
        ("name:asc", 404, "Could not find a field named `name` in the schema for sorting."),
        ("v:asc", 404, "Could not find a field named `v` in the schema for sorting."),
        ("_vector_distance:asc", 404,
         "Could not find a field named `_vector_distance` in the schema for sorting."),
    ],
)
def test_sort_by_errors_are_typesenses(engine: Engine, sort_by: str, code: int, message: str) -> None:
    problem = error(engine, sort_by=sort_by)
    assert (problem.code, problem.message) == (code, message)


def test_sort_by_reorders_keyword_and_vector_hits(engine: Engine) -> None:
    assert ids(engine, q="red", query_by="name", sort_by="n:desc") == ["3", "1", "2", "4"]
    assert ids(engine, q="red", query_by="name", sort_by="_text_match:desc,n:asc") == ["2", "4", "1", "3"]
    # Typesense 0.24.1 ignores sort_by in a vector search; current Typesense sorts, as Photoseek does.
    assert ids(engine, vector_query="v:([1,0,0])") == ["1", "2", "4", "3"]
    assert ids(engine, vector_query="v:([1,0,0])", sort_by="n:asc") == ["4", "2", "1", "3"]
    assert ids(engine, vector_query="v:([1,0,0])", sort_by="_vector_distance:desc") == ["4", "3", "2", "1"]


def test_default_sorting_field_orders_listings_and_breaks_text_ties(tmp_path: Path) -> None:
    with Engine(tmp_path / "d") as eng:
        created = eng.collections.create(
            {"name": "s", "fields": [{"name": "t", "type": "string"}, {"name": "n", "type": "int32"}],
             "default_sorting_field": "n"}
        )
        assert created["default_sorting_field"] == "n"
        docs = [{"id": str(i), "t": "cat", "n": n} for i, n in enumerate([3, 9, 1, 9])]
        eng.collections["s"].documents.import_(docs)
        listing = eng.collections["s"].documents.search({"q": "*"})
        assert [h["document"]["id"] for h in listing["hits"]] == ["3", "1", "0", "2"]
        text = eng.collections["s"].documents.search({"q": "cat", "query_by": "t"})
        assert [h["document"]["id"] for h in text["hits"]] == ["3", "1", "0", "2"]


# ------------------------------------------------------------------------------------------- keywords


@pytest.mark.parametrize(
    ("q", "query_by", "expected"),
    [
        ("red", "name", ["2", "4", "1", "3"]),  # the whole field, then the word, then a prefix
        ("red", "tags,name", ["2", "1", "4", "3"]),  # the first query_by field weighs most
        ("apple", "name", ["1"]),  # not "green-apple" (one word)
        ("red apple", "name", ["1"]),  # every word
        ("tree red", "name", ["3"]),  # the last word as a prefix
        ("red zzz tree", "name", ["2", "4", "1"]),  # nothing has all: words dropped from the right
        ("zzz red", "name", ["2", "4", "1", "3"]),  # ...then from the left
        ("fruit apple", "name,tags", ["1"]),  # words from different fields
    ],
)
def test_keyword_search_matches_and_ranks_as_typesense(
    engine: Engine, q: str, query_by: str, expected: list[str]
) -> None:
    assert ids(engine, q=q, query_by=query_by) == expected


def test_keyword_hits_are_highlighted(engine: Engine) -> None:
    result = engine.collections["t"].documents.search({"q": "red", "query_by": "name,tags", "per_page": 2})
    first, second = result["hits"]
    assert first["highlights"] == [
        {"field": "name", "matched_tokens": ["red"], "snippet": "<mark>red</mark>"},
        {"field": "tags", "indices": [0], "matched_tokens": [["Red"]], "snippets": ["<mark>Red</mark>"]},
    ]
    assert second["highlight"] == {
        "name": {"matched_tokens": ["Red"], "snippet": "<mark>Red</mark> Apple"},
        "tags": [{"matched_tokens": [], "snippet": "fruit"},
                 {"matched_tokens": ["red"], "snippet": "<mark>red</mark> food"}],
    }
    assert set(first["text_match_info"]) == {
        "best_field_score", "best_field_weight", "fields_matched", "score", "tokens_matched"
    }
    assert first["text_match_info"]["fields_matched"] == 2
    prefix = engine.collections["t"].documents.search({"q": "apple re", "query_by": "name"})["hits"][0]
    assert prefix["highlights"][0]["snippet"] == "<mark>Re</mark>d <mark>Apple</mark>"


def test_query_by_errors_are_typesenses(engine: Engine) -> None:
    assert error(engine, q="red").message == "No search fields specified for the query."
    assert error(engine, q="red", query_by="n").message == "Field `n` should be a string or a string array."


# ------------------------------------------------------------------------------------------- collections


def test_collection_keeps_symbols_and_checks_its_sorting_field(tmp_path: Path) -> None:
    with Engine(tmp_path / "c") as eng:
        made = eng.collections.create({"name": "c", "fields": [{"name": "x", "type": "float"}],
                                       "token_separators": ["-"], "symbols_to_index": ["+"]})
        assert (made["token_separators"], made["symbols_to_index"]) == (["-"], ["+"])
        assert eng.collections["c"].retrieve()["token_separators"] == ["-"]
        text_sorted = {"name": "s", "fields": [{"name": "x", "type": "string", "sort": True}],
                       "default_sorting_field": "x"}
        assert eng.collections.create(text_sorted)["default_sorting_field"] == "x"
        for schema, message in (
            ({"name": "o", "fields": [{"name": "x", "type": "int32", "optional": True}],
              "default_sorting_field": "x"}, "Default sorting field `x` cannot be an optional field."),
            ({"name": "o", "fields": [{"name": "x", "type": "string"}], "default_sorting_field": "x"},
             "Default sorting field `x` is not a sortable type."),
            ({"name": "o", "fields": [{"name": "x", "type": "int32"}], "token_separators": "-"},
             "`token_separators` should be an array of character symbols."),
        ):
            with pytest.raises(RequestMalformed) as caught:
                eng.collections.create(schema)
            assert caught.value.message == message
    with Engine(tmp_path / "c") as again:
        assert again.collections["c"].retrieve()["symbols_to_index"] == ["+"]


def test_alter_adds_and_drops_fields(tmp_path: Path) -> None:
    with Engine(tmp_path / "a") as eng:
        eng.collections.create({"name": "a", "fields": [{"name": "a", "type": "string"},
                                                         {"name": "n", "type": "int32"}],
                                "default_sorting_field": "n"})
        eng.collections["a"].documents.import_([{"id": "1", "a": "x", "n": 1, "extra": "7", "num": "no"},
                                                {"id": "2", "a": "y", "n": 2, "num": 5}])
        coll = eng.collections["a"]
        dropped = coll.update({"fields": [{"name": "n", "drop": True}]})
        assert dropped == {"fields": [{"drop": True, "name": "n"}]}
        assert coll.retrieve()["default_sorting_field"] == ""
        assert coll.documents["1"].retrieve()["n"] == 1  # the values stay in the documents
        extra = {"name": "extra", "type": "string", "facet": True, "optional": True}
        added = coll.update({"fields": [extra]})
        assert added["fields"][0]["name"] == "extra" and added["fields"][0]["facet"] is True
        assert ids_of(eng, "a", filter_by="extra:7") == ["1"]
        assert coll.update({"fields": [{"name": "a", "drop": True}, {"name": "a", "type": "string",
                                                                       "facet": True}]})["fields"][0]["drop"]
        for change, message in (
            ({"fields": [{"name": "z", "type": "string"}]},
             "Field `z` has been declared in the schema, but is not found in the documents already present "
             "in the collection. If you still want to add this field, set it as `optional: true`."),
            ({"fields": [{"name": "num", "type": "int32"}]},
             "Schema change is incompatible with the type of documents already stored in this collection. "
             "Existing data for field `num` cannot be coerced into an int32."),
            ({"fields": [{"name": "zz", "drop": True}]}, "Field `zz` is not part of collection schema."),
            ({"fields": [{"name": "a", "type": "string"}]},
             "Field `a` is already part of the schema: To change this field, drop it first before adding it "
             "back to the schema."),
            ({"fields": [{"name": "id", "type": "string"}]}, "Field `id` cannot be altered."),
            ({"fields": [{"name": "q", "drop": False}]}, "Field `q` must have a drop value of `true`."),
            ({"name": "foo"}, "The `fields` value should be an array of objects containing the field `name` "
                              "and other properties."),
            ({"fields": [{"name": "a", "type": "string"}], "default_sorting_field": "a"},
             "Only `fields` can be updated at the moment."),
        ):
            with pytest.raises(RequestMalformed) as caught:
                coll.update(change)
            assert caught.value.message == message
    with Engine(tmp_path / "a") as again:
        fields = {f["name"]: f for f in again.collections["a"].retrieve()["fields"]}
        assert set(fields) == {"a", "extra"} and fields["a"]["facet"] is True


def ids_of(engine: Engine, name: str, **params: object) -> list[str]:
    result = engine.collections[name].documents.search({"q": "*", **params})
    return [hit["document"]["id"] for hit in result["hits"]]


def test_facet_query_keeps_the_values_whose_words_start_so(engine: Engine) -> None:
    def facets(facet_query: str) -> dict:
        params = {"q": "*", "facet_by": "name", "facet_query": facet_query, "per_page": 0}
        return engine.collections["t"].documents.search(params)["facet_counts"][0]

    marked = [c["highlighted"] for c in facets("name:sky r")["counts"]]
    assert marked == ["blue <mark>sky</mark> <mark>r</mark>ed"]
    assert facets("name:re")["stats"]["total_values"] == 4  # every value with a word starting "re"
    assert facets("name:wood")["counts"] == []
    for bad, message in (
        ("tags:red", "Facet query refers to a facet field `tags` that is not part of `facet_by` parameter."),
        ("nope", "Facet query must be in the `facet_field: value` format."),
    ):
        assert error(engine, facet_by="name", facet_query=bad).message == message


def test_token_separators_and_symbols_cut_words(tmp_path: Path) -> None:
    with Engine(tmp_path / "w") as eng:
        eng.collections.create({"name": "w", "fields": [{"name": "title", "type": "string"}],
                                "token_separators": ["-"], "symbols_to_index": ["+"]})
        eng.collections["w"].documents.import_([{"id": "1", "title": "state-of-the-art c++"},
                                                {"id": "2", "title": "c programming"}])
        docs = eng.collections["w"].documents
        found = docs.search({"q": "art", "query_by": "title"})
        assert [h["document"]["id"] for h in found["hits"]] == ["1"]
        assert found["hits"][0]["highlights"][0]["snippet"] == "state-of-the-<mark>art</mark> c++"
        assert ids_of(eng, "w", filter_by="title:c++") == ["1"]
        assert ids_of(eng, "w", filter_by="title:c") == ["2"]
        assert [h["document"]["id"] for h in docs.search({"q": "c++", "query_by": "title"})["hits"]] == ["1"]


def test_a_document_with_an_odd_value_sorts_as_missing_instead_of_failing_the_sort(tmp_path: Path) -> None:
    # `captured_at` is a file field Photoseek sorts on without a declaration; a script may have written
    # text there for one photo. That photo goes last; every other one still sorts by date.
    with Engine(tmp_path / "lib") as engine:
        engine.collections.create({"name": "shots", "fields": [{"name": "title", "type": "string"}]})
        docs = engine.collections["shots"].documents
        docs.import_([{"id": "a", "title": "a", "captured_at": 20},
                      {"id": "b", "title": "b", "captured_at": "x"},
                      {"id": "c", "title": "c", "captured_at": 30}], {"action": "create"})
        for order, expected in (("desc", ["c", "a", "b"]), ("asc", ["a", "c", "b"])):
            found = docs.search({"q": "*", "sort_by": f"captured_at:{order}"})
            assert [h["document"]["id"] for h in found["hits"]] == expected
