"""Argo's Workflow status format: node IDs, node names, node records, phases, progress, conditions (pure).

This module owns the wire shape of `Workflow.status` so Argo's UI conventions, `argo`-aware tools and Argo CD's
built-in Workflow health check read Trellis workflows exactly like Argo's. It does no I/O.

Invariants:
- The root node's ID is the workflow name; every other node's ID is `<workflow>-<fnv32a(node name)>` with the
  32-bit FNV-1a hash printed as an unsigned decimal (Argo's `Workflow.NodeID`).
- Node names are paths: `wf.task` (DAG task), `wf[0].step` (step group 0, step `step`), `wf.task(0)` (retry
  attempt 0), `wf.task(0:a)` (loop item 0 with value `a`), `wf.outer.inner` (nested templates), `wf.onExit`.
- Node records are compact: empty fields are omitted (see `compact_node`), so 5,000 Pod nodes stay well under
  etcd's 1.5 MiB object limit (figures in docs/benchmarks.md).
- When the node map's JSON exceeds COMPRESS_NODES_ABOVE (1 MiB) it is stored as Argo does for large workflows:
  `status.compressedNodes` = base64(gzip(JSON)) and no `nodes` (Argo's CLI and UI read both forms). Read nodes
  with `nodes_of(status)`, which accepts either; `pack_nodes` chooses the form.
- Timestamps are RFC 3339 in UTC with second precision: `2026-01-02T03:04:05Z`.

Argo CD's built-in health check for `argoproj.io/Workflow` reads only `status.phase` and `status.message`:
Pending/Running (or no phase) -> Progressing, Succeeded -> Healthy, Failed/Error -> Degraded, with
`status.message` as the health message. `argo_cd_health` reproduces that mapping so tests pin it.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

NodePhase = Literal["Pending", "Running", "Succeeded", "Skipped", "Failed", "Error", "Omitted"]
NodeType = Literal["Pod", "Steps", "StepGroup", "DAG", "TaskGroup", "Retry", "Skipped", "Suspend"]
WorkflowPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Error"]

FULFILLED_PHASES: frozenset[str] = frozenset({"Succeeded", "Skipped", "Failed", "Error", "Omitted"})
FAILED_PHASES: frozenset[str] = frozenset({"Failed", "Error"})
COMPLETED_WORKFLOW_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Error"})


class Parameter(TypedDict, total=False):
    name: str
    value: str
    default: str
    enum: list[str]
    globalName: str
    description: str


class NodeOutputs(TypedDict, total=False):
    parameters: list[Parameter]
    artifacts: list[dict[str, Any]]  # Argo's artifact shape: {name, path, s3|http|git|raw|local: {...}}
    result: str
    exitCode: str


class NodeInputs(TypedDict, total=False):
    parameters: list[Parameter]
    artifacts: list[dict[str, Any]]


class NodeStatus(TypedDict, total=False):
    """One record of `status.nodes`, Argo's `NodeStatus` fields (empty ones omitted)."""

    id: str
    name: str
    displayName: str
    type: NodeType
    templateName: str
    templateRef: dict[str, Any]  # {name, template, clusterScope}
    templateScope: str  # "local/<wf>", "namespaced/<wftmpl>", "cluster/<cwftmpl>"
    phase: NodePhase
    boundaryID: str
    children: list[str]
    outboundNodes: list[str]
    inputs: NodeInputs
    outputs: NodeOutputs
    startedAt: str
    finishedAt: str
    message: str
    progress: str
    estimatedDuration: int
    resourcesDuration: dict[str, int]
    hostNodeName: str
    nodeFlag: dict[str, bool]  # {hooked, retried}
    daemoned: bool  # a daemon step whose main is running and ready (phase stays Running)
    podIP: str  # the daemon's pod IP, for {{steps.X.ip}} / {{tasks.X.ip}}


class Condition(TypedDict):
    type: Literal["Completed", "PodRunning"]
    status: Literal["True", "False"]


class WorkflowStatus(TypedDict, total=False):
    """`Workflow.status` in Argo's shape, plus Trellis's documented extension `resume` (see planning)."""

    phase: WorkflowPhase
    message: str
    startedAt: str
    finishedAt: str
    progress: str
    estimatedDuration: int
    conditions: list[Condition]
    nodes: dict[str, NodeStatus]
    outputs: NodeOutputs
    storedTemplates: dict[str, Any]
    storedWorkflowTemplateSpec: dict[str, Any]
    compressedNodes: str  # base64(gzip(JSON of nodes)) instead of `nodes` when they are large (Argo's format)


@functools.lru_cache(maxsize=1 << 16)  # node IDs are re-derived on every planning pass
def fnv32a(text: str) -> int:
    """The 32-bit FNV-1a hash of the UTF-8 bytes of `text` (Go's hash/fnv New32a)."""
    value = 0x811C9DC5
    for byte in text.encode():
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's node ID: the workflow name for the root node, else `<workflow>-<fnv32a(node name)>`."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


