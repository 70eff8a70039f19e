"""Drive plan() pass by pass the way a shell does, with an explicit kubelet simulation (no mocks of the planner).

`Cluster` applies the planner's actions: CreateJob makes a Job that the simulated kubelet moves Pending ->
Running -> Succeeded/Failed on later passes, with the outcome the test scripted for that node (exit code, output
parameters, result, artifacts). The clock advances by `tick` per pass. This module holds no tests.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from executor.contract import (
    Action,
    CreateJob,
    DeleteJob,
    JobObservation,
    PlanContext,
    PodReport,
    RecordEvent,
    RequeueAt,
    UpdateStatus,
)
from executor.planning import plan

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONTEXT = PlanContext(artifact_repository={"s3": {"bucket": "artifacts", "endpoint": "127.0.0.1:9000"}})


@dataclass(frozen=True)
class Outcome:
    """What the simulated main container does for one node."""

    exit_code: int = 0
    parameters: Mapping[str, str] = field(default_factory=dict)
    result: str | None = None
    artifacts: tuple[str, ...] = ()  # names of output artifacts the sidecar uploads (tar+gzip)
    unarchived: tuple[str, ...] = ()  # those of them stored as they are (archive: none)
    seconds: int = 1  # how long the container runs after it starts
    message: str = ""
    stays_pending: bool = False  # the Job's pod is never scheduled (e.g. no node fits)
    pod_ip: str = ""  # status.podIP reported once the pod runs
    ready_after: int | None = None  # seconds after start when main turns ready; None: readiness never reported


Script = Callable[[str], Outcome]  # node name -> outcome


def load(text: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(text)
    manifest.setdefault("apiVersion", "argoproj.io/v1alpha1")
    manifest.setdefault("kind", "Workflow")
    manifest.setdefault("metadata", {}).setdefault("namespace", "default")
    manifest["metadata"].setdefault("uid", "0f5e1d2c-aaaa-bbbb-cccc-000000000001")
    manifest["metadata"].setdefault("creationTimestamp", "2026-01-02T03:04:00Z")
    return manifest


def succeed(_: str) -> Outcome:
    return Outcome()


@dataclass
class Cluster:
    workflow: dict[str, Any]
    script: Script = succeed
    context: PlanContext = CONTEXT
    now: datetime = T0
    tick: timedelta = timedelta(seconds=1)
    jobs: dict[str, JobObservation] = field(default_factory=dict)
    ends: dict[str, datetime] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)  # node IDs in creation order (first time only)
    manifests: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    events: list[RecordEvent] = field(default_factory=list)
    requeues: list[datetime] = field(default_factory=list)
    passes: int = 0

    @property
    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.workflow.get("status") or {}
        return status

    @property
    def nodes(self) -> dict[str, Any]:
        nodes: dict[str, Any] = self.status.get("nodes") or {}
        return nodes

    def node(self, name: str) -> dict[str, Any]:
        for node in self.nodes.values():
            if node["name"] == name:
                return dict(node)
        raise KeyError(f"no node named {name!r}; nodes: {sorted(n['name'] for n in self.nodes.values())}")

    def created_names(self) -> list[str]:
        return [self.nodes[nid]["name"] for nid in self.created]

    def plan(self) -> list[Action]:
        return plan(copy.deepcopy(self.workflow), dict(self.jobs), self.now, context=self.context)

    def apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, CreateJob):
                if action.node_id not in self.jobs:
                    name = action.job["metadata"]["name"]
                    self.jobs[action.node_id] = JobObservation(action.node_id, name, "Pending")
                    if action.node_id not in self.manifests:
                        self.created.append(action.node_id)
                    self.manifests[action.node_id] = action.job
            elif isinstance(action, DeleteJob):
                self.jobs.pop(action.node_id, None)
                self.deleted.append(action.node_id)
            elif isinstance(action, UpdateStatus):
                self.workflow["status"] = copy.deepcopy(dict(action.status))
            elif isinstance(action, RecordEvent):
                self.events.append(action)
            elif isinstance(action, RequeueAt):
                self.requeues.append(action.when)

    def kubelet(self) -> None:
        """Move each Job one step: Pending -> Running (start), Running -> finished once its time is up."""
        for nid, job in list(self.jobs.items()):
            if job.phase == "Pending":
                node_name = self.nodes[nid]["name"] if nid in self.nodes else nid
                outcome = self.script(node_name)
                if outcome.stays_pending:
                    continue
                self.jobs[nid] = replace(
                    job,
                    phase="Running",
                    started_at=self.now,
                    pod_name=job.job_name + "-pod",
                    pod_ip=outcome.pod_ip,
                    ready=outcome.ready_after == 0,
                )
                self.ends[nid] = self.now + timedelta(seconds=outcome.seconds)
            elif job.phase == "Running" and self.past_deadline(nid, job):
                # The kubelet enforces the pod's activeDeadlineSeconds (template timeout, workflow deadline).
                self.jobs[nid] = replace(
                    job,
                    phase="Failed",
                    finished_at=self.now,
                    message="Pod was active on the node longer than the specified deadline",
                )
            elif job.phase == "Running" and not job.ready and self.turns_ready(nid, job) and self.now < self.ends[nid]:
                self.jobs[nid] = replace(job, ready=True)  # the readiness probe passed
            elif job.phase == "Running" and self.now >= self.ends[nid]:
                outcome = self.script(self.nodes[nid]["name"])
                report: PodReport = {"v": 1}
                if outcome.parameters:
                    report["parameters"] = dict(outcome.parameters)
                if outcome.result is not None:
                    report["result"] = outcome.result
                if outcome.artifacts:
                    report["artifacts"] = [
                        {
                            "name": name,
                            "path": f"/tmp/{name}",
                            "location": {
                                "s3": {
                                    "bucket": "artifacts",
                                    "key": f"{job.job_name}/{name}" + ("" if name in outcome.unarchived else ".tgz"),
                                }
                            },
                            "archive": "none" if name in outcome.unarchived else "tar",
                        }
                        for name in outcome.artifacts
                    ]
                failed = outcome.exit_code != 0
                self.jobs[nid] = replace(
                    job,
                    phase="Failed" if failed else "Succeeded",
                    finished_at=self.now,
                    exit_code=outcome.exit_code,
                    message=outcome.message or (f"Error (exit code {outcome.exit_code})" if failed else ""),
                    report=report,
                )

    def turns_ready(self, nid: str, job: JobObservation) -> bool:
        after = self.script(self.nodes[nid]["name"]).ready_after if nid in self.nodes else None
        return (
            after is not None and job.started_at is not None and self.now >= job.started_at + timedelta(seconds=after)
        )

    def past_deadline(self, nid: str, job: JobObservation) -> bool:
        deadline = self.manifests[nid].get("spec", {}).get("template", {}).get("spec", {}).get("activeDeadlineSeconds")
        if deadline is None or job.started_at is None:
            return False
        return self.now >= job.started_at + timedelta(seconds=int(deadline)) and self.now < self.ends[nid]

    def step(self) -> list[Action]:
        actions = self.plan()
        self.apply(actions)
        self.passes += 1
        return actions

    def run(self, max_passes: int = 200) -> dict[str, Any]:
        """Pass, simulate, advance the clock, until the workflow is done; returns the final status."""
        for _ in range(max_passes):
            self.step()
            if self.status.get("phase") in ("Succeeded", "Failed", "Error"):
                return self.status
            self.now += self.tick
            self.kubelet()
        raise AssertionError(f"workflow not done after {max_passes} passes: {self.status.get('phase')}")
