"""Backends for the differential suite: one real Typesense per session, and Photoseek as `engine`
(in-process) and `serve` (over HTTP through the official client).

The run ends with the counts (see report.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typesense_server import (
    NodeConfig,
    ServerUnavailable,
    TypesenseServer,
    server_binary,
    skip_without_server,
)

from . import (  # importing a case module registers its cases
    cases_collections,
    cases_documents,
    cases_filter,
    cases_import_export,
    cases_search,
    cases_vector,
)
from . import report as report_module
from .harness import Outcome, run_case

CASE_MODULES = (cases_collections, cases_documents, cases_import_export, cases_filter, cases_search,
                cases_vector)
SERVE_API_KEY = "photoseek-conformance"


@pytest.fixture(scope="session")
def typesense_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pytest.importorskip("typesense", reason="the official client is not installed (pip install typesense)")
    try:
        binary = server_binary()
    except ServerUnavailable as exc:
        skip_without_server(f"no Typesense server to compare with: {exc}")
    server = TypesenseServer(NodeConfig.on_free_ports(tmp_path_factory.mktemp("typesense") / "node"), binary)
    try:
        server.start()
    except ServerUnavailable as exc:
        skip_without_server(f"no Typesense server to compare with: {exc}")
    try:
        yield server.client()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def typesense_outcomes(typesense_client: Any) -> Callable[[str], list[Outcome]]:
    """Each case's outcomes on Typesense, computed once and shared by every Photoseek backend."""
    cache: dict[str, list[Outcome]] = {}

    def get(case_id: str) -> list[Outcome]:
        if case_id not in cache:
            cache[case_id] = run_case(case_id, typesense_client, case_id)
        return cache[case_id]

    return get


@pytest.fixture(scope="session", params=["engine", "serve"])
def photoseek(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client-like Photoseek: the Engine itself, or `photoseek serve` through typesense.Client."""
    data_dir = tmp_path_factory.mktemp(f"photoseek-{request.param}")
    if request.param == "engine":
        from app.engine import Engine

        engine = Engine(data_dir)  # made on pytest's main thread, which runs every test
        try:
            yield engine
        finally:
            engine.close()
        return
    try:
        from serve_process import running_serve
    except ImportError:
        pytest.skip("photoseek serve not built yet")
    import typesense

    with running_serve(Path(data_dir), SERVE_API_KEY) as port:
        config: Any = {
            "nodes": [{"host": "127.0.0.1", "port": str(port), "protocol": "http"}],
            "api_key": SERVE_API_KEY, "connection_timeout_seconds": 30, "num_retries": 0,
        }
        yield typesense.Client(config)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    report_module.record_result(report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report_module.summarise(terminalreporter.section, terminalreporter.write_line)
