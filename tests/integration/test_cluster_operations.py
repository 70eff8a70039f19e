"""CronWorkflows and workflow operations (stop, terminate, suspend, retry, resubmit) on the API stand-in.

Operations go through the real `trellis` command with a kubeconfig for the stand-in, as a user would run them;
CronWorkflows run on a fake clock handed to the CronReconciler.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest

from executor.cluster.cron import CronReconciler
from executor.cluster.kube import WORKFLOWS, Kube
from executor.operations import retry_status
from tests.integration.test_controller import NS, Clock, env, load_example, node_of, run_to_completion, submit
from tests.standin import KubeStandin, SimKubelet
from tests.standin.fixture import kube

__all__ = ["env", "kube"]

Env = tuple[KubeStandin, Kube, Any, SimKubelet, Clock]


def trellis(standin: KubeStandin, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "executor.cli", *args, "-n", NS, "--kubeconfig", str(standin.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def workflow(client: Kube, name: str) -> dict[str, Any]:
    found = client.get(WORKFLOWS, NS, name)
    assert found is not None
    return found


def test_stop_ends_running_steps_and_fails_the_workflow_with_argos_message(env: Env) -> None:
    standin, client, reconciler, kubelet, clock = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "stopped")
    reconciler.reconcile(NS, name)
    (job,) = standin.list_objects("batch/v1", "Job", NS)
    kubelet.run(NS, job["metadata"]["name"])
    done = trellis(standin, "stop", name)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"workflow {name} stopped\n", "")
    assert workflow(client, name)["spec"]["shutdown"] == "Stop"
    clock.tick()
    reconciler.reconcile(NS, name)
    status = workflow(client, name)["status"]
    assert (status["phase"], status["message"]) == ("Failed", "Stopped with strategy 'Stop'")
    assert standin.list_objects("batch/v1", "Job", NS) == []  # the running step's Job was deleted


def test_terminate_and_suspend_write_the_fields_argo_writes(env: Env) -> None:
    standin, client, _, _, _ = env
    submit(client, load_example("data-pipeline-dag.yaml"), "ops")
    assert trellis(standin, "suspend", "ops").stdout == "workflow ops suspended\n"
    assert workflow(client, "ops")["spec"]["suspend"] is True
    assert trellis(standin, "terminate", "ops").stdout == "workflow ops terminated\n"
    assert workflow(client, "ops")["spec"]["shutdown"] == "Terminate"


def test_operations_on_a_missing_workflow_say_so_without_a_traceback(env: Env) -> None:
    done = trellis(env[0], "stop", "nope")
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        'trellis stop: workflow "nope" not found in namespace "default"\n',
    )


def test_retry_runs_only_the_failed_step_again_and_the_workflow_then_succeeds(env: Env) -> None:
    standin, client, _, _, _ = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "retried")
    attempts: list[str] = []

    def flaky(kubelet: SimKubelet, job: dict[str, Any]) -> None:
        attempts.append(node_of(job))
        if node_of(job).endswith(".clean-data") and attempts.count(node_of(job)) == 1:
            kubelet.fail(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})
        else:
            kubelet.succeed(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})

    failed, _ = run_to_completion(env, name, flaky)
    assert failed["status"]["phase"] == "Failed"
    done = trellis(standin, "retry", name)
    assert (done.returncode, done.stdout) == (0, f"workflow {name} retried: 1 failed step(s) will run again\n")
    assert workflow(client, name)["status"]["phase"] == "Running"
    final, waves = run_to_completion(env, name, flaky)
    assert final["status"]["phase"] == "Succeeded"
    assert waves[0] == [f"{name}.clean-data"]
    assert attempts.count(f"{name}.fetch-data") == 1


def test_retry_refuses_a_workflow_that_has_not_failed(env: Env) -> None:
    standin, client, reconciler, _, _ = env
    submit(client, load_example("data-pipeline-dag.yaml"), "running")
    reconciler.reconcile(NS, "running")
    done = trellis(standin, "retry", "running")
    assert (done.returncode, done.stderr) == (
        1,
        "trellis retry: workflow running is Running; only Failed or Error workflows can be retried\n",
    )


def test_resubmit_creates_a_new_workflow_from_the_same_spec(env: Env) -> None:
    standin, client, _, _, _ = env
    submit(client, load_example("data-pipeline-dag.yaml"), "original")
    done = trellis(standin, "resubmit", "original")
    assert done.returncode == 0, done.stderr
    copies = [
        w
        for w in standin.list_objects("argoproj.io/v1alpha1", "Workflow", NS)
        if w["metadata"].get("labels", {}).get("workflows.argoproj.io/resubmitted-from-workflow") == "original"
    ]
    assert len(copies) == 1
    assert copies[0]["metadata"]["name"].startswith("original-")
    assert done.stdout == f"workflow {copies[0]['metadata']['name']} resubmitted from original\n"
    assert copies[0]["spec"] == workflow(client, "original")["spec"]


def test_retry_status_resets_failed_pods_and_their_ancestors() -> None:
    status = {
        "phase": "Failed",
        "message": "boom",
        "finishedAt": "2026-01-01T00:00:00Z",
        "nodes": {
            "wf": {"id": "wf", "name": "wf", "type": "DAG", "phase": "Failed", "children": ["a", "b"], "message": "x"},
            "a": {"id": "a", "name": "wf.a", "type": "Pod", "phase": "Succeeded"},
            "b": {"id": "b", "name": "wf.b", "type": "Pod", "phase": "Failed", "message": "Error (exit code 1)"},
        },
    }
    new, removed = retry_status(status)
    assert removed == ["b"]
    assert new == {
        "phase": "Running",
        "nodes": {
            "wf": {"id": "wf", "name": "wf", "type": "DAG", "phase": "Running", "children": ["a"]},
            "a": {"id": "a", "name": "wf.a", "type": "Pod", "phase": "Succeeded"},
        },
    }


# -- CronWorkflows ---------------------------------------------------------------------------------------------


def cron_manifest(**spec: Any) -> dict[str, Any]:
    manifest = load_example("cron-hello-world.yaml")
    manifest["metadata"] = {"name": "hello", "namespace": NS}
    manifest["spec"].update(spec)
    return manifest


def children(standin: KubeStandin) -> list[str]:
    return sorted(
        w["metadata"]["name"]
        for w in standin.list_objects(
            "argoproj.io/v1alpha1", "Workflow", NS, label_selector="workflows.argoproj.io/cron-workflow=hello"
        )
    )


@pytest.fixture
def cron(env: Env) -> tuple[KubeStandin, Kube, Clock, datetime]:
    standin, client, _, _, clock = env
    created = standin.create(cron_manifest(schedules=["*/5 * * * *"], concurrencyPolicy="Allow"))
    born = datetime.fromisoformat(created["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    first = born.replace(second=0, microsecond=0) + timedelta(minutes=5 - born.minute % 5)
    clock.now = first + timedelta(seconds=2)
    return standin, client, clock, first


def test_a_cron_workflow_fires_on_schedule_once_even_across_controller_restarts(cron: Any) -> None:
    standin, client, clock, first = cron
    result = CronReconciler(client, clock=clock).reconcile(NS, "hello")
    assert result.created == f"hello-{int(first.timestamp())}"
    assert CronReconciler(client, clock=clock).reconcile(NS, "hello").created == ""  # a restarted controller
    assert children(standin) == [f"hello-{int(first.timestamp())}"]
    status = standin.get("argoproj.io/v1alpha1", "CronWorkflow", "hello", NS)["status"]
    assert status["lastScheduledTime"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [a["name"] for a in status["active"]] == [result.created]
    assert result.requeue_after == pytest.approx(298.0)
    child = standin.get("argoproj.io/v1alpha1", "Workflow", result.created, NS)
    assert child["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"] == status["lastScheduledTime"]
    assert child["metadata"]["ownerReferences"][0]["kind"] == "CronWorkflow"


def test_forbid_skips_a_run_while_the_previous_one_is_active(cron: Any) -> None:
    standin, client, clock, first = cron
    standin.patch(
        "argoproj.io/v1alpha1", "CronWorkflow", "hello", {"spec": {"concurrencyPolicy": "Forbid"}}, namespace=NS
    )
    CronReconciler(client, clock=clock).reconcile(NS, "hello")
    clock.now = first + timedelta(minutes=5, seconds=1)
    assert CronReconciler(client, clock=clock).reconcile(NS, "hello").created == ""
    assert children(standin) == [f"hello-{int(first.timestamp())}"]


def test_replace_terminates_the_active_run_and_starts_the_next(cron: Any) -> None:
    standin, client, clock, first = cron
    standin.patch(
        "argoproj.io/v1alpha1", "CronWorkflow", "hello", {"spec": {"concurrencyPolicy": "Replace"}}, namespace=NS
    )
    CronReconciler(client, clock=clock).reconcile(NS, "hello")
    clock.now = first + timedelta(minutes=5, seconds=1)
    second = CronReconciler(client, clock=clock).reconcile(NS, "hello").created
    assert second == f"hello-{int((first + timedelta(minutes=5)).timestamp())}"
    old = standin.get("argoproj.io/v1alpha1", "Workflow", f"hello-{int(first.timestamp())}", NS)
    assert old["spec"]["shutdown"] == "Terminate"


def test_retry_status_reads_and_writes_compressed_nodes_as_argo_stores_big_statuses() -> None:
    from executor.status import nodes_of, pack_nodes

    nodes = {f"n{i}": {"id": f"n{i}", "name": f"wf.t{i}", "type": "Pod", "phase": "Succeeded"} for i in range(50)}
    nodes["bad"] = {"id": "bad", "name": "wf.bad", "type": "Pod", "phase": "Failed"}
    status = pack_nodes({"phase": "Failed"}, nodes, threshold=100)
    assert "compressedNodes" in status
    new, removed = retry_status(status)
    assert removed == ["bad"]
    assert sorted(nodes_of(new)) == sorted(k for k in nodes if k != "bad")


SUSPENDED = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "approval", "namespace": NS},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "steps": [
                    [{"name": "approve", "template": "approve"}],
                    [
                        {
                            "name": "report",
                            "template": "report",
                            "arguments": {
                                "parameters": [{"name": "ok", "value": "{{steps.approve.outputs.parameters.ok}}"}]
                            },
                        }
                    ],
                ],
            },
            {
                "name": "approve",
                "suspend": {},
                "outputs": {"parameters": [{"name": "ok", "valueFrom": {"supplied": {}}}]},
            },
            {
                "name": "report",
                "inputs": {"parameters": [{"name": "ok"}]},
                "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.ok}}"]},
            },
        ],
    },
}


def test_resume_on_the_cluster_completes_the_suspend_node_with_the_supplied_value(env: Env) -> None:
    standin, client, reconciler, _, clock = env
    client.create(WORKFLOWS, NS, SUSPENDED)
    reconciler.reconcile(NS, "approval")
    nodes = workflow(client, "approval")["status"]["nodes"]
    assert [n["phase"] for n in nodes.values() if n["type"] == "Suspend"] == ["Running"]
    done = trellis(standin, "resume", "approval", "-p", "ok=yes")
    assert (done.returncode, done.stdout, done.stderr) == (0, "workflow approval resumed\n", "")
    clock.tick()
    reconciler.reconcile(NS, "approval")
    (job,) = standin.list_objects("batch/v1", "Job", NS)
    main = next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert main["command"] == ["echo", "yes"]
    final, _ = run_to_completion(env, "approval")
    assert final["status"]["phase"] == "Succeeded"


def test_a_stopped_workflow_resubmitted_or_retried_runs_again_instead_of_stopping_at_once(env: Env) -> None:
    standin, client, reconciler, kubelet, clock = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "halted")
    reconciler.reconcile(NS, name)
    (job,) = standin.list_objects("batch/v1", "Job", NS)
    kubelet.run(NS, job["metadata"]["name"])
    assert trellis(standin, "stop", name).returncode == 0
    clock.tick()
    reconciler.reconcile(NS, name)
    assert workflow(client, name)["status"]["phase"] == "Failed"

    resubmitted = trellis(standin, "resubmit", name)
    copy_name = resubmitted.stdout.split()[1]
    assert "shutdown" not in workflow(client, copy_name)["spec"]

    assert trellis(standin, "retry", name).returncode == 0
    assert "shutdown" not in workflow(client, name)["spec"]
    final, _ = run_to_completion(env, name)
    assert final["status"]["phase"] == "Succeeded"
