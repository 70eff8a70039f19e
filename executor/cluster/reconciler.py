"""One reconcile pass for one Workflow: look at the world, plan, apply. Level-based and idempotent.

    workflow = GET the Workflow                       (gone -> nothing to do)
    invalid  -> status Failed with the validation message (the webhook may have been absent)
    finished -> ttlStrategy / podGC housekeeping only
    observed = observe_job(job, pods) for every Job labelled with the workflow
    actions  = plan(workflow, observed, now, context)  (pure)
    apply: create Jobs (AlreadyExists = done), delete Jobs, record Events, ONE status write (PUT on the status
           subresource with the resourceVersion read above; 409 -> read again and re-plan)
    podGC    -> with an OnPod* strategy, delete the Jobs of nodes the written status records as finished

Nothing is cached between passes except what the API holds, so a controller restarted at any point rebuilds
everything from the Workflow's status and its Jobs: deterministic Job names make re-creating harmless.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from executor.cluster.kube import (
    CLUSTER_WORKFLOW_TEMPLATES,
    CONFIG_MAPS,
    EVENTS,
    JOBS,
    PODS,
    SECRETS,
    WORKFLOW_TEMPLATES,
    WORKFLOWS,
    AlreadyExists,
    ApiError,
    Conflict,
    Kube,
)
from executor.contract import (
    CreateJob,
    DeleteJob,
    JobObservation,
    PlanContext,
    RecordEvent,
    RequeueAt,
    UpdateStatus,
)
from executor.status import format_time, nodes_of, parse_time

log = logging.getLogger("trellis.reconciler")

WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
NODE_ID_ANNOTATION = "workflows.argoproj.io/node-id"
FINISHED = {"Succeeded", "Failed", "Error"}
MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class ReconcilerSettings:
    executor_image: str = "ghcr.io/trellis-workflows/trellis:latest"
    controller_namespace: str = "argo"  # where workflow-controller-configmap lives
    controller_configmap: str = "workflow-controller-configmap"
    component: str = "trellis-controller"


@dataclass
class PassResult:
    """What a pass did, for metrics, logs and tests."""

    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    status_writes: int = 0
    requeue_after: float | None = None
    phase: str = ""


def _duration_seconds(text: Any) -> float:
    """Go duration strings as Argo writes them in podGC.deleteDelayDuration ("30s", "5m", "1h30m")."""
    if not isinstance(text, str) or not text:
        return 0.0
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text[i : i + 2] == "ms" else ch
        total += float(number or 0) * units.get(unit, 0.0)
        number = ""
        i += len(unit)
    return total


def group_pods_by_job(pods: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_job: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
        if job:
            by_job.setdefault(job, []).append(pod)
    return by_job


def references_templates(workflow: Mapping[str, Any]) -> tuple[bool, bool]:
    """(uses namespaced WorkflowTemplates, uses ClusterWorkflowTemplates): cheap scan of the spec's JSON."""
    text = json.dumps(workflow.get("spec") or {})
    uses_any = '"templateRef"' in text or '"workflowTemplateRef"' in text
    return uses_any, uses_any and '"clusterScope": true' in text


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        settings: ReconcilerSettings = ReconcilerSettings(),
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        configmaps: Callable[[str, str], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        # ConfigMaps come from the controller's watch cache when it has one (they change rarely and every
        # pass needs them); a live GET otherwise.
        self.configmap = configmaps or (lambda ns, name: self.kube.get(CONFIG_MAPS, ns, name))

    # -- the pass --------------------------------------------------------------------------------------------

    def reconcile(self, namespace: str, name: str) -> PassResult:
        """Reconcile one Workflow; retried from the top when the status write meets a newer resourceVersion."""
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                return self._pass(namespace, name)
            except Conflict:
                log.info("workflow %s/%s changed while planning; will read it again and re-plan", namespace, name)
        result = PassResult(requeue_after=1.0)
        return result

    def _pass(self, namespace: str, name: str) -> PassResult:
        from executor.planning import plan  # local imports keep `trellis controller --help` fast

        result = PassResult()
        workflow = self.kube.get(WORKFLOWS, namespace, name)
        if workflow is None:
            return result
        status = workflow.get("status") or {}
        result.phase = str(status.get("phase", ""))
        now = self.clock()
        if result.phase in FINISHED:
            return self._housekeeping(workflow, now, result)

        problem = self._validation_message(workflow)
        if problem:
            self._write_status(workflow, self._failed_status(status, problem, now))
            result.status_writes += 1
            result.phase = "Failed"
            self._event(workflow, RecordEvent("WorkflowFailed", problem, "Warning"))
            return result

        from executor.artifacts import RepositoryError

        try:
            context = self._context(workflow)
        except RepositoryError as exc:  # Argo errors the workflow when its artifact repository can't be found
            self._write_status(workflow, self._failed_status(status, str(exc), now, phase="Error"))
            result.status_writes += 1
            result.phase = "Error"
            self._event(workflow, RecordEvent("WorkflowFailed", str(exc), "Warning"))
            return result
        observed, jobs = self._observe(namespace, name)
        actions = plan(workflow, observed, now, context=context)
        for action in actions:
            if isinstance(action, CreateJob):
                self._create_job(namespace, action, result)
            elif isinstance(action, DeleteJob):
                if self.kube.delete(JOBS, namespace, action.job_name, propagation="Background"):
                    result.deleted.append(action.job_name)
            elif isinstance(action, RecordEvent):
                self._event(workflow, action)
            elif isinstance(action, RequeueAt):
                delay = max(0.0, (action.when - now).total_seconds())
                result.requeue_after = delay if result.requeue_after is None else min(result.requeue_after, delay)
            elif isinstance(action, UpdateStatus):
                self._write_status(workflow, dict(action.status))
                result.status_writes += 1
                result.phase = str(action.status.get("phase", result.phase))
        workflow["status"] = next(
            (dict(a.status) for a in actions if isinstance(a, UpdateStatus)), workflow.get("status")
        )
        if result.phase in FINISHED:
            self._housekeeping(workflow, now, result)
        elif str(((workflow.get("spec") or {}).get("podGC") or {}).get("strategy", "")).startswith("OnPod"):
            self._collect_jobs(workflow, jobs, now, result)  # only after the status recording their end is written
        return result

    # -- observe ---------------------------------------------------------------------------------------------

    def _observe(self, namespace: str, name: str) -> tuple[dict[str, JobObservation], list[dict[str, Any]]]:
        """(observations by node ID, the Jobs as listed)."""
        from executor.observe import observe_job

        selector = f"{WORKFLOW_LABEL}={name}"
        jobs = self.kube.list(JOBS, namespace, label_selector=selector).get("items") or []
        pods = self.kube.list(PODS, namespace, label_selector=selector).get("items") or []
        by_job = group_pods_by_job(pods)
        observed: dict[str, JobObservation] = {}
        for job in jobs:
            meta = job.get("metadata") or {}
            node_id = (meta.get("annotations") or {}).get(NODE_ID_ANNOTATION)
            if not node_id or meta.get("deletionTimestamp"):
                continue
            observation = observe_job(job, by_job.get(meta.get("name", ""), []))
            if observation.report and "offloaded" in observation.report:
                from executor.artifacts.reports import resolve_report

                observation = resolve_report(observation, secrets=self._secret_lookup(namespace))
            observed[node_id] = observation
        return observed, jobs

    def _secret_lookup(self, namespace: str) -> Callable[[str, str], str | None]:
        """Secret values for the artifact repository's credentials, read when an offloaded report needs them.
        Values stay in memory for this pass only and are never logged or written to status."""
        cache: dict[str, Mapping[str, Any] | None] = {}

        def lookup(name: str, key: str) -> str | None:
            if name not in cache:
                cache[name] = self.kube.get(SECRETS, namespace, name)
            data = (cache[name] or {}).get("data") or {}
            value = data.get(key)
            return base64.b64decode(value).decode() if isinstance(value, str) else None

        return lookup

    def _context(self, workflow: Mapping[str, Any]) -> PlanContext:
        from executor.artifacts import resolve_repository

        namespace = (workflow.get("metadata") or {}).get("namespace", "default")
        templates: dict[tuple[str, str], Mapping[str, Any]] = {}
        namespaced, cluster = references_templates(workflow)
        if namespaced:
            for item in self.kube.list(WORKFLOW_TEMPLATES, namespace).get("items") or []:
                templates[("WorkflowTemplate", item["metadata"]["name"])] = item
        if cluster:
            for item in self.kube.list(CLUSTER_WORKFLOW_TEMPLATES, None).get("items") or []:
                templates[("ClusterWorkflowTemplate", item["metadata"]["name"])] = item
        configmaps: dict[str, Mapping[str, Any]] = {}
        ref = (workflow.get("spec") or {}).get("artifactRepositoryRef") or {}
        wanted = [(namespace, ref.get("configMap") or "artifact-repositories")]
        wanted.append((self.settings.controller_namespace, self.settings.controller_configmap))
        for ns, cm_name in wanted:
            cm = self.configmap(ns, cm_name)
            if cm is not None:
                configmaps[cm_name] = cm
        repository = resolve_repository(workflow, configmaps)
        return PlanContext(
            templates=templates,
            artifact_repository=repository,
            executor_image=self.settings.executor_image,
            runtime="kube",
        )

    # -- apply -----------------------------------------------------------------------------------------------

    def _create_job(self, namespace: str, action: CreateJob, result: PassResult) -> None:
        job_name = str((action.job.get("metadata") or {}).get("name", ""))
        try:
            self.kube.create(JOBS, namespace, action.job)
            result.created.append(job_name)
        except AlreadyExists:
            pass  # a previous pass (or a previous controller) created it: same name, same Job

    def _write_status(self, workflow: Mapping[str, Any], status: dict[str, Any]) -> None:
        meta = workflow["metadata"]
        body = dict(workflow)
        body["status"] = status
        self.kube.replace(WORKFLOWS, meta.get("namespace"), meta["name"], body, subresource="status")

    def _event(self, workflow: Mapping[str, Any], event: RecordEvent) -> None:
        meta = workflow.get("metadata") or {}
        stamp = format_time(self.clock())
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name')}.", "namespace": meta.get("namespace")},
            "involvedObject": {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "reason": event.reason,
            "message": event.message[:1024],
            "type": event.type,
            "source": {"component": self.settings.component},
            "reportingComponent": self.settings.component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        if event.node_id:
            body["metadata"] = {**body["metadata"], "annotations": {NODE_ID_ANNOTATION: event.node_id}}
        try:
            self.kube.create(EVENTS, meta.get("namespace"), body)
        except ApiError as exc:  # events are best effort: never fail a pass for one
            log.warning("could not record event %s on %s: %s", event.reason, meta.get("name"), exc)

    # -- invalid workflows -----------------------------------------------------------------------------------

    @staticmethod
    def _validation_message(workflow: Mapping[str, Any]) -> str:
        from webhook.validation import validate

        result = validate(workflow, operation="CREATE")
        if result.ok:
            return ""
        return "invalid spec: " + "; ".join(str(e) for e in result.errors)

    @staticmethod
    def _failed_status(
        status: Mapping[str, Any], message: str, now: datetime, *, phase: str = "Failed"
    ) -> dict[str, Any]:
        stamp = format_time(now)
        new = dict(status)
        new.update(
            phase=phase,
            message=message,
            startedAt=status.get("startedAt") or stamp,
            finishedAt=stamp,
            conditions=[{"type": "Completed", "status": "True"}],
        )
        return new

    # -- finished workflows: ttlStrategy and podGC -----------------------------------------------------------

    def _housekeeping(self, workflow: Mapping[str, Any], now: datetime, result: PassResult) -> PassResult:
        meta = workflow.get("metadata") or {}
        spec = workflow.get("spec") or {}
        status = workflow.get("status") or {}
        namespace, name = meta.get("namespace"), meta.get("name", "")
        phase = status.get("phase", "")
        finished = parse_time(status.get("finishedAt")) or now

        ttl = spec.get("ttlStrategy") or {}
        seconds = ttl.get("secondsAfterSuccess") if phase == "Succeeded" else ttl.get("secondsAfterFailure")
        if seconds is None:
            seconds = ttl.get("secondsAfterCompletion")
        if seconds is not None:
            due = finished + timedelta(seconds=int(seconds))
            if now >= due:
                self.kube.delete(WORKFLOWS, namespace, name, propagation="Background")
                log.info("workflow %s/%s deleted by its ttlStrategy; its Jobs go with it", namespace, name)
                return result
            result.requeue_after = (due - now).total_seconds()

        if (spec.get("podGC") or {}).get("strategy"):
            jobs = self.kube.list(JOBS, namespace, label_selector=f"{WORKFLOW_LABEL}={name}").get("items") or []
            self._collect_jobs(workflow, jobs, now, result)
        return result

    def _collect_jobs(
        self, workflow: Mapping[str, Any], jobs: Sequence[Mapping[str, Any]], now: datetime, result: PassResult
    ) -> None:
        """Delete the Jobs `spec.podGC` says are due (executor.podgc); requeue for the next one due later."""
        from executor.podgc import delete_at

        spec, status = workflow.get("spec") or {}, workflow.get("status") or {}
        pod_gc = spec.get("podGC") or {}
        phase = str(status.get("phase", ""))
        workflow_finished = (parse_time(status.get("finishedAt")) or now) if phase in FINISHED else None
        delay = timedelta(seconds=_duration_seconds(pod_gc.get("deleteDelayDuration")))
        nodes = nodes_of(status)
        namespace = (workflow.get("metadata") or {}).get("namespace")
        for job in jobs:
            meta = job.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue
            node = nodes.get((meta.get("annotations") or {}).get(NODE_ID_ANNOTATION, "")) or {}
            template_labels = ((job.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels")
            due = delete_at(
                pod_gc,
                delay=delay,
                labels={**(template_labels or {}), **(meta.get("labels") or {})},
                node_phase=str(node.get("phase", "")),
                node_finished=parse_time(node.get("finishedAt")),
                workflow_phase=phase,
                workflow_finished=workflow_finished,
            )
            if due is None:
                continue
            if now < due:
                wait = (due - now).total_seconds()
                result.requeue_after = wait if result.requeue_after is None else min(result.requeue_after, wait)
            elif self.kube.delete(JOBS, namespace, meta["name"], propagation="Background"):
                result.deleted.append(meta["name"])
