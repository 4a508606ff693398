"""A real `photoseek serve` subprocess per test module, reached over HTTP with the official client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import typesense
from serve_process import running_serve

API_KEY = "test-key-0123456789"


@dataclass(frozen=True)
class Server:
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, api_key: str = API_KEY) -> typesense.Client:
        return typesense.Client({
            "api_key": api_key,
            "nodes": [{"host": "127.0.0.1", "port": str(self.port), "protocol": "http"}],
            "connection_timeout_seconds": 120,
            "num_retries": 0,
        })

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def request(
        self, method: str, path: str, key: str | None = API_KEY, **kwargs: Any
    ) -> requests.Response:
        headers = {"X-TYPESENSE-API-KEY": key} if key is not None else {}
        return requests.request(method, self.url + path, headers=headers, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("serve") / "library"
    with running_serve(data_dir, API_KEY) as port:
        yield Server(port, data_dir)


def vector_schema(name: str, dims: int = 4) -> dict:
    return {"name": name, "fields": [
        {"name": "title", "type": "string"},
        {"name": "rank", "type": "int32"},
        {"name": "vec", "type": "float[]", "num_dim": dims},
    ]}


def vector_doc(i: int, dims: int = 4) -> dict:
    vec = [0.0] * dims
    vec[i % dims] = 1.0
    vec[(i + 1) % dims] = 0.1 * (i % 7)
    return {"id": str(i), "title": f"doc {i}", "rank": i, "vec": vec}
