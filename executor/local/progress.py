"""What `trellis run` shows: the node tree with phases and durations (live with `rich` on a terminal, plain lines
otherwise), step logs prefixed by step name, and a final summary shaped like `argo get`.

`node_tree` and `summary` only read the Workflow object (they serve `trellis get` from history too).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from executor.contract import RecordEvent
from executor.status import nodes_of

ICONS = {
    "Succeeded": "✔",
    "Failed": "✖",
    "Error": "⚠",
    "Running": "●",
    "Pending": "◷",
    "Skipped": "○",
    "Omitted": "○",
}
COLOURS = {
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Running": "cyan",
    "Pending": "yellow",
    "Skipped": "dim",
    "Omitted": "dim",
}
LOG_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")
_NESTED_TYPES = {"Retry", "TaskGroup", "StepGroup", "Steps", "DAG"}


def parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def short_duration(seconds: float) -> str:
    """Argo's node durations: 2s, 1m3s, 2h0m."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s"
    return f"{s // 3600}h{(s % 3600) // 60}m"


def long_duration(seconds: float) -> str:
    """Argo's workflow duration: `11 seconds`, `2 minutes 3 seconds`."""
    s = round(seconds)
    parts: list[str] = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, s = divmod(s, size)
        if n or (unit == "second" and not parts):
            parts.append(f"{n} {unit}{'' if n == 1 else 's'}")
    return " ".join(parts)


def node_duration(node: Mapping[str, Any], now: datetime) -> float | None:
    start = parse_time(node.get("startedAt"))
    if start is None:
        return None
    end = parse_time(node.get("finishedAt")) or now
    return max(0.0, (end - start).total_seconds())


@dataclass(frozen=True)
class TreeRow:
    prefix: str  # tree drawing: "", "├─", "│ └─"
    node: Mapping[str, Any]


def node_tree(workflow: Mapping[str, Any]) -> list[TreeRow]:
    """Nodes in `argo get` order: the root, then each node's children; a DAG lists its tasks flat (by start)."""
    name = str((workflow.get("metadata") or {}).get("name") or "")
    nodes: Mapping[str, Mapping[str, Any]] = nodes_of(workflow.get("status"))
    if not nodes:
        return []
    by_boundary: dict[str, list[Mapping[str, Any]]] = {}
    nested: set[str] = set()
    for n in nodes.values():
        by_boundary.setdefault(str(n.get("boundaryID") or ""), []).append(n)
        if n.get("type") in {"Retry", "TaskGroup"}:
            nested.update(str(c) for c in n.get("children") or [])

    def children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        if node.get("type") == "DAG":
            tasks = [n for n in by_boundary.get(str(node.get("id")), []) if str(n.get("id")) not in nested]
            return sorted(tasks, key=lambda n: (str(n.get("startedAt") or "~"), str(n.get("name"))))
        if node.get("type") == "Steps":
            groups = [n for n in by_boundary.get(str(node.get("id")), []) if n.get("type") == "StepGroup"]
            return sorted(groups, key=lambda n: _group_index(str(n.get("name"))))
        kids = [nodes[c] for c in node.get("children") or [] if c in nodes]
        boundary = nodes.get(str(node.get("boundaryID") or ""))
        if node.get("type") in {"Retry", "TaskGroup"} or boundary is None:
            return kids
        same = node.get("boundaryID")
        if boundary.get("type") == "DAG":
            # a DAG task's children are its dependents: they are listed under the DAG itself
            kids = [k for k in kids if k.get("boundaryID") != same]
        elif boundary.get("type") == "Steps" and node.get("type") != "StepGroup":
            # a step's child is the next step group: listed under the Steps node itself
            kids = [k for k in kids if not (k.get("type") == "StepGroup" and k.get("boundaryID") == same)]
        return kids

    root = nodes.get(name) or next(iter(nodes.values()))
    rows: list[TreeRow] = []
    seen: set[str] = set()

    def walk(node: Mapping[str, Any], indent: str, connector: str) -> None:
        nid = str(node.get("id"))
        if nid in seen:
            return
        seen.add(nid)
        rows.append(TreeRow(indent + connector, node))
        kids = [k for k in children(node) if str(k.get("id")) not in seen]
        child_indent = indent + ("" if not connector else ("│ " if connector == "├─" else "  "))
        for i, kid in enumerate(kids):
            walk(kid, child_indent, "└─" if i == len(kids) - 1 else "├─")

    walk(root, "", "")
    for n in nodes.values():  # anything not reachable (onExit nodes hang off the root by name only)
        if str(n.get("id")) not in seen:
            walk(n, "", "")
    return rows


def _group_index(name: str) -> int:
    tail = name.rsplit("[", 1)[-1].rstrip("]")
    return int(tail) if tail.isdigit() else 0


def _label(node: Mapping[str, Any]) -> str:
    return str(node.get("displayName") or node.get("name") or node.get("id"))


