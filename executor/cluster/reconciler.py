"""One reconcile pass for one Workflow: look at the world, plan, apply. Level-based and idempotent.

    workflow = GET the Workflow                       (gone -> nothing to do)
    invalid  -> status Failed with the validation message (the webhook may have been absent)
    finished -> ttlStrategy / podGC / volumeClaimGC housekeeping only
    claims   -> create the PersistentVolumeClaims of spec.volumeClaimTemplates before any Job (AlreadyExists and
                owned by this Workflow = done; owned by another object or refused by the API = workflow Error)
    observed = observe_job(job, pods) for every Job labelled with the workflow
    actions  = plan(workflow, observed, now, context)  (pure)
    apply: create Jobs (AlreadyExists = done), delete Jobs, record Events, ONE status write (PUT on the status
           subresource with the resourceVersion read above; 409 -> read again and re-plan); the status that
           ends the workflow first releases its claims per volumeClaimGC (Argo's deletePVCs)
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
    PERSISTENT_VOLUME_CLAIMS,
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
CLAIM_RETRY_SECONDS = 10.0  # a claim volumeClaimGC could not delete is tried again after this long


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


def effective_spec(workflow: Mapping[str, Any], context: PlanContext | None) -> Mapping[str, Any]:
    """The spec a workflowTemplateRef run uses for its claims (the planner merges the same way): the template's
    spec (as stored in status.storedWorkflowTemplateSpec once running) under the workflow's own fields."""
    spec: Mapping[str, Any] = workflow.get("spec") or {}
    ref = spec.get("workflowTemplateRef")
    if not isinstance(ref, Mapping):
        return spec
    base: Mapping[str, Any] = (workflow.get("status") or {}).get("storedWorkflowTemplateSpec") or {}
    if not base and context is not None:
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        base = (context.templates.get((kind, str(ref.get("name")))) or {}).get("spec") or {}
    return {**base, **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}


