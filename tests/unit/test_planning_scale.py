"""Scale properties of the planner: status size for thousands of Pod nodes, compressed nodes, linear passes,
and the benchmark's synthetic chain status matching what the planner writes itself."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from bench.planning import CONTEXT, NOW, chain, chain_status, fan_out, observations
from executor.contract import CreateJob, JobObservation, UpdateStatus
from executor.planning import plan
from executor.status import nodes_of, pack_nodes

LIMIT = int(1.5 * 1024 * 1024)


def test_five_thousand_pod_nodes_fit_in_etcds_object_limit() -> None:
    workflow = fan_out(5000)
    actions = plan(workflow, {}, NOW, context=CONTEXT)
    assert sum(isinstance(a, CreateJob) for a in actions) == 5000
    workflow["status"] = next(a.status for a in actions if isinstance(a, UpdateStatus))
    assert "compressedNodes" in workflow["status"]
    running = observations(workflow["status"], "Running", NOW)
    assert not any(isinstance(a, CreateJob) for a in plan(workflow, running, NOW, context=CONTEXT))
    done = observations(workflow["status"], "Succeeded", NOW + timedelta(seconds=5))
    final = next(
        a.status
        for a in plan(workflow, done, NOW + timedelta(seconds=6), context=CONTEXT)
        if isinstance(a, UpdateStatus)
    )
    assert final["phase"] == "Succeeded"
    assert final["progress"] == "5000/5000"
    assert len(json.dumps(final, separators=(",", ":"))) < LIMIT
    assert "nodes" not in final
    assert len(nodes_of(final)) == 5001


def test_large_node_maps_are_stored_compressed_deterministically_and_read_back() -> None:
    nodes = {f"wf-{i}": {"id": f"wf-{i}", "name": f"wf.t{i}", "phase": "Succeeded"} for i in range(100)}
    small = pack_nodes({}, nodes)
    assert small["nodes"] == nodes
    packed = pack_nodes({"nodes": {}}, nodes, threshold=100)
    assert "nodes" not in packed
    assert packed == pack_nodes({}, nodes, threshold=100)
    assert nodes_of(packed) == nodes
    assert nodes_of(None) == {}


def test_the_benchmark_chain_status_has_the_planners_own_shape() -> None:
    workflow = chain(3)
    jobs: dict[str, JobObservation] = {}
    now = NOW
    for _ in range(5):  # each task: one pass creates it, the next sees it Running
        actions = plan(workflow, jobs, now, context=CONTEXT)
        workflow["status"] = next(a.status for a in actions if isinstance(a, UpdateStatus))
        for nid, obs in list(jobs.items()):
            if obs.phase == "Running" and obs.started_at != now:
                jobs[nid] = replace(obs, phase="Succeeded", finished_at=now, exit_code=0, report={"v": 1})
        for action in actions:
            if isinstance(action, CreateJob):
                jobs[action.node_id] = JobObservation(action.node_id, "j", "Running", started_at=now)
        now += timedelta(seconds=1)
    workflow["status"] = next(
        a.status for a in plan(workflow, jobs, now, context=CONTEXT) if isinstance(a, UpdateStatus)
    )
    synthetic, _ = chain_status(workflow, 3, NOW)
    real = nodes_of(workflow["status"])
    fake = synthetic["nodes"]
    assert sorted(real) == sorted(fake)
    for nid, node in real.items():
        assert set(node) == set(fake[nid]), nid
        assert node["phase"] == fake[nid]["phase"], nid
