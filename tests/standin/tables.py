"""Server-side printing (`meta.k8s.io/v1 Table`), what `kubectl get` asks for with `Accept: ...;as=Table`. Pure.

Columns: CRDs use their version's `additionalPrinterColumns` (Name first; Name + Age when none are declared),
Pods, Jobs and core Events a subset of kube-apiserver's columns, every other kind Name + Age. JSONPath in printer
columns supports `.a.b`, `.a[0]` and `.a[?(@.k=="v")].b`. Ages are rendered as kube-apiserver renders them (`5s`, `3m`,
`2h`, `4d`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
NAME = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace",
    "priority": 0,
}
AGE = {"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp", "priority": 0}


def human_age(timestamp: str | None, now: datetime) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "d" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def json_path(obj: Any, path: str) -> Any:
    """The value at a printer column's JSONPath, or None."""
    value = obj
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]|\[\?\(@\.([\w.-]+)==\"([^\"]*)\"\)\]", path):
        key, index, field, wanted = part
        if key:
            value = value.get(key) if isinstance(value, Mapping) else None
        elif index:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = (
                next((v for v in value or [] if isinstance(v, Mapping) and str(v.get(field)) == wanted), None)
                if isinstance(value, list)
                else None
            )
        if value is None:
            return None
    return value


def _pod_cells(pod: Mapping[str, Any], now: datetime) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    containers = (pod.get("spec") or {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    phase = str((pod.get("status") or {}).get("phase") or "Pending")
    reason = phase
    for s in reversed(statuses):  # as kubectl's pod printer: the first container's state wins
        state = s.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and phase not in ("Succeeded",) and state["terminated"].get("reason"):
            reason = state["terminated"]["reason"]
    if phase == "Succeeded":
        reason = "Completed"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    return [f"{ready}/{len(containers)}", reason, restarts, human_age(pod["metadata"].get("creationTimestamp"), now)]


def _job_cells(job: Mapping[str, Any], now: datetime) -> list[Any]:
    status = job.get("status") or {}
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    state = (
        "Complete"
        if "Complete" in true
        else "Failed"
        if "Failed" in true
        else "Suspended"
        if (job.get("spec") or {}).get("suspend")
        else "Running"
    )
    completions = f"{status.get('succeeded') or 0}/{(job.get('spec') or {}).get('completions', 1)}"
    return [state, completions, human_age(job["metadata"].get("creationTimestamp"), now)]


def columns_for(kind: str, group: str, printer_columns: Sequence[Mapping[str, Any]]) -> list[JSON]:
    if printer_columns:
        return [
            NAME,
            *(
                {
                    "name": c["name"],
                    "type": c.get("type", "string"),
                    "format": c.get("format", ""),
                    "description": c.get("description", ""),
                    "priority": int(c.get("priority") or 0),
                }
                for c in printer_columns
            ),
        ]
    if (group, kind) == ("", "Pod"):
        return [
            NAME,
            *(
                {"name": n, "type": t, "format": "", "description": n, "priority": 0}
                for n, t in (("Ready", "string"), ("Status", "string"), ("Restarts", "integer"))
            ),
            AGE,
        ]
    if (group, kind) == ("batch", "Job"):
        return [
            NAME,
            *(
                {"name": n, "type": "string", "format": "", "description": n, "priority": 0}
                for n in ("Status", "Completions")
            ),
            AGE,
        ]
    if (group, kind) == ("", "Event"):
        return [
            {"name": n, "type": "string", "format": "", "description": n, "priority": 0}
            for n in ("Last Seen", "Type", "Reason", "Object", "Message")
        ]
    return [NAME, AGE]


def cells_for(
    obj: Mapping[str, Any], kind: str, group: str, printer_columns: Sequence[Mapping[str, Any]], now: datetime
) -> list[Any]:
    name = obj["metadata"]["name"]
    if printer_columns:
        cells: list[Any] = [name]
        for column in printer_columns:
            value = json_path(obj, str(column.get("jsonPath", "")))
            if column.get("type") == "date" and isinstance(value, str):
                value = human_age(value, now)
            cells.append(value)
        return cells
    if (group, kind) == ("", "Pod"):
        return [name, *_pod_cells(obj, now)]
    if (group, kind) == ("batch", "Job"):
        return [name, *_job_cells(obj, now)]
    if (group, kind) == ("", "Event"):
        involved = obj.get("involvedObject") or {}
        seen = obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
        return [
            human_age(str(seen)[:19] + "Z" if seen else None, now),
            obj.get("type", ""),
            obj.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            obj.get("message", ""),
        ]
    return [name, human_age(obj["metadata"].get("creationTimestamp"), now)]


def table(
    objects: Sequence[Mapping[str, Any]],
    *,
    kind: str,
    group: str,
    printer_columns: Sequence[Mapping[str, Any]] = (),
    include_object: str = "PartialObjectMetadata",
    resource_version: str = "",
    now: datetime,
    metadata: Mapping[str, Any] | None = None,
) -> JSON:
    rows = []
    for obj in objects:
        row: JSON = {"cells": cells_for(obj, kind, group, printer_columns, now)}
        if include_object == "Object":
            row["object"] = dict(obj)
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {},
            }
        rows.append(row)
    meta = dict(metadata or {})
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": columns_for(kind, group, printer_columns),
        "rows": rows,
    }
