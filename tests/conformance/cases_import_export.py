"""Import with every action (per-line results, bad lines, return_id/return_doc) and export."""

from __future__ import annotations

import json

from .data import BOOK_FIELDS, BOOKS, book, load_books
from .harness import Run, add_case, case

AREA = "documents/import/export/errors"


def _collection(t: Run) -> None:
    t.create(t.schema(BOOK_FIELDS))


def _all(t: Run) -> list[dict]:
    return sorted((h["document"] for h in t.docs.search({"q": "*", "per_page": 50})["hits"]),
                  key=lambda d: d["id"])


@case(AREA)
def imp_create_list(t: Run) -> None:
    load_books(t)
    t.call("all", lambda: _all(t))


@case(AREA)
def imp_create_existing_ids(t: Run) -> None:
    load_books(t)
    t.call("again", lambda: t.docs.import_([book("1"), book("2")], {"action": "create"}))


@case(AREA)
def imp_default_action_is_create(t: Run) -> None:
    load_books(t)
    t.call("again", lambda: t.docs.import_([book("1")]))


@case(AREA)
def imp_jsonl_text(t: Run) -> None:
    _collection(t)
    body = "\n".join(json.dumps(b) for b in BOOKS[:3])
    t.call("import", lambda: t.docs.import_(body, {"action": "create"}), jsonl=True)


@case(AREA)
def imp_bad_lines_do_not_stop_others(t: Run) -> None:
    _collection(t)
    lines = [json.dumps(book("1")), "{not json", json.dumps({**book("2"), "year": "x"}), "[1, 2]",
             json.dumps(book("3"))]
    t.call("import", lambda: t.docs.import_("\n".join(lines), {"action": "create"}), jsonl=True)
    t.call("ids", lambda: [d["id"] for d in _all(t)])


@case(AREA)
def imp_return_id(t: Run) -> None:
    _collection(t)
    docs = [book("1"), {**book("2"), "year": "bad"}]
    t.call("import", lambda: t.docs.import_(docs, {"action": "create", "return_id": True}))


@case(AREA)
def imp_return_doc(t: Run) -> None:
    _collection(t)
    docs = [book("1"), {**book("2"), "year": "bad"}]
    t.call("import", lambda: t.docs.import_(docs, {"action": "create", "return_doc": True}))


@case(AREA)
def imp_upsert(t: Run) -> None:
    load_books(t)
    docs = [{**book("1"), "rating": 5.0}, {**book("2"), "title": "Dune Messiah"},
            {**book("1"), "id": "9", "title": "New"}]
    t.call("upsert", lambda: t.docs.import_(docs, {"action": "upsert"}))
    t.call("all", lambda: _all(t))


@case(AREA)
def imp_upsert_partial_line(t: Run) -> None:
    load_books(t)
    t.call("upsert", lambda: t.docs.import_([{"id": "1", "rating": 1.0}], {"action": "upsert"}))
    t.call("doc", lambda: t.docs["1"].retrieve())


@case(AREA)
def imp_update(t: Run) -> None:
    load_books(t)
    docs = [{"id": "1", "rating": 1.0}, {"id": "404", "rating": 2.0}, {"id": "2", "year": "bad"}]
    t.call("update", lambda: t.docs.import_(docs, {"action": "update"}))
    t.call("doc 1", lambda: t.docs["1"].retrieve())
    t.call("doc 404", lambda: t.docs["404"].retrieve())


@case(AREA)
def imp_emplace(t: Run) -> None:
    load_books(t)
    docs = [{"id": "1", "rating": 1.0}, {**book("1"), "id": "10"}, {"id": "11", "rating": 2.0}]
    t.call("emplace", lambda: t.docs.import_(docs, {"action": "emplace"}))
    t.call("all", lambda: _all(t))


@case(AREA)
def imp_unknown_action(t: Run) -> None:
    _collection(t)
    t.call("import", lambda: t.docs.import_([book("1")], {"action": "replace"}))


