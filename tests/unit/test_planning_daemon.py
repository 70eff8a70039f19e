"""Daemon templates (`daemon: true`) and `{{steps.X.ip}}` / `{{tasks.X.ip}}` in the planner, driven pass by pass
through the explicit kubelet simulation in test_planning_support (the pod reports its IP and readiness)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from executor.observe import observe_job
from executor.planning.core import DAEMON_EXITED
from executor.status import node_id
from tests.unit.test_planning_support import Cluster, Outcome, Script, load
from webhook.lint import lint
from webhook.validation import validate

SERVER_IP = "10.244.1.7"
LONG = 3600  # a daemon's main never ends by itself in these tests unless the script says so

TEMPLATES = """
  - name: server
    daemon: true
    container: {image: nginx, readinessProbe: {httpGet: {path: /, port: 80}}}
  - name: client
    inputs: {parameters: [{name: ip}]}
    container: {image: curl, command: [curl, "http://{{inputs.parameters.ip}}/"]}
"""

STEPS = (
    """
metadata: {name: st}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: server, template: server}
    - - name: client
        template: client
        arguments: {parameters: [{name: ip, value: "{{steps.server.ip}}"}]}
"""
    + TEMPLATES
)


def dag(depends: str) -> str:
    return (
        f"""
metadata: {{name: dg}}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {{name: server, template: server}}
      - name: client
        template: client
        depends: "{depends}"
        arguments: {{parameters: [{{name: ip, value: "{{{{tasks.server.ip}}}}"}}]}}
"""
        + TEMPLATES
    )


def scripted(outcomes: Mapping[str, Outcome]) -> Script:
    """The outcome of the first entry whose key ends the node name; a quick success otherwise."""

    def script(name: str) -> Outcome:
        for suffix, outcome in outcomes.items():
            if name.endswith(suffix):
                return outcome
        return Outcome()

    return script


def server(ready_after: int | None = 2, *, exit_code: int = 0, seconds: int = LONG) -> Outcome:
    return Outcome(pod_ip=SERVER_IP, ready_after=ready_after, exit_code=exit_code, seconds=seconds)


def main_args(cluster: Cluster, name: str) -> list[str]:
    job: Mapping[str, Any] = cluster.manifests[node_id(cluster.workflow["metadata"]["name"], name)]
    containers = job["spec"]["template"]["spec"]["containers"]
    main = next(c for c in containers if c["name"] == "main")
    return [*main.get("command", []), *main.get("args", [])]


def run_until(cluster: Cluster, done: Any, max_passes: int = 50) -> None:
    for _ in range(max_passes):
        cluster.step()
        if done():
            return
        cluster.now += cluster.tick
        cluster.kubelet()
    raise AssertionError(f"condition not reached; nodes: {sorted(n['name'] for n in cluster.nodes.values())}")


# --- daemoned: running and ready -------------------------------------------------------------------------------


def test_a_ready_daemon_is_daemoned_with_its_pod_ip_and_the_next_step_gets_the_ip() -> None:
    cluster = Cluster(load(STEPS), script=scripted({".server": server(), ".client": Outcome(seconds=3)}))
    run_until(cluster, lambda: any(n["name"] == "st[1].client" for n in cluster.nodes.values()))
    daemon = cluster.node("st[0].server")
    assert (daemon["phase"], daemon["daemoned"], daemon["podIP"]) == ("Running", True, SERVER_IP)
    assert cluster.node("st[0]")["phase"] == "Succeeded"
    assert main_args(cluster, "st[1].client") == ["curl", f"http://{SERVER_IP}/"]
    assert cluster.node("st[1].client")["inputs"]["parameters"] == [{"name": "ip", "value": SERVER_IP}]


def test_a_running_daemon_that_is_not_ready_yet_holds_its_siblings_back() -> None:
    cluster = Cluster(load(STEPS), script=scripted({".server": server(ready_after=None)}))
    for _ in range(8):
        cluster.step()
        cluster.now += cluster.tick
        cluster.kubelet()
    daemon = cluster.node("st[0].server")
    assert daemon["phase"] == "Running"
    assert "daemoned" not in daemon
    assert "podIP" not in daemon
    assert cluster.created_names() == ["st[0].server"]


def test_the_daemon_is_stopped_when_its_steps_scope_ends_and_its_node_succeeds() -> None:
    cluster = Cluster(load(STEPS), script=scripted({".server": server()}))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    daemon = cluster.node("st[0].server")
    assert daemon["phase"] == "Succeeded"
    assert "daemoned" not in daemon
    assert daemon["podIP"] == SERVER_IP
    assert daemon["progress"] == "1/1"
    assert cluster.deleted == [node_id("st", "st[0].server")]
    assert status["progress"] == "2/2"


def test_the_daemon_job_is_deleted_in_the_pass_its_scope_ends_not_earlier() -> None:
    cluster = Cluster(load(STEPS), script=scripted({".server": server(), ".client": Outcome(seconds=4)}))
    run_until(cluster, lambda: cluster.node("st").get("phase") == "Succeeded")
    assert cluster.deleted == [node_id("st", "st[0].server")]
    client = cluster.node("st[1].client")
    daemon = cluster.node("st[0].server")
    assert daemon["finishedAt"] == cluster.node("st")["finishedAt"]
    assert daemon["finishedAt"] >= client["finishedAt"]


def test_a_nested_scope_stops_its_daemon_before_the_outer_steps_go_on() -> None:
    manifest = load(
        """
