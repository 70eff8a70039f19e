"""The data that crosses between the pure engine and its shells. No I/O, no logic beyond tiny helpers.

Flow of one pass (cluster reconciler and local runner alike):

    observed = {node_id: observe_job(job, pods)}          # executor.observe: Job/Pod objects -> JobObservation
    actions  = plan(workflow, observed, now, context=ctx)  # executor.planning: pure
    for a in actions: shell applies it                     # CreateJob / DeleteJob / UpdateStatus / ...

Invariants:
- The shell owns I/O; `plan` and `expand` never read the clock, environment, files or the network.
- `UpdateStatus` appears at most once per pass and carries the whole new `status` (one writer, one write).
- Job names are deterministic (see executor.jobspec.job_name), so re-applying `CreateJob` is harmless:
  AlreadyExists means done.
- The shell never decides anything about node phases: it reports what exists (JobObservation) and executes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

JobPhase = Literal["Pending", "Running", "Succeeded", "Failed"]

# ----------------------------------------------------------------------------------------------------
# What the `wait` sidecar reports (its termination message, JSON). Written by executor.pod, read by
# executor.observe. Kept under 4 KiB (the kubelet's termination-message limit); when larger, the sidecar uploads
# the full report to the artifact repository and reports {"v": 1, "offloaded": <ArtifactLocation>} instead.
# ----------------------------------------------------------------------------------------------------


class ArtifactLocation(TypedDict, total=False):
    """Where an artifact lives, in Argo's artifact shape: exactly one of s3/http/git/raw/local is set."""

    s3: dict[str, Any]  # {bucket, endpoint, key, insecure, region, accessKeySecret, secretKeySecret}
    http: dict[str, Any]  # {url, headers}
    git: dict[str, Any]  # {repo, revision, depth, ...}
    raw: dict[str, Any]  # {data}
    local: dict[str, Any]  # {path}: the local runner's directory repository (Trellis extension, never in a cluster)


class ReportedArtifact(TypedDict, total=False):
    name: str
    path: str
    location: ArtifactLocation
    archive: str  # "tar" (gzip) or "none"


class PodReport(TypedDict, total=False):
    v: int  # format version, 1
    parameters: dict[str, str]  # output parameters by name (valueFrom.path read by the sidecar)
    result: str  # outputs.result: stdout of main (script and container templates), trimmed as Argo does
    artifacts: list[ReportedArtifact]
    error: str  # set when collecting/uploading failed: the node fails with this message
    offloaded: ArtifactLocation  # the full report lives here (see above)


# ----------------------------------------------------------------------------------------------------
# What the shell observed about one node's Job (built by executor.observe from Job + Pod objects).
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobObservation:
    node_id: str
    job_name: str
    phase: JobPhase
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None  # main container's exit code, when it terminated
    message: str = ""  # why it failed (e.g. "Error (exit code 1)", "Pod was active on the node longer than ...")
    report: PodReport | None = None  # parsed wait-sidecar report (outputs), None until it terminated
    pod_name: str = ""
    # True when the shell knows the Job was created earlier (node status says so) but it is gone now.
    deleted: bool = False
    pod_ip: str = ""  # the pod's `status.podIP` once it has one (daemon steps: `{{steps.X.ip}}`)
    ready: bool = False  # main container `ready` (readinessProbe passed, or running without one)


Observed = Mapping[str, JobObservation]  # keyed by node ID


# ----------------------------------------------------------------------------------------------------
# What the planner needs that only a shell can know. Frozen; built at the composition root.
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanContext:
    # WorkflowTemplates and ClusterWorkflowTemplates by ("WorkflowTemplate"|"ClusterWorkflowTemplate", name),
    # whole manifests.
    templates: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    # The artifact repository in Argo's `artifactRepository` shape ({s3: {...}} / {local: {path}}), already
    # resolved by the shell (artifactRepositoryRef, artifact-repositories ConfigMap, controller ConfigMap).
    artifact_repository: Mapping[str, Any] | None = None
    executor_image: str = "ghcr.io/trellis-workflows/trellis:latest"
    # How the wait sidecar learns that `main` ended: "kube" (watch its own Pod with a projected token) or
    # "local" (the local kubelet tells it through a FIFO). See docs/architecture.md.
    runtime: Literal["kube", "local"] = "kube"
    # Trellis-specific labels/annotations to add on every Job (e.g. the local run ID).
    extra_job_labels: Mapping[str, str] = field(default_factory=dict)
    # ConfigMaps that parameters read (`valueFrom.configMapKeyRef`), whole manifests by name, from the workflow's
    # namespace; None (or absent) = not found. The shell reads the names executor.planning.config_map_names lists;
    # the planner checks the `workflows.argoproj.io/configmap-type: Parameter` label and the key itself.
    config_maps: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------
# Actions: what a pass decided. Data only; the shells execute them in order.
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateJob:
    node_id: str
    job: Mapping[str, Any]  # a complete batch/v1 Job manifest from executor.jobspec.expand


@dataclass(frozen=True)
class DeleteJob:
    node_id: str
    job_name: str
    reason: str  # e.g. "Stopped", "Terminated", "deadline exceeded"; for logs/events


@dataclass(frozen=True)
class UpdateStatus:
    status: Mapping[str, Any]  # the whole new Workflow `.status`, Argo's shape


@dataclass(frozen=True)
class RecordEvent:
    reason: str  # Argo's reasons: WorkflowRunning, WorkflowSucceeded, WorkflowFailed, WorkflowNodeRunning, ...
    message: str
    type: Literal["Normal", "Warning"] = "Normal"
    node_id: str = ""


@dataclass(frozen=True)
class RequeueAt:
    when: datetime  # pass again at this time even if nothing is observed (suspend duration, backoff, deadlines)


Action = CreateJob | DeleteJob | UpdateStatus | RecordEvent | RequeueAt


# ----------------------------------------------------------------------------------------------------
# What the planner hands to executor.jobspec.expand for one leaf node attempt (container/script template).
#     expand(step: StepSpec, *, context: PlanContext) -> dict   (a complete batch/v1 Job manifest; pure)
# ----------------------------------------------------------------------------------------------------


class InputArtifact(TypedDict, total=False):
    name: str
    path: str  # where main sees it
    location: ArtifactLocation  # resolved: from `from`, repository key, s3/http/git/raw given inline
    mode: int
    optional: bool
    unpack: bool  # auto-untar a .tgz produced by an Argo/Trellis archive (default True for repository artifacts)


@dataclass(frozen=True)
class StepSpec:
    workflow: Mapping[str, Any]  # the Workflow object (metadata + spec) the node belongs to
    node_id: str
    node_name: str  # Argo's node name path, e.g. "wf.task" or "wf[0].step(0)"
    template: Mapping[str, Any]  # the template after substitution ({{inputs.*}} etc. already resolved)
    parameters: Mapping[str, str] = field(default_factory=dict)  # input parameter values by name
    input_artifacts: tuple[InputArtifact, ...] = ()
    active_deadline_seconds: int | None = None  # already reduced by the workflow's remaining deadline
    artifact_key_prefix: str = ""  # "<workflow name>/<job name>": Argo's key format for outputs
