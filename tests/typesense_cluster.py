"""A real Typesense 0.24.1 cluster for tests: N nodes on free loopback ports, stopped by their PIDs.

    with TypesenseCluster(tmp_dir) as cluster:   # start(): a leader elected, every node healthy
        client = cluster.client()                # the official client, all nodes, fail-over on
        leader = cluster.leader()                # the index of the node that leads, or None
        cluster.kill(leader)                     # SIGKILL: a crash, not a shutdown
        cluster.wait_for_leader()                # the others elect a new one
        cluster.restart(leader, collection="photos")  # same ports and data; waits until it caught up

Each node is a `TypesenseServer` (tests/typesense_server.py) with its own data dir; all share one nodes
file. Who leads is read from each node's `GET /status` (`{"state": "LEADER" | "FOLLOWER" | ...}`), which
0.24.1 answers without a leader too. Ports are picked free and may be taken by someone else before the
nodes bind them; a node that fails to bind makes start() try again on fresh ports.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from typesense_server import (
    _LOADER_FAILURES,
    DEFAULT_API_KEY,
    NodeConfig,
    ServerFailed,
    ServerUnavailable,
    TypesenseServer,
    server_binary,
    write_nodes_file,
)

# An election needs a node's 5 s raft election timeout to run out at least once (measured here: a first
# leader ~10 s after start, a new one ~5-10 s after the leader dies); a loaded 2-core machine needs more.
CLUSTER_START_TIMEOUT_S = 90.0
LEADER_TIMEOUT_S = 60.0
CATCH_UP_TIMEOUT_S = 90.0
START_ATTEMPTS = 3
POLL_INTERVAL_S = 0.1
NODE_LOG_TAIL_LINES = 15
# What the API server (h2o) and the peering server (brpc) log when their port is taken.
_BIND_FAILURES = ("Failed to listen on", "Fail to listen")


class _PortTaken(Exception):
    """A node could not bind one of its ports: someone took it after we picked it."""


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports nobody listens on right now (all held open while picking)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _get_json(url: str, api_key: str, timeout: float = 2.0) -> tuple[int | None, Any]:
    """(HTTP status, parsed body) of a GET, or (None, the error) when the node does not answer."""
    request = urllib.request.Request(url, headers={"X-TYPESENSE-API-KEY": api_key})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None
    except (OSError, ValueError) as exc:
        return None, str(exc)


class TypesenseCluster:
    """`size` Typesense nodes forming one raft group. Use as a context manager, or start() then stop()."""

    def __init__(self, base_dir: Path, size: int = 3, api_key: str = DEFAULT_API_KEY,
                 binary: str | None = None) -> None:
        if size < 1:
            raise ValueError(f"a cluster needs at least one node, not {size}")
        self.base_dir = Path(base_dir)
        self.size = size
        self.api_key = api_key
        self.binary = binary
        self.nodes_file = self.base_dir / "nodes"
        self.servers: list[TypesenseServer] = []

    # -- life cycle ----------------------------------------------------------------------------------

    def start(self, timeout: float = CLUSTER_START_TIMEOUT_S) -> None:
        """Start every node; return once a leader is elected and every node's /health says ok."""
        if any(map(self.is_running, self.nodes)):
            raise RuntimeError("the cluster is already started; stop() it first")
        binary = self.binary or server_binary()
        for attempt in range(1, START_ATTEMPTS + 1):
            self._configure()
            try:
                for server in self.servers:
                    server.binary = binary
                    server.start(wait=False)
                self._wait(lambda: self.leader() is not None and all(map(self.is_healthy, self.nodes)),
                           timeout, "a leader and every node healthy")
                return
            except _PortTaken:
                self.stop()
                if attempt == START_ATTEMPTS:
                    raise ServerFailed(f"the cluster's ports were taken {START_ATTEMPTS} times in a row; "
                                       f"the logs end:\n{self.describe()}") from None
            except BaseException:
                self.stop()
                raise

    def _configure(self) -> None:
        """Fresh ports, nodes file and (emptied) data dirs: a node keeps its peers in its data dir."""
        ports = free_ports(2 * self.size)
        configs = []
        for index in range(self.size):
            data_dir = self.base_dir / f"node{index}"
            shutil.rmtree(data_dir, ignore_errors=True)
            configs.append(NodeConfig(data_dir=data_dir, api_port=ports[2 * index],
                                      peering_port=ports[2 * index + 1], api_key=self.api_key,
                                      nodes_file=self.nodes_file))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        write_nodes_file(self.nodes_file, configs)
        self.servers = [TypesenseServer(config, self.binary) for config in configs]

    def stop(self) -> None:
        """Stop every node that runs (SIGTERM to all at once, then SIGKILL any that lingers)."""
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                with contextlib.suppress(OSError):
                    server.process.terminate()
        for server in self.servers:
            with contextlib.suppress(OSError):
                server.stop()

    def kill(self, node: int) -> None:
        """SIGKILL one node, like a crash or a pulled plug, and reap it."""
        process = self.servers[node].process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self, node: int, collection: str | None = None, timeout: float = CATCH_UP_TIMEOUT_S) -> None:
        """Start a stopped node again on its ports and data dir; wait until it is healthy and, given a
        collection, holds as many documents of it as the leader (call once writes have stopped)."""
        server = self.servers[node]
        if self.is_running(node):
            raise RuntimeError(f"node {node} still runs ({server.config.url})")
        # TypesenseServer.start() truncates the log: keep the crashed run's log next to the new one.
        if server.log_path.exists():
            server.log_path.replace(server.log_path.with_suffix(f".{time.time_ns()}.log"))
        server.start(wait=False)
        self._wait(lambda: self.is_healthy(node), timeout, f"node {node} healthy again")
        if collection is not None:
            self.wait_caught_up(node, collection, timeout)

    def ensure_running(self) -> None:
        """Restart any node that is down (a test that killed one and failed left it so)."""
        for node in self.nodes:
            if not self.is_running(node):
                self.restart(node)

    def __enter__(self) -> TypesenseCluster:
        if not any(map(self.is_running, self.nodes)):
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the nodes say ----------------------------------------------------------------------------

    @property
    def nodes(self) -> range:
        return range(len(self.servers))

    def url(self, node: int) -> str:
        return self.servers[node].config.url

    def is_running(self, node: int) -> bool:
        process = self.servers[node].process
        return process is not None and process.poll() is None

    def state(self, node: int) -> str | None:
        """The node's raft role per `GET /status` ("LEADER", "FOLLOWER", "CANDIDATE", ...), None if down."""
        if not self.is_running(node):
            return None
        status, body = _get_json(self.url(node) + "/status", self.api_key)
        return body.get("state") if status == 200 and isinstance(body, dict) else None

    def is_healthy(self, node: int) -> bool:
        if not self.is_running(node):
            return False
        status, body = _get_json(self.url(node) + "/health", self.api_key)
        return status == 200 and isinstance(body, dict) and body.get("ok") is True

    def leader(self) -> int | None:
        """The index of the node that leads now, or None while there is none (e.g. during an election)."""
        leaders = [node for node in self.nodes if self.state(node) == "LEADER"]
        return leaders[0] if len(leaders) == 1 else None

    def wait_for_leader(self, timeout: float = LEADER_TIMEOUT_S) -> int:
        """Wait until some running node leads (and says it is healthy); returns its index."""
        found: list[int] = []

        def elected() -> bool:
            leader = self.leader()
            if leader is None or not self.is_healthy(leader):
                return False
            found[:] = [leader]
            return True

        self._wait(elected, timeout, "a leader")
        return found[0]

    def count(self, node: int, collection: str) -> int | None:
        """How many documents of `collection` this node itself holds (None if it cannot say)."""
        if not self.is_running(node):
            return None
        url = f"{self.url(node)}/collections/{urllib.parse.quote(collection)}"
        status, body = _get_json(url, self.api_key)
        return int(body["num_documents"]) if status == 200 and isinstance(body, dict) else None

    def wait_caught_up(self, node: int, collection: str, timeout: float = CATCH_UP_TIMEOUT_S) -> None:
        """Wait until `node` holds as many documents of `collection` as the leader."""
        def caught_up() -> bool:
            leader = self.leader()
            if leader is None:
                return False
            wanted = self.count(leader, collection)
            return wanted is not None and self.count(node, collection) == wanted

        self._wait(caught_up, timeout, f"node {node} to hold as many '{collection}' documents as the leader")

    # -- clients -----------------------------------------------------------------------------------------

    def client(self, **settings: Any):  # -> typesense.Client
        """The official client with every node: a node that refuses or fails is marked unhealthy and the
        request goes to the next one; a node marked so is tried again after the health-check interval."""
        import typesense

        config: dict[str, Any] = {
            "nodes": [server.config.client_node() for server in self.servers], "api_key": self.api_key,
            # Loopback refusals are instant; the timeout only matters for a node that hangs.
            "connection_timeout_seconds": 10,
            # Enough tries to get past every dead node twice, spaced to outlast a short election.
            "num_retries": 2 * len(self.servers), "retry_interval_seconds": 0.5,
            "healthcheck_interval_seconds": 2,
        }
        merged: Any = {**config, **settings}  # the client's TypedDict, built from plain values
        return typesense.Client(merged)

    def node_client(self, node: int, **settings: Any):  # -> typesense.Client
        """A client of this node alone: reads are answered from this node's own copy of the data."""
        return self.servers[node].client(**settings)

    # -- waiting and reporting ---------------------------------------------------------------------------

    def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_processes()
            if condition():
                return
            if time.monotonic() >= deadline:
                raise ServerFailed(f"no {what} after {timeout:.0f} s; the nodes:\n{self.describe()}")
            time.sleep(POLL_INTERVAL_S)

    def _check_processes(self) -> None:
        """Fail fast on a node that exited on its own (kill() leaves a node with code -9: not a failure)."""
        for node, server in enumerate(self.servers):
            process = server.process
            if process is None or process.poll() is None or process.returncode == -9:
                continue
            # The whole log: a failed bind is logged first, then ~40 lines of orderly shutdown.
            log = server.log_tail(lines=100_000)
            if any(marker in log for marker in _BIND_FAILURES):
                raise _PortTaken(log)
            if any(marker in log for marker in _LOADER_FAILURES):
                raise ServerUnavailable(f"the Typesense binary cannot run here:\n{server.log_tail()}")
            raise ServerFailed(f"node {node} exited with code {process.returncode}; the nodes:\n"
                               f"{self.describe()}")

    def describe(self) -> str:
        """Each node's address, PID, raft state and log tail: what a failure message needs."""
        parts = []
        for node, server in enumerate(self.servers):
            process = server.process
            pid = process.pid if process is not None else None
            code = process.poll() if process is not None else None
            running = "running" if process is not None and code is None else f"exited ({code})"
            parts.append(f"--- node {node} {server.config.url} pid {pid} {running} state {self.state(node)}\n"
                         f"{server.log_tail(NODE_LOG_TAIL_LINES)}")
        return "\n".join(parts)


@contextlib.contextmanager
def running_cluster(base_dir: Path, size: int = 3,
                    api_key: str = DEFAULT_API_KEY) -> Iterator[TypesenseCluster]:
    """A started cluster in `base_dir`, stopped on exit whatever happens."""
    cluster = TypesenseCluster(base_dir, size, api_key)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