metadata: {name: nest}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: inner, template: inner}
    - - {name: after, template: plain}
  - name: inner
    steps:
    - - {name: server, template: server}
    - - name: client
        template: client
        arguments: {parameters: [{name: ip, value: "{{steps.server.ip}}"}]}
  - name: plain
    container: {image: alpine}
"""
        + TEMPLATES
    )
    cluster = Cluster(manifest, script=scripted({".server": server()}))
    run_until(cluster, lambda: "nest[1].after" in cluster.created_names())
    assert cluster.node("nest[0].inner")["phase"] == "Succeeded"
    assert cluster.node("nest[0].inner[0].server")["phase"] == "Succeeded"
    assert cluster.deleted == [node_id("nest", "nest[0].inner[0].server")]
    assert cluster.node("nest")["phase"] == "Running"
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.deleted == [node_id("nest", "nest[0].inner[0].server")]


def test_every_daemon_is_stopped_when_the_workflow_fails() -> None:
    cluster = Cluster(load(STEPS), script=scripted({".server": server(), ".client": Outcome(exit_code=2)}))
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert cluster.node("st[1].client")["message"] == "Error (exit code 2)"
    assert cluster.node("st[0].server")["phase"] == "Succeeded"
    assert cluster.deleted == [node_id("st", "st[0].server")]


def test_stopping_the_workflow_stops_a_daemon_whose_step_group_already_completed() -> None:
    cluster = Cluster(load(STEPS), script=scripted({".server": server(), ".client": Outcome(seconds=LONG)}))
    run_until(cluster, lambda: cluster.node("st[0].server").get("daemoned") is True)
    cluster.workflow["spec"]["shutdown"] = "Stop"
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert status["message"] == "Stopped with strategy 'Stop'"
    assert set(cluster.deleted) == {node_id("st", "st[0].server"), node_id("st", "st[1].client")}
    assert cluster.node("st[0].server")["phase"] == "Succeeded"


# --- a daemon that ends on its own -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exit_code", "message"),
    [
        pytest.param(1, "Error (exit code 1)", id="crashes"),
        pytest.param(0, DAEMON_EXITED, id="exits-0"),
    ],
)
def test_a_daemon_that_ends_before_its_scope_fails_its_node(exit_code: int, message: str) -> None:
    outcomes = {".server": server(ready_after=0, exit_code=exit_code, seconds=3), ".client": Outcome(seconds=8)}
    cluster = Cluster(load(STEPS), script=scripted(outcomes))
    run_until(cluster, lambda: cluster.node("st[0].server").get("phase") == "Failed")
    daemon = cluster.node("st[0].server")
    assert daemon["message"] == message
    assert "daemoned" not in daemon
    assert cluster.node("st[1].client")["phase"] == "Running"
    cluster.run()
    assert cluster.deleted == []  # nothing left to stop at the scope's end


def test_a_daemon_that_exits_before_it_is_ready_fails_and_its_siblings_never_start() -> None:
    cluster = Cluster(load(STEPS), script=scripted({".server": server(ready_after=None, exit_code=3, seconds=2)}))
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert cluster.node("st[0].server")["message"] == "Error (exit code 3)"
    assert cluster.created_names() == ["st[0].server"]


# --- DAG: depends sees Daemoned --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depends", "client_phase"),
    [
        pytest.param("server", "Succeeded", id="bare-name-includes-daemoned"),
        pytest.param("server.Daemoned", "Succeeded", id="daemoned"),
        pytest.param("server.Succeeded", "Omitted", id="succeeded-is-not-daemoned"),
        pytest.param("server.Daemoned && !server.Failed", "Succeeded", id="combined"),
    ],
)
def test_dag_depends_treats_a_daemoned_task_as_daemoned(depends: str, client_phase: str) -> None:
    cluster = Cluster(load(dag(depends)), script=scripted({".server": server()}))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.node("dg.client")["phase"] == client_phase
    assert cluster.node("dg.server")["phase"] == "Succeeded"
    assert cluster.deleted == [node_id("dg", "dg.server")]


def test_dag_client_gets_the_task_ip_and_the_dag_ends_the_daemon() -> None:
    cluster = Cluster(load(dag("server")), script=scripted({".server": server()}))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert main_args(cluster, "dg.client") == ["curl", f"http://{SERVER_IP}/"]
    assert cluster.node("dg.server")["children"] == [node_id("dg", "dg.client")]


# --- retries ---------------------------------------------------------------------------------------------------


def test_a_daemon_that_fails_before_it_is_ready_is_retried_and_the_retry_node_carries_the_ip() -> None:
    manifest = load(STEPS.replace("    daemon: true\n", "    daemon: true\n    retryStrategy: {limit: 3}\n"))
    attempts = {"st[0].server(0)": server(ready_after=None, exit_code=1, seconds=2)}

    def script(name: str) -> Outcome:
        if name in attempts:
            return attempts[name]
        return server() if "server" in name else Outcome()

    cluster = Cluster(manifest, script=script)
    run_until(cluster, lambda: any(n["name"] == "st[1].client" for n in cluster.nodes.values()))
    retry = cluster.node("st[0].server")
    assert (retry["type"], retry["phase"], retry["daemoned"], retry["podIP"]) == ("Retry", "Running", True, SERVER_IP)
    assert cluster.node("st[0].server(0)")["phase"] == "Failed"
    assert cluster.node("st[0].server(1)")["daemoned"] is True
    assert main_args(cluster, "st[1].client") == ["curl", f"http://{SERVER_IP}/"]
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.node("st[0].server")["phase"] == "Succeeded"
    assert cluster.node("st[0].server(1)")["phase"] == "Succeeded"
    assert "daemoned" not in cluster.node("st[0].server")
    assert cluster.deleted == [node_id("st", "st[0].server(1)")]


def test_a_daemon_without_a_scope_is_stopped_when_the_workflow_ends() -> None:
    manifest = load(
        """
