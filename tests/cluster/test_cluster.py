"""The cluster fixture does what the scale-out tests need: writes reach every node, a crashed leader
loses no acknowledged import, searches go on while a node is down, and a restarted node catches up.

Documents are plain ones with a small raw vector (no model). Every wait polls the servers with a bound.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import typesense_cluster
from typesense_cluster import TypesenseCluster

from .conftest import start_or_skip

pytestmark = [
    pytest.mark.slow, pytest.mark.timeout(300),
    # The official client (2.x) warns about APIs it builds for newer servers; none is used here.
    pytest.mark.filterwarnings("ignore:.*is deprecated on v30:DeprecationWarning"),
]

DIM = 8
WAIT_S = 90.0  # generous: an election alone takes ~10 s here, more on a loaded machine
IMPORT_DEADLINE_S = 180.0


def schema(name: str) -> dict[str, Any]:
    return {"name": name, "fields": [
        {"name": "title", "type": "string"},
        {"name": "n", "type": "int32"},
        {"name": "v", "type": "float[]", "num_dim": DIM},
    ]}


def vector(n: int) -> list[float]:
    """A distinct direction per n (one-hot-ish), so the nearest neighbour of vector(n) is document n."""
    return [1.0 if k == n % DIM else 0.01 * ((n // DIM) % 50) for k in range(DIM)]


def photo(n: int) -> dict[str, Any]:
    return {"id": f"p{n:05d}", "title": f"photo number {n}", "n": n, "v": vector(n)}


def wait_until(condition: Any, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what} after {timeout:.0f} s"
        time.sleep(0.1)


def wait_every_node_holds(cluster: TypesenseCluster, name: str, count: int) -> None:
    wait_until(lambda: all(cluster.count(node, name) == count for node in cluster.nodes),
               f"every node to hold {count} '{name}' documents "
               f"(they hold {[cluster.count(node, name) for node in cluster.nodes]})")


def import_until_acknowledged(client: Any, name: str, docs: list[dict[str, Any]], deadline: float,
                              acknowledged: set[str], failures: list[str]) -> None:
    """What a careful caller does: upsert, and send again whatever was not reported imported."""
    pending = docs
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} documents still not imported: {failures[-3:]}"
        try:
            results = client.collections[name].documents.import_(pending, {"action": "upsert"})
        except Exception as exc:  # the client gave up on every node (no leader yet): try the batch again
            failures.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.2)
            continue
        retry = []
        for doc, result in zip(pending, results, strict=True):
            if result.get("success") is True:
                acknowledged.add(doc["id"])
            else:
                retry.append(doc)
                failures.append(json.dumps(result))
        pending = retry


def test_writes_through_the_client_land_on_every_node(cluster: TypesenseCluster) -> None:
    client = cluster.client()
    client.collections.create(schema("everywhere"))
    results = client.collections["everywhere"].documents.import_([photo(n) for n in range(200)],
                                                                 {"action": "upsert"})
    assert all(result["success"] for result in results)
    client.collections["everywhere"].documents["p00007"].update({"title": "the renamed photo"})
    client.collections["everywhere"].documents["p00009"].delete()

    # A follower applies a write once the leader tells it the write is committed, a moment later.
    wait_every_node_holds(cluster, "everywhere", 199)
    for node in cluster.nodes:
        documents = cluster.node_client(node).collections["everywhere"].documents
        wait_until(lambda documents=documents: documents.search(
                       {"q": "renamed", "query_by": "title"})["found"] == 1,
                   f"node {node} to have the update")
        assert documents["p00007"].retrieve()["title"] == "the renamed photo"
        assert documents.search({"q": "number 9", "query_by": "title", "filter_by": "n:=9"})["found"] == 0
        hits = documents.search({"q": "*", "vector_query": f"v:({vector(123)}, k:3)"})["hits"]
        assert hits[0]["document"]["id"] == "p00123"


def test_searches_are_answered_while_a_node_is_down(cluster: TypesenseCluster) -> None:
    client = cluster.client()
    client.collections.create(schema("searchable"))
    client.collections["searchable"].documents.import_([photo(n) for n in range(100)], {"action": "upsert"})
    wait_every_node_holds(cluster, "searchable", 100)

    leader = cluster.leader()
    assert leader is not None
    cluster.kill(leader)
    # Straight away, during the election and after it: every search gets its answer. Enough searches that
    # the client's round robin sends some to the dead node first.
    for n in range(30):
        text = client.collections["searchable"].documents.search(
            {"q": f"number {n}", "query_by": "title", "filter_by": f"n:={n}"})
        assert [hit["document"]["id"] for hit in text["hits"]] == [f"p{n:05d}"]
        near = client.collections["searchable"].documents.search(
            {"q": "*", "vector_query": f"v:({vector(n)}, k:1)"})
        assert near["hits"][0]["document"]["id"] == f"p{n:05d}"
    new_leader = cluster.wait_for_leader()
    assert new_leader != leader
    assert client.collections["searchable"].documents.search(
        {"q": "photo", "query_by": "title"})["found"] == 100

    # Written while it was down; the restarted node must catch up on it.
    client.collections["searchable"].documents.import_([photo(n) for n in range(100, 150)],
                                                       {"action": "upsert"})
    cluster.restart(leader, collection="searchable")
    assert cluster.count(leader, "searchable") == 150
    found = cluster.node_client(leader).collections["searchable"].documents.search(
        {"q": "number 140", "query_by": "title", "filter_by": "n:=140"})
    assert [hit["document"]["id"] for hit in found["hits"]] == ["p00140"]


def test_an_import_survives_the_leader_crashing_in_the_middle(cluster: TypesenseCluster) -> None:
    client = cluster.client()
    client.collections.create(schema("stream"))
    batches = [[photo(n) for n in range(start, start + 100)] for start in range(0, 2000, 100)]
    acknowledged: set[str] = set()
    failures: list[str] = []
    errors: list[BaseException] = []
    halfway, killed = threading.Event(), threading.Event()
    deadline = time.monotonic() + IMPORT_DEADLINE_S

    def stream() -> None:
        try:
            for index, batch in enumerate(batches):
                if index == 5:
                    halfway.set()  # the leader is killed now, while the next batches are on their way
                if index == 10:
                    # Whatever the timing, the second half is imported after the crash.
                    assert killed.wait(WAIT_S), "the leader was never killed"
                import_until_acknowledged(client, "stream", batch, deadline, acknowledged, failures)
        except BaseException as exc:
            errors.append(exc)
        finally:
            halfway.set()

    importer = threading.Thread(target=stream, name="cluster-import")
    importer.start()
    try:
        assert halfway.wait(WAIT_S), "the import never got halfway"
        leader = cluster.leader()
        assert leader is not None
        cluster.kill(leader)
        killed.set()
    finally:
        killed.set()
        importer.join(IMPORT_DEADLINE_S + WAIT_S)
    assert not importer.is_alive(), "the import never finished"
    assert not errors, f"the import failed: {errors[0]!r}; attempts that failed: {failures[-5:]}"

    # Every document reported imported is there, exactly once, and nothing else is.
    expected = {doc["id"] for batch in batches for doc in batch}
    assert acknowledged == expected
    survivor = cluster.wait_for_leader()
    # Read from the leader itself: a follower may apply the last commits a moment later.
    exported = [json.loads(line) for line in
                cluster.node_client(survivor).collections["stream"].documents.export().splitlines()]
    ids = collections.Counter(doc["id"] for doc in exported)
    assert [doc_id for doc_id, times in ids.items() if times > 1] == []
    assert set(ids) == acknowledged
    assert cluster.count(survivor, "stream") == len(acknowledged)

    # The crashed node comes back on its old data and catches up on what it missed.
    cluster.restart(leader, collection="stream")
    wait_every_node_holds(cluster, "stream", len(acknowledged))
    documents = cluster.node_client(leader).collections["stream"].documents
    hits = documents.search({"q": "*", "vector_query": f"v:({vector(1999)}, k:1)",
                             "filter_by": "n:>=1900"})["hits"]
    assert hits[0]["document"]["id"] == "p01999"


def test_a_taken_port_makes_the_start_try_fresh_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      typesense_binary: str) -> None:
    """Someone else may bind a port between our pick and the node's bind: start() picks again."""
    picks: list[list[int]] = []
    real_free_ports = typesense_cluster.free_ports

    def first_pick_taken(count: int) -> list[int]:
        picks.append(real_free_ports(count))
        if len(picks) == 1:
            picks[0][0] = taken.getsockname()[1]  # the node's API port: already listened on
        return picks[-1]

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(typesense_cluster, "free_ports", first_pick_taken)
        single = TypesenseCluster(tmp_path / "cluster", size=1, binary=typesense_binary)
        start_or_skip(single)
        with single:
            assert len(picks) == 2
            assert single.wait_for_leader() == 0
            assert single.servers[0].config.api_port == picks[1][0] != taken.getsockname()[1]
            client = single.client()
            client.collections.create(schema("alone"))
            assert client.collections["alone"].retrieve()["num_documents"] == 0
        assert not single.is_running(0)
