"""Documents, import/export and errors as the official Typesense client sees them.

Every expected value here was taken from a real Typesense 0.24.1 server driven by the official `typesense`
client (see tests/conformance for the side-by-side suite); `truncate`, update by filter, `ignore_not_found`
and retrieve's `include_fields` came later and follow the current Typesense documentation.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import typesense.exceptions as client_errors
from engine_helpers import random_unit_vectors

from app.engine import Engine
from app.engine import errors as engine_errors

DIMS = 8
BOOKS = {
    "name": "books",
    "fields": [
        {"name": "title", "type": "string"},
        {"name": "year", "type": "int32", "optional": True},
        {"name": "tags", "type": "string[]", "optional": True},
        {"name": "vec", "type": "float[]", "num_dim": DIMS, "optional": True},
    ],
}


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Engine]:
    with Engine(tmp_path / "lib") as engine:
        engine.collections.create(BOOKS)
        yield engine


def docs(engine: Engine):
    return engine.collections["books"].documents


def add_years(engine: Engine, years: range, with_vectors: bool = False) -> None:
    vectors = random_unit_vectors(len(years), DIMS, seed=1)
    lines = []
    for i, year in enumerate(years):
        line = {"id": str(year), "title": f"book {year}", "year": year}
        if with_vectors:
            line["vec"] = vectors[i].tolist()
        lines.append(line)
    assert all(r["success"] for r in docs(engine).import_(lines))


# ----------------------------------------------------------------------------------------------- errors


def test_a_script_catches_the_engines_errors_with_the_clients_classes(books: Engine) -> None:
    with pytest.raises(client_errors.ObjectNotFound) as missing:
        docs(books)["nope"].retrieve()
    assert missing.value.args == (404, "Could not find a document with id: nope")  # as the client builds it
    assert (missing.value.status_code, missing.value.code, missing.value.errno) == (404, 404, 404)
    assert missing.value.message == missing.value.strerror == "Could not find a document with id: nope"
    docs(books).create({"id": "1", "title": "a"})
    with pytest.raises(client_errors.ObjectAlreadyExists):
        docs(books).create({"id": "1", "title": "a"})
    with pytest.raises(client_errors.RequestMalformed):
        docs(books).create({"id": "2", "title": 5})
    with pytest.raises(client_errors.TypesenseClientError):
        docs(books).import_([{"id": "3", "title": "x"}], {"action": "replace"})


def test_errors_by_status_are_the_clients_classes_and_survive_pickling() -> None:
    assert isinstance(engine_errors.error_for(500, "boom"), client_errors.ServerError)
    assert isinstance(engine_errors.error_for(507, "disk full"), client_errors.ServerError)
    assert isinstance(engine_errors.error_for(401, "key"), client_errors.RequestUnauthorized)
    assert isinstance(engine_errors.error_for(503, "busy"), client_errors.ServiceUnavailable)
    assert isinstance(engine_errors.error_for(422, "page"), client_errors.ObjectUnprocessable)
    copy = pickle.loads(pickle.dumps(engine_errors.ObjectNotFound("gone")))
    assert (type(copy), copy.code, copy.message, str(copy)) == (
        engine_errors.ObjectNotFound, 404, "gone", "[Errno 404] gone"
    )


def test_the_engine_does_not_load_the_http_client_yet_a_script_shares_its_classes() -> None:
    script = (
        "import sys\n"
        "from app.engine import errors\n"
        "assert 'httpx' not in sys.modules and 'typesense.sync' not in sys.modules\n"
        "import typesense\n"
        "try:\n"
        "    raise errors.ObjectNotFound('gone')\n"
        "except typesense.exceptions.ObjectNotFound as exc:\n"
        "    print(exc.args)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(404, 'gone')"


# ------------------------------------------------------------------------------------ delete by filter


def test_delete_by_filter_counts_and_leaves_the_rest(books: Engine) -> None:
    add_years(books, range(10))
    assert docs(books).delete({"filter_by": "year:>7"}) == {"num_deleted": 2}
    assert docs(books).delete({"filter_by": "year:>5", "batch_size": 1}) == {"num_deleted": 2}
    assert docs(books).delete({"filter_by": "year:>100"}) == {"num_deleted": 0}
    assert docs(books).delete({"filter_by": ""}) == {"num_deleted": 0}  # an empty filter deletes nothing
    assert books.collections["books"].retrieve()["num_documents"] == 6


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({}, client_errors.RequestMalformed, "Parameter `filter_by` must be provided."),
        ({"filter_by": "year:>1", "batch_size": 0}, client_errors.RequestMalformed,
         "Parameter `batch_size` must be a positive integer."),
        ({"filter_by": "year:>1", "batch_size": "x"}, client_errors.RequestMalformed,
         "Parameter `batch_size` must be a positive integer."),
        ({"filter_by": "nope:>5"}, client_errors.ObjectNotFound,
         "Could not find a filter field named `nope` in the schema."),
    ],
)
def test_delete_by_filter_refuses_what_typesense_refuses(books: Engine, params, error, message) -> None:
    add_years(books, range(3))
    with pytest.raises(error) as caught:
        docs(books).delete(params)
    assert caught.value.message == message
    assert books.collections["books"].retrieve()["num_documents"] == 3


def test_truncate_empties_the_collection_and_keeps_it(books: Engine) -> None:
    add_years(books, range(5), with_vectors=True)
    assert docs(books).delete({"truncate": True}) == {"num_deleted": 5}
    summary = books.collections["books"].retrieve()
    assert summary["num_documents"] == 0 and [f["name"] for f in summary["fields"]] == [
        "title", "year", "tags", "vec"
    ]
    assert docs(books).export() == ""
    add_years(books, range(2), with_vectors=True)  # the emptied collection takes documents again
    assert books.collections["books"].retrieve()["num_documents"] == 2


def test_deleted_documents_leave_the_vector_index_also_after_reopening(tmp_path: Path) -> None:
    with Engine(tmp_path / "lib") as engine:
        engine.collections.create(BOOKS)
        add_years(engine, range(2000), with_vectors=True)
        assert docs(engine).delete({"filter_by": "year:<1900"}) == {"num_deleted": 1900}
        probe = random_unit_vectors(2000, DIMS, seed=1)[5]  # the vector of the deleted book 5
        query = {"q": "*", "vector_query": f"vec:([{','.join(map(str, probe))}], k:50)", "per_page": 50}
        found = {h["document"]["id"] for h in docs(engine).search(query)["hits"]}
        assert found and all(int(doc_id) >= 1900 for doc_id in found)
    with Engine(tmp_path / "lib") as engine:
        found = {h["document"]["id"] for h in docs(engine).search(query)["hits"]}
        assert found and all(int(doc_id) >= 1900 for doc_id in found)
        assert engine.collections["books"].retrieve()["num_documents"] == 100


def test_return_id_and_return_doc_name_what_a_delete_removed(books: Engine) -> None:
    add_years(books, range(4))
    assert docs(books).delete({"filter_by": "year:>=2", "return_id": True}) == {
        "num_deleted": 2, "ids": ["2", "3"]
    }


# ------------------------------------------------------------------------------------ update by filter


def test_update_by_filter_changes_only_the_matching_documents(books: Engine) -> None:
    add_years(books, range(6))
    assert docs(books).update({"tags": ["old"]}, {"filter_by": "year:<3"}) == {"num_updated": 3}
    assert docs(books)["1"].retrieve() == {"id": "1", "title": "book 1", "year": 1, "tags": ["old"]}
    assert "tags" not in docs(books)["4"].retrieve()
    assert docs(books).update({"title": "same"}, {"filter_by": "*"}) == {"num_updated": 6}
    assert docs(books).update({"title": "x"}, {"filter_by": ""}) == {"num_updated": 0}
    # A change a document refuses leaves it as it was, and is not counted.
    assert docs(books).update({"year": "soon"}, {"filter_by": "year:<3"}) == {"num_updated": 0}
    assert docs(books)["1"].retrieve()["year"] == 1


def test_update_without_a_filter_or_an_id_is_refused(books: Engine) -> None:
    with pytest.raises(client_errors.RequestMalformed) as caught:
        docs(books).update({"year": 3})
    assert caught.value.message == "Parameter `filter_by` must be provided."


# ---------------------------------------------------------------------------------------------- export


def test_export_is_in_insertion_order_and_an_upsert_keeps_its_place(books: Engine) -> None:
    for doc_id in ("5", "3", "9"):
        docs(books).create({"id": doc_id, "title": f"t{doc_id}"})
    docs(books).upsert({"id": "3", "title": "é"})
    # Typesense's text: keys sorted, no spaces, UTF-8 as is.
    assert docs(books).export() == '{"id":"5","title":"t5"}\n{"id":"3","title":"é"}\n{"id":"9","title":"t9"}'


def test_export_takes_filter_by_include_and_exclude_fields(books: Engine) -> None:
    add_years(books, range(4))
    assert docs(books).export({"filter_by": "year:>1"}).splitlines() == [
        '{"id":"2","title":"book 2","year":2}', '{"id":"3","title":"book 3","year":3}'
    ]
    pruned = {"include_fields": " title , year", "exclude_fields": "year", "filter_by": "year:<1"}
    assert docs(books).export(pruned) == '{"title":"book 0"}'
    with pytest.raises(client_errors.ObjectNotFound):
        docs(books).export({"filter_by": "nope:1"})


# ---------------------------------------------------------------------------------------------- import


def test_failed_lines_echo_the_line_as_sent(books: Engine) -> None:
    text = '{"id":"1","title":"a"}\n{"id": "1",  "title":"b"}\n[1,2]\n{not json'
    lines = [json.loads(line) for line in docs(books).import_(text).split("\n")]
    assert lines[0] == {"success": True}
    assert lines[1] == {
        "code": 409, "document": '{"id": "1",  "title":"b"}', "error": "A document with id 1 already exists.",
        "success": False,
    }
    assert lines[2] == {
        "code": 400, "document": "[1,2]", "error": "Bad JSON: not a properly formed document.",
        "success": False,
    }
    assert lines[3]["document"] == "{not json" and lines[3]["error"].startswith("Bad JSON")
    # The result text is Typesense's: compact, keys sorted.
    assert docs(books).import_('{"id":"2","title":"c"}', {"return_id": True}) == '{"id":"2","success":true}'
    # A list of dicts is sent by the client as json.dumps of each: that is what comes back.
    (result,) = docs(books).import_([{"id": "3"}])
    assert result["document"] == '{"id": "3"}'


def test_return_doc_gives_the_stored_document(books: Engine) -> None:
    docs(books).create({"id": "1", "title": "a", "year": 1})
    (result,) = docs(books).import_(
        [{"id": "1", "year": 2, "tags": None}], {"action": "update", "return_doc": True, "return_id": True}
    )
    assert result == {"success": True, "id": "1", "document": {"id": "1", "title": "a", "year": 2}}


@pytest.mark.parametrize(
    ("dirty", "line", "outcome"),
    [
        (None, {"title": "a", "year": "12"}, "Field `year` must be an int32."),
        ("reject", {"title": "a", "year": "12"}, "Field `year` must be an int32."),
        ("coerce_or_reject", {"title": "a", "year": "12"}, {"title": "a", "year": 12}),
        ("coerce_or_reject", {"title": 5, "year": 3.0}, {"title": "5", "year": 3}),
        ("coerce_or_reject", {"title": "a", "year": "soon"}, "Field `year` must be an int32."),
        ("coerce_or_drop", {"title": True, "year": "soon"}, {"title": "true"}),
        ("coerce_or_drop", {"title": [1], "year": 1}, "Field `title` must be a string."),
        ("drop", {"title": "a", "year": "12", "tags": ["x", 1]}, {"title": "a", "tags": ["x"]}),
    ],
)
def test_dirty_values(books: Engine, dirty, line, outcome) -> None:
    params = {"dirty_values": dirty} if dirty else {}
    (result,) = docs(books).import_([{"id": "d", **line}], params)
    if isinstance(outcome, str):
        assert (result["success"], result["error"]) == (False, outcome)
    else:
        assert result == {"success": True}
        assert docs(books)["d"].retrieve() == {"id": "d", **outcome}
    docs(books)["d"].delete({"ignore_not_found": True})
    single = docs(books).create({"id": "d", **line}, params) if not isinstance(outcome, str) else None
    if single is not None:
        assert single == {"id": "d", **outcome}


# ------------------------------------------------------------------------------------ single documents


def test_single_document_answers_and_messages(books: Engine) -> None:
    # A declared optional field set to null is left out; an undeclared one is kept.
    assert docs(books).create({"id": "1", "title": "a", "year": None, "extra": None}) == {
        "id": "1", "title": "a", "extra": None
    }
    assert docs(books)["1"].update({"tags": ["x"]}) == {"id": "1", "title": "a", "extra": None, "tags": ["x"]}
    assert docs(books)["1"].update({"tags": None}) == {"id": "1", "title": "a", "extra": None}
    cases = [
        (lambda: docs(books).create({"id": "", "title": "a"}), 400, "The `id` should not be empty."),
        (lambda: docs(books).create({"id": 5, "title": "a"}), 400,
         "Document's `id` field should be a string."),
        (lambda: docs(books).create({"id": "2", "title": None}), 400, "Field `title` must be a string."),
        (lambda: docs(books).create({"id": "2", "title": "a", "tags": "x"}), 400,
         "Field `tags` must be an array."),
        (lambda: docs(books).create({"id": "2"}), 400,
         "Field `title` has been declared in the schema, but is not found in the document."),
        (lambda: docs(books)["1"].update({"id": "2", "year": 1}), 400,
         "The `id` of the resource does not match the `id` in the JSON body."),
        (lambda: docs(books)["9"].update({"year": 1}), 404, "Could not find a document with id: 9"),
        (lambda: docs(books)["9"].delete(), 404, "Could not find a document with id: 9"),
    ]
    for call, code, message in cases:
        with pytest.raises(engine_errors.TypesenseError) as caught:
            call()
        assert (caught.value.code, caught.value.message) == (code, message)
    assert docs(books)["9"].delete({"ignore_not_found": True}) == {"id": "9"}
    assert docs(books)["1"].retrieve({"include_fields": "title"}) == {"title": "a"}
    assert docs(books)["1"].delete() == {"id": "1", "title": "a", "extra": None}


def test_the_first_missing_field_named_is_the_first_by_name(tmp_path: Path) -> None:
    fields = [{"name": "title", "type": "string"}, {"name": "author", "type": "string"}]
    schema = {"name": "b", "fields": fields}
    with Engine(tmp_path / "lib") as engine:
        engine.collections.create(schema)
        with pytest.raises(client_errors.RequestMalformed) as caught:
            engine.collections["b"].documents.upsert({"id": "1"})
        assert "`author`" in caught.value.message


def test_vectors_come_back_as_float32_values(books: Engine) -> None:
    vec = random_unit_vectors(1, DIMS, seed=3)[0]
    stored = docs(books).create({"id": "v", "title": "a", "vec": vec.tolist()})
    assert np.array_equal(np.asarray(stored["vec"], dtype=np.float32), vec)


def test_another_engine_on_the_library_sees_a_delete_by_filter(tmp_path: Path) -> None:
    with Engine(tmp_path / "lib") as first, Engine(tmp_path / "lib") as second:
        first.collections.create(BOOKS)
        add_years(first, range(300), with_vectors=True)
        probe = random_unit_vectors(300, DIMS, seed=1)[7]
        query = {"q": "*", "vector_query": f"vec:([{','.join(map(str, probe))}], k:20)", "per_page": 20}
        assert docs(second).search(query)["hits"][0]["document"]["id"] == "7"  # its index is loaded now
        assert docs(first).delete({"filter_by": "year:<100"}) == {"num_deleted": 100}
        found = [h["document"]["id"] for h in docs(second).search(query)["hits"]]
        assert found and all(int(doc_id) >= 100 for doc_id in found)
        assert second.collections["books"].retrieve()["num_documents"] == 200


def test_missing_collections_and_empty_imports_answer_as_typesense(books: Engine) -> None:
    missing = books.collections["nope"]
    for call, message in [
        (lambda: missing.retrieve(), "Not Found"),
        (lambda: missing.documents.create({"id": "1", "title": "a"}), "Not Found"),
        (lambda: missing.documents["1"].retrieve(), "Not Found"),
        (lambda: missing.documents.import_([{"id": "1"}]), "Not Found"),
        (lambda: missing.documents.export(), "Not Found"),
        (lambda: missing.documents.search({"q": "*"}), "Not found."),
        (lambda: missing.delete(), "No collection with name `nope` found."),
    ]:
        with pytest.raises(client_errors.ObjectNotFound) as caught:
            call()
        assert caught.value.message == message
    (result,) = books.multi_search.perform({"searches": [{"q": "*"}]})["results"]
    assert result == {"code": 404, "error": "Not found."}
    # The official client refuses an empty list itself, before any request: no status.
    with pytest.raises(client_errors.TypesenseClientError) as refused:
        docs(books).import_([])
    assert type(refused.value) is client_errors.TypesenseClientError
    assert refused.value.args == ("Cannot import an empty list of documents.",)
    assert docs(books).import_("") == ""  # JSONL text with no lines is not a list


def test_numbers_thousands_of_digits_long_are_refused_as_bad_requests(books: Engine) -> None:
    # Python's int() refuses 4,300+ digits with a ValueError: it must read as the request's fault, a 400.
    huge = "9" * 5000
    docs_ = docs(books)
    with pytest.raises(engine_errors.RequestMalformed, match="`batch_size`"):
        docs_.delete({"filter_by": "year:>0", "batch_size": huge})
    with pytest.raises(engine_errors.RequestMalformed, match="`per_page`"):
        docs_.search({"q": "*", "per_page": huge})
    results = docs_.import_([{"title": "a", "year": huge}], {"dirty_values": "coerce_or_reject"})
    assert results[0]["success"] is False and results[0]["error"] == "Field `year` must be an int32."
