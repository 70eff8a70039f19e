"""What `trellis run` prints while it works: plain lines off a terminal, a live tree on one."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from executor.local.progress import PlainListener, RichListener


def status(phase_a: str, phase_b: str = "Pending", **b: Any) -> dict[str, Any]:
    def pod(name: str, phase: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"wf-{name}",
            "name": f"wf.{name}",
            "displayName": name,
            "type": "Pod",
            "phase": phase,
            "boundaryID": "wf",
            "startedAt": "2026-03-04T05:00:00Z",
            **extra,
        }

    return {
        "metadata": {"name": "wf"},
        "status": {
            "phase": "Running",
            "progress": "1/2",
            "nodes": {
                "wf": {"id": "wf", "name": "wf", "displayName": "wf", "type": "DAG", "phase": "Running"},
                "wf-a": pod("a", phase_a, finishedAt="2026-03-04T05:00:03Z"),
                "wf-b": pod("b", phase_b, **b),
            },
        },
    }


def test_plain_progress_prints_each_pod_phase_change_once_and_prefixed_logs() -> None:
    out = io.StringIO()
    listener = PlainListener(out, logs=True)
    listener.status(status("Running"))
    listener.status(status("Running"))
    listener.log("wf-a", "main", "hello")
    listener.log("wf-a", "wait", "not shown: only main's log is streamed")
    listener.status(status("Succeeded", "Failed", message="Error (exit code 2)", finishedAt="2026-03-04T05:00:01Z"))
    assert out.getvalue().splitlines() == [
        "a Running",
        "b Pending",
        "a: hello",
        "a Succeeded (3s)",
        "b Failed (1s): Error (exit code 2)",
    ]


def test_the_live_view_shows_the_tree_with_phases_and_progress() -> None:
    listener = RichListener(io.StringIO(), logs=False)
    listener.status(status("Succeeded", "Running"))
    console = Console(record=True, width=80, file=io.StringIO())
    console.print(listener._render())
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    head, bar = lines[0][: len("wf  Running  1/2")], lines[0][len("wf  Running  1/2") :]
    assert head == "wf  Running  1/2"
    assert bar.strip() == "━" * 20, "a 40-column progress bar, half done"
    assert lines[1] == "● wf"
    assert lines[2] == "├─✔ a  3s"
    assert lines[3].startswith("└─● b")
