"""Shared helpers for the engine tests.

Everything here is real: the tiny CLIP model from tests/models/tiny-shapes, hnswlib, SQLite. The shared
picture library is imported once per session because embedding ~150 pictures is the slow part of the suite;
tests that use it must not write to it (tests that write make their own engine in ``tmp_path``).
"""

from __future__ import annotations

import base64
import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from app.engine import Engine
from app.shapes import COLOURS, SHAPES, draw_shape, encode_image

TINY_MODEL = {"model_name": "photoseek/tiny-shapes"}
SEED_MODEL = {"model_name": "ts/clip-vit-b-p32"}
LIBRARY_FORMATS = ("JPEG", "PNG", "BMP")
LIBRARY_PER_CLASS = 3
# Pictures drawn for queries use seeds the library never holds, so a query is never a stored picture.
QUERY_SEED_BASE = 1000


# --------------------------------------------------------------------------------------------- pictures


@functools.cache
def shape_bytes(colour: str, shape: str, seed: int = 0, fmt: str = "PNG", size: int = 96) -> bytes:
    """The encoded picture of one colour/shape; cached because many tests reuse the same few."""
    return encode_image(draw_shape(colour, shape, size=size, seed=seed), fmt)


def shape_b64(colour: str, shape: str, seed: int = 0, fmt: str = "PNG", size: int = 96) -> str:
    return base64.b64encode(shape_bytes(colour, shape, seed, fmt, size)).decode("ascii")


def truncated_jpeg_b64() -> str:
    """A JPEG cut off after its header: base64 is fine, the picture is not."""
    data = shape_bytes("red", "circle", 0, "JPEG")
    return base64.b64encode(data[: len(data) // 5]).decode("ascii")


# --------------------------------------------------------------------------------------------- schemas


def seed_schema(
    from_fields: tuple[str, ...] = ("image",), model: dict | None = None, name: str = "images"
) -> dict:
    """The seed page's collection schema (name, store:false image, embedding), with ``model`` swapped in."""
    return {
        "name": name,
        "fields": [
            {"name": "name", "type": "string"},
            {"name": "image", "type": "image", "store": False},
            {
                "name": "embedding",
                "type": "float[]",
                "embed": {"from": list(from_fields), "model_config": dict(model or TINY_MODEL)},
            },
        ],
    }


def vector_schema(name: str = "vectors", dims: int = 8) -> dict:
    """A collection with a plain ``float[]`` vector field that documents supply themselves."""
    return {
        "name": name,
        "fields": [
            {"name": "title", "type": "string"},
            {"name": "vec", "type": "float[]", "num_dim": dims},
        ],
    }


def random_unit_vectors(count: int, dims: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dims))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def cosine(a: np.ndarray | list[float], b: np.ndarray | list[float]) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --------------------------------------------------------------------------------------------- searching


def search_one(engine: Engine, params: dict) -> dict:
    """Run one search through multi_search (the seed page's endpoint) and fail on an error result."""
    (result,) = engine.multi_search.perform({"searches": [params]})["results"]
    assert "error" not in result, result
    return result


def search_error(engine: Engine, params: dict) -> dict:
    """Run one search expected to fail; returns its ``{"code", "error"}`` entry from ``results``."""
    (result,) = engine.multi_search.perform({"searches": [params]})["results"]
    assert set(result) == {"code", "error"}, result
    return result


def hit_ids(result: dict) -> list[str]:
    return [hit["document"]["id"] for hit in result["hits"]]


def class_of(doc_id: str) -> tuple[str, str]:
    """Library ids are ``<colour>-<shape>-<n>``."""
    colour, shape, _ = doc_id.split("-")
    return colour, shape


# --------------------------------------------------------------------------------------------- files


def data_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in Path(data_dir).rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------- library


@dataclass
class Library:
    """A collection of LIBRARY_PER_CLASS pictures of each of the 48 classes, mixed formats."""

    engine: Engine
    data_dir: Path
    collection: str
    # id -> (colour, shape, seed, format)
    pictures: dict[str, tuple[str, str, int, str]] = field(default_factory=dict)

    @property
    def documents(self):
        return self.engine.collections[self.collection].documents


def library_documents(per_class: int = LIBRARY_PER_CLASS) -> Iterator[tuple[dict, tuple[str, str, int, str]]]:
    """Seed-page-shaped documents (name + base64 image), interleaved by class so formats mix."""
    n = 0
    for seed in range(per_class):
        for colour in COLOURS:
            for shape in SHAPES:
                fmt = LIBRARY_FORMATS[n % len(LIBRARY_FORMATS)]
                n += 1
                doc = {
                    "id": f"{colour}-{shape}-{seed}",
                    "name": f"picture {n}",
                    "image": shape_b64(colour, shape, seed, fmt),
                }
                yield doc, (colour, shape, seed, fmt)


def build_library(data_dir: Path, per_class: int = LIBRARY_PER_CLASS, name: str = "images") -> Library:
    """Import the library into ``data_dir``; the returned Library's engine is open (the caller closes it)."""
    engine = Engine(data_dir)
    engine.collections.create(seed_schema(("image",), name=name))
    lib = Library(engine, Path(data_dir), name)
    docs = []
    for doc, info in library_documents(per_class):
        docs.append(doc)
        lib.pictures[doc["id"]] = info
    results = lib.documents.import_(docs, {"action": "create"})
    assert all(r["success"] for r in results), [r for r in results if not r["success"]][:3]
    return lib


_built_libraries: dict[str, tuple[Path, dict[str, tuple[str, str, int, str]]]] = {}


@contextlib.contextmanager
def open_shared_library(factory: pytest.TempPathFactory) -> Iterator[Library]:
    """The session's read-only picture library (144 pictures), opened in a fresh Engine for one test.

    It is imported once per session (embedding is the slow part) and closed again, so each test's engine
    owns its threads and no state leaks between tests. Tests must not write to it.
    """
    built = _built_libraries.get("images")
    if built is None:
        lib = build_library(factory.mktemp("library"))
        lib.engine.close()
        built = _built_libraries["images"] = (lib.data_dir, lib.pictures)
    data_dir, pictures = built
    engine = Engine(data_dir)
    try:
        yield Library(engine, data_dir, "images", dict(pictures))
    finally:
        engine.close()
