"""Planning benchmark: time per pass and per node, and status bytes per node, for wide and long DAGs.

Usage: .venv/bin/python -m bench.planning [--sizes 100,1000,10000] [--repeat 3]

Shapes:
- fan-out: one DAG with N independent tasks (every task a Pod node; all start in the first pass);
- chain:   one DAG with N tasks, each depending on the previous one.

Passes measured (best of --repeat runs, CPU time of the pass, gc enabled as in production):
- create:  the first pass of a fan-out, creating N Jobs through the real executor.jobspec.expand;
- steady:  a pass where every created Pod node's Job is running (nothing to do: the cost of just looking);
- finish:  the pass that sees the last Jobs succeed and completes the workflow.
For the chain, the starting status (n-1 tasks done, the last one running) is built in the planner's record shape
(`chain_status`) instead of running n passes.

Status size: bytes of the JSON-encoded status (what the API server stores) after the workflow finished, and per
Pod node. The target is 5,000 Pod nodes < 1.5 MiB (etcd's default request limit).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from executor.contract import Action, CreateJob, JobObservation, PlanContext, UpdateStatus
from executor.planning import plan
from executor.status import format_time, node_id, nodes_of

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONTEXT = PlanContext()
LEAF = {"name": "leaf", "container": {"image": "alpine:3.20", "command": ["sh", "-c", "echo hi"]}}


def fan_out(n: int) -> dict[str, Any]:
    tasks = [{"name": f"task-{i}", "template": "leaf"} for i in range(n)]
    return _workflow(f"fan-{n}", tasks)


def chain(n: int) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = [{"name": "task-0", "template": "leaf"}]
    tasks += [{"name": f"task-{i}", "template": "leaf", "dependencies": [f"task-{i - 1}"]} for i in range(1, n)]
    return _workflow(f"chain-{n}", tasks)


def _workflow(name: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": "bench", "uid": "00000000-0000-0000-0000-000000000001"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}, LEAF]},
    }


def _status(actions: list[Action]) -> Mapping[str, Any] | None:
    for action in actions:
        if isinstance(action, UpdateStatus):
            return action.status
    return None


def timed(function: Callable[[], list[Action]]) -> tuple[float, list[Action]]:
    """CPU time of the pass (this process only): on a shared machine wall time mostly measures the neighbours."""
    start = time.process_time()
    result = function()
    return time.process_time() - start, result


def observations(status: Mapping[str, Any], phase: str, now: datetime) -> dict[str, JobObservation]:
    out = {}
    for nid, node in nodes_of(status).items():
        if node.get("type") != "Pod":
            continue
        obs = JobObservation(nid, f"job-{nid}", "Running", started_at=now)
        if phase == "Succeeded":
            obs = replace(obs, phase="Succeeded", finished_at=now, exit_code=0, report={"v": 1})
        out[nid] = obs
    return out


def bench_fan_out(n: int) -> dict[str, float]:
    workflow = fan_out(n)
    create_time, actions = timed(lambda: plan(workflow, {}, NOW, context=CONTEXT))
    assert sum(isinstance(a, CreateJob) for a in actions) == n
    status = _status(actions)
    assert status is not None
    workflow["status"] = status
    running = observations(status, "Running", NOW)
    _, actions = timed(lambda: plan(workflow, running, NOW, context=CONTEXT))
    workflow["status"] = _status(actions) or workflow["status"]
    steady_time, actions = timed(lambda: plan(workflow, running, NOW, context=CONTEXT))
    assert not any(isinstance(a, CreateJob) for a in actions)
    done = observations(workflow["status"], "Succeeded", NOW + timedelta(seconds=5))
    later = NOW + timedelta(seconds=6)
    finish_time, actions = timed(lambda: plan(workflow, done, later, context=CONTEXT))
    final = _status(actions)
    assert final is not None and final["phase"] == "Succeeded", final and final.get("phase")
    size = len(json.dumps(final, separators=(",", ":")))
    raw = len(json.dumps(nodes_of(final), separators=(",", ":")))
    return {"raw": raw, "create": create_time, "steady": steady_time, "finish": finish_time, "bytes": size, "pods": n}


def chain_status(
    workflow: Mapping[str, Any], n: int, now: datetime
) -> tuple[dict[str, Any], dict[str, JobObservation]]:
    """The status the planner writes for a chain whose first n-1 tasks succeeded and whose last task runs.

    Built with executor.status's helpers in the planner's record shape (running the chain pass by pass would take
    n passes; the first test in tests/unit/test_planning_bench.py checks this shape against the planner's own).
    """
    name = workflow["metadata"]["name"]
    stamp = format_time(now)
    root: dict[str, Any] = {
        "id": name,
        "name": name,
        "displayName": name,
        "type": "DAG",
        "templateName": "main",
        "phase": "Running",
        "startedAt": stamp,
        "children": [node_id(name, f"{name}.task-0")],
    }
    nodes: dict[str, Any] = {name: root}
    jobs: dict[str, JobObservation] = {}
    for i in range(n):
        node_name = f"{name}.task-{i}"
        nid = node_id(name, node_name)
        last = i == n - 1
        record: dict[str, Any] = {
            "id": nid,
            "name": node_name,
            "displayName": f"task-{i}",
            "type": "Pod",
            "templateName": "leaf",
            "phase": "Running" if last else "Succeeded",
            "boundaryID": name,
            "startedAt": stamp,
            "progress": "0/1" if last else "1/1",
        }
        if not last:
            record["finishedAt"] = stamp
            record["outputs"] = {"exitCode": "0"}
            record["children"] = [node_id(name, f"{name}.task-{i + 1}")]
        nodes[nid] = record
        obs = JobObservation(nid, f"job-{i}", "Running", started_at=now)
        if not last:
            obs = replace(obs, phase="Succeeded", finished_at=now, exit_code=0, report={"v": 1})
        jobs[nid] = obs
    status = {
        "phase": "Running",
        "startedAt": stamp,
        "progress": f"{n - 1}/{n}",
        "conditions": [{"type": "PodRunning", "status": "True"}],
        "nodes": nodes,
    }
    return status, jobs


def bench_chain(n: int) -> dict[str, float]:
    workflow = chain(n)
    status, jobs = chain_status(workflow, n, NOW)
    workflow["status"] = status
    steady_time, actions = timed(lambda: plan(workflow, jobs, NOW, context=CONTEXT))
    assert not any(isinstance(a, CreateJob) for a in actions)
    later = NOW + timedelta(seconds=1)
    done = {
        nid: replace(o, phase="Succeeded", finished_at=later, exit_code=0, report={"v": 1}) for nid, o in jobs.items()
    }
    finish_time, actions = timed(lambda: plan(workflow, done, later, context=CONTEXT))
    final = _status(actions)
    assert final is not None and final["phase"] == "Succeeded", final and final.get("phase")
    size = len(json.dumps(final, separators=(",", ":")))
    raw = len(json.dumps(nodes_of(final), separators=(",", ":")))
    return {"raw": raw, "steady": steady_time, "finish": finish_time, "bytes": size, "pods": n}


def median_of(repeat: int, function: Callable[[], dict[str, float]]) -> dict[str, float]:
    runs = [function() for _ in range(repeat)]
    # The minimum: the machine is shared, and noise only ever adds time.
    return {key: min(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--chain-sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gc.collect()
    print(
        "| shape | nodes | create pass | steady pass | finish pass | per node (steady / finish) | status bytes"
        " | nodes JSON / node |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(s) for s in args.sizes.split(",") if s]:
        r = median_of(args.repeat, lambda n=n: bench_fan_out(n))  # type: ignore[misc]
        print(
            f"| fan-out | {n:,} | {r['create'] * 1000:.0f} ms | {r['steady'] * 1000:.0f} ms"
            f" | {r['finish'] * 1000:.0f} ms"
            f" | {r['steady'] / n * 1e6:.0f} µs / {r['finish'] / n * 1e6:.0f} µs"
            f" | {r['bytes']:,.0f} | {r['raw'] / n:.0f} |"
        )
    for n in [int(s) for s in args.chain_sizes.split(",") if s]:
        r = median_of(args.repeat, lambda n=n: bench_chain(n))  # type: ignore[misc]
        print(
            f"| chain | {n:,} | n/a | {r['steady'] * 1000:.0f} ms | {r['finish'] * 1000:.0f} ms"
            f" | {r['steady'] / n * 1e6:.0f} µs / {r['finish'] / n * 1e6:.0f} µs"
            f" | {r['bytes']:,.0f} | {r['raw'] / n:.0f} |"
        )
    five = bench_fan_out(5000)
    print(f"\n5,000 Pod nodes: status {five['bytes']:,} bytes = {five['bytes'] / 1024 / 1024:.2f} MiB (limit 1.5 MiB)")


if __name__ == "__main__":
    main()
