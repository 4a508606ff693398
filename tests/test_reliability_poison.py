"""Poison that used to survive the commit: values the database or the index cannot take back.

A value is refused (a 400 naming the field) before anything is written; rows that older versions did
write, or that a disk damaged, are skipped and reported, and stay retrievable and deletable by id.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import random_unit_vectors, vector_schema

from app.engine import Engine
from app.engine.errors import TypesenseError

DIMS = 8


def vec_doc(doc_id: str, vec: list[float] | np.ndarray, **extra: object) -> dict:
    return {"id": doc_id, "title": f"photo {doc_id}", "vec": [float(x) for x in vec], **extra}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A library with a vector collection of 20 good documents (ids g0..g19), closed."""
    data = tmp_path / "lib"
    with Engine(data) as engine:
        engine.collections.create(vector_schema(dims=DIMS))
        vectors = random_unit_vectors(20, DIMS, seed=1)
        results = engine.collections["vectors"].documents.import_(
            [vec_doc(f"g{i}", v) for i, v in enumerate(vectors)]
        )
        assert all(r["success"] for r in results)
    return data


def probe(engine: Engine, k: int = 50) -> dict:
    query = ",".join(["0.3"] * DIMS)
    return engine.collections["vectors"].documents.search(
        {"q": "*", "vector_query": f"vec:([{query}], k:{k})", "per_page": 100}
    )


def ids_of(result: dict) -> set[str]:
    return {hit["document"]["id"] for hit in result["hits"]}


@pytest.mark.parametrize(
    ("vector", "words"),
    [
        ([1e-45] + [0.0] * (DIMS - 1), "too close to zero"),
        ([3e38] * DIMS, "too large"),
    ],
    ids=["denormal", "norm-overflows"],
)
def test_a_vector_the_index_cannot_normalise_is_refused_before_the_commit(
    library: Path, vector: list[float], words: str
) -> None:
    with Engine(library) as engine:
        docs = engine.collections["vectors"].documents
        good = random_unit_vectors(1, DIMS, seed=7)[0]
        results = docs.import_([vec_doc("bad", vector), vec_doc("after", good)])
        assert results[0]["success"] is False and results[0]["code"] == 400
        assert "`vec`" in results[0]["error"] and words in results[0]["error"]
        assert results[1]["success"] is True
        with pytest.raises(Exception, match="vec"):
            docs.create(vec_doc("bad2", vector))
    with Engine(library) as engine:  # the next start is not broken by it
        assert ids_of(probe(engine)) == {f"g{i}" for i in range(20)} | {"after"}
        engine.collections["vectors"].documents.create(vec_doc("later", good))


@pytest.mark.parametrize(
    "extra",
    [{"extra": float("nan")}, {"meta": {"deep": [1.0, float("inf")]}}, {"x": float("-inf")}],
    ids=["nan", "nested-inf", "minus-inf"],
)
def test_a_value_json_cannot_hold_is_refused_naming_the_field(library: Path, extra: dict) -> None:
    with Engine(library) as engine:
        docs = engine.collections["vectors"].documents
        (result,) = docs.import_([vec_doc("bad", random_unit_vectors(1, DIMS, seed=2)[0], **extra)])
        assert result["success"] is False and result["code"] == 400
        assert f"`{next(iter(extra))}`" in result["error"]
        exported = docs.export()
        assert all(json.loads(line) for line in exported.split("\n"))
    raw = sqlite3.connect(library / "photoseek.db")
    try:
        assert raw.execute("SELECT COUNT(*) FROM documents WHERE NOT json_valid(body)").fetchone()[0] == 0
    finally:
        raw.close()


def test_text_utf8_cannot_hold_is_refused_and_the_batch_goes_on(library: Path) -> None:
    with Engine(library) as engine:
        docs = engine.collections["vectors"].documents
        vecs = random_unit_vectors(3, DIMS, seed=3)
        results = docs.import_(
            [
                vec_doc("a", vecs[0]),
                vec_doc("b", vecs[1], note="\ud800x"),
                {**vec_doc("c", vecs[2]), "id": "\udfffc"},
            ]
        )
        assert [r["success"] for r in results] == [True, False, False]
        assert "`note`" in results[1]["error"] and "`id`" in results[2]["error"]
        assert docs["a"].retrieve()["id"] == "a"
        for bad, field in (({"note": "\ud800x"}, "note"), ({"id": "\udfffc"}, "id")):
            with pytest.raises(TypesenseError, match=f"`{field}`"):
                docs.upsert({**vec_doc("d", vecs[0]), **bad})


def _poison(library: Path, statements: list[tuple[str, tuple]]) -> None:
    """Write rows straight into the database, as an older Photoseek or a damaged disk left them."""
    raw = sqlite3.connect(library / "photoseek.db")
    try:
        for sql, args in statements:
            raw.execute(sql, args)
        raw.commit()
    finally:
        raw.close()


