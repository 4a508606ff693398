"""Hostile input, generated: bad values for every public entry point of the engine (schemas, documents,
JSONL lines, search parameters, ids, folders, files on disk), from a fixed seed so a failure replays.

For each input the engine must answer with a Typesense 4xx (a TypesenseError) or a per-item error result,
never another exception and never a hang; afterwards the library must still answer and hold exactly what
it reported stored. The time bound is pytest-timeout's, per test.
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import seed_schema, shape_b64, shape_bytes, vector_schema

from app.engine import Engine
from app.engine.errors import TypesenseError

SEED = 20261207
ROUNDS = 150  # per entry point: with the fixed seed, about 2,000 hostile calls in all
DIMS = 8

_NESTED = "[" * 5000 + "]" * 5000


def _deep_dict(depth: int) -> dict:
    node: dict = {}
    for _ in range(depth):
        node = {"a": node}
    return node


def bad_values(rng: random.Random) -> Iterator[Any]:
    """One hostile value after another: wrong types, extremes, broken text, deep structures."""
    pool: list[Callable[[], Any]] = [
        lambda: None,
        lambda: True,
        lambda: rng.choice([0, -1, 1, 2**31, 2**63, -(2**63), 10**30, -(10**30)]),
        lambda: rng.choice([float("nan"), float("inf"), float("-inf"), 1e-45, -0.0, 1e308, 5e-324]),
        lambda: "",
        lambda: "\ud800" + "x",  # a lone surrogate: valid in Python and in JSON, not in UTF-8
        lambda: "\x00\x01\x7f",
        lambda: "../" * rng.randint(1, 8) + "etc/passwd",
        lambda: "x" * rng.choice([300, 5000, 200_000]),
        lambda: "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 40))),
        lambda: [],
        lambda: {},
        lambda: [rng.random() for _ in range(rng.choice([0, 1, DIMS - 1, DIMS + 1, 5000]))],
        lambda: [None] * DIMS,
        lambda: ["1"] * DIMS,
        lambda: [float("nan")] + [0.0] * (DIMS - 1),
        lambda: [1e-45] + [0.0] * (DIMS - 1),  # a denormal: not zero, yet it has no direction in float32
        lambda: [0.0] * DIMS,
        lambda: [1e308] * DIMS,
        lambda: _deep_dict(rng.choice([50, 2000])),
        lambda: [[[[[[[]]]]]]],
        lambda: {"$set": 1, "": None},
    ]
    while True:
        yield rng.choice(pool)()


def _as_text(value: Any) -> str:
    """How a value reads inside a query string (a 2,000-deep dict has no repr: it is sent as '{}')."""
    try:
        return str(value)
    except RecursionError:
        return "{}"


def _call(action: Callable[[], Any]) -> Any:
    """Run one hostile call: a Typesense-style error is a fine answer; any other exception fails."""
    try:
        return action()
    except TypesenseError as exc:
        assert 400 <= exc.code < 500, f"{type(exc).__name__} {exc.code}: {exc.message}"
        assert exc.message and "Traceback" not in exc.message
        return exc


def _check_import_results(results: Any, count: int) -> list[dict]:
    assert isinstance(results, list) and len(results) == count, results
    for result in results:
        assert isinstance(result.get("success"), bool)
        if not result["success"]:
            assert isinstance(result.get("error"), str) and result["error"]
            assert 400 <= int(result.get("code", 400)) < 500
    return results


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with Engine(tmp_path / "library") as opened:
        opened.collections.create(vector_schema(dims=DIMS))
        opened.collections.create(seed_schema())
        yield opened


def _good_vector_doc(rng: random.Random, n: int, prefix: str = "good") -> dict:
    vec = [rng.uniform(-1, 1) for _ in range(DIMS)]
    return {"id": f"{prefix}-{n}", "title": f"photo {n}", "vec": vec}


def _still_answers(engine: Engine, stored: set[str]) -> None:
    """The library answers a listing, a vector search and every stored id, and holds nothing else."""
    documents = engine.collections["vectors"].documents
    listing = documents.search({"q": "*", "per_page": 250})
    assert listing["found"] == len(stored)
    found = {hit["document"]["id"] for hit in listing["hits"]}
    assert found == stored or len(stored) > 250
    if stored:
        probe = ",".join(["0.5"] * DIMS)
        near = documents.search({"q": "*", "vector_query": f"vec:([{probe}], k:5)"})
        assert near["hits"]
        for doc_id in sorted(stored)[:20]:
            assert documents[doc_id].retrieve()["id"] == doc_id
    assert engine.collections["vectors"].retrieve()["num_documents"] == len(stored)


@pytest.mark.timeout(300)
def test_hostile_documents_fail_alone(engine: Engine) -> None:
    rng = random.Random(SEED)
    values = bad_values(rng)
    documents = engine.collections["vectors"].documents
    stored: set[str] = set()
    for n in range(ROUNDS):
        doc = _good_vector_doc(rng, n, "hostile")
        doc[rng.choice(["id", "title", "vec", "extra"])] = next(values)
        action = rng.choice(["create", "upsert", "update", "import"])
        if action == "import":
            results = _check_import_results(_call(lambda doc=doc: documents.import_([doc])), 1)
            ok = results[0]["success"]
        else:
            answer = _call(lambda doc=doc, action=action: getattr(documents, action)(doc))
            ok = not isinstance(answer, TypesenseError)
        if ok:
            stored.add(str(doc["id"]))
        good = _good_vector_doc(rng, n)
        documents.create(good)  # a good document right after a bad one always goes in
        stored.add(good["id"])
    engine.close()
    reopened = Engine(engine.data_dir)
    try:
        _still_answers(reopened, stored)
    finally:
        reopened.close()


@pytest.mark.timeout(300)
def test_hostile_jsonl_lines_fail_one_line_each(engine: Engine) -> None:
    rng = random.Random(SEED + 1)
    values = bad_values(rng)
    documents = engine.collections["vectors"].documents
    lines: list[str] = []
    good_ids: set[str] = set()
    for n in range(ROUNDS):
        if n % 3 == 0:
            doc = _good_vector_doc(rng, n)
            good_ids.add(doc["id"])
            lines.append(json.dumps(doc))
            continue
        kind = rng.randrange(4)
        if kind == 0:
            lines.append(json.dumps({**_good_vector_doc(rng, n), "title": next(values)}, default=str))
        elif kind == 1:
            lines.append(_NESTED)
        elif kind == 2:
            lines.append(json.dumps(_good_vector_doc(rng, n))[: rng.randint(1, 30)])
        else:
            vec = json.dumps([0.1] * DIMS)
            lines.append(f'{{"id": "s{n}", "title": "\\ud800", "vec": {vec}}}')
    answer = _call(lambda: documents.import_("\n".join(lines)))
    assert isinstance(answer, str)
    results = _check_import_results([json.loads(line) for line in answer.split("\n")], len(lines))
    succeeded = {str(json.loads(line)["id"]) for line, r in zip(lines, results, strict=True) if r["success"]}
    assert good_ids <= succeeded
    _still_answers(engine, succeeded)


@pytest.mark.timeout(300)
def test_hostile_search_parameters_get_a_4xx(engine: Engine) -> None:
    rng = random.Random(SEED + 2)
    values = bad_values(rng)
    vectors = engine.collections["vectors"].documents
    vectors.import_([_good_vector_doc(rng, n) for n in range(20)])
    images = engine.collections["images"].documents
    keys = ["q", "query_by", "filter_by", "sort_by", "facet_by", "page", "per_page", "include_fields",
            "exclude_fields", "vector_query", "limit_hits", "offset", "limit"]  # fmt: skip
    clauses = ["k:{}", "ef:{}", "distance_threshold:{}", "id:{}", "queries:[{}]", "query_weights:[{}]"]
    for _ in range(ROUNDS):
        params: dict[str, Any] = {"q": "*"}
        for key in rng.sample(keys, rng.randint(1, 3)):
            params[key] = next(values)
        if rng.random() < 0.5:
            clause = rng.choice(clauses).format(_as_text(next(values)))
            params["vector_query"] = rng.choice([f"vec:([], {clause})", f"vec:([0.1,0.2], {clause})"])
        target = rng.choice([vectors, images])
        _call(lambda params=params, target=target: target.search(params))
        searches = {"searches": [params]}
        _call(lambda searches=searches: engine.multi_search.perform(searches, {"collection": "vectors"}))
    deep = "(" * 10_000 + "title:=a" + ")" * 10_000
    _call(lambda: vectors.search({"q": "*", "filter_by": deep}))
    _still_answers(engine, {f"good-{n}" for n in range(20)})


@pytest.mark.timeout(300)
def test_hostile_schemas_and_ids_get_a_4xx(engine: Engine, tmp_path: Path) -> None:
    rng = random.Random(SEED + 3)
    values = bad_values(rng)
    vectors = engine.collections["vectors"]
    for n in range(ROUNDS // 3):
        schema = vector_schema(name=f"c{n}", dims=DIMS)
        part = rng.choice(["name", "fields", "field name", "field type", "num_dim", "embed"])
        if part == "name":
            schema["name"] = next(values)
        elif part == "fields":
            schema["fields"] = next(values)
        elif part == "field name":
            schema["fields"][0]["name"] = next(values)
        elif part == "field type":
            schema["fields"][0]["type"] = next(values)
        elif part == "num_dim":
            schema["fields"][1]["num_dim"] = next(values)
        else:
            schema["fields"][1]["embed"] = {"from": [next(values)], "model_config": next(values)}
        _call(lambda schema=schema: engine.collections.create(schema))
        name, doc_id, gone, folder = next(values), next(values), next(values), next(values)
        _call(lambda name=name: engine.collections[name].retrieve())
        _call(lambda doc_id=doc_id: vectors.documents[doc_id].retrieve())
        _call(lambda gone=gone: vectors.documents[gone].delete())
        _call(lambda folder=folder: vectors.folders.add(folder))
    # Nothing a schema or an id named was written outside the library.
    outside = {p for p in tmp_path.rglob("*") if "library" not in p.relative_to(tmp_path).parts}
    assert outside == set()
    _call(lambda: engine.collections["vectors"].documents.import_(None))  # type: ignore[arg-type]
    _still_answers(engine, set())


def _hostile_files(folder: Path, rng: random.Random) -> dict[str, bool]:
    """Files that look like photos and are not, beside real ones; name -> whether it should import."""
    folder.mkdir(parents=True)
    wanted: dict[str, bool] = {}
    for n in range(4):
        (folder / f"good-{n}.png").write_bytes(shape_bytes("red", "circle", seed=n))
        wanted[f"good-{n}.png"] = True
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not a picture")
    (folder / "cut.jpg").write_bytes(shape_bytes("blue", "square", fmt="JPEG")[:200])
    noise = bytes(rng.randrange(256) for _ in range(4096))
    (folder / "noise.webp").write_bytes(noise)
    (folder / "folder.jpg").mkdir()  # a directory named like a photo
    from PIL import Image

    Image.new("L", (1, 1_000_000)).save(folder / "ribbon.png")  # 1 x 1,000,000 pixels in a few KB
    os.mkfifo(folder / "pipe.jpg")
    (folder / "device.png").symlink_to("/dev/zero")
    (folder / "dangling.jpg").symlink_to(folder / "nowhere.jpg")
    bad = ("empty.jpg", "text.png", "cut.jpg", "noise.webp", "ribbon.png", "pipe.jpg", "device.png")
    bad += ("dangling.jpg",)
    wanted.update(dict.fromkeys(bad, False))
    return wanted


@pytest.mark.timeout(300)
def test_hostile_files_fail_alone_and_never_hang(engine: Engine, tmp_path: Path) -> None:
    rng = random.Random(SEED + 4)
    folder = tmp_path / "hostile"
    wanted = _hostile_files(folder, rng)
    documents = engine.collections["images"].documents
    results = documents.import_files([folder])
    by_name = {Path(str(r.get("path", ""))).name: r for r in results}
    for name, should_import in wanted.items():
        if should_import:
            assert by_name[name]["success"], by_name[name]
        elif name in by_name:
            assert not by_name[name]["success"] and by_name[name]["error"], by_name[name]
    (too_long,) = documents.import_files([folder / ("a" * 5000 + ".jpg")])
    assert not too_long["success"] and "too long" in too_long["error"]
    # Following the folder and rescanning it twice: the bad files neither block nor repeat.
    folders = engine.collections["images"].folders
    folders.add(folder)
    for _ in range(2):
        reports = folders.sync()
        assert reports[0]["status"] != "offline"
    listing = documents.search({"q": "*", "per_page": 50})
    assert listing["found"] == sum(wanted.values())


@pytest.mark.timeout(300)
def test_hostile_base64_images_fail_one_line_each(engine: Engine) -> None:
    rng = random.Random(SEED + 5)
    documents = engine.collections["images"].documents
    ribbon = _ribbon_png_b64()
    bad = [
        "", "not base64!", base64.b64encode(b"GIF89a").decode(), ribbon,
        base64.b64encode(bytes(rng.randrange(256) for _ in range(2048))).decode(),
        shape_b64("red", "circle")[:100],
    ]  # fmt: skip
    lines = []
    for n, value in enumerate(bad):
        lines.append({"id": f"bad-{n}", "name": "bad", "image": value})
        lines.append({"id": f"ok-{n}", "name": "ok", "image": shape_b64("green", "star", seed=n)})
    results = _check_import_results(documents.import_(lines), len(lines))
    assert [r["success"] for r in results] == [False, True] * len(bad)
    assert documents.search({"q": "*"})["found"] == len(bad)


def _ribbon_png_b64() -> str:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (1_000_000, 1)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()
