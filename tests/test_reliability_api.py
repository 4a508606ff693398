"""Every public method of the Engine's client object model, given a wrong value, answers with a Typesense
4xx (a TypesenseError) whose message names the parameter, or succeeds: never a raw Python exception.

One table, one row per hostile call. The messages follow Typesense 0.24.1's own wording where a real
server has an answer (``Parameter `page` must be an unsigned integer.``); elsewhere they name the
parameter and say what it must be.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import seed_schema, shape_b64, vector_schema

from app.engine import Engine
from app.engine.errors import TypesenseError

DIMS = 8
VEC = "[" + ", ".join(["0.1"] * DIMS) + "]"
UINT32_MAX = 2**32 - 1


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "lib")
    eng.collections.create(vector_schema("vectors", DIMS))
    docs = eng.collections["vectors"].documents
    docs.create({"id": "a", "title": "hello world", "vec": [0.1] * DIMS})
    docs.create({"id": "b", "title": "second", "vec": [0.2, 0.1] * (DIMS // 2)})
    docs.create({"id": "5", "title": "numbered", "vec": [0.3, 0.1] * (DIMS // 2)})
    eng.collections.create(seed_schema(("image",)))
    photo = {"id": "p", "name": "red", "image": shape_b64("red", "circle")}
    eng.collections["images"].documents.create(photo)
    yield eng
    eng.close()


Call = Callable[[Engine], Any]


def _search(**params: Any) -> Call:
    return lambda e: e.collections["vectors"].documents.search({"q": "*", **params})


def _vq(extra: str) -> Call:
    return _search(vector_query=f"vec:({VEC}, {extra})")


def _images_vq(query: str) -> Call:
    return lambda e: e.collections["images"].documents.search({"q": "*", "vector_query": query})


def _docs(e: Engine):
    return e.collections["vectors"].documents


def _folders(e: Engine):
    return e.collections["vectors"].folders


def _nested(depth: int) -> str:
    return "(" * depth + "title:hello" + ")" * depth


def _nested_or(depth: int) -> str:
    text = "title:hello"
    for _ in range(depth):
        text = f"(title:second || {text})"
    return text


def _schema_with(**title_props: Any) -> dict:
    schema = vector_schema("s", DIMS)
    schema["fields"][0].update(title_props)
    return schema


def _deep_embed(depth: int) -> dict:
    nested: dict = {}
    for _ in range(depth):
        nested = {"a": nested}
    schema = seed_schema(("image",), name="deep")
    schema["fields"][2]["embed"]["model_config"]["extra"] = nested
    return schema


# (case id, call, expected code, a fragment of the message); code None: the call must succeed.
HOSTILE: list[tuple[str, Call, int | None, str]] = [
    # -- search: page and per_page ----------------------------------------------------------------------
    ("page 0", _search(page=0), 422, "Page must be an integer of value greater than 0."),
    ("page -1", _search(page=-1), 400, "Parameter `page` must be an unsigned integer."),
    ("page 10**20", _search(page=10**20), 400, "Parameter `page` must be an unsigned integer."),
    ("page 2**32", _search(page=2**32), 400, "Parameter `page` must be an unsigned integer."),
    ("page 'abc'", _search(page="abc"), 400, "Parameter `page` must be an unsigned integer."),
    ("page 1.5", _search(page=1.5), 400, "Parameter `page` must be an unsigned integer."),
    ("page True", _search(page=True), 400, "Parameter `page` must be an unsigned integer."),
    ("page None", _search(page=None), 400, "Parameter `page` must be an unsigned integer."),
    ("page [1]", _search(page=[1]), 400, "Parameter `page` must be an unsigned integer."),
    ("page '2'", _search(page="2"), None, ""),
    ("page '²'", _search(page="²"), 400, "Parameter `page` must be an unsigned integer."),
    ("max_facet_values '²'", _search(facet_by="folder", max_facet_values="²"), 400, "`max_facet_values`"),
    ("page uint32 max", _search(page=UINT32_MAX), None, ""),
    ("page uint32 max, vector", _search(page=UINT32_MAX, per_page=250, vector_query=f"vec:({VEC})"), None,
     ""),
    ("page huge, keyword", lambda e: _docs(e).search({"q": "hello", "query_by": "title", "page": 10**9}),
     None, ""),
    ("page huge, filter", _search(page=10**9, filter_by="title:hello"), None, ""),
    ("per_page -1", _search(per_page=-1), 400, "Parameter `per_page` must be an unsigned integer."),
    ("per_page 10**20", _search(per_page=10**20), 400, "Parameter `per_page` must be an unsigned integer."),
    ("per_page 'abc'", _search(per_page="abc"), 400, "Parameter `per_page` must be an unsigned integer."),
    ("per_page 2.0", _search(per_page=2.0), 400, "Parameter `per_page` must be an unsigned integer."),
    ("per_page 251", _search(per_page=251), 422, "Only upto 250 hits can be fetched per page."),
    ("max_facet_values 10**20", _search(facet_by="folder", max_facet_values=10**20), None, ""),
    ("max_facet_values -1", _search(facet_by="folder", max_facet_values=-1), 400, "`max_facet_values`"),
    # -- search: parameters of the wrong type -------------------------------------------------------------
    ("params None", lambda e: _docs(e).search(None), 400, "search parameters must be an object"),
    ("params list", lambda e: _docs(e).search([]), 400, "search parameters must be an object"),
    ("q list", _search(q=["a"]), 400, "Parameter `q` must be a string."),
    ("q None", _search(q=None), 400, "Parameter `q` is required."),
    ("filter_by int", _search(filter_by=5), 400, "Parameter `filter_by` must be a string."),
    ("filter_by 0", _search(filter_by=0), 400, "Parameter `filter_by` must be a string."),
    ("filter_by list", _search(filter_by=["title:hello"]), 400, "Parameter `filter_by` must be a string."),
    ("sort_by dict", _search(sort_by={"a": 1}), 400, "Parameter `sort_by` must be a string."),
    ("query_by int", lambda e: _docs(e).search({"q": "a", "query_by": 5}), 400, "Parameter `query_by`"),
    ("include_fields int", _search(include_fields=5), 400, "Parameter `include_fields`"),
    ("exclude_fields dict", _search(exclude_fields={"a": 1}), 400, "Parameter `exclude_fields`"),
    ("facet_by int", _search(facet_by=5), 400, "Parameter `facet_by`"),
    ("vector_query int", _search(vector_query=5), 400, "Malformed vector query string"),
    ("q a megabyte long", lambda e: _docs(e).search({"q": "a" * 1_000_000, "query_by": "title"}), None, ""),
    # -- vector_query numbers -----------------------------------------------------------------------------
    ("k 10**20", _vq("k:100000000000000000000"), 400, "`k` must be a positive integer"),
    ("k 2**32", _vq(f"k:{2**32}"), 400, "`k` must be a positive integer"),
    ("k uint32 max", _vq(f"k:{UINT32_MAX}"), None, ""),
    ("ef 10**20", _vq("ef:100000000000000000000"), 400, "`ef` must be a positive integer"),
    ("ef uint32 max", _vq(f"ef:{UINT32_MAX}"), None, ""),
    ("flat_search_cutoff 10**20", _vq("flat_search_cutoff:100000000000000000000"), 400,
     "`flat_search_cutoff` must be"),
    ("query_weights 1e308", _images_vq("embedding:([], queries:[red, circle], query_weights:[1e308, 1e308])"),
     400, "`query_weights`"),
    ("query_weights 1e39", _images_vq("embedding:([], queries:[red, circle], query_weights:[1e39, 1])"), 400,
     "`query_weights`"),
    # Within float32, only the weights' ratios matter: these are "equal weights".
    ("query_weights 3e38 twice", _images_vq("embedding:([], queries:[red, red], query_weights:[3e38, 3e38])"),
     None, ""),
    ("query_weights 3e38 with a photo",
     _images_vq("embedding:([], id:p, queries:[red], query_weights:[3e38, 3e38])"), None, ""),
    ("query_weights 1e-45", _images_vq("embedding:([], queries:[red], query_weights:[1e-45])"), None, ""),
    # -- filter_by nesting --------------------------------------------------------------------------------
    ("filter 10,000 deep", _search(filter_by=_nested(10_000)), 400, "nested"),
    ("filter 500 deep", _search(filter_by=_nested(500)), 400, "nested"),
    ("filter 50 deep", _search(filter_by=_nested(50)), None, ""),
    ("filter 50 deep alternatives", _search(filter_by=_nested_or(50)), None, ""),
    ("filter 10,000 alternatives", _search(filter_by=" || ".join(["title:hello"] * 10_000)), None, ""),
    # -- import_ ------------------------------------------------------------------------------------------
    ("import None", lambda e: _docs(e).import_(None), 400, "The import body"),
    ("import int", lambda e: _docs(e).import_(5), 400, "The import body"),
    ("import dict", lambda e: _docs(e).import_({"id": "x"}), 400, "The import body"),
    ("import params str", lambda e: _docs(e).import_([], "x"), 400, "import parameters must be an object"),
    ("import action list", lambda e: _docs(e).import_([], {"action": ["create"]}), 400, "action"),
    ("import batch_size True", lambda e: _docs(e).import_([], {"batch_size": True}), 400, "`batch_size`"),
    ("import batch_size kwarg -1", lambda e: _docs(e).import_([], batch_size=-1), 400, "`batch_size`"),
    ("import list of None", lambda e: _docs(e).import_([None]), None, ""),  # one error line per document
    # -- documents ----------------------------------------------------------------------------------------
    ("create None", lambda e: _docs(e).create(None), 400, "The document must be a JSON object."),
    ("create params str", lambda e: _docs(e).create({"title": "x", "vec": [1.0] * DIMS}, "x"), 400,
     "parameters must be an object"),
    ("upsert params list", lambda e: _docs(e).upsert({"title": "x", "vec": [1.0] * DIMS}, []), 400,
     "parameters must be an object"),
    ("doc id list", lambda e: _docs(e)[[1]].retrieve(), 400, "document id must be a string"),
    ("doc id None", lambda e: _docs(e)[None].retrieve(), 400, "document id must be a string"),
    ("doc id list delete", lambda e: _docs(e)[[1]].delete(), 400, "document id must be a string"),
    ("doc id int", lambda e: _docs(e)[5].retrieve(), None, ""),  # the Typesense client puts it in the URL
    ("doc update None", lambda e: _docs(e)["a"].update(None), 400, "The document must be a JSON object."),
    ("export wrong collection type", lambda e: e.collections[3.5].documents.export(), 400,
     "collection name must be a string"),
    # -- collections --------------------------------------------------------------------------------------
    ("collection list", lambda e: e.collections[[1]].retrieve(), 400, "collection name must be a string"),
    ("collection None", lambda e: e.collections[None].retrieve(), 400, "collection name must be a string"),
    ("collection int", lambda e: e.collections[5].retrieve(), 404, "Not Found"),
    ("contains list", lambda e: [1] in e.collections, None, ""),
    ("create None", lambda e: e.collections.create(None), 400, "schema"),
    ("schema locale list", lambda e: e.collections.create(_schema_with(locale=[1])), 400, "`locale`"),
    ("schema default_sorting_field list",
     lambda e: e.collections.create({**vector_schema("s", DIMS), "default_sorting_field": ["x"]}), 400,
     "`default_sorting_field` should be a string"),
    ("schema embed 5,000 deep", lambda e: e.collections.create(_deep_embed(5000)), 400, "`embed`"),
    ("create 100k name", lambda e: e.collections.create(vector_schema("x" * 100_000, DIMS)), None, ""),
    # -- the engine itself -----------------------------------------------------------------------------------
    ("Engine('')", lambda e: Engine(""), 400, "a folder path is required"),
    ("Engine(5)", lambda e: Engine(5), 400, "`data_dir`"),
    ("Engine(NUL)", lambda e: Engine("/tmp/a\0b"), 400, "`data_dir`"),
    ("Engine(a file)", lambda e: Engine(e.data_dir / "photoseek.db"), 400, "`data_dir`"),
    # -- multi_search -------------------------------------------------------------------------------------
    ("multi_search common str",
     lambda e: e.multi_search.perform({"searches": [{"collection": "vectors", "q": "*"}]}, "x"), 400,
     "common search parameters must be an object"),
    ("multi_search None", lambda e: e.multi_search.perform(None), 400, "`searches`"),
    # -- folders ------------------------------------------------------------------------------------------
    ("folders add ''", lambda e: _folders(e).add(""), 400, "a folder path is required"),
    ("folders add '  '", lambda e: _folders(e).add("  "), 400, "a folder path is required"),
    ("folders add None", lambda e: _folders(e).add(None), 400, "a folder path is required"),
    ("folders add int", lambda e: _folders(e).add(5), 400, "a folder path is required"),
    ("folders add NUL", lambda e: _folders(e).add("/tmp/a\0b"), 400, "`path`"),
    ("folders add surrogate", lambda e: _folders(e).add("/tmp/\ud800"), 400, "`path`"),
    ("folders add 100k", lambda e: _folders(e).add("/" + "a" * 100_000), 400, "not a folder that exists"),
    ("folders delete ''", lambda e: _folders(e).delete(""), 400, "a folder path is required"),
    ("folders delete None", lambda e: _folders(e).delete(None), 400, "a folder path is required"),
    ("folders scan str", lambda e: _folders(e).scan("abc"), 400, "Parameter `paths`"),
    ("folders scan [None]", lambda e: _folders(e).scan([None]), 400, "Parameter `paths`"),
    ("folders scan ['']", lambda e: _folders(e).scan([""]), 400, "Parameter `paths`"),
    ("folders sync int", lambda e: _folders(e).sync(5), 400, "Parameter `paths`"),
    ("folders begin_scan str", lambda e: _folders(e).begin_scan("abc"), 400, "Parameter `paths`"),
    # -- files --------------------------------------------------------------------------------------------
    ("import_files None", lambda e: e.collections["images"].documents.import_files(None), 400,
     "Parameter `files`"),
    # One letter per "path" before: never a real path here, since "/" would import the whole disk.
    ("import_files str", lambda e: e.collections["images"].documents.import_files("xyz"), 400,
     "Parameter `files`"),
    ("import_files ['']", lambda e: e.collections["images"].documents.import_files([""]), 400,
     "Parameter `files`"),
    ("import_files [None]", lambda e: e.collections["images"].documents.import_files([None]), 400,
     "Parameter `files`"),
    ("import_files NUL", lambda e: e.collections["images"].documents.import_files(["/tmp/a\0.jpg"]), 400,
     "Parameter `files`"),
    ("trash_files None", lambda e: _docs(e).trash_files(None), 400, "Parameter `ids`"),
    ("trash_files int", lambda e: _docs(e).trash_files(5), 400, "Parameter `ids`"),
    ("trash_files str", lambda e: _docs(e).trash_files("ab"), 400, "Parameter `ids`"),
    ("trash_files [None]", lambda e: _docs(e).trash_files([None]), 400, "Parameter `ids`"),
    ("import progress int", lambda e: _docs(e).import_([], progress=5), 400, "Parameter `progress`"),
    ("import cancel int", lambda e: _docs(e).import_([], cancel=5), 400, "Parameter `cancel`"),
    ("import_files progress str", lambda e: e.collections["images"].documents.import_files([], progress="x"),
     400, "Parameter `progress`"),
    ("folders scan cancel int", lambda e: _folders(e).scan(cancel=5), 400, "Parameter `cancel`"),
    ("folders sync progress int", lambda e: _folders(e).sync(progress=5), 400, "Parameter `progress`"),
    ("find_duplicates threshold str", lambda e: _docs(e).find_duplicates(threshold="x"), 400, "threshold"),
    ("find_duplicates limit -1", lambda e: _docs(e).find_duplicates(limit_groups=-1), 400, "limit_groups"),
]


@pytest.mark.parametrize(("call", "code", "fragment"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_a_hostile_value_gets_a_typesense_error_or_an_answer(engine, call, code, fragment):
    if code is None:
        call(engine)
        return
    with pytest.raises(TypesenseError) as caught:
        call(engine)
    assert caught.value.code == code, caught.value.message
    assert fragment.lower() in caught.value.message.lower()


def test_the_library_still_answers_after_the_table(engine):
    for _, call, _, _ in HOSTILE:
        with contextlib.suppress(TypesenseError):
            call(engine)
    assert {d["id"] for d in [engine.collections["vectors"].documents["a"].retrieve()]} == {"a"}
    assert engine.collections["vectors"].documents.search({"q": "*"})["found"] >= 3


def test_a_bare_string_of_ids_trashes_nothing(engine):
    """``trash_files("ab")`` once removed documents `a` and `b`: a str is iterable, one id per letter."""
    with pytest.raises(TypesenseError):
        _docs(engine).trash_files("ab")
    assert engine.collections["vectors"].documents["a"].retrieve()["id"] == "a"
    assert engine.collections["vectors"].documents["b"].retrieve()["id"] == "b"


def test_an_empty_folder_path_never_follows_the_current_directory(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for path in ("", " ", "\t\n"):
        with pytest.raises(TypesenseError, match="a folder path is required"):
            _folders(engine).add(path)
    assert _folders(engine).retrieve() == []


def test_multi_search_reports_hostile_searches_inside_results(engine):
    searches = [
        {"collection": "vectors", "q": "*", "page": 10**20},
        {"collection": "vectors", "q": "*", "filter_by": _nested(10_000)},
        {"collection": "vectors", "q": "*", "sort_by": {"a": 1}},
        {"collection": "vectors", "q": "*"},
    ]
    results = engine.multi_search.perform({"searches": searches})["results"]
    assert [r.get("code") for r in results] == [400, 400, 400, None]
    assert results[0]["error"] == "Parameter `page` must be an unsigned integer."
    assert results[3]["found"] == 3


# --- one thread owns an Engine -------------------------------------------------------------------------


def _from_another_thread(call: Callable[[], Any]) -> BaseException | None:
    caught: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # the test inspects whatever the call raised
            caught.append(exc)

    thread = threading.Thread(target=run, name="intruder")
    thread.start()
    thread.join(30)
    return caught[0] if caught else None


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.collections["vectors"].documents.search({"q": "*"}),
        lambda e: e.collections.retrieve(),
        lambda e: e.collections.create(vector_schema("other", DIMS)),
        lambda e: "vectors" in e.collections,
        lambda e: e.collections["vectors"].retrieve(),
        lambda e: e.collections["vectors"].documents["a"].retrieve(),
        lambda e: e.collections["vectors"].documents.create({"title": "x", "vec": [1.0] * DIMS}),
        lambda e: e.collections["vectors"].documents.export(),
        lambda e: e.collections["vectors"].folders.retrieve(),
        lambda e: e.multi_search.perform({"searches": [{"collection": "vectors", "q": "*"}]}),
        lambda e: e.close(),
    ],
    ids=["search", "collections", "create", "contains", "retrieve", "document", "create doc", "export",
         "folders", "multi_search", "close"],
)
def test_a_call_from_another_thread_is_refused_clearly(engine, call):
    error = _from_another_thread(lambda: call(engine))
    assert isinstance(error, TypesenseError), repr(error)
    assert "thread" in error.message and "intruder" in error.message
    # The owner's engine is untouched and still answers.
    assert engine.collections["vectors"].documents.search({"q": "*"})["found"] == 3
