"""The test kubelets: SimKubelet (explicit outcomes) and LocalKubeletBridge (real processes via the local runner's
kubelet), both observed through the API as a controller sees them."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.standin import ContainerOutcome, KubeStandin, LocalKubeletBridge, SimKubelet

JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "wf-step", "namespace": "default"},
    "spec": {
        "backoffLimit": 0,
        "template": {
            "metadata": {"labels": {"workflows.argoproj.io/workflow": "wf"}},
            "spec": {
                "restartPolicy": "Never",
                "initContainers": [{"name": "init", "image": "trellis"}],
                "containers": [{"name": "main", "image": "alpine"}, {"name": "wait", "image": "trellis"}],
            },
        },
    },
}


def conditions(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["type"], c["status"]) for c in obj["status"].get("conditions") or []]


def test_pods_are_named_after_their_job_and_labelled_and_owned_like_the_job_controllers(kube: KubeStandin) -> None:
    job = kube.create(JOB)
    [pod] = SimKubelet(kube).start_pods()
    uid = job["metadata"]["uid"]
    assert re.fullmatch(r"wf-step-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
    assert pod["metadata"]["labels"] == {
        "workflows.argoproj.io/workflow": "wf",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "wf-step",
        "controller-uid": uid,
        "job-name": "wf-step",
    }
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "wf-step",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["status"]["phase"] == "Pending"
    assert SimKubelet(kube).start_pods() == []  # one pod per Job


def test_a_running_pod_reports_running_containers_and_an_active_job(kube: KubeStandin) -> None:
    kube.create(JOB)
    pod = SimKubelet(kube).run("default", "wf-step")
    assert pod["status"]["phase"] == "Running"
    assert [s["state"]["terminated"]["reason"] for s in pod["status"]["initContainerStatuses"]] == ["Completed"]
    assert [list(s["state"]) for s in pod["status"]["containerStatuses"]] == [["running"], ["running"]]
    job = kube.get("batch/v1", "Job", "wf-step")
    assert (job["status"]["active"], job["status"]["ready"]) == (1, 1)


def test_success_completes_the_job_with_messages_and_logs(kube: KubeStandin, kube_client: Any) -> None:
    kube.create(JOB)
    kubelet = SimKubelet(kube)
    pod = kubelet.succeed("default", "wf-step", logs={"main": "hello\n"}, messages={"wait": '{"v": 1}'})
    terminated = {s["name"]: s["state"]["terminated"] for s in pod["status"]["containerStatuses"]}
    assert pod["status"]["phase"] == "Succeeded"
    assert {n: (t["exitCode"], t["reason"], t.get("message")) for n, t in terminated.items()} == {
        "main": (0, "Completed", None),
        "wait": (0, "Completed", '{"v": 1}'),
    }
    job = kube.get("batch/v1", "Job", "wf-step")
    assert conditions(job) == [("SuccessCriteriaMet", "True"), ("Complete", "True")]
    assert (job["status"]["succeeded"], job["status"]["active"]) == (1, 0)
    log = client.CoreV1Api(kube_client).read_namespaced_pod_log(pod["metadata"]["name"], "default", container="main")
    assert log == "hello\n"


def test_failure_fails_the_pod_and_the_job_with_exit_codes(kube: KubeStandin) -> None:
    kube.create(JOB)
    pod = SimKubelet(kube).finish(
        "default", "wf-step", {"main": ContainerOutcome(exit_code=137, reason="OOMKilled", message="killed")}
    )
    terminated = {s["name"]: s["state"]["terminated"] for s in pod["status"]["containerStatuses"]}
    assert (terminated["main"]["exitCode"], terminated["main"]["reason"], terminated["main"]["message"]) == (
        137,
        "OOMKilled",
        "killed",
    )
    assert (terminated["wait"]["exitCode"], terminated["wait"]["reason"]) == (0, "Completed")
    assert pod["status"]["phase"] == "Failed"
    job = kube.get("batch/v1", "Job", "wf-step")
    assert conditions(job) == [("FailureTarget", "True"), ("Failed", "True")]
    assert job["status"]["conditions"][1]["reason"] == "BackoffLimitExceeded"


def test_a_pod_whose_job_was_deleted_finishes_without_error(kube: KubeStandin) -> None:
    kube.create(JOB)
    kubelet = SimKubelet(kube)
    [pod] = kubelet.start_pods()
    kube.delete("batch/v1", "Job", "wf-step", propagation="Orphan")
    kubelet.run("default", "wf-step")
    assert kube.get("v1", "Pod", pod["metadata"]["name"])["status"]["phase"] == "Running"


@pytest.fixture
def bridge(kube: KubeStandin, tmp_path: Path) -> Any:
    from executor.local.kubelet import Kubelet, KubeletSettings
    from executor.local.sandbox import detect

    if shutil.which("bwrap") is None and shutil.which("unshare") is None:
        pytest.skip("neither bwrap nor unshare is installed: the local kubelet cannot make mount namespaces")
    try:
        sandbox = detect(tmp_path / "probe")
    except RuntimeError as exc:
        pytest.skip(f"the local kubelet's sandbox does not work here: {exc}")
    settings = KubeletSettings(
        root=tmp_path / "run",
        sandbox=sandbox,
        host_env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        max_grace_seconds=2,
    )
    b = LocalKubeletBridge(kube, lambda on_change: Kubelet(settings, on_change=on_change))
    yield b
    b.shutdown()


def test_jobs_run_for_real_through_the_local_kubelet(kube: KubeStandin, bridge: LocalKubeletBridge) -> None:
    script = "echo hello from $(hostname >/dev/null; echo main); printf 'boom' > /dev/termination-log; exit 3"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "real"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "alpine", "command": ["sh", "-c", script]}],
                }
            },
        },
    }
    created = kube.create(job)
    assert bridge.start_pods() == ["real"]
    failed = kube.wait_until(
        lambda: ("Failed", "True") in conditions(kube.get("batch/v1", "Job", "real")), timeout=30, what="Job Failed"
    )
    assert failed
    [pod] = kube.list_objects("v1", "Pod", "default", label_selector="job-name=real")
    assert pod["metadata"]["labels"]["controller-uid"] == created["metadata"]["uid"]
    [main] = pod["status"]["containerStatuses"]
    assert (pod["status"]["phase"], main["state"]["terminated"]["exitCode"]) == ("Failed", 3)
    assert main["state"]["terminated"]["message"] == "boom"
    assert kube.kubectl("logs", "job/real").stdout == "hello from main\n"
