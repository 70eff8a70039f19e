"""The local shell's loop: observe the kubelet's Jobs -> `plan()` -> apply the actions, until the Workflow ends.

The runner decides nothing about nodes: `executor.planning.plan` does (the same function as the cluster's
reconciler), `executor.jobspec.expand` (called by plan) makes the Jobs, `executor.observe.observe_job` reads them
back. The runner only executes: CreateJob -> the kubelet (and `--dump-jobs`), DeleteJob -> kill, UpdateStatus ->
keep the status (history, progress), RequeueAt -> wake up then. It wakes when a Pod changes (the kubelet's
callback sets an Event), at the earliest RequeueAt, or on a request (Ctrl-C, `trellis resume` from another
terminal through the history database and SIGUSR1): never a polling sleep.

Stop (first Ctrl-C) sets `spec.shutdown: Stop` and keeps planning, so exit handlers run as Argo's `argo stop`;
Terminate (second Ctrl-C) sets `spec.shutdown: Terminate`. Resume does what `argo resume` does to the object:
`spec.suspend` cleared and every running Suspend node marked Succeeded (with the supplied output parameters).
"""

from __future__ import annotations

import copy
import json
import os
import random
import string
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from executor.artifacts.reports import resolve_report
from executor.contract import (
    Action,
    CreateJob,
    DeleteJob,
    JobObservation,
    Observed,
    PlanContext,
    RecordEvent,
    RequeueAt,
    UpdateStatus,
)
from executor.local.history import History
from executor.local.kubelet import Kubelet, KubeletSettings, k8s_time
from executor.operations import resume_workflow
from executor.status import nodes_of

FINISHED = frozenset({"Succeeded", "Failed", "Error"})
ANNOTATION_NODE_ID = "workflows.argoproj.io/node-id"
ANNOTATION_NODE_NAME = "workflows.argoproj.io/node-name"
HISTORY_WRITE_INTERVAL = 1.0  # seconds between history writes of a running workflow's status

PlanFunction = Callable[..., Sequence[Action]]
ObserveFunction = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]]], JobObservation]


@dataclass(frozen=True)
class Engine:
    """The engine's pure functions the runner drives (the real ones: see `default_engine`)."""

    plan: PlanFunction
    observe_job: ObserveFunction


def default_engine() -> Engine:
    from executor.observe import observe_job
    from executor.planning import plan

    return Engine(plan=plan, observe_job=observe_job)


class Listener(Protocol):
    """What the runner tells the terminal (executor.local.progress) while it works."""

    def status(self, workflow: Mapping[str, Any]) -> None: ...

    def event(self, event: RecordEvent) -> None: ...

    def log(self, node_id: str, container: str, line: str) -> None: ...


class QuietListener:
    def status(self, workflow: Mapping[str, Any]) -> None:
        pass

    def event(self, event: RecordEvent) -> None:
        pass

    def log(self, node_id: str, container: str, line: str) -> None:
        pass


@dataclass(frozen=True)
class RunnerSettings:
    context: PlanContext
    kubelet: KubeletSettings
    dump_jobs: Path | None = None
    stream_logs: bool = False


