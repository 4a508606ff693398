"""What `photoseek serve` refuses: requests without the key, bodies over the limits, and any attempt to
reach a path outside the library folder."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from urllib.parse import quote

import pytest
import typesense.exceptions as ts_errors
from serve_process import running_serve

from app.server.app import is_loopback
from app.server.keys import GENERATED_KEY_NAME, ApiKeyError, resolve_api_key

from .conftest import API_KEY, Server, vector_doc, vector_schema

UNAUTHORIZED = {"message": "Forbidden - a valid `x-typesense-api-key` header must be sent."}


def test_every_route_but_health_needs_the_key(server: Server) -> None:
    assert server.get("/health", key=None).json() == {"ok": True}
    for key in (None, "", "wrong-key", API_KEY + "x", API_KEY[:-1]):
        response = server.get("/collections", key=key)
        assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert server.request("POST", "/collections", key="wrong", json=vector_schema("x")).status_code == 401
    assert server.get("/collections", key=None, params={"x-typesense-api-key": API_KEY}).status_code == 200
    with pytest.raises(ts_errors.RequestUnauthorized):
        server.client("wrong-key").collections.retrieve()


def test_unknown_routes_and_methods_are_not_found(server: Server) -> None:
    for method, path in (("GET", "/nope"), ("PUT", "/collections"), ("GET", "/collections/a/b/c/d"),
                         ("GET", "/collections/a/documents")):
        response = server.request(method, path)
        assert response.status_code == 404 and response.json() == {"message": "Not Found"}


def test_names_and_ids_never_reach_outside_the_library(server: Server) -> None:
    outside = server.data_dir.parent
    before = {p for p in outside.rglob("*") if server.data_dir not in p.parents and p != server.data_dir}
    client = server.client()
    accepted = []
    for name in ("../escape", "..", "/tmp/abs", "a/../../b", "..\\win"):
        try:
            client.collections.create(vector_schema(name))
        except ts_errors.RequestMalformed:
            continue
        accepted.append(name)
        # Percent-encoded: the official client puts names into URLs as they are (so "/" would split them).
        base = f"/collections/{_encoded(name)}"
        doc_id = _encoded("../../../etc/passwd")
        assert server.request("POST", base + "/documents?action=upsert",
                              json={**vector_doc(1), "id": "../../../etc/passwd"}).status_code == 201
        assert server.get(f"{base}/documents/{doc_id}").json()["title"] == "doc 1"
        assert server.get(base + "/documents/search", params={"q": "*"}).json()["found"] == 1
        assert server.request("DELETE", base).status_code == 200
    for path in ("/collections/..%2F..%2Fetc%2Fpasswd", "/collections/%2Fetc%2Fpasswd/documents/export",
                 "/collections/../../etc/passwd", "//etc/passwd", "/collections/x/documents/..%2F..%2Fy"):
        response = server.get(path)
        assert response.status_code == 404, path
        assert "root:" not in response.text
    after = {p for p in outside.rglob("*") if server.data_dir not in p.parents and p != server.data_dir}
    assert after == before
    assert len(accepted) >= 3, accepted  # names are data: most of these are valid collection names


def test_a_schema_from_the_network_cannot_name_a_file_on_the_server(server: Server) -> None:
    schema = {"name": "pics", "fields": [
        {"name": "image", "type": "image", "store": False},
        {"name": "embedding", "type": "float[]", "embed": {"from": ["image"], "model_config": {
            "model_name": "photoseek/tiny-shapes", "model_path": "/etc/passwd"}}},
    ]}
    response = server.request("POST", "/collections", json=schema)
    assert response.status_code == 400
    assert response.json()["message"].startswith("`model_config.model_path` is not accepted over HTTP")
    assert server.get("/collections").json() == []


def _encoded(text: str) -> str:
    # Dots too: clients (and requests) would otherwise resolve "/.." before sending.
    return quote(text, safe="").replace(".", "%2E")


def _raw_request(port: int, head: str, body: bytes) -> str:
    # A raw socket: the path reaches the server exactly as written (clients would normalise "..").
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode() + body)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def test_dot_dot_in_a_raw_request_path_is_data_too(server: Server) -> None:
    head = (f"GET /collections/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nX-TYPESENSE-API-KEY: {API_KEY}"
            "\r\nConnection: close\r\n\r\n")
    answer = _raw_request(server.port, head, b"")
    assert answer.startswith("HTTP/1.1 404") and "root:" not in answer


def test_bodies_over_the_limits_get_a_413_that_names_the_limit(tmp_path: Path) -> None:
    mib = 1024 * 1024
    limits = ["--max-body-mb", "1", "--max-import-mb", "2"]
    with running_serve(tmp_path / "lib", API_KEY, extra_args=limits) as port:
        srv = Server(port, tmp_path / "lib")
        big = srv.request("POST", "/collections", data=b" " * (mib + 10))
        assert big.status_code == 413
        assert "1 MiB" in big.json()["message"] and "--max-body-mb" in big.json()["message"]
        srv.client().collections.create(vector_schema("v"))
        line = (json.dumps(vector_doc(0)) + "\n").encode()
        body = line * (3 * mib // len(line))
        sized = srv.request("POST", "/collections/v/documents/import", data=body)
        assert sized.status_code == 413 and "--max-import-mb" in sized.json()["message"]
        # Sent chunked (no Content-Length): the lines before the limit are imported, the last line says why.
        streamed = srv.request("POST", "/collections/v/documents/import?action=upsert",
                               data=(body[i:i + 65536] for i in range(0, len(body), 65536)))
        results = [json.loads(r) for r in streamed.text.split("\n")]
        assert results[-1]["code"] == 413 and results[0] == {"success": True}
        one_huge_line = srv.request("POST", "/collections/v/documents/import",
                                    data=iter([b'{"id": "' + b"x" * (mib + 10) + b'"}']))
        assert one_huge_line.status_code == 413
        assert srv.get("/health").status_code == 200


def test_a_generated_key_is_kept_private_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHOTOSEEK_API_KEY", raising=False)
    first = resolve_api_key(tmp_path)
    path = tmp_path / GENERATED_KEY_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in first.source and first.value not in first.source
    assert resolve_api_key(tmp_path).value == first.value
    monkeypatch.setenv("PHOTOSEEK_API_KEY", "from-env")
    assert resolve_api_key(tmp_path).value == "from-env"
    key_file = tmp_path / "key.txt"
    key_file.write_text("from-file\n")
    os.chmod(key_file, 0o644)
    from_file = resolve_api_key(tmp_path, str(key_file), "from-flag")
    assert from_file.value == "from-file" and "chmod 600" in from_file.warnings[0]
    monkeypatch.delenv("PHOTOSEEK_API_KEY")
    assert "process list" in resolve_api_key(tmp_path, None, "from-flag").warnings[0]
    key_file.write_text("  \n")
    with pytest.raises(ApiKeyError, match="empty"):
        resolve_api_key(tmp_path, str(key_file))


def test_only_loopback_addresses_count_as_private() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.2", "example.com"))
