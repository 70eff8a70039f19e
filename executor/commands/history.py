"""`trellis list | get NAME | logs NAME | delete NAME`: the local run history (executor.local.history).

    trellis list [-o wide|json]
    trellis get NAME [-o json|yaml]
    trellis logs NAME [--node NODE] [--container C]
    trellis delete NAME

The history lives in $TRELLIS_HOME (default $XDG_DATA_HOME/trellis or ~/.local/share/trellis), as for `trellis run`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from executor.commands.run import trellis_home
from executor.local.history import History, RunRecord
from executor.local.progress import parse_time, short_duration, summary
from executor.local.runner import FINISHED, dumps, pid_alive
from executor.status import nodes_of

HELP = {
    "list": "list local runs (newest first)",
    "get": "show a local run like `argo get`",
    "logs": "print the logs of a local run's steps",
    "delete": "delete a local run from history (and its logs)",
}


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    if command != "list":
        parser.add_argument("name", metavar="NAME", help="the Workflow's name (see trellis list)")
    if command == "list":
        parser.add_argument("-o", "--output", choices=("text", "wide", "json"), default="text")
    if command == "get":
        parser.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text")
    if command == "logs":
        parser.add_argument("--node", help="only this step (display name, node name or node ID)")
        parser.add_argument("-c", "--container", default="main", help="container (main, wait, init); default main")


def _history() -> History:
    import os

    return History(trellis_home(os.environ) / "history.db")


def _pod_names(history: History, name: str) -> dict[str, str]:
    return {r.node_id: Path(r.path).parent.parent.name for r in history.logs(name)}


def _phase(record: RunRecord) -> str:
    if record.phase not in FINISHED and not pid_alive(record.pid):
        return f"{record.phase or 'Pending'} (runner gone)"
    return record.phase


def run(args: argparse.Namespace) -> int:
    history = _history()
    command = args.command
    if command == "list":
        runs = history.list_runs()
        if args.output == "json":
            print(dumps([r.workflow for r in runs], "json"), end="")
            return 0
        rows = [("NAME", "STATUS", "AGE", "DURATION", "PROGRESS", "MESSAGE")]
        now = datetime.now(UTC)
        for r in runs:
            status = r.workflow.get("status") or {}
            start = parse_time(status.get("startedAt"))
            end = parse_time(status.get("finishedAt")) or now
            rows.append(
                (
                    r.name,
                    _phase(r),
                    short_duration(now.timestamp() - r.created),
                    short_duration((end - start).total_seconds()) if start else "",
                    str(status.get("progress") or ""),
                    r.message if args.output == "wide" else r.message[:60],
                )
            )
        if len(rows) == 1:
            print("No runs yet: start one with trellis run FILE", file=sys.stderr)
            return 0
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            print(("  ".join(row[i].ljust(widths[i]) for i in range(5)) + "  " + row[5]).rstrip())
        return 0
    record = history.get_run(args.name)
    if record is None:
        print(f"trellis {command}: no run named {args.name!r} in history; see trellis list", file=sys.stderr)
        return 1
    if command == "get":
        if args.output in {"json", "yaml"}:
            print(dumps(record.workflow, args.output), end="")
        else:
            print(summary(record.workflow, pod_names=_pod_names(history, record.name)), end="")
        return 0
    if command == "logs":
        return _logs(history, record, args.node, args.container)
    if record.phase not in FINISHED and pid_alive(record.pid):
        print(f"trellis delete: {record.name} is still running (pid {record.pid}); stop it first", file=sys.stderr)
        return 1
    history.delete_run(record.name)
    if record.run_dir:
        shutil.rmtree(record.run_dir, ignore_errors=True)
    print(f"Workflow '{record.name}' deleted")
    return 0


def _logs(history: History, record: RunRecord, node: str | None, container: str) -> int:
    nodes = nodes_of(record.workflow.get("status"))
    entries = [e for e in history.logs(record.name) if e.container == container]
    if node:

        def matches(node_id: str, node_name: str) -> bool:
            display = str((nodes.get(node_id) or {}).get("displayName") or "")
            return node in {node_id, node_name, display}

        entries = [e for e in entries if matches(e.node_id, e.node_name)]
        if not entries:
            known = sorted(
                {str(n.get("displayName") or n.get("name")) for n in nodes.values() if n.get("type") == "Pod"}
            )
            print(
                f"trellis logs: {record.name} has no step {node!r} with a {container} container;"
                f" steps: {', '.join(known) or 'none'}",
                file=sys.stderr,
            )
            return 1
    several = len({e.node_id for e in entries}) > 1
    for e in entries:
        label = str((nodes.get(e.node_id) or {}).get("displayName") or e.node_name)
        try:
            text = Path(e.path).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            print(f"{label}: {line}" if several else line)
    return 0
