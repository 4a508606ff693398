"""A real Typesense 0.24.1 server per test module, and a photo library on it (the tiny model)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typesense_server import (
    DEFAULT_API_KEY,
    ServerUnavailable,
    TypesenseServer,
    running_typesense,
    skip_without_server,
)

from app.library.defaults import photo_schema
from app.shapes import write_shape_folder

TINY = "photoseek/tiny-shapes"
COLLECTION = "Photos"


@dataclass(frozen=True)
class Library:
    server: TypesenseServer
    photos: Path  # photos/warm (red, orange, yellow) and photos/cool (blue, green, purple)
    files: list[Path]

    @property
    def url(self) -> str:
        return self.server.config.url

    def remote(self, api_key: str = DEFAULT_API_KEY):
        from app.remote.client import RemoteLibrary

        return RemoteLibrary([self.url], api_key, timeout_s=60, num_retries=1)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    base = tmp_path_factory.mktemp("remote")
    photos = base / "photos"
    shapes = ("circle", "square", "triangle")
    files = write_shape_folder(
        photos / "warm", per_class=2, size=64, colours=("red", "yellow"), shapes=shapes
    )
    files += write_shape_folder(
        photos / "cool", per_class=2, size=64, colours=("blue", "green"), shapes=shapes
    )
    try:
        with running_typesense(base / "server") as server:
            lib = Library(server, photos, files)
            remote = lib.remote()
            remote.collections.create(photo_schema(COLLECTION, TINY))
            results = remote.collections[COLLECTION].documents.import_files([photos])
            assert all(r["success"] for r in results), results
            yield lib
    except ServerUnavailable as exc:
        skip_without_server(f"Typesense cannot run here: {exc}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
