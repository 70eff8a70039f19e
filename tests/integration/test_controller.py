"""The cluster reconciler end to end on the Kubernetes API stand-in, with the real `kubernetes` client.

The kubelet is simulated explicitly (tests.standin.SimKubelet): a test says which Jobs run, succeed or fail, then
reconciles and asserts. Time is a fake clock handed to the reconciler.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor.cluster.kube import JOBS, WORKFLOWS, Kube, KubeSettings
from executor.cluster.reconciler import Reconciler, ReconcilerSettings
from executor.status import argo_cd_health, parse_time
from tests.standin import KubeStandin, SimKubelet
from tests.standin.fixture import kube

__all__ = ["kube"]

ROOT = Path(__file__).resolve().parents[2]
NS = "default"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)


def install_crds(standin: KubeStandin) -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        standin.create(yaml.safe_load(path.read_text()))


def load_example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return doc


@pytest.fixture
def env(kube: KubeStandin) -> tuple[KubeStandin, Kube, Reconciler, SimKubelet, Clock]:
    install_crds(kube)
    client = Kube(kube.client(), KubeSettings(base_delay=0.01, max_delay=0.05))
    clock = Clock()
    reconciler = Reconciler(client, ReconcilerSettings(controller_namespace="argo"), clock=clock)
    return kube, client, reconciler, SimKubelet(kube), clock


def submit(client: Kube, manifest: dict[str, Any], name: str) -> str:
    body = dict(manifest)
    body["metadata"] = {k: v for k, v in (manifest.get("metadata") or {}).items() if k != "generateName"}
    body["metadata"]["name"] = name
    created = client.create(WORKFLOWS, NS, body)
    return str(created["metadata"]["name"])


def unfinished_jobs(standin: KubeStandin, workflow: str) -> list[dict[str, Any]]:
    jobs = standin.list_objects("batch/v1", "Job", NS, label_selector=f"workflows.argoproj.io/workflow={workflow}")
    return [
        j
        for j in jobs
        if not any(c["type"] in ("Complete", "Failed") for c in j.get("status", {}).get("conditions", []))
    ]


def jobs_of(standin: KubeStandin, workflow: str) -> list[dict[str, Any]]:
    return standin.list_objects("batch/v1", "Job", NS, label_selector=f"workflows.argoproj.io/workflow={workflow}")


def node_of(job: dict[str, Any]) -> str:
    return str(job["metadata"]["annotations"]["workflows.argoproj.io/node-name"])


Outcome = Callable[[SimKubelet, dict[str, Any]], None]


def succeed(kubelet: SimKubelet, job: dict[str, Any]) -> None:
    kubelet.succeed(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})


def run_to_completion(
    env: tuple[KubeStandin, Kube, Reconciler, SimKubelet, Clock],
    name: str,
    outcome: Outcome = succeed,
    passes: int = 40,
) -> tuple[dict[str, Any], list[list[str]]]:
    """Reconcile; finish every Job the pass created (per `outcome`); repeat until the workflow finishes.
    Returns the final Workflow and the node names of the Jobs started in each wave."""
    standin, client, reconciler, kubelet, clock = env
    waves: list[list[str]] = []
    for _ in range(passes):
        reconciler.reconcile(NS, name)
        workflow = client.get(WORKFLOWS, NS, name)
        assert workflow is not None
        if workflow.get("status", {}).get("phase") in ("Succeeded", "Failed", "Error"):
            return workflow, waves
        jobs = unfinished_jobs(standin, name)
        if jobs:
            waves.append(sorted(node_of(j) for j in jobs))
        for job in jobs:
            outcome(kubelet, job)
        clock.tick()
    raise AssertionError(f"workflow {name} did not finish in {passes} passes: {workflow.get('status')}")


def test_the_seed_dag_runs_in_dependency_order_with_its_parallel_pair(env: Any) -> None:
    name = submit(env[1], load_example("data-pipeline-dag.yaml"), "seed-dag")
    workflow, waves = run_to_completion(env, name)
    assert waves == [
        ["seed-dag.fetch-data"],
        ["seed-dag.clean-data", "seed-dag.generate-metadata"],
        ["seed-dag.aggregate-validate"],
        ["seed-dag.load-production"],
    ]
    status = workflow["status"]
    assert status["phase"] == "Succeeded"
    assert status["progress"] == "5/5"
    assert argo_cd_health(status)[0] == "Healthy"
    root = status["nodes"][name]
    assert (root["type"], root["phase"]) == ("DAG", "Succeeded")


def test_a_failing_step_fails_the_workflow_with_argos_message_and_degrades_argo_cd_health(env: Any) -> None:
    manifest = load_example("data-pipeline-dag.yaml")
    name = submit(env[1], manifest, "seed-fail")

    def fail_clean(kubelet: SimKubelet, job: dict[str, Any]) -> None:
        if node_of(job).endswith(".clean-data"):
            kubelet.fail(NS, job["metadata"]["name"], exit_codes={"main": 3}, messages={"wait": json.dumps({"v": 1})})
        else:
            succeed(kubelet, job)

    workflow, _ = run_to_completion(env, name, fail_clean)
    status = workflow["status"]
    assert status["phase"] == "Failed"
    failed = [n for n in status["nodes"].values() if n.get("type") == "Pod" and n["phase"] == "Failed"]
    assert [(n["displayName"], n["message"]) for n in failed] == [("clean-data", "Error (exit code 3)")]
    never_ran = {
        n["displayName"]: n["phase"]
        for n in status["nodes"].values()
        if n["displayName"] in ("aggregate-validate", "load-production")
    }
    assert never_ran == {"aggregate-validate": "Omitted", "load-production": "Omitted"}
    jobs = {node_of(j) for j in env[0].list_objects("batch/v1", "Job", NS)}
    assert jobs == {"seed-fail.fetch-data", "seed-fail.clean-data", "seed-fail.generate-metadata"}
    health, message = argo_cd_health(status)
    assert (health, message) == ("Degraded", status.get("message", ""))


def test_reconciling_twice_creates_each_job_once_and_writes_nothing_new(env: Any) -> None:
    standin, client, reconciler, _, _ = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "twice")
    first = reconciler.reconcile(NS, name)
    standin.clear_requests()
    second = reconciler.reconcile(NS, name)
    assert len(first.created) == 1
    assert second.created == []
    writes = [r for r in standin.requests if r.verb not in ("get", "list", "watch")]
    assert [(r.verb, r.resource) for r in writes if r.resource == "jobs"] == []


def test_writes_per_step_stay_within_three(env: Any) -> None:
    standin, client, _, _, _ = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "writes")
    standin.clear_requests()
    run_to_completion(env, name)
    writes = [
        r for r in standin.requests if r.verb in ("create", "update", "patch", "delete") and r.resource != "events"
    ]
    assert len(writes) <= 3 * 5, [(r.verb, r.resource) for r in writes]


def test_a_job_deleted_behind_the_controllers_back_fails_its_node_with_a_message(env: Any) -> None:
    standin, client, reconciler, kubelet, clock = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "vanish")
    reconciler.reconcile(NS, name)
    (job,) = unfinished_jobs(standin, name)
    kubelet.run(NS, job["metadata"]["name"])
    reconciler.reconcile(NS, name)  # the node is Running now
    standin.delete("batch/v1", "Job", job["metadata"]["name"], namespace=NS)
    clock.tick()
    reconciler.reconcile(NS, name)
    workflow = client.get(WORKFLOWS, NS, name)
    assert workflow is not None
    node = workflow["status"]["nodes"][job["metadata"]["annotations"]["workflows.argoproj.io/node-id"]]
    assert (node["phase"], node["message"]) == ("Failed", f"Job {job['metadata']['name']} was deleted")


def test_a_pending_job_deleted_before_it_started_is_created_again(env: Any) -> None:
    standin, client, reconciler, _, clock = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "again")
    reconciler.reconcile(NS, name)
    (job,) = unfinished_jobs(standin, name)
    standin.delete("batch/v1", "Job", job["metadata"]["name"], namespace=NS)
    clock.tick()
    result = reconciler.reconcile(NS, name)
    assert result.created == [job["metadata"]["name"]]


def test_an_invalid_workflow_created_without_the_webhook_is_marked_failed_with_the_validation_message(env: Any) -> None:
    _, client, reconciler, _, _ = env
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "bad"},
        "spec": {"entrypoint": "missing", "templates": [{"name": "main", "container": {"image": "alpine"}}]},
    }
    client.create(WORKFLOWS, NS, manifest)
    reconciler.reconcile(NS, "bad")
    workflow = client.get(WORKFLOWS, NS, "bad")
    assert workflow is not None
    assert workflow["status"]["phase"] == "Failed"
    assert workflow["status"]["message"].startswith("invalid spec: spec.entrypoint: ")


@pytest.mark.parametrize("code", [409, 429, 500])
def test_transient_api_faults_on_job_create_are_survived(env: Any, code: int) -> None:
    standin, client, _, _, _ = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), f"fault-{code}")
    standin.inject_fault("create", "jobs", code, times=1)
    workflow, _ = run_to_completion(env, name)
    assert workflow["status"]["phase"] == "Succeeded"
    assert len(standin.list_objects("batch/v1", "Job", NS)) == 5


def test_a_status_write_conflict_is_retried_from_a_fresh_read(env: Any) -> None:
    standin, client, reconciler, _, _ = env
    name = submit(client, load_example("data-pipeline-dag.yaml"), "conflict")
    standin.inject_fault("update", "workflows/status", 409, times=1)
    result = reconciler.reconcile(NS, name)
    assert result.status_writes == 1
    assert len(client.list(JOBS, NS).get("items") or []) == 1


def test_ttl_strategy_deletes_a_finished_workflow_once_its_time_has_come(env: Any) -> None:
    standin, client, reconciler, _, clock = env
    manifest = load_example("data-pipeline-dag.yaml")
    manifest["spec"]["ttlStrategy"] = {"secondsAfterSuccess": 30}
    name = submit(client, manifest, "ttl")
    run_to_completion(env, name)
    result = reconciler.reconcile(NS, name)
    assert result.requeue_after is not None and 0 < result.requeue_after <= 30
    clock.tick(31)
    reconciler.reconcile(NS, name)
    assert client.get(WORKFLOWS, NS, name) is None
    assert standin.list_objects("batch/v1", "Job", NS) == []  # its Jobs went with it (ownerReferences)


@pytest.mark.parametrize(
    ("strategy", "outcome", "left"),
    [
        pytest.param("OnWorkflowSuccess", "succeed", 0, id="success-deletes"),
        pytest.param("OnWorkflowSuccess", "fail", 3, id="failure-keeps"),
        pytest.param("OnWorkflowCompletion", "fail", 0, id="completion-deletes"),
    ],
)
def test_pod_gc_deletes_finished_jobs_per_its_strategy(env: Any, strategy: str, outcome: str, left: int) -> None:
    standin, client, _, _, _ = env
    manifest = load_example("data-pipeline-dag.yaml")
    manifest["spec"]["podGC"] = {"strategy": strategy}
    name = submit(client, manifest, f"gc-{strategy.lower()}-{outcome}")

    def finish(kubelet: SimKubelet, job: dict[str, Any]) -> None:
        if outcome == "fail" and node_of(job).endswith(".clean-data"):
            kubelet.fail(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})
        else:
            succeed(kubelet, job)

    run_to_completion(env, name, finish)
    assert len(standin.list_objects("batch/v1", "Job", NS)) == left


def test_on_pod_completion_deletes_each_finished_job_while_the_workflow_still_runs(env: Any) -> None:
    standin, client, reconciler, kubelet, clock = env
    clock.now = datetime.now(UTC)  # the stand-in's kubelet stamps real times on Jobs, and podGC counts from them
    manifest = load_example("data-pipeline-dag.yaml")
    manifest["spec"]["podGC"] = {"strategy": "OnPodCompletion"}
    name = submit(client, manifest, "gc-per-pod")
    reconciler.reconcile(NS, name)
    [fetch] = unfinished_jobs(standin, name)
    assert node_of(fetch) == f"{name}.fetch-data"
    succeed(kubelet, fetch)
    clock.tick()
    result = reconciler.reconcile(NS, name)  # records fetch-data's end, starts its dependents, then collects it
    assert result.deleted == [fetch["metadata"]["name"]]
    assert sorted(node_of(j) for j in jobs_of(standin, name)) == [
        f"{name}.clean-data",
        f"{name}.generate-metadata",
    ]
    workflow, waves = run_to_completion(env, name)
    assert workflow["status"]["phase"] == "Succeeded"
    assert waves == [  # nothing ran twice although finished Jobs disappeared mid-run
        [f"{name}.clean-data", f"{name}.generate-metadata"],
        [f"{name}.aggregate-validate"],
        [f"{name}.load-production"],
    ]
    assert jobs_of(standin, name) == []


def test_on_pod_success_keeps_only_the_failed_step_for_debugging(env: Any) -> None:
    standin, client, _, _, clock = env
    clock.now = datetime.now(UTC)  # the stand-in's kubelet stamps real times on Jobs, and podGC counts from them
    manifest = load_example("data-pipeline-dag.yaml")
    manifest["spec"]["podGC"] = {"strategy": "OnPodSuccess"}
    name = submit(client, manifest, "gc-pod-success")

    def finish(kubelet: SimKubelet, job: dict[str, Any]) -> None:
        if node_of(job).endswith(".clean-data"):
            kubelet.fail(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})
        else:
            succeed(kubelet, job)

    workflow, _ = run_to_completion(env, name, finish)
    assert workflow["status"]["phase"] == "Failed"
    assert [node_of(j) for j in jobs_of(standin, name)] == [f"{name}.clean-data"]


def test_pod_gc_waits_its_delete_delay_and_spares_jobs_its_label_selector_does_not_match(env: Any) -> None:
    standin, client, reconciler, kubelet, clock = env
    clock.now = datetime.now(UTC)  # the stand-in's kubelet stamps real times on Jobs, and podGC counts from them
    manifest = load_example("data-pipeline-dag.yaml")
    manifest["spec"]["podGC"] = {
        "strategy": "OnPodCompletion",
        "deleteDelayDuration": "30s",
        "labelSelector": {"matchExpressions": [{"key": "keep", "operator": "DoesNotExist"}]},
    }
    fetch_template = next(t for t in manifest["spec"]["templates"] if t["name"] == "fetch-data")
    fetch_template["metadata"] = {"labels": {"keep": "true"}}
    name = submit(client, manifest, "gc-delayed")
    reconciler.reconcile(NS, name)
    [fetch] = unfinished_jobs(standin, name)
    succeed(kubelet, fetch)
    clock.tick()
    reconciler.reconcile(NS, name)
    middle = unfinished_jobs(standin, name)
    for job in middle:
        succeed(kubelet, job)
    clock.tick()
    result = reconciler.reconcile(NS, name)
    assert result.deleted == []
    nodes = client.get(WORKFLOWS, NS, name)["status"]["nodes"].values()
    ends = [parse_time(n["finishedAt"]) for n in nodes if n["name"] in {node_of(j) for j in middle}]
    due = max(e for e in ends if e is not None) + timedelta(seconds=30)
    assert (
        result.requeue_after
        == (min(e for e in ends if e is not None) + timedelta(seconds=30) - clock.now).total_seconds()
    )
    clock.now = due - timedelta(seconds=1)
    assert reconciler.reconcile(NS, name).deleted == []
    clock.now = due
    result = reconciler.reconcile(NS, name)
    assert sorted(result.deleted) == sorted(j["metadata"]["name"] for j in middle)
    assert [node_of(j) for j in jobs_of(standin, name) if node_of(j) == f"{name}.fetch-data"] == [f"{name}.fetch-data"]