def dag_task_name(parent: str, task: str) -> str:
    return f"{parent}.{task}"


def step_group_name(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def step_name(group: str, step: str) -> str:
    return f"{group}.{step}"


def retry_child_name(retry_node_name: str, attempt: int) -> str:
    return f"{retry_node_name}({attempt})"


def loop_child_name(parent: str, index: int, item: object) -> str:
    """`name(i:value)` as Argo prints a loop item (value flattened, see `item_label`)."""
    return f"{parent}({index}:{item_label(item)})"


def on_exit_name(parent: str) -> str:
    return f"{parent}.onExit"


def hook_name(parent: str, hook: str) -> str:
    return f"{parent}.hooks.{hook}"


def item_label(item: object) -> str:
    """How Argo prints a loop item inside a node name (generateNodeName): a map as its `key:value` pairs sorted
    and joined by commas, anything else as Go's %v; parentheses are dropped so the name stays parseable."""
    if isinstance(item, Mapping):
        text = ",".join(sorted(f"{key}:{_go_print(item[key])}" for key in item))
    else:
        text = _go_print(item)
    return text.replace("(", "").replace(")", "")


def _go_print(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_go_print(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go_print(value[k])}" for k in sorted(value)) + "]"
    if value is None:
        return "<nil>"
    return str(value)


_SEPARATOR = re.compile(r"^(\[\d+\])?\.")


def display_name(node_name: str, boundary_name: str | None) -> str:
    """Argo's displayName: the node name minus its boundary's name and a leading `.` or `[i].` separator."""
    if boundary_name is None:
        return node_name
    rest = node_name.removeprefix(boundary_name)
    return _SEPARATOR.sub("", rest, count=1)


def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, second precision: `2026-01-02T03:04:05Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp written by `format_time` (or by Kubernetes); None when absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def is_fulfilled(phase: str | None) -> bool:
    return phase in FULFILLED_PHASES


def is_failed(phase: str | None) -> bool:
    return phase in FAILED_PHASES


def compact_node(node: Mapping[str, Any]) -> NodeStatus:
    """Drop empty values (None, "", [], {}) so a node record carries only what it says."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        out[key] = value
    return out  # type: ignore[return-value]


def progress(nodes: Iterable[Mapping[str, Any]]) -> str:
    """`n/m` over Pod nodes as Argo counts them: m Pod nodes, n of them Succeeded, Skipped or Omitted."""
    done = total = 0
    for node in nodes:
        if node.get("type") != "Pod":
            continue
        total += 1
        if node.get("phase") in ("Succeeded", "Skipped", "Omitted"):
            done += 1
    return f"{done}/{total}"


def conditions(*, completed: bool, pod_running: bool) -> list[Condition]:
    """Argo's two workflow conditions: PodRunning (any Pod node running now) and, once done, Completed."""
    out: list[Condition] = [{"type": "PodRunning", "status": "True" if pod_running else "False"}]
    if completed:
        out.append({"type": "Completed", "status": "True"})
    return out


HealthStatus = Literal["Progressing", "Healthy", "Degraded"]


def argo_cd_health(status: Mapping[str, Any] | None) -> tuple[HealthStatus, str]:
    """What Argo CD's built-in `argoproj.io/Workflow` health check reports for this status: (status, message).

    It reads `status.phase` (missing, Pending, Running -> Progressing; Succeeded -> Healthy; Failed, Error ->
    Degraded) and passes `status.message` through as the health message.
    """
    status = status or {}
    phase = status.get("phase") or ""
    message = str(status.get("message") or "")
    if phase == "Succeeded":
        return "Healthy", message
    if phase in ("Failed", "Error"):
        return "Degraded", message
    return "Progressing", message


COMPRESS_NODES_ABOVE = 1 << 20  # bytes of node-map JSON above which `compressedNodes` is written instead


def nodes_of(status: Mapping[str, Any] | None) -> dict[str, NodeStatus]:
    """The node map of a status in either form (`nodes`, or Argo's `compressedNodes`); {} when there is none."""
    if not status:
        return {}
    nodes = status.get("nodes")
    if nodes:
        return dict(nodes)
    packed = status.get("compressedNodes")
    if packed:
        decoded: dict[str, NodeStatus] = json.loads(gzip.decompress(base64.b64decode(packed)))
        return decoded
    return {}


def pack_nodes(
    status: dict[str, Any], nodes: Mapping[str, Any], *, threshold: int = COMPRESS_NODES_ABOVE
) -> dict[str, Any]:
    """Put `nodes` into `status` plainly, or compressed (deterministically: gzip mtime 0) when large."""
    status.pop("compressedNodes", None)
    status.pop("nodes", None)
    if not nodes:
        return status
    text = json.dumps(nodes, separators=(",", ":"))
    if len(text) > threshold:
        status["compressedNodes"] = base64.b64encode(gzip.compress(text.encode(), compresslevel=5, mtime=0)).decode()
    else:
        status["nodes"] = dict(nodes)
    return status
