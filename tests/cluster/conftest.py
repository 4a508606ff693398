"""A real 3-node Typesense 0.24.1 cluster per module (tests/typesense_cluster.py), or a skip saying why not.

Tests kill and restart nodes; `cluster` hands each test the cluster whole again: every node running, a
leader elected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typesense_cluster import TypesenseCluster
from typesense_server import ServerUnavailable, server_binary, skip_without_server


def start_or_skip(cluster: TypesenseCluster) -> None:
    """Start the cluster, or skip the test where the binary cannot run on this machine."""
    try:
        cluster.start()
    except ServerUnavailable as exc:
        skip_without_server(f"no Typesense binary to build a cluster with: {exc}")


@pytest.fixture(scope="session")
def typesense_binary() -> str:
    pytest.importorskip("typesense", reason="the official client is not installed (pip install typesense)")
    try:
        return server_binary()
    except ServerUnavailable as exc:
        skip_without_server(f"no Typesense binary to build a cluster with: {exc}")


@pytest.fixture(scope="module")
def running_cluster(tmp_path_factory: pytest.TempPathFactory,
                    typesense_binary: str) -> Iterator[TypesenseCluster]:
    cluster = TypesenseCluster(Path(tmp_path_factory.mktemp("cluster")), size=3, binary=typesense_binary)
    start_or_skip(cluster)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(running_cluster: TypesenseCluster) -> TypesenseCluster:
    running_cluster.ensure_running()
    running_cluster.wait_for_leader()
    return running_cluster
