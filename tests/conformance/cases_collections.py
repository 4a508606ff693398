"""Collections: create, retrieve, list, alter, delete, and the schema errors."""

from __future__ import annotations

from typing import Any

from .data import BOOK_FIELDS, VECTOR_FIELDS, load_books
from .harness import Run, add_case, case

AREA = "search/filter/sort/facet/schema"
ERRORS = "documents/import/export/errors"  # a missing collection's errors are the errors helper's


@case(AREA)
def coll_create_every_type(t: Run) -> None:
    t.create(t.schema([*BOOK_FIELDS, VECTOR_FIELDS[2], {"name": "ratings", "type": "float[]"}]))
    t.call("retrieve", lambda: t.coll.retrieve())


@case(AREA)
def coll_create_optional_and_sorting_field(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"},
                       {"name": "rank", "type": "int32"},
                       {"name": "note", "type": "string", "optional": True}],
                      default_sorting_field="rank"))


@case(AREA)
def coll_create_duplicate_name(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"}]))
    t.create(t.schema([{"name": "title", "type": "string"}]), label="create again")


@case(ERRORS)
def coll_retrieve_missing(t: Run) -> None:
    t.call("retrieve", lambda: t.client.collections[t.name + "_missing"].retrieve())


@case(ERRORS)
def coll_delete_then_retrieve(t: Run) -> None:
    load_books(t)
    t.call("delete", lambda: t.coll.delete())
    t.call("retrieve", lambda: t.coll.retrieve())
    t.call("delete again", lambda: t.coll.delete())


@case(AREA)
def coll_list_contains_both(t: Run) -> None:
    other = t.name + "_two"
    t.create(t.schema([{"name": "title", "type": "string"}]))
    t.create({"name": other, "fields": [{"name": "n", "type": "int32"}]}, label="create second")

    def ours() -> Any:  # other cases' collections may exist on a shared server: look at ours only
        return sorted((c for c in t.client.collections.retrieve() if c["name"] in (t.name, other)),
                      key=lambda c: c["name"])

    t.call("list", ours)


@case(AREA)
def coll_num_documents(t: Run) -> None:
    load_books(t)
    t.call("retrieve", lambda: t.coll.retrieve()["num_documents"])


@case(AREA)
def coll_alter_add_field(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"}]))
    t.call("alter", lambda: t.coll.update({"fields": [{"name": "year", "type": "int32", "optional": True}]}))
    t.call("retrieve", lambda: [f["name"] for f in t.coll.retrieve()["fields"]])


@case(AREA)
def coll_alter_drop_field(t: Run) -> None:
    load_books(t)
    t.call("alter", lambda: t.coll.update({"fields": [{"name": "rating", "drop": True}]}))
    t.call("retrieve", lambda: [f["name"] for f in t.coll.retrieve()["fields"]])
    t.call("document", lambda: t.docs["1"].retrieve())


@case(AREA)
def coll_alter_existing_field(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"}]))
    t.call("alter", lambda: t.coll.update({"fields": [{"name": "title", "type": "int32"}]}))


@case(AREA)
def coll_default_sorting_field_orders_wildcard(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"}, {"name": "rank", "type": "int32"}],
                      default_sorting_field="rank"))
    docs = [{"id": str(i), "title": f"t{i}", "rank": r} for i, r in enumerate([5, 9, 1, 7])]
    t.call("import", lambda: t.docs.import_(docs, {"action": "create"}))
    t.ids("wildcard", {"q": "*"})


# Schemas Typesense refuses: each row is a case comparing the error (code and message).
BAD_SCHEMAS: dict[str, dict] = {
    "bad_type": {"fields": [{"name": "title", "type": "text"}]},
    "duplicate_field": {"fields": [{"name": "title", "type": "string"}, {"name": "title", "type": "int32"}]},
    "field_without_name": {"fields": [{"type": "string"}]},
    "field_without_type": {"fields": [{"name": "title"}]},
    "fields_not_a_list": {"fields": {"name": "title", "type": "string"}},
    "no_fields": {},
    "sorting_field_missing": {"fields": [{"name": "title", "type": "string"}],
                              "default_sorting_field": "rank"},
    "sorting_field_not_numeric": {"fields": [{"name": "title", "type": "string"}],
                                  "default_sorting_field": "title"},
    "vector_without_num_dim_search": {"fields": [{"name": "v", "type": "float[]", "num_dim": 0}]},
    "optional_not_bool": {"fields": [{"name": "title", "type": "string", "optional": "yes"}]},
}


def _bad_schema(body: dict) -> Any:
    def run(t: Run) -> None:
        t.create({"name": t.name, **body})
        t.call("retrieve", lambda: t.coll.retrieve())

    return run


for _name, _body in BAD_SCHEMAS.items():
    add_case(f"schema_{_name}", AREA, _bad_schema(_body))


@case(AREA)
def schema_missing_name(t: Run) -> None:
    t.create({"fields": [{"name": "title", "type": "string"}]})


@case(AREA)
def coll_token_separators_and_symbols(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"}], token_separators=["-"], symbols_to_index=["+"]))
    doc = {"id": "1", "title": "state-of-the-art c++"}
    t.call("import", lambda: t.docs.import_([doc], {"action": "create"}))
    t.ids("search", {"q": "art", "query_by": "title"})


@case(AREA)
def schema_index_false_field(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"}, {"name": "code", "type": "int32", "index": False,
                                                             "optional": True}]))
    t.call("create", lambda: t.docs.create({"id": "1", "title": "a", "code": 7}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())
    t.search("filter on it", {"q": "*", "filter_by": "code:=7"})


@case(AREA)
def schema_optional_field_missing_in_some(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"},
                       {"name": "rank", "type": "int32", "optional": True},
                       {"name": "note", "type": "string", "optional": True, "facet": True}]))
    docs = [{"id": "1", "title": "a", "rank": 3, "note": "x"}, {"id": "2", "title": "b"},
            {"id": "3", "title": "c", "rank": 1}, {"id": "4", "title": "d", "note": "x"}]
    t.call("import", lambda: t.docs.import_(docs, {"action": "create"}))
    t.ids("filter", {"q": "*", "filter_by": "note:=x", "sort_by": "rank:asc"})
    t.ids("sort with missing values", {"q": "*", "sort_by": "rank:asc"})
    t.call("facet", lambda: t.docs.search({"q": "*", "facet_by": "note"})["facet_counts"])
