"""Single documents: create, upsert, update, emplace, retrieve, delete, and their errors."""

from __future__ import annotations

from .data import BOOK_FIELDS, book, load_books
from .harness import Run, case

AREA = "documents/import/export/errors"


def _books_collection(t: Run) -> None:
    t.create(t.schema(BOOK_FIELDS))


@case(AREA)
def doc_create_and_retrieve(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create(book("1")))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_create_without_id(t: Run) -> None:
    _books_collection(t)
    doc = book("2")
    del doc["id"]
    t.call("create", lambda: t.docs.create(doc))
    t.call("create another", lambda: t.docs.create(dict(doc)))
    t.call("search", lambda: sorted(h["document"]["id"] for h in t.docs.search({"q": "*"})["hits"]))


@case(AREA)
def doc_create_duplicate_id(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create(book("1")))
    t.call("create again", lambda: t.docs.create(book("1")))


@case(AREA)
def doc_create_wrong_type(t: Run) -> None:
    _books_collection(t)
    t.call("string for int32", lambda: t.docs.create({**book("1"), "year": "nineteen"}))
    t.call("int for string", lambda: t.docs.create({**book("2"), "title": 12}))
    t.call("string for bool", lambda: t.docs.create({**book("3"), "in_print": "yes"}))
    t.call("scalar for array", lambda: t.docs.create({**book("4"), "tags": "fantasy"}))
    t.call("float for int32", lambda: t.docs.create({**book("5"), "year": 1989.5}))
    t.call("count", lambda: t.coll.retrieve()["num_documents"])


@case(AREA)
def doc_create_missing_required_field(t: Run) -> None:
    _books_collection(t)
    doc = book("1")
    del doc["author"]
    t.call("create", lambda: t.docs.create(doc))


@case(AREA)
def doc_create_int_for_float(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create({**book("1"), "rating": 4}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_create_extra_field_kept(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create({**book("1"), "publisher": "Allen & Unwin"}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_create_int64_range(t: Run) -> None:
    _books_collection(t)
    t.call("big int64", lambda: t.docs.create({**book("1"), "pages": 2**40}))
    t.call("int32 overflow", lambda: t.docs.create({**book("2"), "year": 2**31}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_create_null_optional(t: Run) -> None:
    t.create(t.schema([{"name": "title", "type": "string"},
                       {"name": "note", "type": "string", "optional": True}]))
    t.call("null optional", lambda: t.docs.create({"id": "1", "title": "a", "note": None}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())
    t.call("null required", lambda: t.docs.create({"id": "2", "title": None}))


@case(AREA)
def doc_id_not_a_string(t: Run) -> None:
    _books_collection(t)
    t.call("int id", lambda: t.docs.create({**book("1"), "id": 7}))


@case(AREA)
def doc_retrieve_missing(t: Run) -> None:
    _books_collection(t)
    t.call("retrieve", lambda: t.docs["nope"].retrieve())


@case(AREA)
def doc_in_missing_collection(t: Run) -> None:
    docs = t.client.collections[t.name + "_missing"].documents
    t.call("create", lambda: docs.create(book("1")))
    t.call("retrieve", lambda: docs["1"].retrieve())
    t.call("search", lambda: docs.search({"q": "*"}))


@case(AREA)
def doc_upsert_replaces(t: Run) -> None:
    _books_collection(t)
    t.call("upsert new", lambda: t.docs.upsert(book("1")))
    t.call("upsert existing", lambda: t.docs.upsert({**book("1"), "title": "There and Back Again"}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_upsert_partial_fails(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create(book("1")))
    t.call("upsert partial", lambda: t.docs.upsert({"id": "1", "title": "Partial"}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_update_partial(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create(book("1")))
    t.call("update", lambda: t.docs["1"].update({"rating": 4.9, "tags": ["fantasy"]}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_update_missing(t: Run) -> None:
    _books_collection(t)
    t.call("update", lambda: t.docs["nope"].update({"rating": 1.0}))


@case(AREA)
def doc_update_wrong_type(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create(book("1")))
    t.call("update", lambda: t.docs["1"].update({"year": "soon"}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_emplace(t: Run) -> None:
    _books_collection(t)
    t.call("emplace new", lambda: t.docs.import_([book("1")], {"action": "emplace"}))
    partial = [{"id": "1", "rating": 1.5}]
    t.call("import emplace partial", lambda: t.docs.import_(partial, {"action": "emplace"}))
    t.call("retrieve", lambda: t.docs["1"].retrieve())


@case(AREA)
def doc_delete(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create(book("1")))
    t.call("delete", lambda: t.docs["1"].delete())
    t.call("retrieve", lambda: t.docs["1"].retrieve())
    t.call("delete again", lambda: t.docs["1"].delete())


@case(AREA)
def doc_delete_by_filter(t: Run) -> None:
    load_books(t)
    t.call("delete", lambda: t.docs.delete({"filter_by": "author:=Tolkien"}))
    t.call("left", lambda: sorted(h["document"]["id"]
                                  for h in t.docs.search({"q": "*", "per_page": 20})["hits"]))


@case(AREA)
def doc_delete_by_filter_numeric(t: Run) -> None:
    load_books(t)
    t.call("delete", lambda: t.docs.delete({"filter_by": "year:<1970 && in_print:true"}))
    t.call("count", lambda: t.coll.retrieve()["num_documents"])


@case(AREA)
def doc_delete_by_bad_filter(t: Run) -> None:
    load_books(t)
    t.call("unknown field", lambda: t.docs.delete({"filter_by": "colour:=red"}))
    t.call("count", lambda: t.coll.retrieve()["num_documents"])


@case(AREA)
def doc_delete_by_filter_matching_none(t: Run) -> None:
    load_books(t)
    t.call("delete", lambda: t.docs.delete({"filter_by": "year:>3000"}))


@case(AREA)
def doc_update_with_other_id_in_body(t: Run) -> None:
    _books_collection(t)
    t.call("create", lambda: t.docs.create(book("1")))
    t.call("update", lambda: t.docs["1"].update({"id": "2", "rating": 2.0}))
    t.call("doc 1", lambda: t.docs["1"].retrieve())
    t.call("doc 2", lambda: t.docs["2"].retrieve())
