"""Hostile disks and hostile names: index files named by the engine, saves that check what they wrote,
damaged or empty databases refused by name, a full disk reported as such, private files, and two
processes sharing one library.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import random_unit_vectors, vector_schema

from app.engine import Engine
from app.engine.errors import TypesenseError
from app.engine.index import VectorIndex
from app.engine.storage import StorageError

DIMS = 8
REPO = Path(__file__).resolve().parents[1]


def vec_doc(doc_id: str, vec: np.ndarray) -> dict:
    return {"id": doc_id, "title": f"photo {doc_id}", "vec": [float(x) for x in vec]}


def fill(engine: Engine, ids: list[str], seed: int = 1, name: str = "vectors") -> None:
    vectors = random_unit_vectors(len(ids), DIMS, seed)
    docs = [vec_doc(i, v) for i, v in zip(ids, vectors, strict=True)]
    results = engine.collections[name].documents.import_(docs)
    assert all(r["success"] for r in results), results


def probe(engine: Engine, name: str = "vectors", field: str = "vec") -> set[str]:
    query = ",".join(["0.3"] * DIMS)
    found = engine.collections[name].documents.search(
        {"q": "*", "vector_query": f"{field}:([{query}], k:200)", "per_page": 250}
    )
    return {hit["document"]["id"] for hit in found["hits"]}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    data = tmp_path / "lib"
    with Engine(data) as engine:
        engine.collections.create(vector_schema(dims=DIMS))
        fill(engine, [f"g{i}" for i in range(30)])
    return data


# --- 4. names that become paths ---------------------------------------------------------------------------


def test_field_names_never_become_paths(tmp_path: Path) -> None:
    data = tmp_path / "a" / "lib"
    weird = ["../../evil", "x" * 300, "a/b", "..", "con.hnsw"]
    schema = {
        "name": "../../weird",
        "fields": [{"name": "title", "type": "string"}]
        + [{"name": name, "type": "float[]", "num_dim": DIMS} for name in weird],
    }
    vectors = random_unit_vectors(5, DIMS, seed=4)
    with Engine(data) as engine:
        engine.collections.create(schema)
        docs = [
            {"id": f"d{i}", "title": "t", **{n: [float(x) for x in v] for n in weird}}
            for i, v in enumerate(vectors)
        ]
        assert all(r["success"] for r in engine.collections["../../weird"].documents.import_(docs))
        assert probe(engine, "../../weird", "../../evil") == {f"d{i}" for i in range(5)}
    outside = [
        p for p in tmp_path.rglob("*") if data not in p.parents and p != data and p not in data.parents
    ]
    assert outside == []
    for path in data.rglob("*"):
        assert path.parent in (data, data / "indexes") and len(path.name) < 100, path
    with Engine(data) as engine:
        for name in weird:
            assert probe(engine, "../../weird", name) == {f"d{i}" for i in range(5)}


def test_index_files_with_the_old_names_are_taken_over_without_a_rebuild(
    library: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (index,) = [p for p in (library / "indexes").iterdir() if p.suffix == ".hnsw"]
    index.rename(library / "indexes" / "c1.vec.hnsw")
    index.with_suffix(".hnsw.json").rename(library / "indexes" / "c1.vec.hnsw.json")
    caplog.set_level(logging.INFO)
    with Engine(library) as engine:
        assert probe(engine) == {f"g{i}" for i in range(30)}
    assert "rebuilding" not in caplog.text
    names = sorted(p.name for p in (library / "indexes").iterdir())
    assert "c1.vec.hnsw" not in names and len(names) == 2


# --- 7. disks that lie or fill up -------------------------------------------------------------------------


class _TruncatingSave:
    """hnswlib's save_index on a full disk: it writes part of the file and reports nothing."""

    def __init__(self, raw: object) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> object:
        return getattr(self._raw, name)

    def save_index(self, path: str) -> None:
        self._raw.save_index(path)  # type: ignore[attr-defined]
        size = os.path.getsize(path)
        with open(path, "rb+") as fh:
            fh.truncate(size // 2)


def test_a_save_that_wrote_a_short_file_fails_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "i.hnsw"
    index = VectorIndex(DIMS)
    index.add(list(range(50)), random_unit_vectors(50, DIMS, seed=5))
    index.save(path, meta={"n": 1})
    index.add(list(range(50, 80)), random_unit_vectors(30, DIMS, seed=6))
    index._index = _TruncatingSave(index._index)  # type: ignore[assignment]
    with pytest.raises(OSError):
        index.save(path, meta={"n": 2})
    loaded = VectorIndex.load(path, DIMS)
    assert loaded is not None and loaded[1] == {"n": 1} and len(loaded[0]) == 50
    assert {p.name for p in tmp_path.iterdir()} == {"i.hnsw", "i.hnsw.json"}  # no temp file left


_DAMAGES = {
    # Offsets into hnswlib's file: a 96-byte header, then one level-0 block per element (4-byte neighbour
    # count, then neighbour ids), then each element's upper-level link lists.
    "neighbour-id": "struct.pack_into('<I', data, 96 + 4, 10**9)",
    "entry-point": "struct.pack_into('<I', data, 52, 10**6)",
    "max-level": "struct.pack_into('<i', data, 48, 40)",
    "capacity": "struct.pack_into('<Q', data, 8, 2**40)",
}


@pytest.mark.parametrize("damage", sorted(_DAMAGES))
def test_an_index_file_damaged_behind_a_good_checksum_is_refused_not_crashed_on(
    tmp_path: Path, damage: str
) -> None:
    script = textwrap.dedent(
        f"""
        import json, struct, sys, zlib
        import numpy as np
        from app.engine.index import VectorIndex
        path = sys.argv[1]
        index = VectorIndex(8)
        rng = np.random.default_rng(0)
        index.add(list(range(300)), rng.standard_normal((300, 8)).astype(np.float32))
        index.save(path, meta={{}})
        data = bytearray(open(path, "rb").read())
        {_DAMAGES[damage]}
        open(path, "wb").write(data)
        side = json.load(open(path + ".json"))
        side["crc32"] = zlib.crc32(bytes(data))
        side["file_size"] = len(data)
        open(path + ".json", "w").write(json.dumps(side))
        loaded = VectorIndex.load(path, 8)
        if loaded is not None:
            loaded[0].search(rng.standard_normal(8).astype(np.float32), 10)
            loaded[0].search(rng.standard_normal(8).astype(np.float32), 300)
        print("refused" if loaded is None else "loaded")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "i.hnsw")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "refused"


def test_a_rebuild_serves_searches_while_the_disk_is_full(
    library: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for path in (library / "indexes").iterdir():
        path.unlink()

    def full(self, path, *, meta):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(VectorIndex, "save", full)
    caplog.set_level(logging.WARNING)
    with Engine(library) as engine:
        assert probe(engine) == {f"g{i}" for i in range(30)}
        fill(engine, ["late"], seed=9)
        assert "late" in probe(engine)
        assert "No space left" in caplog.text
        monkeypatch.undo()  # space was freed: closing saves
    assert [p for p in (library / "indexes").iterdir() if p.suffix == ".hnsw"]


def test_a_full_disk_during_an_import_is_a_typesense_error_saying_so(library: Path) -> None:
    with Engine(library) as engine:
        db = engine.db
        pages = db._conn.execute("PRAGMA page_count").fetchone()[0]
        db._conn.execute(f"PRAGMA max_page_count = {pages}")
        docs = engine.collections["vectors"].documents
        big = [
            {**vec_doc(f"n{i}", v), "title": "x" * 5000}
            for i, v in enumerate(random_unit_vectors(20, DIMS, 3))
        ]
        with pytest.raises(TypesenseError, match=r"disk .*full") as caught:
            engine._collection("vectors").write([(_prepared(engine, doc), "create") for doc in big])
        assert not isinstance(caught.value, sqlite3.Error)
        with pytest.raises(TypesenseError, match=r"disk .*full"):
            docs.create(big[0])
        db._conn.execute("PRAGMA max_page_count = 1073741823")
        docs.create(big[0])  # space was freed: the library goes on where it was
        assert engine.collections["vectors"].retrieve()["num_documents"] == 31
        assert "n0" in probe(engine)


def _prepared(engine: Engine, doc: dict):
    from app.engine.documents import prepare

    return prepare(engine._collection("vectors").schema, doc)


def test_stale_temp_files_of_killed_saves_are_swept_on_open(library: Path) -> None:
    indexes = library / "indexes"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        )
        stale = [
            indexes / "c1.vec.hnsw.k2j3h4g5.tmp",  # an older version's naming: no pid
            indexes / f"c1.vec.hnsw.{int(dead.stdout)}.abc.tmp",
            library / f"photoseek.db.new-{int(dead.stdout)}",
        ]
        kept = [indexes / f"c1.vec.hnsw.{sleeper.pid}.abc.tmp", indexes / "notes.txt"]
        for path in stale + kept:
            path.write_bytes(b"x" * 1000)
        os.utime(stale[0], (1, 1))
        with Engine(library) as engine:
            assert probe(engine)
        for path in stale:
            assert not path.exists(), path
        for path in kept:
            assert path.exists(), path
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_empty_database_file_is_refused_by_name(tmp_path: Path) -> None:
    data = tmp_path / "lib"
    data.mkdir()
    (data / "photoseek.db").write_bytes(b"")
    with pytest.raises(StorageError, match=r"photoseek\.db.*empty"):
        Engine(data)
    assert (data / "photoseek.db").stat().st_size == 0  # left as it was, for the user to look at


def test_a_database_damaged_mid_file_is_refused_on_open_naming_the_file(library: Path) -> None:
    with Engine(library) as engine:
        fill(engine, [f"m{i}" for i in range(400)], seed=8)
    db = library / "photoseek.db"
    size = db.stat().st_size
    page = 4096
    with open(db, "rb+") as fh:
        for n in range(size // page // 3, size // page // 3 + 4):
            fh.seek(n * page)
            fh.write(bytes([0xA5]) * page)
    with pytest.raises(StorageError, match=r"photoseek\.db.*damaged"):
        Engine(library)


# --- 10. privacy ------------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_library_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data = tmp_path / "lib"
        with Engine(data) as engine:
            engine.collections.create(vector_schema(dims=DIMS))
            fill(engine, ["a", "b"])
            for suffix in ("", "-wal", "-shm"):
                assert _mode(data / f"photoseek.db{suffix}") == 0o600, suffix
        assert _mode(data) == 0o700
        assert _mode(data / "indexes") == 0o700
        for path in (data / "indexes").iterdir():
            assert _mode(path) == 0o600, path
    finally:
        os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_shared_folder_holding_a_library_is_left_alone_but_the_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    data.mkdir()
    (data / "readme.txt").write_text("mine")
    os.chmod(data, 0o755)
    with Engine(data) as engine:
        engine.collections.create(vector_schema(dims=DIMS))
    assert _mode(data) == 0o755
    assert _mode(data / "photoseek.db") == 0o600


# --- 8. two processes, one library ------------------------------------------------------------------------


def test_two_engines_on_one_library_see_each_others_writes(library: Path) -> None:
    first, second = Engine(library), Engine(library)
    try:
        assert second.collections["vectors"].retrieve()["num_documents"] == 30
        assert len(probe(second)) == 30  # its index is loaded now
        fill(first, ["new1", "new2"], seed=11)
        first.collections["vectors"].documents["g0"].delete()
        assert second.collections["vectors"].retrieve()["num_documents"] == 31
        seen = probe(second)
        assert {"new1", "new2"} <= seen and "g0" not in seen
        fill(second, ["from2"], seed=12)
        second.collections["vectors"].documents["g1"].delete()
        assert "from2" in probe(first) and "g1" not in probe(first)
        assert first.collections["vectors"].retrieve()["num_documents"] == 31
    finally:
        first.close()
        second.close()
    with Engine(library) as engine:
        assert len(probe(engine)) == 31


def test_a_collection_another_process_deleted_and_made_again_is_the_new_one(library: Path) -> None:
    first, second = Engine(library), Engine(library)
    try:
        assert len(probe(first)) == 30
        second.collections["vectors"].delete()
        second.collections.create(vector_schema(dims=8))
        fill(second, ["fresh"], seed=13)
        assert first.collections["vectors"].retrieve()["num_documents"] == 1
        assert probe(first) == {"fresh"}
    finally:
        first.close()
        second.close()


def test_the_cli_can_search_and_write_while_the_app_has_the_library_open(library: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from app.engine import Engine
        with Engine(sys.argv[1]) as engine:
            docs = engine.collections["vectors"].documents
            print(docs.search({"q": "*"})["found"])
            docs.create({"id": "cli", "title": "t", "vec": [1.0] + [0.0] * 7})
        """
    )
    with Engine(library) as app:
        assert len(probe(app)) == 30
        done = subprocess.run(
            [sys.executable, "-c", script, str(library)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "30"
        assert "cli" in probe(app)
        assert app.collections["vectors"].retrieve()["num_documents"] == 31