metadata: {name: solo}
spec:
  entrypoint: server
  templates:
"""
        + TEMPLATES
    )
    cluster = Cluster(manifest, script=scripted({"solo": server()}))
    status = cluster.run()
    assert status["phase"] == "Succeeded"  # Argo: a daemoned entrypoint is fulfilled
    assert cluster.node("solo")["phase"] == "Succeeded"
    assert cluster.node("solo")["podIP"] == SERVER_IP
    assert cluster.deleted == [node_id("solo", "solo")]


# --- admission: daemon templates and `.ip` are accepted; `.ip` of a non-daemon is explained -------------------


@pytest.mark.parametrize(
    ("manifest", "errors"),
    [
        pytest.param(STEPS, [], id="steps-ip-of-a-daemon"),
        pytest.param(dag("server"), [], id="tasks-ip-of-a-daemon"),
        pytest.param(
            STEPS.replace("    daemon: true\n", ""),
            [
                "spec.templates[0].steps[1][0].arguments.parameters[0].value: {{steps.server.ip}} does not resolve: "
                'template "server" (run by step "server") is not a daemon template, so it has no ip; set daemon: '
                "true on it (a service that keeps running) or pass what you need as an output parameter"
            ],
            id="steps-ip-of-a-plain-container",
        ),
        pytest.param(
            dag("server").replace("    daemon: true\n", ""),
            [
                "spec.templates[0].dag.tasks[1].arguments.parameters[0].value: {{tasks.server.ip}} does not resolve: "
                'template "server" (run by task "server") is not a daemon template, so it has no ip; set daemon: '
                "true on it (a service that keeps running) or pass what you need as an output parameter"
            ],
            id="tasks-ip-of-a-plain-container",
        ),
    ],
)
def test_admission_accepts_daemons_and_explains_ip_of_a_step_that_is_no_daemon(
    manifest: str, errors: list[str]
) -> None:
    assert [str(e) for e in validate(load(manifest)).errors] == errors


ARGO_EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "argo-examples"
DAEMON_EXAMPLES = [
    "daemon-step.yaml",
    "daemon-nginx.yaml",
    "dag-daemon-task.yaml",
    "dag-daemon-retry-strategy.yaml",
    "steps-daemon-retry-strategy.yaml",
]


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="../shared/argo-examples is not present")
@pytest.mark.parametrize("name", DAEMON_EXAMPLES)
def test_argo_daemon_examples_lint_without_daemon_or_ip_errors(name: str) -> None:
    path = ARGO_EXAMPLES / name
    report = lint([(str(path), path.read_text(encoding="utf-8"))])
    assert [f.text() for f in report.errors if "synchronization" not in f.message] == []


# --- parallelism: a daemoned step no longer takes a slot --------------------------------------------------------


@pytest.mark.parametrize(
    "manifest",
    [
        pytest.param(STEPS.replace("  entrypoint: main\n", "  entrypoint: main\n  parallelism: 1\n"), id="workflow"),
        pytest.param(dag("server").replace("    dag:\n", "    parallelism: 1\n    dag:\n"), id="dag-template"),
    ],
)
def test_a_daemoned_step_frees_its_parallelism_slot(manifest: str) -> None:
    cluster = Cluster(load(manifest), script=scripted({"server": server()}))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert [name.rsplit(".", 1)[-1] for name in cluster.created_names()] == ["server", "client"]


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="../shared/argo-examples is not present")
@pytest.mark.parametrize(("name", "prefix"), [("daemon-step.yaml", "steps"), ("dag-daemon-task.yaml", "tasks")])
def test_argos_influxdb_daemon_examples_run_to_completion_with_every_client_given_the_ip(
    name: str, prefix: str
) -> None:
    manifest = load((ARGO_EXAMPLES / name).read_text())
    manifest["metadata"]["name"] = "ex"
    cluster = Cluster(manifest, script=scripted({"influx": server(ready_after=5)}))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    influx = next(n for n in cluster.nodes.values() if n["name"].endswith("influx"))
    assert (influx["phase"], influx["podIP"]) == ("Succeeded", SERVER_IP)
    assert cluster.deleted == [influx["id"]]
    clients = [n for n in cluster.nodes.values() if n.get("templateName") == "influxdb-client"]
    assert len(clients) == 5
    for client in clients:
        command = client["inputs"]["parameters"][0]["value"]
        assert f"http://{SERVER_IP}:8086/" in command, command
        assert f"{{{{{prefix}." not in command
    assert min(c["startedAt"] for c in clients) > influx["startedAt"]


# --- observe: what a daemon's pod says -------------------------------------------------------------------------


def pod(phase: str, *, main_state: str, ready: bool, ip: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": phase,
        "containerStatuses": [
            {"name": "main", "ready": ready, "state": {main_state: {}}},
            {"name": "wait", "ready": True, "state": {"running": {}}},
        ],
    }
    if ip:
        status["podIP"] = ip
    return {"metadata": {"name": "j-abcde", "creationTimestamp": "2026-01-02T03:04:05Z"}, "status": status}


@pytest.mark.parametrize(
    ("observed_pod", "phase", "pod_ip", "ready"),
    [
        pytest.param(
            pod("Running", main_state="running", ready=True, ip=SERVER_IP), "Running", SERVER_IP, True, id="ready"
        ),
        pytest.param(
            pod("Running", main_state="running", ready=False, ip=SERVER_IP),
            "Running",
            SERVER_IP,
            False,
            id="probe-pending",
        ),
        pytest.param(pod("Pending", main_state="waiting", ready=False), "Pending", "", False, id="not-started"),
        pytest.param(
            pod("Pending", main_state="waiting", ready=False, ip=SERVER_IP),
            "Pending",
            "",
            False,
            id="pending-has-no-ip-yet",
        ),
    ],
)
def test_observe_reports_the_pod_ip_and_mains_readiness_of_a_running_pod(
    observed_pod: dict[str, Any], phase: str, pod_ip: str, ready: bool
) -> None:
    job = {"metadata": {"name": "j", "annotations": {"workflows.argoproj.io/node-id": "n"}}, "status": {}}
    observation = observe_job(job, [observed_pod])
    assert (observation.phase, observation.pod_ip, observation.ready) == (phase, pod_ip, ready)


def test_a_dag_daemon_with_retries_that_crashes_after_it_was_daemoned_is_retried_while_its_scope_runs() -> None:
    manifest = load(dag("server").replace("    daemon: true\n", "    daemon: true\n    retryStrategy: {limit: 2}\n"))
    attempts = {"dg.server(0)": server(ready_after=0, exit_code=1, seconds=3)}

    def script(name: str) -> Outcome:
        if name in attempts:
            return attempts[name]
        return server(ready_after=0) if "server" in name else Outcome(seconds=6)

    cluster = Cluster(manifest, script=script)
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.node("dg.server(0)")["message"] == "Error (exit code 1)"
    assert cluster.node("dg.server(1)")["phase"] == "Succeeded"
    assert cluster.node("dg.server")["phase"] == "Succeeded"
    assert cluster.created_names() == ["dg.server(0)", "dg.client", "dg.server(1)"]
    assert cluster.deleted == [node_id("dg", "dg.server(1)")]
