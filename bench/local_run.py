"""Local runner benchmark: the seed DAG against its critical path, and the per-step overhead of a wide fan-out.

Usage: .venv/bin/python -m bench.local_run [--steps 200] [--parallelism N] [--repeat 1]

- seed DAG: `trellis run` of examples/data-pipeline-dag.yaml (fetch 2 s, then clean 3 s and metadata 2 s in
  parallel, aggregate 4 s, load 2 s: a critical path of 11 s of sleeps). Reported: the whole process's wall time
  (Python start, lint, sandbox probe, the run, the summary) and the workflow's own duration from its status.
  Target: <= 11.5 s.
- fan-out: one DAG of N independent tasks running `true`, `--parallelism` at once (default: the core count).
  Overhead per step = wall time of the run / N (the steps themselves take no time). Target: <= 50 ms on 2 cores.
  Peak memory: the largest resident set of the `trellis run` process (the runner, planner and kubelet; the
  steps' own processes are separate and short-lived).
Each run is a real `trellis run` process with its own TRELLIS_HOME in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "data-pipeline-dag.yaml"
CRITICAL_PATH = 11.0


def trellis() -> list[str]:
    exe = Path(sys.executable).with_name("trellis")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "executor.cli"]


def fan_out(n: int) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "fan-out-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": [{"name": f"t{i}", "template": "true"} for i in range(n)]}},
                {"name": "true", "container": {"image": "alpine:3.20", "command": ["true"]}},
            ],
        },
    }


def timed_run(path: Path, *extra: str) -> tuple[float, dict[str, Any], int]:
    """(wall seconds, final Workflow, peak RSS in KiB of the trellis process)."""
    with tempfile.TemporaryDirectory(prefix="trellis-bench-") as home:
        env = dict(os.environ, TRELLIS_HOME=home)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.monotonic()
        proc = subprocess.run(
            [*trellis(), "run", str(path), "-o", "json", *extra], capture_output=True, text=True, env=env, check=False
        )
        wall = time.monotonic() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if not proc.stdout.strip():
            raise SystemExit(f"trellis run failed: {proc.stderr[-2000:]}")
        return wall, json.loads(proc.stdout), max(peak, before)


def duration(wf: dict[str, Any]) -> float:
    st = wf["status"]
    start = datetime.fromisoformat(st["startedAt"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(st["finishedAt"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--parallelism", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    rows = []
    for _ in range(a.repeat):
        wall, wf, peak = timed_run(SEED)
        rows.append(("seed DAG", wall, duration(wf), wf["status"]["phase"], peak))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fan-out.yaml"
        path.write_text(yaml.safe_dump(fan_out(a.steps)))
        for _ in range(a.repeat):
            wall, wf, peak = timed_run(path, "--parallelism", str(a.parallelism))
            rows.append((f"fan-out {a.steps} x true", wall, duration(wf), wf["status"]["phase"], peak))
    print(f"cores: {os.cpu_count()}, parallelism: {a.parallelism}")
    print("| run | wall (process) | workflow duration | phase | per step | peak RSS (runner) |")
    print("|---|---:|---:|---|---:|---:|")
    for name, wall, dur, phase, peak in rows:
        per_step = (
            f"{wall / a.steps * 1000:.0f} ms" if name.startswith("fan-out") else f"(critical path {CRITICAL_PATH:g} s)"
        )
        print(f"| {name} | {wall:.2f} s | {dur:.0f} s | {phase} | {per_step} | {peak / 1024:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
