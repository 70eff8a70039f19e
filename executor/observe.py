"""Job + Pod objects -> JobObservation: what one node's Job says happened. Pure: reads dicts in the Kubernetes
API's JSON shape (camelCase), as the cluster shell lists them and the local kubelet writes them.

Phase:
- Pending: no pod yet, the pod is not scheduled, init is running, an image can't be pulled yet, or the Job is
  suspended (`spec.suspend: true`: Kueue has not admitted it yet; a step waiting for quota is not a failure,
  argoproj/argo-workflows#3645).
- Running: main has started and the pod is not finished; `pod_ip` (status.podIP) and `ready` (main's readiness)
  are read then, for daemon steps.
- Succeeded / Failed: once the pod is finished (main and wait terminated) or the Job has a terminal condition.
Messages are Argo's: "Error (exit code 1)" (the terminated reason, e.g. "OOMKilled (exit code 137)"), "Pod was
active on the node longer than the specified deadline"; the wait sidecar's report error; the init container's
termination message when fetching inputs failed. A malformed report becomes a failure message, never an
exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from executor.contract import JobObservation, JobPhase, PodReport

ANNOTATION_NODE_ID = "workflows.argoproj.io/node-id"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
_PULL_REASONS = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "ErrImageNeverPull",
}


def observe_job(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> JobObservation:
    """What the Job and its pods say about the node. Pure."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    name = str(meta.get("name") or "")
    node_id = str((meta.get("annotations") or {}).get(ANNOTATION_NODE_ID) or "")
    pod = _latest(pods)
    pod_name = str(((pod or {}).get("metadata") or {}).get("name") or "")
    base: dict[str, Any] = {"node_id": node_id, "job_name": name, "pod_name": pod_name}

    terminal = _job_condition(status, ("Complete", "SuccessCriteriaMet", "Failed", "FailureTarget"))
    started = _time((pod or {}).get("status", {}).get("startTime")) or _time(status.get("startTime"))
    finished = _time(status.get("completionTime")) or _time((terminal or {}).get("lastTransitionTime"))

    if pod is not None:
        outcome = _from_pod(pod)
        if outcome is not None:
            phase, message, exit_code, report, pod_finished = outcome
            return JobObservation(
                **base,
                phase=phase,
                message=message,
                exit_code=exit_code,
                report=report,
                started_at=started,
                finished_at=finished or pod_finished,
            )
    if terminal is not None:
        if terminal["type"] in ("Complete", "SuccessCriteriaMet"):
            return JobObservation(**base, phase="Succeeded", started_at=started, finished_at=finished)
        reason = str(terminal.get("reason") or "")
        message = DEADLINE_MESSAGE if reason == "DeadlineExceeded" else str(terminal.get("message") or reason)
        return JobObservation(
            **base, phase="Failed", message=message or "Job failed", started_at=started, finished_at=finished
        )
    if (job.get("spec") or {}).get("suspend"):
        return JobObservation(**base, phase="Pending", message="Job is suspended: waiting for admission (Kueue)")
    if pod is None:
        return JobObservation(**base, phase="Pending")
    phase, message = _pending_or_running(pod)
    if phase != "Running":
        return JobObservation(**base, phase=phase, message=message)
    # Daemon steps (`daemon: true`) need the pod's IP and whether main is ready (Argo marks the node daemoned then).
    return JobObservation(
        **base,
        phase=phase,
        message=message,
        started_at=started,
        pod_ip=str((pod.get("status") or {}).get("podIP") or ""),
        ready=(_container(pod, "main") or {}).get("ready") is True,
    )


# ---------------------------------------------------------------------------------------------------------------