def _label(library: Path, doc_id: str) -> int:
    raw = sqlite3.connect(library / "photoseek.db")
    try:
        return raw.execute("SELECT label FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()[0]
    finally:
        raw.close()


def _drop_indexes(library: Path) -> None:
    for path in (library / "indexes").glob("*"):
        path.unlink()


def test_a_rebuild_skips_bad_vectors_reports_them_and_they_can_be_removed(
    library: Path, caplog: pytest.LogCaptureFixture
) -> None:
    denormal = np.zeros(DIMS, dtype=np.float32)
    denormal[0] = 1e-45
    _poison(
        library,
        [
            ("UPDATE vectors SET vector = ? WHERE label = ?", (denormal.tobytes(), _label(library, "g3"))),
            ("UPDATE vectors SET vector = ? WHERE label = ?", (b"\x00\x01\x02", _label(library, "g5"))),
            (
                "UPDATE vectors SET vector = ? WHERE label = ?",
                (np.full(DIMS, np.nan, dtype=np.float32).tobytes(), _label(library, "g7")),
            ),
        ],
    )
    _drop_indexes(library)
    bad = {"g3", "g5", "g7"}
    caplog.set_level(logging.WARNING)
    with Engine(library) as engine:
        assert ids_of(probe(engine)) == {f"g{i}" for i in range(20)} - bad
        damaged = engine.collections["vectors"].retrieve()["damaged_documents"]
        assert {d["id"] for d in damaged} == bad
        assert all("`vec`" in d["reason"] for d in damaged)
    assert all(doc_id in caplog.text for doc_id in bad)
    with Engine(library) as engine:  # the record survives a restart (the rebuilt index was saved)
        coll = engine.collections["vectors"]
        assert ids_of(probe(engine)) == {f"g{i}" for i in range(20)} - bad
        assert {d["id"] for d in coll.retrieve()["damaged_documents"]} == bad
        assert coll.documents["g5"].retrieve()["id"] == "g5"
        for doc_id in sorted(bad):
            assert coll.documents[doc_id].delete()["id"] == doc_id
        assert "damaged_documents" not in coll.retrieve()
        assert coll.retrieve()["num_documents"] == 17
    with Engine(library) as engine:
        assert ids_of(probe(engine)) == {f"g{i}" for i in range(20)} - bad


def test_a_replaced_bad_vector_comes_back_into_the_index(library: Path) -> None:
    _poison(
        library, [("UPDATE vectors SET vector = ? WHERE label = ?", (b"\x00" * 3, _label(library, "g2")))]
    )
    _drop_indexes(library)
    with Engine(library) as engine:
        coll = engine.collections["vectors"]
        assert "g2" not in ids_of(probe(engine))
        coll.documents.upsert(vec_doc("g2", random_unit_vectors(1, DIMS, seed=9)[0]))
        assert "g2" in ids_of(probe(engine))
        assert "damaged_documents" not in coll.retrieve()


def test_an_unreadable_document_is_skipped_in_searches_and_export_and_can_be_removed(
    library: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _poison(library, [("UPDATE documents SET body = ? WHERE doc_id = 'g4'", ('{"id":"g4","title":',))])
    caplog.set_level(logging.WARNING)
    with Engine(library) as engine:
        coll = engine.collections["vectors"]
        docs = coll.documents
        good = {f"g{i}" for i in range(20)} - {"g4"}
        assert ids_of(probe(engine)) == good
        assert ids_of(docs.search({"q": "*", "per_page": 100})) == good
        assert ids_of(docs.search({"q": "photo", "query_by": "title", "per_page": 100})) == good
        assert ids_of(docs.search({"q": "*", "filter_by": "title:=photo g1", "per_page": 100})) == {"g1"}
        exported = [json.loads(line) for line in docs.export().split("\n")]
        assert {d["id"] for d in exported} == good
        assert "g4" in caplog.text
        assert {d["id"] for d in coll.retrieve()["damaged_documents"]} == {"g4"}
        shown = docs["g4"].retrieve()
        assert shown["id"] == "g4" and "damaged" in json.dumps(shown)
        with pytest.raises(Exception, match="damaged"):
            docs["g4"].update({"title": "fixed?"})
        docs["g4"].delete()
        assert "damaged_documents" not in coll.retrieve()
        assert coll.retrieve()["num_documents"] == 19


def test_nan_bodies_from_an_older_version_are_repaired_on_open(library: Path) -> None:
    _poison(
        library,
        [
            ("UPDATE documents SET body = ? WHERE doc_id = 'g6'", ('{"id":"g6","title":"t","x":NaN}',)),
            ("PRAGMA user_version = 2", ()),
        ],
    )
    with Engine(library) as engine:
        coll = engine.collections["vectors"]
        assert coll.documents["g6"].retrieve()["x"] is None
        cid = engine.db.collection("vectors")[0]
        assert engine.db.file_rows(cid, "/") == []  # json_extract over every body: no "malformed JSON"
        assert len(coll.documents.export().split("\n")) == 20
