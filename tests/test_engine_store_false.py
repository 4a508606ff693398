"""store:false proof: an unstored picture reaches no file on disk and no response, however it came in."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from engine_helpers import data_files, search_one, seed_schema, shape_b64, shape_bytes

from app.engine import Engine
from app.shapes import draw_shape, encode_image

PICTURES = [
    ("red", "circle", 0, "JPEG"),
    ("blue", "square", 0, "PNG"),
    ("green", "star", 0, "BMP"),
    ("yellow", "ring", 1, "JPEG"),
    ("purple", "cross", 1, "PNG"),
    ("white", "triangle", 1, "BMP"),
    ("black", "circle", 2, "PNG"),
    ("orange", "star", 2, "JPEG"),
]
QUERY_PICTURE = ("green", "square", 501, "PNG")
FILE_PICTURES = [
    ("orange", "ring", 600, "PNG"),
    ("red", "cross", 601, "JPEG"),
    ("blue", "circle", 602, "BMP"),
]


def varied_slices(data: bytes, width: int, count: int) -> list[bytes]:
    """``count`` distinct slices of ``data`` from its middle half, each varied enough to be unmistakable.

    A flat background gives runs like b"\\x80\\x80..." that could turn up anywhere by chance; a slice with
    many distinct byte values cannot.
    """
    out: list[bytes] = []
    for offset in range(len(data) // 4, 3 * len(data) // 4 - width, width):
        chunk = data[offset : offset + width]
        if len(set(chunk)) >= width // 4 and chunk not in out:
            out.append(chunk)
            if len(out) == count:
                return out
    raise AssertionError(f"no {count} varied {width}-byte slices in a {len(data)}-byte picture")


class Secrets:
    """Fingerprints of every picture payload a test sends: base64 text slices and raw byte slices."""

    def __init__(self) -> None:
        self.b64: list[bytes] = []
        self.raw: list[bytes] = []

    def add(self, raw: bytes) -> str:
        text = base64.b64encode(raw)
        self.b64 += varied_slices(text, 40, 3)
        self.raw += varied_slices(raw, 32, 3)
        return text.decode("ascii")

    def found_in(self, blob: bytes) -> list[str]:
        hits = [f"base64 {c[:12]!r}..." for c in self.b64 if c in blob]
        return hits + [f"raw bytes {c[:8].hex()}..." for c in self.raw if c in blob]

    def assert_absent_from_files(self, data_dir: Path) -> list[Path]:
        files = data_files(data_dir)
        for path in files:
            leaked = self.found_in(path.read_bytes())
            assert not leaked, f"{path.name} holds picture data: {leaked[:3]}"
        return files

    def assert_absent_from_response(self, response: object) -> None:
        text = response if isinstance(response, str) else json.dumps(response)
        assert not self.found_in(text.encode()), "a response carries picture data"
        for doc in _documents_in(response):
            assert "image" not in doc, doc


def _documents_in(response: object) -> list[dict]:
    if isinstance(response, str):
        return [d for line in response.splitlines() for d in _documents_in(json.loads(line))]
    if isinstance(response, list):
        return [d for item in response for d in _documents_in(item)]
    if isinstance(response, dict):
        if "hits" in response:
            return [hit["document"] for hit in response["hits"]]
        if "document" in response:
            doc = response["document"]
            return [json.loads(doc) if isinstance(doc, str) else doc]
        if "results" in response:
            return _documents_in(response["results"])
        return [response]
    return []


@pytest.mark.parametrize("from_fields", [("image",), ("name", "image")], ids=["image", "name+image"])
def test_unstored_pictures_never_reach_disk_or_responses(
    tmp_path: Path, from_fields: tuple[str, ...]
) -> None:
    secrets = Secrets()
    data_dir = tmp_path / "data"
    engine = Engine(data_dir)
    secrets.assert_absent_from_response(engine.collections.create(seed_schema(from_fields)))
    docs = engine.collections["images"].documents

    lines = []
    for colour, shape, seed, fmt in PICTURES:
        image = secrets.add(shape_bytes(colour, shape, seed, fmt))
        lines.append(json.dumps({"id": f"{colour}-{shape}", "name": f"a {colour} {shape}", "image": image}))
    # A line that fails after its picture was read must not leak it either.
    bad = secrets.add(shape_bytes("white", "ring", 9, "PNG"))
    lines.append(json.dumps({"id": "bad", "name": 12, "image": bad}))
    imported = docs.import_("\n".join(lines), {"return_doc": True, "return_id": True})
    assert [json.loads(line)["success"] for line in imported.splitlines()] == [True] * len(PICTURES) + [False]
    secrets.assert_absent_from_response(imported)

    one = secrets.add(encode_image(draw_shape("purple", "ring", size=150, seed=3), "JPEG"))
    secrets.assert_absent_from_response(docs.create({"id": "single", "name": "a purple ring", "image": one}))
    two = secrets.add(shape_bytes("black", "star", 4, "BMP"))
    secrets.assert_absent_from_response(docs.upsert({"id": "single", "name": "a black star", "image": two}))
    three = secrets.add(shape_bytes("yellow", "cross", 5, "PNG"))
    secrets.assert_absent_from_response(docs["red-circle"].update({"name": "a yellow cross", "image": three}))
    listed = docs.import_(
        [
            {
                "id": "listed",
                "name": "a blue ring",
                "image": secrets.add(shape_bytes("blue", "ring", 6, "JPEG")),
            }
        ],
        {"return_doc": True, "action": "upsert"},
    )
    secrets.assert_absent_from_response(listed)

    # Picture files imported from disk arrive as raw bytes and must not be stored either.
    folder = tmp_path / "photos"
    folder.mkdir()
    for colour, shape, seed, fmt in FILE_PICTURES:
        raw = shape_bytes(colour, shape, seed, fmt)
        secrets.add(raw)
        (folder / f"{colour}-{shape}.{fmt.lower()}").write_bytes(raw)
    file_results = docs.import_files([folder])
    assert all(r["success"] for r in file_results), file_results
    secrets.assert_absent_from_response(file_results)

    query = secrets.add(shape_bytes(*QUERY_PICTURE))
    searches = [
        {"q": "a red circle", "query_by": "embedding"},
        {"q": "*", "vector_query": "embedding:([], id:blue-square)"},
        {"q": "*", "vector_query": f"embedding:([], image:{query})"},
        {"q": "*", "vector_query": f"embedding:([], image:data:image/png;base64,{query})"},
        {"q": "*", "per_page": 50},
        {"q": "a", "query_by": "name,embedding"},
    ]
    for params in searches:
        result = search_one(engine, {"collection": "images", **params})
        assert result["hits"], params
        secrets.assert_absent_from_response(result)
    for doc_id in ("single", "red-circle", "listed", "blue-square"):
        secrets.assert_absent_from_response(docs[doc_id].retrieve())
    exported = docs.export()
    assert len(exported.splitlines()) == len(PICTURES) + 2 + len(FILE_PICTURES)
    secrets.assert_absent_from_response(exported)
    secrets.assert_absent_from_response(engine.collections["images"].retrieve())

    # While the engine is open: the database, its -wal and -shm files and any index files.
    open_files = {p.name for p in secrets.assert_absent_from_files(data_dir)}
    assert "photoseek.db" in open_files and "photoseek.db-wal" in open_files
    engine.close()
    closed_files = {p.name for p in secrets.assert_absent_from_files(data_dir)}
    assert any(name.endswith(".hnsw") for name in closed_files), closed_files
    assert len(secrets.b64) == 3 * (len(PICTURES) + 6 + len(FILE_PICTURES))

    # The fingerprints do work: a collection that stores its picture has them on disk.
    with Engine(tmp_path / "stored") as stored:
        schema = seed_schema(from_fields)
        schema["fields"][1]["store"] = True
        stored.collections.create(schema)
        doc = {"id": "kept", "name": "a red circle", "image": shape_b64("red", "circle", 0, "JPEG")}
        assert stored.collections["images"].documents.create(doc)["image"] == doc["image"]
    kept = b"".join(p.read_bytes() for p in data_files(tmp_path / "stored"))
    assert secrets.found_in(kept)
