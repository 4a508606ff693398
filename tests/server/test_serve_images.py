"""An image collection (`store: false`, the tiny CLIP model) served over HTTP: images are embedded and
searchable, and their bytes never land on disk."""

from __future__ import annotations

import base64
from pathlib import Path

from engine_helpers import TINY_MODEL, seed_schema, shape_b64, shape_bytes
from serve_process import running_serve

from .conftest import API_KEY, Server


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_images_are_searchable_and_never_stored(tmp_path: Path) -> None:
    data_dir = tmp_path / "library"
    with running_serve(data_dir, API_KEY) as port:
        client = Server(port, data_dir).client()
        created = client.collections.create(seed_schema(("image",), TINY_MODEL))
        assert next(f for f in created["fields"] if f["name"] == "image")["store"] is False
        docs = client.collections["images"].documents
        pictures = [("red", "circle"), ("blue", "square"), ("green", "triangle")]
        results = docs.import_(
            [{"id": f"{c}-{s}", "name": f"{c} {s}", "image": shape_b64(c, s)} for c, s in pictures])
        assert results == [{"success": True}] * 3
        stored = docs["red-circle"].retrieve()
        assert "image" not in stored and len(stored["embedding"]) > 0
        query = shape_b64("red", "circle", seed=1000)
        found = client.multi_search.perform(
            {"searches": [{"q": "*", "vector_query": f"embedding:([], image:{query}, k: 3)",
                           "exclude_fields": "embedding"}]}, {"collection": "images"})
        assert found["results"][0]["hits"][0]["document"]["id"] == "red-circle"
        assert "image" not in docs.export()
    # After a clean stop (everything flushed), no file in the library holds the image, raw or in base64.
    raw = shape_bytes("red", "circle")
    encoded = base64.b64encode(raw)
    assert _files_holding(data_dir, raw[len(raw) // 2:len(raw) // 2 + 48]) == []
    assert _files_holding(data_dir, encoded[len(encoded) // 2:len(encoded) // 2 + 64]) == []
