"""The controller as it runs in a cluster: watches, work queue, workers, leader election and its HTTP endpoints,
against the API stand-in. A test-side kubelet loop finishes Jobs as they appear; nothing here sleeps: every
wait is `wait_until` on the stand-in's writes with a deadline."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from executor.cluster.controller import Controller, ControllerSettings
from executor.cluster.kube import Kube, KubeSettings
from tests.integration.test_controller import NS, install_crds, load_example
from tests.standin import KubeStandin, SimKubelet
from tests.standin.fixture import kube

__all__ = ["kube"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KubeletLoop:
    """Finishes every Job of the stand-in as soon as it exists (optionally only when allowed)."""

    def __init__(self, standin: KubeStandin) -> None:
        self.standin = standin
        self.kubelet = SimKubelet(standin)
        self.stop = threading.Event()
        self.allowed = threading.Event()
        self.allowed.set()
        self.finished: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.allowed.is_set():
                for job in self.standin.list_objects("batch/v1", "Job", NS):
                    name = job["metadata"]["name"]
                    if name in self.finished or job.get("metadata", {}).get("deletionTimestamp"):
                        continue
                    self.kubelet.succeed(NS, name, messages={"wait": json.dumps({"v": 1})})
                    self.finished.append(name)
            self.standin.store.wait_for_events(0.2)

    def __enter__(self) -> KubeletLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def start_controller(standin: KubeStandin, **overrides: Any) -> Controller:
    stop = threading.Event()
    registry = CollectorRegistry()
    client = Kube(standin.client(), KubeSettings(base_delay=0.01, max_delay=0.1), registry=registry, stop=stop)
    settings = ControllerSettings(
        **{"workers": 2, "http_host": "127.0.0.1", "http_port": free_port(), "watch_timeout_seconds": 30, **overrides}
    )
    controller = Controller(client, settings, registry=registry)
    controller.serve_http()
    controller.start()
    return controller


@pytest.fixture
def controller(kube: KubeStandin) -> Iterator[Controller]:
    install_crds(kube)
    made = start_controller(kube)
    yield made
    made.shutdown()


def submit(standin: KubeStandin, name: str, example: str = "data-pipeline-dag.yaml") -> None:
    manifest = load_example(example)
    manifest["metadata"] = {"name": name, "namespace": NS}
    standin.create(manifest)


def phase_of(standin: KubeStandin, name: str) -> str:
    return str(standin.get("argoproj.io/v1alpha1", "Workflow", name, NS).get("status", {}).get("phase", ""))


def http_get(controller: Controller, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{controller.settings.http_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_workflow_runs_to_success_driven_only_by_watch_events(kube: KubeStandin, controller: Controller) -> None:
    with KubeletLoop(kube):
        submit(kube, "watched")
        kube.wait_until(lambda: phase_of(kube, "watched") == "Succeeded", timeout=30, what="Succeeded")
    assert len(kube.list_objects("batch/v1", "Job", NS)) == 5
    # The phase gauge follows the controller's own Workflow watch, which sees the final status write a moment
    # after the stand-in stores it: poll for it rather than read once.
    kube.wait_until(
        lambda: 'trellis_workflows{phase="Succeeded"} 1.0' in http_get(controller, "/metrics")[1],
        timeout=30,
        what="the Succeeded gauge",
    )
    status, body = http_get(controller, "/metrics")
    assert status == 200
    assert "trellis_reconcile_duration_seconds_count" in body
    assert 'trellis_api_requests_total{code="201",resource="jobs",verb="create"} 5.0' in body
    assert http_get(controller, "/healthz") == (200, "ok\n")
    assert http_get(controller, "/readyz") == (200, "ok\n")


def test_dropped_watches_and_compacted_history_are_survived(kube: KubeStandin, controller: Controller) -> None:
    with KubeletLoop(kube) as loop:
        loop.allowed.clear()
        submit(kube, "dropped")
        kube.wait_until(lambda: kube.list_objects("batch/v1", "Job", NS), timeout=10, what="first Job")
        kube.compact()
        kube.drop_watches()
        loop.allowed.set()
        kube.wait_until(lambda: phase_of(kube, "dropped") == "Succeeded", timeout=30, what="Succeeded")
    assert len(kube.list_objects("batch/v1", "Job", NS)) == 5


@pytest.mark.parametrize("after_jobs", [1, 3, 4])
def test_a_controller_killed_mid_workflow_and_restarted_duplicates_and_loses_nothing(
    kube: KubeStandin, after_jobs: int
) -> None:
    install_crds(kube)
    first = start_controller(kube)
    with KubeletLoop(kube) as loop:
        submit(kube, "restart")
        kube.wait_until(
            lambda: len(kube.list_objects("batch/v1", "Job", NS)) >= after_jobs, timeout=30, what=f"{after_jobs} Jobs"
        )
        loop.allowed.clear()
        first.shutdown()
        second = start_controller(kube)
        try:
            loop.allowed.set()
            kube.wait_until(lambda: phase_of(kube, "restart") == "Succeeded", timeout=30, what="Succeeded")
        finally:
            second.shutdown()
    jobs = kube.list_objects("batch/v1", "Job", NS)
    names = [j["metadata"]["annotations"]["workflows.argoproj.io/node-name"] for j in jobs]
    assert sorted(names) == sorted(set(names)) and len(names) == 5
    nodes = kube.get("argoproj.io/v1alpha1", "Workflow", "restart", NS)["status"]["nodes"]
    assert sorted(n["displayName"] for n in nodes.values() if n["type"] == "Pod") == sorted(
        ["fetch-data", "clean-data", "generate-metadata", "aggregate-validate", "load-production"]
    )


def test_only_the_lease_holder_reconciles_and_the_standby_takes_over(kube: KubeStandin) -> None:
    install_crds(kube)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argo"}})
    leader = start_controller(kube, leader_elect=True, identity="a", lease_namespace="argo")
    kube.wait_until(lambda: leader.leading.is_set(), timeout=10, what="a leads")
    standby = start_controller(kube, leader_elect=True, identity="b", lease_namespace="argo")
    try:
        lease = kube.get("coordination.k8s.io/v1", "Lease", "trellis-controller", "argo")
        assert lease["spec"]["holderIdentity"] == "a"
        assert not standby.leading.is_set()
        leader.shutdown()  # releases the Lease on the way out
        kube.wait_until(lambda: standby.leading.is_set(), timeout=20, what="b leads")
        with KubeletLoop(kube):
            submit(kube, "after-failover")
            kube.wait_until(lambda: phase_of(kube, "after-failover") == "Succeeded", timeout=30, what="Succeeded")
    finally:
        standby.shutdown()


def test_events_record_each_step_on_the_workflow(kube: KubeStandin, controller: Controller) -> None:
    with KubeletLoop(kube):
        submit(kube, "evented")
        kube.wait_until(lambda: phase_of(kube, "evented") == "Succeeded", timeout=30, what="Succeeded")

    def events() -> list[dict[str, Any]]:
        return [e for e in kube.list_objects("v1", "Event", NS) if e["involvedObject"]["name"] == "evented"]

    kube.wait_until(lambda: any(e["reason"] == "WorkflowSucceeded" for e in events()), timeout=10, what="event")
    reasons = [e["reason"] for e in events()]
    assert "WorkflowRunning" in reasons and "WorkflowSucceeded" in reasons
    assert reasons.count("WorkflowNodeSucceeded") >= 5