def summary(
    workflow: Mapping[str, Any], *, pod_names: Mapping[str, str] | None = None, now: datetime | None = None
) -> str:
    """The final report, shaped like `argo get`."""
    now = now or datetime.now(UTC)
    meta = workflow.get("metadata") or {}
    status = workflow.get("status") or {}
    lines = [
        f"{'Name:':<20} {meta.get('name', '')}",
        f"{'Namespace:':<20} {meta.get('namespace', 'default')}",
        f"{'Status:':<20} {status.get('phase', 'Pending')}",
    ]
    if status.get("message"):
        lines.append(f"{'Message:':<20} {status['message']}")
    for label, key in (("Created:", None), ("Started:", "startedAt"), ("Finished:", "finishedAt")):
        value = meta.get("creationTimestamp") if key is None else status.get(key)
        if value:
            lines.append(f"{label:<20} {value}")
    start, end = parse_time(status.get("startedAt")), parse_time(status.get("finishedAt"))
    if start is not None:
        lines.append(f"{'Duration:':<20} {long_duration(((end or now) - start).total_seconds())}")
    if status.get("progress"):
        lines.append(f"{'Progress:':<20} {status['progress']}")
    params = ((workflow.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    if params:
        lines.append("Parameters:")
        lines += [f"  {p.get('name')}: {p.get('value', p.get('default', ''))}" for p in params]
    rows = node_tree(workflow)
    if rows:
        table = [("STEP", "TEMPLATE", "PODNAME", "DURATION", "MESSAGE")]
        for row in rows:
            n = row.node
            icon = ICONS.get(str(n.get("phase")), "◷")
            seconds = node_duration(n, now) if n.get("type") == "Pod" else None
            table.append(
                (
                    f"{row.prefix}{icon} {_label(n)}",
                    str(n.get("templateName") or (n.get("templateRef") or {}).get("template") or ""),
                    (pod_names or {}).get(str(n.get("id")), "") if n.get("type") == "Pod" else "",
                    short_duration(seconds) if seconds is not None else "",
                    str(n.get("message") or ""),
                )
            )
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        lines.append("")
        for r in table:
            cells = "  ".join(r[i].ljust(widths[i]) for i in range(4))
            lines.append(f"{cells}  {r[4]}" if r[4] else cells.rstrip())
    return "\n".join(lines) + "\n"


class PlainListener:
    """Line per change: node phase transitions (and step logs with --logs), for pipes and CI logs."""

    def __init__(self, out: TextIO, *, logs: bool, clock: Any = None) -> None:
        self.out = out
        self.logs = logs
        self._phases: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def status(self, workflow: Mapping[str, Any]) -> None:
        nodes = nodes_of(workflow.get("status"))
        now = datetime.now(UTC)
        with self._lock:
            for nid, node in nodes.items():
                self._names[nid] = _label(node)
                phase = str(node.get("phase") or "")
                if node.get("type") != "Pod" or self._phases.get(nid) == phase:
                    continue
                self._phases[nid] = phase
                seconds = node_duration(node, now)
                took = f" ({short_duration(seconds)})" if phase not in {"Pending", "Running"} and seconds else ""
                message = f": {node['message']}" if node.get("message") else ""
                print(f"{_label(node)} {phase}{took}{message}", file=self.out, flush=True)

    def event(self, event: RecordEvent) -> None:
        pass

    def log(self, node_id: str, container: str, line: str) -> None:
        if not self.logs or container != "main":
            return
        with self._lock:
            name = self._names.get(node_id, node_id)
            print(f"{name}: {line}", file=self.out, flush=True)


class RichListener:
    """A live view on a terminal: the node tree with phases, durations and a progress bar; logs above it."""

    def __init__(self, out: TextIO, *, logs: bool) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=out)
        self.logs = logs
        self._workflow: Mapping[str, Any] = {}
        self._names: dict[str, str] = {}
        self._colours: dict[str, str] = {}
        self._lock = threading.Lock()
        self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self._render, transient=True)

    def __enter__(self) -> RichListener:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            wf = self._workflow
        status = wf.get("status") or {}
        now = datetime.now(UTC)
        table = Table.grid(padding=(0, 2))
        for _ in range(3):
            table.add_column()
        for row in node_tree(wf):
            n = row.node
            phase = str(n.get("phase") or "Pending")
            seconds = node_duration(n, now)
            table.add_row(
                Text(row.prefix) + Text(f"{ICONS.get(phase, '◷')} {_label(n)}", style=COLOURS.get(phase, "")),
                Text(short_duration(seconds) if seconds is not None and n.get("type") == "Pod" else "", style="dim"),
                Text(str(n.get("message") or ""), style="dim"),
            )
        done, _, total = str(status.get("progress") or "0/0").partition("/")
        try:
            completed, whole = int(done), max(1, int(total or 1))
        except ValueError:
            completed, whole = 0, 1
        name = (wf.get("metadata") or {}).get("name", "")
        head = Table.grid(padding=(0, 2))
        head.add_row(
            Text(f"{name}  {status.get('phase', 'Pending')}  {status.get('progress', '')}", style="bold"),
            ProgressBar(total=whole, completed=completed, width=40),
        )
        return Group(head, table)

    def status(self, workflow: Mapping[str, Any]) -> None:
        with self._lock:
            self._workflow = workflow
            for nid, node in (nodes_of(workflow.get("status"))).items():
                self._names[nid] = _label(node)
        self.live.refresh()

    def event(self, event: RecordEvent) -> None:
        pass

    def log(self, node_id: str, container: str, line: str) -> None:
        if not self.logs or container != "main":
            return
        from rich.text import Text

        with self._lock:
            name = self._names.get(node_id, node_id)
            colour = self._colours.setdefault(name, LOG_COLOURS[len(self._colours) % len(LOG_COLOURS)])
        self.console.print(Text(f"{name}: ", style=colour) + Text.from_ansi(line))
