"""A test kubelet + Job controller for the stand-in: explicit simulation driven by tests.

    kubelet = SimKubelet(kube)
    pods = kubelet.start_pods()                                  # a Pod for every Job that has none
    kubelet.run("default", "wf-step-123")                       # Pod Running, Job active
    kubelet.succeed("default", "wf-step-123", logs={"main": "hi"},
                    messages={"wait": '{"v": 1, "result": "hi"}'})  # exit 0 everywhere, Job Complete
    kubelet.fail("default", "wf-step-123", exit_codes={"main": 3})  # Pod Failed, Job Failed (backoff limit)
    kubelet.finish("default", job, {"main": ContainerOutcome(exit_code=0, log="...")})  # full control

Pods are named `<job>-<5 random chars>`, labelled `job-name`, `controller-uid`, `batch.kubernetes.io/job-name`,
`batch.kubernetes.io/controller-uid` (from the Job's defaulted template) and owned by the Job (controller
ownerReference), so deleting the Job with Background propagation deletes them. Status writes go through the
stand-in's in-process API: watches see them; the request log does not.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .server import KubeStandin
from .store import ApiError, now_rfc3339, random_suffix

JSON = dict[str, Any]


@dataclass(frozen=True)
class ContainerOutcome:
    exit_code: int = 0
    message: str = ""  # the termination message (what `terminationMessagePath` held)
    log: str = ""  # what `kubectl logs -c NAME` returns
    reason: str = ""  # default: Completed for 0, Error otherwise (OOMKilled, DeadlineExceeded, ...)


class SimKubelet:
    __test__ = False  # not a test class

    def __init__(self, kube: KubeStandin, *, seed: int = 0) -> None:
        self.kube = kube
        self.rng = random.Random(seed)

    # -- pods ---------------------------------------------------------------------------------------------------

    def pods_of(self, namespace: str, job_name: str) -> list[JSON]:
        return self.kube.list_objects("v1", "Pod", namespace, label_selector=f"batch.kubernetes.io/job-name={job_name}")

    def start_pods(self, namespace: str = "") -> list[JSON]:
        """Create a Pending Pod for every Job (not suspended, not finished) without one. Returns the new Pods."""
        created = []
        for job in self.kube.list_objects("batch/v1", "Job", namespace):
            ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
            if job["spec"].get("suspend") or _finished(job) or self.pods_of(ns, name):
                continue
            created.append(self.create_pod(job))
        return created

    def create_pod(self, job: Mapping[str, Any]) -> JSON:
        template = copy.deepcopy(job["spec"].get("template") or {})
        meta = template.get("metadata") or {}
        meta["name"] = f"{job['metadata']['name']}-{random_suffix(self.rng)}"
        meta["namespace"] = job["metadata"]["namespace"]
        meta["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": job["metadata"]["name"],
                "uid": job["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}
        created = self.kube.create(pod)
        if not job.get("status", {}).get("startTime"):
            self._job_status(job, {"startTime": now_rfc3339(), "active": 1, "ready": 0, "uncountedTerminatedPods": {}})
        return created

    def _pod(self, namespace: str, job_name: str) -> JSON:
        pods = self.pods_of(namespace, job_name)
        if not pods:
            job = self.kube.get("batch/v1", "Job", job_name, namespace)
            return self.create_pod(job)
        return pods[-1]

    def run(self, namespace: str, job_name: str) -> JSON:
        """The Pod's containers run: phase Running, init containers Completed, Job active and ready."""
        pod = self._pod(namespace, job_name)
        now = now_rfc3339()
        status = {
            "phase": "Running",
            "startTime": now,
            "podIP": "10.244.0.10",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "initContainerStatuses": [
                _status(c, "terminated", ContainerOutcome(), now) for c in pod["spec"].get("initContainers") or []
            ],
            "containerStatuses": [_status(c, "running", None, now) for c in pod["spec"].get("containers") or []],
        }
        pod = self.kube.patch(
            "v1", "Pod", pod["metadata"]["name"], {"status": status}, namespace=namespace, subresource="status"
        )
        job = self._job(namespace, job_name)
        if job is not None:
            started = job.get("status", {}).get("startTime") or now
            self._job_status(job, {"active": 1, "ready": 1, "startTime": started})
        return pod

    def succeed(
        self,
        namespace: str,
        job_name: str,
        *,
        logs: Mapping[str, str] | None = None,
        messages: Mapping[str, str] | None = None,
    ) -> JSON:
        """Every container exits 0 (with the given logs and termination messages)."""
        pod = self._pod(namespace, job_name)
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        return self.finish(
            namespace,
            job_name,
            {n: ContainerOutcome(0, (messages or {}).get(n, ""), (logs or {}).get(n, "")) for n in names},
        )

    def fail(
        self,
        namespace: str,
        job_name: str,
        *,
        exit_codes: Mapping[str, int] | None = None,
        messages: Mapping[str, str] | None = None,
        logs: Mapping[str, str] | None = None,
    ) -> JSON:
        """Containers exit with `exit_codes` (default: main 1, others 0): the Pod and the Job fail."""
        pod = self._pod(namespace, job_name)
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        codes = dict(exit_codes or {names[0]: 1})
        return self.finish(
            namespace,
            job_name,
            {n: ContainerOutcome(codes.get(n, 0), (messages or {}).get(n, ""), (logs or {}).get(n, "")) for n in names},
        )

    def finish(self, namespace: str, job_name: str, outcomes: Mapping[str, ContainerOutcome]) -> JSON:
        """Terminate every container as `outcomes` says (missing ones exit 0); Pod Succeeded when all exit 0,
        else Failed; the Job becomes Complete or Failed (backoffLimit exhausted: Trellis Jobs use 0)."""
        pod = self._pod(namespace, job_name)
        if pod["status"].get("phase") != "Running":
            pod = self.run(namespace, job_name)
        now = now_rfc3339()
        name = pod["metadata"]["name"]
        statuses = []
        for container in pod["spec"].get("containers") or []:
            outcome = outcomes.get(container["name"], ContainerOutcome())
            statuses.append(_status(container, "terminated", outcome, now))
            self.kube.set_pod_log(namespace, name, container["name"], outcome.log)
        failed = any(s["state"]["terminated"]["exitCode"] != 0 for s in statuses)
        phase = "Failed" if failed else "Succeeded"
        conditions = [
            {
                "type": t,
                "status": "False" if t in ("Ready", "ContainersReady") else "True",
                "lastTransitionTime": now,
                **({"reason": "PodCompleted"} if t != "PodScheduled" else {}),
            }
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        pod = self.kube.patch(
            "v1",
            "Pod",
            name,
            {"status": {"phase": phase, "containerStatuses": statuses, "conditions": conditions}},
            namespace=namespace,
            subresource="status",
        )
        job = self._job(namespace, job_name)
        if job is None:
            return pod
        if failed:
            reason, message = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
            job_status = {
                "failed": 1,
                "active": 0,
                "ready": 0,
                "conditions": [
                    _condition("FailureTarget", reason, message, now),
                    _condition("Failed", reason, message, now),
                ],
            }
        else:
            reason, message = "CompletionsReached", "Reached expected number of succeeded pods"
            job_status = {
                "succeeded": 1,
                "active": 0,
                "ready": 0,
                "completionTime": now,
                "conditions": [
                    _condition("SuccessCriteriaMet", reason, message, now),
                    _condition("Complete", reason, message, now),
                ],
            }
        self._job_status(job, job_status)
        return pod

    def _job(self, namespace: str, name: str) -> JSON | None:
        try:
            return self.kube.get("batch/v1", "Job", name, namespace)
        except ApiError as err:
            if err.code == 404:  # deleted (orphaning its pods) while they run
                return None
            raise

    def _job_status(self, job: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        try:
            self.kube.patch(
                "batch/v1",
                "Job",
                job["metadata"]["name"],
                {"status": dict(changes)},
                namespace=job["metadata"]["namespace"],
                subresource="status",
            )
        except ApiError as err:
            if err.code != 404:  # the Job may be deleted while its pod finishes
                raise


def _finished(job: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def _condition(kind: str, reason: str, message: str, now: str) -> JSON:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }


def _status(container: Mapping[str, Any], state: str, outcome: ContainerOutcome | None, now: str) -> JSON:
    status: JSON = {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": f"docker.io/{container.get('image', '')}@sha256:{'0' * 64}",
        "containerID": f"containerd://{container['name']}",
        "restartCount": 0,
        "ready": state == "running",
        "started": state == "running",
    }
    if state == "running":
        status["state"] = {"running": {"startedAt": now}}
    else:
        assert outcome is not None
        reason = outcome.reason or ("Completed" if outcome.exit_code == 0 else "Error")
        terminated = {
            "exitCode": outcome.exit_code,
            "reason": reason,
            "startedAt": now,
            "finishedAt": now,
            "containerID": f"containerd://{container['name']}",
        }
        if outcome.message:
            terminated["message"] = outcome.message
        status["state"] = {"terminated": terminated}
    return status


class LocalKubeletBridge:
    """Runs the stand-in's Jobs for real through the local runner's kubelet (executor.local.kubelet.Kubelet:
    host processes in private mount namespaces) and mirrors what happens into the stand-in: the Pod (same name,
    the stand-in Job's labels and ownerReference), Pod and Job status as the local kubelet writes them, container
    logs for `pods/log`.

        bridge = LocalKubeletBridge(kube, Kubelet(settings, on_change=...))   # or make_kubelet=...
        bridge.start_pods()          # every stand-in Job not started yet goes to the local kubelet
        bridge.sync()                # mirror status and logs now (also done on each kubelet change)
    """

    __test__ = False

    def __init__(self, kube: KubeStandin, make_kubelet: Any) -> None:
        """`make_kubelet(on_change)` builds the executor.local.kubelet.Kubelet to use (it calls on_change)."""
        self.kube = kube
        self.kubelet = make_kubelet(self.sync)
        self._started: dict[tuple[str, str], str] = {}  # (namespace, job) -> stand-in Job uid
        self._lock = threading.RLock()

    def start_pods(self, namespace: str = "") -> list[str]:
        started = []
        for job in self.kube.list_objects("batch/v1", "Job", namespace):
            key = (job["metadata"]["namespace"], job["metadata"]["name"])
            with self._lock:
                if key in self._started or job["spec"].get("suspend") or _finished(job):
                    continue
                self._started[key] = job["metadata"]["uid"]
            if self.kubelet.create_job(job):
                started.append(key[1])
        self.sync()
        return started

    def sync(self) -> None:
        """Copy the local kubelet's Pod/Job status and logs into the stand-in (idempotent)."""
        with self._lock:
            for (namespace, name), uid in list(self._started.items()):
                local_job = self.kubelet.get_job(name)
                if local_job is None:
                    continue
                for local_pod in self.kubelet.pods_of(name):
                    self._mirror_pod(namespace, name, uid, local_pod)
                try:
                    self.kube.patch(
                        "batch/v1",
                        "Job",
                        name,
                        {"status": local_job.get("status") or {}},
                        namespace=namespace,
                        subresource="status",
                    )
                except ApiError as err:
                    if err.code != 404:
                        raise

    def _mirror_pod(self, namespace: str, job: str, uid: str, local_pod: Mapping[str, Any]) -> None:
        pod_name = local_pod["metadata"]["name"]
        try:
            self.kube.get("v1", "Pod", pod_name, namespace)
        except ApiError as err:
            if err.code != 404:
                raise
            labels = {
                **(local_pod["metadata"].get("labels") or {}),
                "batch.kubernetes.io/controller-uid": uid,
                "controller-uid": uid,
            }
            meta = {
                "name": pod_name,
                "namespace": namespace,
                "labels": labels,
                "annotations": local_pod["metadata"].get("annotations") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job,
                        "uid": uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            }
            self.kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": local_pod["spec"]})
        self.kube.patch(
            "v1", "Pod", pod_name, {"status": local_pod.get("status") or {}}, namespace=namespace, subresource="status"
        )
        for container, path in self.kubelet.log_paths(job).items():
            if path.exists():
                self.kube.set_pod_log(namespace, pod_name, container, path.read_text(errors="replace"))

    def shutdown(self) -> None:
        self.kubelet.shutdown()