@case(AREA)
def imp_missing_collection(t: Run) -> None:
    docs = t.client.collections[t.name + "_missing"].documents
    t.call("import", lambda: docs.import_([book("1")], {"action": "create"}))


@case(AREA)
def imp_update_without_id(t: Run) -> None:
    load_books(t)
    t.call("update", lambda: t.docs.import_([{"rating": 1.0}], {"action": "update"}))


@case(AREA)
def exp_all(t: Run) -> None:
    load_books(t)
    t.call("export", lambda: t.docs.export(), jsonl=True, sort_lines_by_id=True)


@case(AREA)
def exp_empty_collection(t: Run) -> None:
    _collection(t)
    t.call("export", lambda: t.docs.export())


@case(AREA)
def exp_filter_by(t: Run) -> None:
    load_books(t)
    t.call("export", lambda: t.docs.export({"filter_by": "tags:=scifi && year:>1980"}),
           jsonl=True, sort_lines_by_id=True)


@case(AREA)
def exp_include_fields(t: Run) -> None:
    load_books(t)
    t.call("export", lambda: t.docs.export({"include_fields": "title,year"}),
           jsonl=True, sort_lines_by_id=True)


@case(AREA)
def exp_exclude_fields(t: Run) -> None:
    load_books(t)
    t.call("export", lambda: t.docs.export({"exclude_fields": "tags,editions,rating"}),
           jsonl=True, sort_lines_by_id=True)


@case(AREA)
def exp_missing_collection(t: Run) -> None:
    t.call("export", lambda: t.client.collections[t.name + "_missing"].documents.export())


@case(AREA)
def exp_then_import_round_trip(t: Run) -> None:
    load_books(t)
    text = t.call("export", lambda: t.docs.export(), jsonl=True, sort_lines_by_id=True)
    t.call("delete", lambda: t.coll.delete())
    t.create(t.schema(BOOK_FIELDS), label="recreate")
    t.call("import", lambda: t.docs.import_(text or "", {"action": "create"}), jsonl=True)
    t.call("all", lambda: _all(t))


def _dirty_values_case(mode: str) -> object:
    def run(t: Run) -> None:
        _collection(t)
        docs = [{**book("1"), "year": "1937"}, {**book("2"), "title": 12}, {**book("3"), "rating": "4.1"},
                {**book("4"), "year": "soon"}, {**book("5"), "in_print": "false"}]
        t.call(f"import dirty_values={mode}", lambda: t.docs.import_(docs, {"dirty_values": mode}))
        t.call("all", lambda: _all(t))

    return run


for _mode in ("coerce_or_reject", "coerce_or_drop", "drop", "reject"):
    add_case(f"imp_dirty_values_{_mode}", AREA, _dirty_values_case(_mode))  # type: ignore[arg-type]


@case(AREA)
def imp_batch_size(t: Run) -> None:
    _collection(t)
    docs = [book("1"), {**book("2"), "year": "x"}, book("3"), book("4"), book("5")]
    t.call("import", lambda: t.docs.import_(docs, {"action": "create", "batch_size": 2}))
    t.call("count", lambda: t.coll.retrieve()["num_documents"])


@case(AREA)
def imp_jsonl_blank_lines(t: Run) -> None:
    _collection(t)
    body = json.dumps(book("1")) + "\n\n" + json.dumps(book("2")) + "\n"
    t.call("import", lambda: t.docs.import_(body, {"action": "create"}), jsonl=True)


@case(AREA)
def imp_empty_list(t: Run) -> None:
    _collection(t)
    t.call("import", lambda: t.docs.import_([], {"action": "create"}))


@case(AREA)
def exp_vectors_round_trip(t: Run) -> None:
    from .data import load_vectors

    load_vectors(t)
    t.call("export", lambda: t.docs.export(), jsonl=True, sort_lines_by_id=True)
