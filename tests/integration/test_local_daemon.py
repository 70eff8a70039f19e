"""Daemon steps under `trellis run`: real `trellis` processes, the real local kubelet (pods on the host network,
podIP 127.0.0.1, readinessProbe exec/httpGet run by the kubelet), a real HTTP server as the daemon."""

from __future__ import annotations

import copy
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_local_run import EXAMPLES, nodes_by_display, run_json, when, write

EXAMPLE = EXAMPLES / "daemon-service.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def port_is_free(port: int) -> bool:
    """Nothing listens there any more (connections refused)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def example() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return doc


def template(wf: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in wf["spec"]["templates"] if t["name"] == name)
    return found


@pytest.mark.skipif(not EXAMPLE.exists(), reason="examples/daemon-service.yaml is missing")
def test_the_daemon_example_serves_the_next_step_at_its_ip_and_is_stopped_when_its_steps_end(tmp_path: Path) -> None:
    port = free_port()
    code, wf, stderr = run_json(tmp_path, EXAMPLE, "-p", f"port={port}")
    assert code == 0, stderr
    assert wf["status"]["phase"] == "Succeeded"
    nodes = nodes_by_display(wf)
    server, client = nodes["server"], nodes["client"]
    assert (server["phase"], server["podIP"]) == ("Succeeded", "127.0.0.1")
    assert "daemoned" not in server
    assert client["inputs"]["parameters"] == [{"name": "url", "value": f"http://127.0.0.1:{port}/"}]
    assert client["outputs"]["result"] == "hello from the daemon"
    assert when(server["finishedAt"]) >= when(client["finishedAt"])
    assert port_is_free(port)  # the daemon's Job was deleted and its process tree killed


@pytest.mark.skipif(not EXAMPLE.exists(), reason="examples/daemon-service.yaml is missing")
@pytest.mark.parametrize(
    "probe",
    [
        pytest.param(None, id="exec-probe-of-the-example"),
        pytest.param({"httpGet": {"path": "/", "port": "PORT"}, "periodSeconds": 1}, id="httpGet-probe"),
        pytest.param({"tcpSocket": {"port": "PORT"}, "periodSeconds": 1}, id="tcpSocket-probe"),
    ],
)
def test_a_slow_server_is_not_daemoned_before_its_readiness_probe_passes(tmp_path: Path, probe: Any) -> None:
    port = free_port()
    wf = example()
    server = template(wf, "http-server")
    server["container"]["args"] = ["sleep 1\n" + server["container"]["args"][0]]
    if probe is not None:
        probe = copy.deepcopy(probe)
        kind = "httpGet" if "httpGet" in probe else "tcpSocket"
        probe[kind]["port"] = port  # an integer, as Kubernetes wants a numeric port
        server["container"]["readinessProbe"] = probe
    code, out, stderr = run_json(tmp_path, write(tmp_path / "wf.yaml", wf), "-p", f"port={port}")
    assert code == 0, stderr
    nodes = nodes_by_display(out)
    assert nodes["client"]["outputs"]["result"] == "hello from the daemon"
    assert nodes["server"]["phase"] == "Succeeded"
    assert port_is_free(port)


@pytest.mark.skipif(not EXAMPLE.exists(), reason="examples/daemon-service.yaml is missing")
def test_a_daemon_that_exits_before_it_is_ready_fails_the_workflow_and_nothing_after_it_runs(tmp_path: Path) -> None:
    wf = example()
    server = template(wf, "http-server")
    server["container"]["args"] = ["echo cannot serve >&2; exit 3"]
    code, out, stderr = run_json(tmp_path, write(tmp_path / "wf.yaml", wf), "-p", f"port={free_port()}")
    assert code == 1, stderr
    assert out["status"]["phase"] == "Failed"
    nodes = nodes_by_display(out)
    assert (nodes["server"]["phase"], nodes["server"]["message"]) == ("Failed", "Error (exit code 3)")
    assert "client" not in nodes