class Runner:
    """Runs one Workflow (already named, defaulted and validated) to its end."""

    def __init__(
        self,
        workflow: Mapping[str, Any],
        *,
        settings: RunnerSettings,
        history: History | None,
        engine: Engine,
        listener: Listener | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.workflow: dict[str, Any] = copy.deepcopy(dict(workflow))
        self.settings = settings
        self.history = history
        self.engine = engine
        self.listener: Listener = listener or QuietListener()
        self.clock = clock
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending_shutdown = ""
        self._pending_resume: list[Mapping[str, Any]] = []
        self._nodes_by_job: dict[str, tuple[str, str]] = {}  # job name -> (node ID, node name)
        self._deleted: dict[str, str] = {}  # node ID -> job name, Jobs this runner deleted
        self._pod_names: dict[str, str] = {}  # node ID -> pod name
        self._observations: dict[str, tuple[int, JobObservation]] = {}  # job name -> (kubelet version, observation)
        self._last_observed: dict[str, JobObservation] | None = None
        self._dirty = True  # plan at the next pass whatever was observed
        self._requests_waiting = True  # read the history's requests at the next pass (SIGUSR1 sets it again)
        self._requeue: datetime | None = None
        self._last_history_write = 0.0
        self._recorded_artifacts: set[tuple[str, str]] = set()
        self.kubelet = Kubelet(
            settings.kubelet,
            on_change=self._wake.set,
            log_sink=self._on_log if settings.stream_logs else None,
            clock=clock,
        )

    @property
    def name(self) -> str:
        return str(self.workflow["metadata"]["name"])

    @property
    def pod_names(self) -> dict[str, str]:
        return dict(self._pod_names)

    # -- requests (any thread, signal handlers) -----------------------------------------------------------------

    def wake(self) -> None:
        """Look at the history's requests (`trellis resume` from another terminal) at the next pass."""
        self._requests_waiting = True
        self._wake.set()

    def request_shutdown(self, strategy: str) -> None:
        """`Stop` (exit handlers run) or `Terminate` (they don't), as `argo stop` / `argo terminate`."""
        with self._lock:
            self._pending_shutdown = strategy
        self._wake.set()

    def request_resume(self, outputs: Mapping[str, Any] | None = None) -> None:
        with self._lock:
            self._pending_resume.append(dict(outputs or {}))
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run until the Workflow's phase is Succeeded, Failed or Error; returns the final Workflow object."""
        try:
            while True:
                self._wake.clear()
                self._take_requests()
                requeue = self._one_pass()
                phase = (self.workflow.get("status") or {}).get("phase")
                if phase in FINISHED:
                    break
                timeout = None
                if requeue is not None:
                    timeout = max(0.0, (requeue - self.clock()).total_seconds())
                self._wake.wait(timeout)
        finally:
            self.kubelet.shutdown()
            self._write_history(final=True)
        return copy.deepcopy(self.workflow)

    def _take_requests(self) -> None:
        if self.history is not None and self._requests_waiting:
            self._requests_waiting = False
            for req in self.history.take_requests(self.name):
                if req.kind == "resume":
                    self._pending_resume.append(dict(req.payload))
                elif req.kind in {"stop", "terminate"}:
                    self._pending_shutdown = "Stop" if req.kind == "stop" else "Terminate"
        with self._lock:
            shutdown, self._pending_shutdown = self._pending_shutdown, ""
            resumes, self._pending_resume = self._pending_resume, []
        spec = self.workflow.setdefault("spec", {})
        if shutdown and spec.get("shutdown") != "Terminate":
            spec["shutdown"] = shutdown
            self._dirty = True
        for outputs in resumes:
            resume_workflow(self.workflow, self.clock(), outputs)
            self._dirty = True

    def _secret_value(self, name: str, key: str) -> str | None:
        """A local Secret's value (`--secrets FILE`) for reading an offloaded report from the repository."""
        value = self.kubelet.settings.objects.secrets.get(name, {}).get(key)
        return value.decode() if value is not None else None

    def _observe(self) -> Observed:
        """One observation per Job; only Jobs that changed since the last pass are copied and read again."""
        observed: dict[str, JobObservation] = {}
        cache: dict[str, tuple[int, JobObservation]] = {}
        for name, version in self.kubelet.versions().items():
            cached = self._observations.get(name)
            if cached is not None and cached[0] == version:
                obs = cached[1]
            else:
                snap = self.kubelet.snapshot(name)
                if snap is None:
                    continue
                obs = self.engine.observe_job(*snap)
                if obs.report and "offloaded" in obs.report:  # outputs too big for a termination message
                    obs = resolve_report(obs, secrets=self._secret_value)
                if not obs.node_id:
                    obs = replace(obs, node_id=self._nodes_by_job.get(name, ("", ""))[0])
                if obs.pod_name:
                    self._pod_names[obs.node_id] = obs.pod_name
            cache[name] = (version, obs)
            observed[obs.node_id] = obs
        self._observations = cache
        for node_id, job_name in self._deleted.items():
            if node_id not in observed:
                observed[node_id] = JobObservation(node_id=node_id, job_name=job_name, phase="Failed", deleted=True)
        return observed

    def _one_pass(self) -> datetime | None:
        """Plan and apply, unless nothing the planner reads changed since the last pass (the same observations, no
        status written by that pass, no request, no timer due): then planning again would decide the same."""
        now = self.clock()
        observed = self._observe()
        due = self._requeue is not None and now >= self._requeue
        if not (self._dirty or due) and observed == self._last_observed:
            return self._requeue
        self._last_observed = dict(observed)
        self._dirty = False
        actions = self.engine.plan(self.workflow, observed, now, context=self.settings.context)
        requeue: datetime | None = None
        for action in actions:
            if isinstance(action, CreateJob):
                self._create(action)
            elif isinstance(action, DeleteJob):
                if self.kubelet.delete_job(action.job_name, reason=action.reason):
                    self._deleted[action.node_id] = action.job_name
            elif isinstance(action, UpdateStatus):
                if action.status != self.workflow.get("status"):
                    self._dirty = True  # as the cluster's own status write triggers another pass
                self.workflow["status"] = dict(action.status)  # plan() builds a new status each pass
                self._write_history(final=False)
                self.listener.status(self.workflow)
            elif isinstance(action, RecordEvent):
                self.listener.event(action)
            elif isinstance(action, RequeueAt):
                requeue = action.when if requeue is None else min(requeue, action.when)
        self._requeue = requeue
        return requeue

    def _create(self, action: CreateJob) -> None:
        job = action.job
        meta = job.get("metadata") or {}
        name = str(meta.get("name"))
        node_name = str((meta.get("annotations") or {}).get(ANNOTATION_NODE_NAME) or action.node_id)
        self._nodes_by_job[name] = (action.node_id, node_name)
        self._deleted.pop(action.node_id, None)
        if self.settings.dump_jobs is not None:
            self.settings.dump_jobs.mkdir(parents=True, exist_ok=True)
            (self.settings.dump_jobs / f"{name}.yaml").write_text(yaml.safe_dump(dict(job), sort_keys=False))
        if not self.kubelet.create_job(job):
            return  # AlreadyExists: this attempt runs already
        pods = self.kubelet.pods_of(name)
        if pods:
            self._pod_names[action.node_id] = pods[0]["metadata"]["name"]
        if self.history is not None:
            rows = [(action.node_id, node_name, c, str(p)) for c, p in self.kubelet.log_paths(name).items()]
            self.history.record_logs(self.name, rows)

    def _on_log(self, job_name: str, container: str, line: str) -> None:
        node_id, _ = self._nodes_by_job.get(job_name, ("", job_name))
        self.listener.log(node_id, container, line)

    def _write_history(self, *, final: bool) -> None:
        if self.history is None:
            return
        now = time.monotonic()
        if not final and now - self._last_history_write < HISTORY_WRITE_INTERVAL:
            return
        self._last_history_write = now
        self.history.update_run(self.workflow, finished=final)
        for node in nodes_of(self.workflow.get("status")).values():
            for art in (node.get("outputs") or {}).get("artifacts") or []:
                key = (str(node.get("id")), str(art.get("name")))
                if key in self._recorded_artifacts:
                    continue
                self._recorded_artifacts.add(key)
                location = {k: v for k, v in art.items() if k not in {"name", "path"}}
                self.history.record_artifact(self.name, node_id=key[0], name=key[1], location=location)


# -----------------------------------------------------------------------------------------------------------------
# Making the Workflow object a run starts from (what the API server and `argo submit` do before the controller)
# -----------------------------------------------------------------------------------------------------------------

_NAME_CHARS = string.ascii_lowercase + string.digits


MAX_GENERATED_PREFIX = 58  # the API server keeps a name within 63 characters: 58 of the prefix + 5 random


def generate_name(prefix: str, rng: random.Random) -> str:
    """`generateName` (cut to 58 characters, as the API server does) + 5 random characters."""
    return prefix[:MAX_GENERATED_PREFIX] + "".join(rng.choice(_NAME_CHARS) for _ in range(5))


class ManifestError(ValueError):
    """The given files do not hold something `trellis run` can start; the message says what and how to fix."""


def workflow_from(
    obj: Mapping[str, Any],
    *,
    parameters: Mapping[str, str],
    entrypoint: str | None,
    now: datetime,
    rng: random.Random,
    taken: Callable[[str], bool] = lambda _name: False,
) -> dict[str, Any]:
    """The Workflow object to run for a Workflow, CronWorkflow (its workflowSpec, once) or WorkflowTemplate
    (`argo submit --from workflowtemplate/NAME`), with `-p` parameters and `--entrypoint` applied, and the name,
    uid, namespace and creationTimestamp the API server would set."""
    kind = obj.get("kind")
    meta = dict(obj.get("metadata") or {})
    if kind == "Workflow":
        wf: dict[str, Any] = copy.deepcopy(dict(obj))
        wf_meta = dict(meta)
    elif kind == "CronWorkflow":
        spec = (obj.get("spec") or {}).get("workflowSpec")
        if not isinstance(spec, Mapping):
            raise ManifestError(f"CronWorkflow {meta.get('name')}: spec.workflowSpec is missing; add the Workflow spec")
        extra = (obj.get("spec") or {}).get("workflowMetadata") or {}
        wf_meta = {
            "generateName": f"{meta.get('name', 'cron')}-",
            "labels": {**(extra.get("labels") or {}), "workflows.argoproj.io/cron-workflow": meta.get("name", "")},
            "annotations": dict(extra.get("annotations") or {}),
        }
        if meta.get("namespace"):
            wf_meta["namespace"] = meta["namespace"]
        wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": copy.deepcopy(dict(spec))}
    elif kind in {"WorkflowTemplate", "ClusterWorkflowTemplate"}:
        if not entrypoint and not (obj.get("spec") or {}).get("entrypoint"):
            raise ManifestError(
                f"{kind} {meta.get('name')} has no spec.entrypoint: give the Workflow that uses it (with this file"
                " alongside or in --templates DIR), or --entrypoint TEMPLATE to submit it as `argo submit --from` does"
            )
        ref: dict[str, Any] = {"name": meta.get("name")}
        if kind == "ClusterWorkflowTemplate":
            ref["clusterScope"] = True
        wf_meta = {"generateName": f"{meta.get('name', 'workflow')}-"}
        if meta.get("namespace"):
            wf_meta["namespace"] = meta["namespace"]
        wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": {"workflowTemplateRef": ref}}
    else:
        raise ManifestError(
            f"cannot run a {kind or 'manifest without kind'}: give a Workflow, CronWorkflow or WorkflowTemplate"
        )
    spec = wf.setdefault("spec", {})
    if entrypoint:
        spec["entrypoint"] = entrypoint
    if parameters:
        args = spec.setdefault("arguments", {})
        params = [dict(p) for p in args.get("parameters") or []]
        for name, value in parameters.items():
            for p in params:
                if p.get("name") == name:
                    p["value"] = value
                    p.pop("valueFrom", None)
                    break
            else:
                params.append({"name": name, "value": value})
        args["parameters"] = params
    name = str(wf_meta.get("name") or "")
    if not name:
        prefix = wf_meta.pop("generateName", None)
        if not prefix:
            raise ManifestError("metadata: set name or generateName")
        name = generate_name(str(prefix), rng)
        for _ in range(100):
            if not taken(name):
                break
            name = generate_name(str(prefix), rng)
    wf_meta["name"] = name
    wf_meta.setdefault("namespace", "default")
    wf_meta["uid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    wf_meta["creationTimestamp"] = k8s_time(now)
    wf["metadata"] = wf_meta
    wf.pop("status", None)
    return wf


def parse_parameter(text: str) -> tuple[str, str]:
    """`-p name=value` -> (name, value)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ManifestError(f"-p {text!r}: expected name=value")
    return name.strip(), value


def dumps(obj: Any, output: str) -> str:
    if output == "yaml":
        return str(yaml.safe_dump(obj, sort_keys=False))
    return json.dumps(obj, indent=2) + "\n"


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
