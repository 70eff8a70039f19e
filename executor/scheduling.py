"""CronWorkflow scheduling decisions (pure): given a CronWorkflow, its child Workflows and `now`, what to do.

Shared by the cluster controller (executor.cluster.cron) and `trellis cron`. Behaviour follows Argo's
CronWorkflow docs (docs/cron-workflows.md):
- schedules: `spec.schedules` (v4) or the deprecated `spec.schedule` (v3); 5-field cron or descriptors
  (@hourly, ...); evaluated in `spec.timezone` (IANA), UTC when unset;
- a run is due when the most recent scheduled time across all schedules is later than the last one scheduled
  (`status.lastScheduledTime`, else the CronWorkflow's creation); it starts only if it is not older than
  `startingDeadlineSeconds` (unset: a grace of ON_TIME_GRACE seconds covers reconcile latency, so runs missed
  while the controller was down are skipped, as Argo does). Several missed times start ONE run, for the latest;
- the child is named `<cron>-<unix seconds of the scheduled time>`: a restarted controller that decides the
  same run again gets AlreadyExists, so a schedule never fires twice;
- concurrencyPolicy: Allow (always start), Forbid (skip while a child is active), Replace (stop active children
  first, then start);
- `spec.suspend` stops scheduling; successful/failed history limits (defaults 3 and 1) delete the oldest
  finished children.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from executor.status import format_time, parse_time

CRON_LABEL = "workflows.argoproj.io/cron-workflow"
SCHEDULED_TIME_ANNOTATION = "workflows.argoproj.io/scheduled-time"
ON_TIME_GRACE = 60.0
FINISHED = {"Succeeded", "Failed", "Error"}


@dataclass(frozen=True)
class CronDecision:
    create: Mapping[str, Any] | None = None  # the child Workflow to create
    scheduled_time: datetime | None = None
    stop: tuple[str, ...] = ()  # active children to stop first (Replace)
    delete: tuple[str, ...] = ()  # finished children beyond the history limits
    skipped_reason: str = ""  # why a due run did not start (Forbid, deadline)
    next_time: datetime | None = None  # when to look again
    status: Mapping[str, Any] = field(default_factory=dict)  # the CronWorkflow's new status


def schedules_of(spec: Mapping[str, Any]) -> list[str]:
    many = spec.get("schedules")
    if many:
        return [str(s) for s in many]
    one = spec.get("schedule")
    return [str(one)] if one else []


def zone_of(spec: Mapping[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str(spec.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _time(value: Any) -> datetime | None:
    return parse_time(value if isinstance(value, str) else None)


def _parse_schedule(expr: str, spec: Mapping[str, Any]) -> tuple[str, ZoneInfo]:
    """A schedule and its zone: `CRON_TZ=` / `TZ=` prefixes (accepted by Argo's cron library) override
    spec.timezone for that one schedule."""
    text = expr.strip()
    zone = zone_of(spec)
    for prefix in ("CRON_TZ=", "TZ="):
        if text.startswith(prefix) and " " in text:
            name, text = text[len(prefix) :].split(" ", 1)
            zone = zone_of({"timezone": name})
            text = text.strip()
    return text, zone


def _every(text: str) -> timedelta | None:
    """`@every 1h30m`: a fixed interval. Its ticks are anchored at the Unix epoch, so every controller (and a
    restarted one) computes the same times; robfig/cron anchors them at the moment the schedule was added."""
    if not text.startswith("@every "):
        return None
    from executor.planning.durations import DurationError, parse_duration

    try:
        interval = parse_duration(text[len("@every ") :])
    except DurationError:
        return None
    return interval if interval.total_seconds() >= 1 else timedelta(seconds=1)


def _tick(expr: str, spec: Mapping[str, Any], now: datetime, *, after: bool) -> datetime | None:
    text, zone = _parse_schedule(expr, spec)
    interval = _every(text)
    if interval is not None:
        step = interval.total_seconds()
        count = now.timestamp() // step + (1 if after else 0)
        if not after and now.timestamp() % step == 0:
            count -= 1
        return datetime.fromtimestamp(count * step, tz=UTC)
    try:
        iterator = croniter(text, now.astimezone(zone))
        moment: datetime = iterator.get_next(datetime) if after else iterator.get_prev(datetime)
    except (ValueError, KeyError):  # croniter's errors derive from ValueError; lint refuses such schedules
        return None
    return moment.astimezone(UTC)


def latest_scheduled(spec: Mapping[str, Any], now: datetime) -> datetime | None:
    times = [t for expr in schedules_of(spec) if (t := _tick(expr, spec, now, after=False)) is not None]
    return max(times) if times else None


def next_scheduled(spec: Mapping[str, Any], now: datetime) -> datetime | None:
    times = [t for expr in schedules_of(spec) if (t := _tick(expr, spec, now, after=True)) is not None]
    return min(times) if times else None


def child_workflow(cron: Mapping[str, Any], scheduled: datetime) -> dict[str, Any]:
    """The Workflow a CronWorkflow starts for `scheduled`, with Argo's name, labels and annotation."""
    meta = cron.get("metadata") or {}
    spec = cron.get("spec") or {}
    extra = spec.get("workflowMetadata") or {}
    name = f"{meta.get('name')}-{int(scheduled.timestamp())}"
    labels = {**(extra.get("labels") or {}), CRON_LABEL: meta.get("name", "")}
    annotations = {**(extra.get("annotations") or {}), SCHEDULED_TIME_ANNOTATION: format_time(scheduled)}
    child_meta: dict[str, Any] = {"name": name, "labels": labels, "annotations": annotations}
    if meta.get("namespace"):
        child_meta["namespace"] = meta["namespace"]
    if meta.get("uid"):
        child_meta["ownerReferences"] = [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "CronWorkflow",
                "name": meta.get("name"),
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": child_meta,
        "spec": dict(spec.get("workflowSpec") or {}),
    }


def _created(obj: Mapping[str, Any]) -> datetime:
    meta = obj.get("metadata") or {}
    return _time(meta.get("creationTimestamp")) or datetime.min.replace(tzinfo=UTC)


def decide(cron: Mapping[str, Any], children: Sequence[Mapping[str, Any]], now: datetime) -> CronDecision:
    """Pure: what the CronWorkflow should do at `now` given its children (Workflows labelled with it)."""
    spec = cron.get("spec") or {}
    meta = cron.get("metadata") or {}
    status = dict(cron.get("status") or {})
    active = [c for c in children if (c.get("status") or {}).get("phase") not in FINISHED]
    finished = sorted((c for c in children if c not in active), key=_created)

    delete: list[str] = []
    for phases, key, default in (
        (("Succeeded",), "successfulJobsHistoryLimit", 3),
        (("Failed", "Error"), "failedJobsHistoryLimit", 1),
    ):
        limit = spec.get(key)
        limit = default if limit is None else int(limit)
        done = [c for c in finished if (c.get("status") or {}).get("phase") in phases]
        delete += [c["metadata"]["name"] for c in done[: max(0, len(done) - limit)]]
    status["succeeded"] = sum(1 for c in finished if (c.get("status") or {}).get("phase") == "Succeeded")
    status["failed"] = sum(1 for c in finished if (c.get("status") or {}).get("phase") in {"Failed", "Error"})
    status["active"] = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "name": c["metadata"]["name"],
            "namespace": c["metadata"].get("namespace", ""),
            "uid": c["metadata"].get("uid", ""),
        }
        for c in active
    ]
    status["phase"] = "Stopped" if spec.get("suspend") else "Active"
    next_time = None if spec.get("suspend") else next_scheduled(spec, now)
    base = CronDecision(delete=tuple(delete), next_time=next_time, status=status)
    if spec.get("suspend"):
        return base

    latest = latest_scheduled(spec, now)
    since = _time(status.get("lastScheduledTime")) or _time(meta.get("creationTimestamp"))
    if latest is None or (since is not None and latest <= since):
        return base
    deadline = spec.get("startingDeadlineSeconds")
    window = float(deadline) if deadline is not None else ON_TIME_GRACE
    if (now - latest) > timedelta(seconds=window):
        status["lastScheduledTime"] = format_time(latest)
        reason = f"missed the run scheduled at {format_time(latest)}: it is more than {window:g}s late"
        return CronDecision(delete=base.delete, next_time=next_time, status=status, skipped_reason=reason)
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        reason = (
            f"skipped the run scheduled at {format_time(latest)}: concurrencyPolicy is Forbid and "
            f"{len(active)} still run"
        )
        status["lastScheduledTime"] = format_time(latest)
        return CronDecision(delete=base.delete, next_time=next_time, status=status, skipped_reason=reason)
    stop = tuple(c["metadata"]["name"] for c in active) if policy == "Replace" else ()
    status["lastScheduledTime"] = format_time(latest)
    return CronDecision(
        create=child_workflow(cron, latest),
        scheduled_time=latest,
        stop=stop,
        delete=base.delete,
        next_time=next_time,
        status=status,
    )