def _latest(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not pods:
        return None
    return max(
        pods,
        key=lambda p: (
            str((p.get("metadata") or {}).get("creationTimestamp") or ""),
            str((p.get("metadata") or {}).get("name") or ""),
        ),
    )


def _job_condition(status: Mapping[str, Any], types: tuple[str, ...]) -> Mapping[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") in types and str(cond.get("status")) == "True":
            return dict(cond)
    return None


def _container(pod: Mapping[str, Any], name: str, *, init: bool = False) -> Mapping[str, Any] | None:
    key = "initContainerStatuses" if init else "containerStatuses"
    for status in (pod.get("status") or {}).get(key) or []:
        if status.get("name") == name:
            return dict(status)
    return None


def _terminated(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if status is None:
        return None
    term = (status.get("state") or {}).get("terminated")
    return dict(term) if isinstance(term, Mapping) else None


def _from_pod(
    pod: Mapping[str, Any],
) -> tuple[JobPhase, str, int | None, PodReport | None, datetime | None] | None:
    """The final outcome when the pod is finished, else None."""
    pstatus = pod.get("status") or {}
    phase = pstatus.get("phase")
    main = _terminated(_container(pod, "main"))
    wait = _terminated(_container(pod, "wait"))
    finished = _time((main or {}).get("finishedAt"))
    if pstatus.get("reason") == "DeadlineExceeded":
        return "Failed", DEADLINE_MESSAGE, _exit(main), _parse_report(wait)[0], finished
    init = _terminated(_container(pod, "init", init=True))
    if init is not None and _exit(init) not in (0, None):
        detail = str(init.get("message") or "").strip()
        message = detail or f"{init.get('reason') or 'Error'} (exit code {_exit(init)})"
        return "Failed", f"failed to load input artifacts: {message}" if detail else message, None, None, finished
    if main is None or (wait is None and phase not in ("Succeeded", "Failed")):
        if phase == "Failed":
            return "Failed", str(pstatus.get("message") or pstatus.get("reason") or "pod failed"), None, None, None
        return None
    exit_code = _exit(main)
    report, problem = _parse_report(wait)
    if exit_code not in (0, None):
        reason = str(main.get("reason") or "Error")
        if reason == "Completed":
            reason = "Error"
        return "Failed", f"{reason} (exit code {exit_code})", exit_code, report, finished
    if wait is None:
        return "Failed", "the wait container did not run; outputs were not collected", exit_code, None, finished
    if problem:
        return "Failed", problem, exit_code, report, finished
    if report is not None and report.get("error"):
        return "Failed", str(report["error"]), exit_code, report, finished
    if _exit(wait) not in (0, None):
        # an offloaded report carries the reason; executor.artifacts.reports.resolve_report puts it here
        return "Failed", f"the wait container failed (exit code {_exit(wait)})", exit_code, report, finished
    return "Succeeded", "", exit_code, report, finished


def _exit(term: Mapping[str, Any] | None) -> int | None:
    if term is None:
        return None
    try:
        return int(term.get("exitCode") or 0)
    except (TypeError, ValueError):
        return None


def _parse_report(wait: Mapping[str, Any] | None) -> tuple[PodReport | None, str]:
    """(report, problem): the wait sidecar's report, or why it is missing or malformed."""
    if wait is None:
        return None, ""
    text = str(wait.get("message") or "").strip()
    code = _exit(wait)
    if not text:
        return None, f"the wait container ended ({wait.get('reason') or 'Error'}, exit code {code}) without a report"
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        snippet = text if len(text) <= 200 else text[:200] + "..."
        return None, f"the wait container's report is not JSON (exit code {code}): {snippet}"
    problem = _report_problem(data)
    if problem:
        return None, f"the wait container's report is malformed: {problem}"
    return data, ""


def _report_problem(data: Any) -> str:
    if not isinstance(data, dict):
        return f"expected an object, found {type(data).__name__}"
    if data.get("v") != 1:
        return f"unsupported version {data.get('v')!r} (expected 1)"
    params = data.get("parameters", {})
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        return "parameters must map names to strings"
    if not isinstance(data.get("result", ""), str) or not isinstance(data.get("error", ""), str):
        return "result and error must be strings"
    arts = data.get("artifacts", [])
    if not isinstance(arts, list) or not all(isinstance(a, dict) and "name" in a for a in arts):
        return "artifacts must be a list of objects with a name"
    if "offloaded" in data and not isinstance(data["offloaded"], dict):
        return "offloaded must be an artifact location"
    return ""


def _pending_or_running(pod: Mapping[str, Any]) -> tuple[JobPhase, str]:
    pstatus = pod.get("status") or {}
    for cond in pstatus.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and str(cond.get("status")) == "False":
            return "Pending", f"{cond.get('reason') or 'Unschedulable'}: {cond.get('message') or ''}".rstrip(": ")
    statuses = [*(pstatus.get("initContainerStatuses") or []), *(pstatus.get("containerStatuses") or [])]
    for status in statuses:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _PULL_REASONS:
            return "Pending", f"{waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
    main = _container(pod, "main") or {}
    state = main.get("state") or {}
    if "running" in state or "terminated" in state:
        return "Running", ""
    return "Pending", ""


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
