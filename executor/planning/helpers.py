"""Small pure helpers of the planner: value conversion, loops, DAG ordering, artifact locations (no I/O)."""

from __future__ import annotations

import json
import re
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any, cast

from executor.contract import InputArtifact, PlanContext
from executor.status import FULFILLED_PHASES

ARTIFACT_REF = re.compile(r"^\{\{\s*([^{}]+?)\s*\}\}$")


class PlanError(Exception):
    """A problem with the workflow itself; the affected node or the workflow ends with this message."""


def layered(*maps: Mapping[str, str]) -> Mapping[str, str]:
    """Layered lookup without copying (first map wins): scopes are shared, never copied per task."""
    return ChainMap(*(cast(MutableMapping[str, str], m) for m in maps))


UNSUPPORTED_ARTIFACTS = ("azure", "gcs", "oss", "hdfs", "artifactory")


def with_sub_path(location: Mapping[str, Any], sub_path: str) -> dict[str, Any]:
    """The location of `sub_path` inside an unarchived (directory) artifact: one more key segment."""
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in location.items()}
    if "s3" in out:
        out["s3"]["key"] = f"{str(out['s3'].get('key', '')).rstrip('/')}/{sub_path}"
    elif "local" in out:
        field = "key" if out["local"].get("key") else "path"
        out["local"][field] = f"{str(out['local'].get(field, '')).rstrip('/')}/{sub_path}"
    elif "http" in out:
        out["http"]["url"] = f"{str(out['http'].get('url', '')).rstrip('/')}/{sub_path}"
    return out


def go_time(moment: datetime) -> str:
    """Go's time.Time.String() in UTC, as Argo prints a deadline: `2026-01-02 03:04:15 +0000 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def uses_timeouts(spec: Mapping[str, Any], context: PlanContext) -> bool:
    specs = [spec, *((doc.get("spec") or {}) for doc in context.templates.values())]
    defaults = spec.get("templateDefaults") or {}
    if defaults.get("timeout") or defaults.get("pendingTimeout"):
        return True
    return any(
        t.get("timeout") or t.get("pendingTimeout")
        for s in specs
        for t in s.get("templates") or []
        if isinstance(t, Mapping)
    )


def has_expression_hooks(holder: Mapping[str, Any]) -> bool:
    hooks = holder.get("hooks")
    return isinstance(hooks, Mapping) and any(name != "exit" for name in hooks)


def templates_by_name(templates: Any) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for template in templates or []:
        if isinstance(template, Mapping) and template.get("name"):
            out[str(template["name"])] = template
    return out


def merge_defaults(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = merge_defaults(current, value)
        else:
            out[key] = value
    return out


def to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def to_int(value: Any, where: str) -> int:
    try:
        return int(str(value))
    except ValueError as exc:
        raise PlanError(f"{where}: '{value}' is not an integer") from exc


def node_inputs(params: Mapping[str, str], artifacts: list[InputArtifact]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if params:
        out["parameters"] = [{"name": k, "value": v} for k, v in params.items()]
    if artifacts:
        out["artifacts"] = [{"name": a["name"], "path": a.get("path", ""), **a.get("location", {})} for a in artifacts]
    return out


def item_scope(item: Any) -> dict[str, str]:
    # A map item is JSON with sorted keys, as Go's json.Marshal writes it.
    scope = {
        "item": json.dumps(item, separators=(",", ":"), sort_keys=True) if isinstance(item, Mapping) else to_str(item)
    }
    if isinstance(item, Mapping):
        for key, value in item.items():
            scope[f"item.{key}"] = to_str(value)
    return scope


def sequence_items(sequence: Mapping[str, Any]) -> list[str]:
    fmt = sequence.get("format")
    try:
        if sequence.get("count") is not None:
            count = int(str(sequence["count"]))
            start = int(str(sequence.get("start", 0)))
            values = list(range(start, start + count))
        else:
            start = int(str(sequence.get("start", 0)))
            end = int(str(sequence.get("end", 0)))
            values = list(range(start, end + 1)) if end >= start else list(range(start, end - 1, -1))
    except ValueError as exc:
        raise PlanError(f"withSequence: {exc}") from exc
    if fmt:
        try:
            return [_printf(str(fmt), v) for v in values]
        except (TypeError, ValueError) as exc:
            raise PlanError(f"withSequence.format '{fmt}': {exc}") from exc
    return [str(v) for v in values]


def _printf(fmt: str, value: int) -> str:
    return fmt % value


def json_value_list(values: list[str]) -> str:
    parsed: list[Any] = []
    for value in values:
        try:
            parsed.append(json.loads(value))
        except ValueError:
            parsed.append(value)
    return json.dumps(parsed, separators=(",", ":"))


def loop_index(name: str) -> int:
    start = name.rfind("(")
    colon = name.find(":", start)
    try:
        return int(name[start + 1 : colon])
    except ValueError:
        return 0


def step_of(child_name: str, group_name: str) -> str:
    rest = child_name[len(group_name) + 1 :]
    paren = rest.find("(")
    return rest[:paren] if paren != -1 else rest


def continues_on(holder: Mapping[str, Any], phase: str) -> bool:
    continue_on = holder.get("continueOn") or {}
    return bool((phase == "Failed" and continue_on.get("failed")) or (phase == "Error" and continue_on.get("error")))


def topological_order(tasks: Mapping[str, Any], deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Kahn's algorithm in declaration order; an unknown dependency or a cycle is a PlanError."""
    indegree = {name: 0 for name in tasks}
    dependents: dict[str, list[str]] = {name: [] for name in tasks}
    for name, names in deps.items():
        for dep in names:
            if dep not in tasks:
                raise PlanError(f"task '{name}' depends on unknown task '{dep}'")
            indegree[name] += 1
            dependents[dep].append(name)
    ready = [name for name in tasks if indegree[name] == 0]
    order: list[str] = []
    index = 0
    while index < len(ready):
        name = ready[index]
        index += 1
        order.append(name)
        for child in dependents[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(tasks):
        cyclic = sorted(name for name in tasks if indegree[name] > 0)
        raise PlanError(f"dependency cycle among tasks: {', '.join(cyclic)}")
    return order


def ancestors(targets: Iterable[str], deps: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(deps.get(name, ()))
    return seen


def suspend_outputs(template: Mapping[str, Any]) -> list[dict[str, str]]:
    params = []
    for param in (template.get("outputs") or {}).get("parameters") or []:
        value_from = param.get("valueFrom") or {}
        if value_from.get("default") is not None:
            params.append({"name": str(param.get("name")), "value": to_str(value_from["default"])})
    return params


_TRANSIENT = re.compile(
    r"(?i)(connection reset|connection refused|timeout|timed out|too many requests|service unavailable|"
    r"temporar|transient|i/o timeout|EOF|etcdserver|try again)"
)


def is_transient(message: str) -> bool:
    return bool(_TRANSIENT.search(message))


def is_daemoned(node: Mapping[str, Any]) -> bool:
    """Argo's `daemoned: true`: a daemon step whose main container is running and ready; it stays Running."""
    return node.get("daemoned") is True


def settled(node: Mapping[str, Any]) -> bool:
    """Done as far as its siblings care (Argo's NodeStatus.Fulfilled): completed, skipped, or daemoned."""
    return node.get("phase") in FULFILLED_PHASES or node.get("daemoned") is True


def direct_template_refs(item: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of the templateRef / workflowTemplateRef set on `item` itself (not below it)."""
    for key in ("templateRef", "workflowTemplateRef"):
        ref = item.get(key)
        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
            yield ("ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate", ref["name"])