def claim_scope(workflow: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, str]:
    """What a claim template may refer to: Argo substitutes the global variables in the whole spec before it makes
    the claims (`storage: "{{workflow.parameters.disk}}"`). Pure."""
    from executor.planning.helpers import to_str

    meta = workflow.get("metadata") or {}
    scope = {
        "workflow.name": str(meta.get("name") or ""),
        "workflow.namespace": str(meta.get("namespace") or ""),
        "workflow.uid": str(meta.get("uid") or ""),
    }
    for key in ("labels", "annotations"):
        for k, v in (meta.get(key) or {}).items():
            scope[f"workflow.{key}.{k}"] = str(v)
    for param in (spec.get("arguments") or {}).get("parameters") or []:
        if isinstance(param, Mapping) and ("value" in param or "default" in (param.get("valueFrom") or {})):
            value = param["value"] if "value" in param else param["valueFrom"]["default"]
            scope[f"workflow.parameters.{param.get('name')}"] = to_str(value)
    return scope


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
        spec = effective_spec(workflow, context)
        problem, created = self._create_claims(workflow, spec)
        if problem:
            errored = self._failed_status(status, problem, now, phase="Error")
            if created:
                errored["persistentVolumeClaims"] = [*(status.get("persistentVolumeClaims") or []), *created]
            self._write_status(workflow, self._release_claims(workflow, spec, errored))
            result.status_writes += 1
            result.phase = "Error"
            self._event(workflow, RecordEvent("WorkflowFailed", problem, "Warning"))
            return result
        observed, jobs = self._observe(namespace, name)
        actions = plan(workflow, observed, now, context=context)
        written: Mapping[str, Any] | None = None
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
                written = dict(action.status)
                if created:  # a status written as the claims are made records them (even one that ends the run)
                    known = {v.get("name") for v in written.get("persistentVolumeClaims") or []}
                    extra = [v for v in created if v["name"] not in known]
                    if extra:
                        written["persistentVolumeClaims"] = [*(written.get("persistentVolumeClaims") or []), *extra]
                if written.get("phase") in FINISHED:
                    written = self._release_claims(workflow, spec, written)
                self._write_status(workflow, dict(written))
                result.status_writes += 1
                result.phase = str(written.get("phase", result.phase))
        workflow["status"] = written if written is not None else workflow.get("status")
        if result.phase in FINISHED:
            self._housekeeping(workflow, now, result, just_finished=True)
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
            config_maps=self._parameter_config_maps(namespace, workflow, templates),
        )

    def _parameter_config_maps(
        self, namespace: str, workflow: Mapping[str, Any], templates: Mapping[tuple[str, str], Mapping[str, Any]]
    ) -> dict[str, Mapping[str, Any] | None]:
        """The ConfigMaps the workflow's parameters read (valueFrom.configMapKeyRef), from its namespace, by a live
        GET (the controller's watch cache holds only the repository ConfigMaps); None when not found. The planner
        checks the Parameter label and the key. Values are never logged."""
        from executor.planning.configmaps import config_map_names

        return {name: self.kube.get(CONFIG_MAPS, namespace, name) for name in config_map_names(workflow, templates)}

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

    # -- volume claims (Argo's createPVCs / deletePVCs) ------------------------------------------------------

    def _create_claims(self, workflow: Mapping[str, Any], spec: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Create the claims of spec.volumeClaimTemplates not yet recorded in status.persistentVolumeClaims
        (the planner records them in this pass's status write). Returns ("" or why the workflow errors, the
        volumes of the claims created), so an erroring workflow records what it made and volumeClaimGC applies."""
        from executor.jobspec import claim_manifests, claim_volumes
        from executor.templating import TemplatingError, substitute

        meta = workflow.get("metadata") or {}
        recorded = {str(v.get("name")) for v in (workflow.get("status") or {}).get("persistentVolumeClaims") or []}
        volumes = claim_volumes(str(meta.get("name", "")), spec)
        pairs = zip(volumes, claim_manifests(workflow, spec), strict=True)
        pending = [(volume, claim) for volume, claim in pairs if volume["name"] not in recorded]
        created: list[dict[str, Any]] = []
        problem = ""
        scope = claim_scope(workflow, spec) if pending else {}
        for volume, claim in pending:
            claim_name = str(claim["metadata"]["name"])
            try:
                claim = substitute(claim, scope)
            except TemplatingError as exc:
                problem = f'spec.volumeClaimTemplates "{volume["name"]}": {exc}'
                break
            try:
                self.kube.create(PERSISTENT_VOLUME_CLAIMS, meta.get("namespace"), claim)
                log.info("created persistentvolumeclaim %s for workflow %s", claim_name, meta.get("name"))
            except AlreadyExists:  # a previous pass made it: reuse it, but only if it is this workflow's
                existing = self.kube.get(PERSISTENT_VOLUME_CLAIMS, meta.get("namespace"), claim_name) or {}
                owners = (existing.get("metadata") or {}).get("ownerReferences") or []
                if existing and not any(o.get("uid") == meta.get("uid") for o in owners):
                    problem = (
                        f'persistentvolumeclaim "{claim_name}" already exists and does not belong to this workflow; '
                        "delete it or rename the volume claim template"
                    )
                    break
            except ApiError as exc:
                message = str(exc.body.get("message") or exc)
                problem = f'could not create persistentvolumeclaim "{claim_name}": {message}'
                break
            created.append(volume)
        return problem, created

    def _release_claims(
        self, workflow: Mapping[str, Any], spec: Mapping[str, Any], status: dict[str, Any]
    ) -> dict[str, Any]:
        """volumeClaimGC for a status that ends the workflow: delete the recorded claims when the strategy says
        so (OnWorkflowSuccess, the default: only when Succeeded) and keep in the status only those still there.
        A claim the API refuses to delete stays recorded, so housekeeping tries again."""
        from executor.jobspec import claims_released

        claims = list(status.get("persistentVolumeClaims") or [])
        if not claims or not claims_released(spec, str(status.get("phase", ""))):
            return status
        namespace = (workflow.get("metadata") or {}).get("namespace")
        kept: list[Any] = []
        for volume in claims:
            claim_name = str(((volume or {}).get("persistentVolumeClaim") or {}).get("claimName", ""))
            try:
                self.kube.delete(PERSISTENT_VOLUME_CLAIMS, namespace, claim_name, propagation="Background")
                log.info("deleted persistentvolumeclaim %s (volumeClaimGC)", claim_name)
            except ApiError as exc:
                log.warning(
                    "could not delete persistentvolumeclaim %s: %s; will try again on the next pass", claim_name, exc
                )
                kept.append(volume)
        new = {k: v for k, v in status.items() if k != "persistentVolumeClaims"}
        if kept:
            new["persistentVolumeClaims"] = kept
        return new

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

    def _housekeeping(
        self, workflow: Mapping[str, Any], now: datetime, result: PassResult, *, just_finished: bool = False
    ) -> PassResult:
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

        from executor.jobspec import claims_released

        claims_spec = effective_spec(workflow, None)
        if status.get("persistentVolumeClaims") and claims_released(claims_spec, str(phase)):
            # a claim the finishing pass could not delete: try again a little later, not in the same pass
            released = status if just_finished else self._release_claims(workflow, claims_spec, dict(status))
            if released != status:
                self._write_status(workflow, released)
                result.status_writes += 1
            if released.get("persistentVolumeClaims"):
                wait = CLAIM_RETRY_SECONDS
                result.requeue_after = wait if result.requeue_after is None else min(result.requeue_after, wait)

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
