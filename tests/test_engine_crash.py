"""A killed import: everything the progress callback reported is on disk and searchable after a reopen.

A real child process imports and prints each committed count; it is SIGKILLed mid-import (no cleanup, no
index save at close), then the parent reopens the data dir.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import class_of, hit_ids, search_one

from app.engine import Engine
from app.engine.collection import SAVE_AFTER_CHANGES
from app.paths import repo_root

DIMS = 16
# Past SAVE_AFTER_CHANGES the importer has saved an index mid-way, so the reopen must catch up from a
# saved index rather than rebuild from nothing.
KILL_AFTER_VECTORS = SAVE_AFTER_CHANGES + 1500

VECTOR_CHILD = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from app.engine import Engine

engine = Engine(sys.argv[2])
engine.collections.create({"name": "vectors", "fields": [
    {"name": "title", "type": "string"}, {"name": "vec", "type": "float[]", "num_dim": DIMS}]})

def documents():
    for i in range(10**7):
        vec = np.random.default_rng(i).standard_normal(DIMS).tolist()
        yield {"id": f"d{i}", "title": f"item {i}", "vec": vec}

def progress(done, total):
    print(done, flush=True)

engine.collections["vectors"].documents.import_(documents(), {"batch_size": 250}, progress=progress)
print("finished", flush=True)
""".replace("DIMS", str(DIMS))

IMAGE_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/tests")
from app.engine import Engine
from engine_helpers import library_documents, seed_schema

engine = Engine(sys.argv[2])
engine.collections.create(seed_schema(("image",)))

def documents():
    rounds = 0
    while True:  # keep the import going until the parent kills us
        for doc, _info in library_documents(3):
            yield doc if rounds == 0 else {**doc, "id": "%s-again-%d" % (doc["id"], rounds)}
        rounds += 1

def progress(done, total):
    print(done, flush=True)

engine.collections["images"].documents.import_(documents(), {"batch_size": 16}, progress=progress)
print("finished", flush=True)
"""


def run_and_kill(script: str, data_dir: Path, kill_after: int, timeout: float = 240) -> int:
    """Run ``script`` in a child, SIGKILL it once it reported ``kill_after`` documents; the last report."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(repo_root()), str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=repo_root(),
    )
    reported = 0
    deadline = time.monotonic() + timeout
    try:
        assert child.stdout is not None
        for line in child.stdout:
            assert line.strip() != "finished", "the child was meant to be killed mid-import"
            reported = int(line)
            if reported >= kill_after:
                os.kill(child.pid, signal.SIGKILL)
                break
            assert time.monotonic() < deadline, f"the child only reported {reported} in {timeout} s"
        # Whatever the child printed before dying was committed; read it all.
        for line in child.stdout:
            reported = int(line)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=60)
        stderr = child.stderr.read() if child.stderr else ""
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()
    assert child.returncode == -signal.SIGKILL, f"child ended with {child.returncode}: {stderr[-2000:]}"
    return reported


def integrity(db_path: Path) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_killed_vector_import_keeps_every_reported_document(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    reported = run_and_kill(VECTOR_CHILD, data_dir, KILL_AFTER_VECTORS)
    assert reported >= KILL_AFTER_VECTORS
    assert integrity(data_dir / "photoseek.db") == "ok"
    assert list((data_dir / "indexes").glob("*.hnsw")), "the importer saved an index on the way"

    with caplog.at_level(logging.INFO, logger="app.engine"), Engine(data_dir) as engine:
        docs = engine.collections["vectors"].documents
        count = engine.collections["vectors"].retrieve()["num_documents"]
        assert count >= reported
        stored_ids = {json.loads(line)["id"] for line in docs.export().splitlines()}
        # Batches commit in order, so what survived is exactly a prefix of the input.
        assert stored_ids == {f"d{i}" for i in range(count)}
        for i in (0, reported // 2, reported - 1, count - 1):
            expected = np.random.default_rng(i).standard_normal(DIMS)
            np.testing.assert_allclose(docs[f"d{i}"].retrieve()["vec"], expected, rtol=1e-6)

        # The index holds every stored vector: the neighbours of one document are all the others.
        last = f"d{count - 1}"
        everything = search_one(
            engine,
            {
                "collection": "vectors",
                "q": "*",
                "per_page": 5,
                "vector_query": f"vec:([], id:{last}, k:{count + 100})",
            },
        )
        assert everything["found"] == count - 1
        vector = np.random.default_rng(count - 1).standard_normal(DIMS)
        exact = "[" + ",".join(f"{x:.9f}" for x in vector) + "]"
        itself = search_one(
            engine, {"collection": "vectors", "q": "*", "vector_query": f"vec:({exact}, k:1)"}
        )
        assert hit_ids(itself) == [last]
        assert itself["hits"][0]["vector_distance"] == pytest.approx(0.0, abs=1e-5)

        # The collection keeps working: new documents get the next automatic ids.
        added = docs.create({"title": "after the crash", "vec": [1.0] * DIMS})
        assert added["id"] not in stored_ids
        assert engine.collections["vectors"].retrieve()["num_documents"] == count + 1
    assert "rebuilding" not in caplog.text, "the index saved mid-import is caught up, not rebuilt"


def test_killed_image_import_keeps_every_reported_picture(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    reported = run_and_kill(IMAGE_CHILD, data_dir, kill_after=48)
    assert integrity(data_dir / "photoseek.db") == "ok"
    with Engine(data_dir) as engine:
        count = engine.collections["images"].retrieve()["num_documents"]
        assert count >= reported
        result = search_one(engine, {"collection": "images", "q": "*", "per_page": 250})
        assert len(result["hits"]) == min(count, 250)
        # The first pictures (one of each class) were among those reported: each one is searchable.
        for doc_id in ("red-circle-0", "blue-star-0", "black-ring-0"):
            neighbours = search_one(
                engine,
                {
                    "collection": "images",
                    "q": "*",
                    "vector_query": f"embedding:([], id:{doc_id}, k:{count + 10})",
                },
            )
            assert neighbours["found"] == count - 1
        text = search_one(engine, {"collection": "images", "q": "a red circle", "query_by": "embedding"})
        assert class_of(hit_ids(text)[0].split("-again-")[0]) == ("red", "circle")
