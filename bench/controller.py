"""Controller benchmark (run by hand; not a test): `python bench/controller.py [--steps 200] [--chain 30]`.

Runs the real `trellis controller` as a subprocess against the Kubernetes API stand-in (tests/standin) and a
kubelet loop in this process that finishes each Job as soon as it appears. Reports:
- API writes per step (Job create + status writes + anything else, Events counted apart), from the stand-in's
  request log, for a fan-out DAG of --steps tasks;
- controller CPU seconds per 1,000 steps (the subprocess's own user+sys time, from wait4);
- transition latency on a --chain long chain: from the kubelet's status write that completes step k to the
  moment step k+1's Job exists (p50/p99).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402 - after the path set-up above

from tests.standin import KubeStandin, SimKubelet  # noqa: E402

NS = "default"


def fan_out(n: int) -> dict[str, Any]:
    tasks = [{"name": "start", "template": "noop"}]
    tasks += [{"name": f"t{i}", "template": "noop", "dependencies": ["start"]} for i in range(n - 1)]
    return workflow("fan", tasks)


def chain(n: int) -> dict[str, Any]:
    tasks = [{"name": "s0", "template": "noop"}]
    tasks += [{"name": f"s{i}", "template": "noop", "dependencies": [f"s{i - 1}"]} for i in range(1, n)]
    return workflow("chain", tasks)


def workflow(name: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {"name": "noop", "container": {"image": "alpine", "command": ["true"]}},
            ],
        },
    }


class Kubelet(threading.Thread):
    def __init__(self, standin: KubeStandin) -> None:
        super().__init__(daemon=True)
        self.standin = standin
        self.sim = SimKubelet(standin)
        self.stop = threading.Event()
        self.seen: dict[str, float] = {}
        self.done: dict[str, float] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            for job in self.standin.list_objects("batch/v1", "Job", NS):
                name = job["metadata"]["name"]
                if name in self.seen:
                    continue
                self.seen[name] = time.monotonic()
                node = job["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
                self.sim.succeed(NS, name, messages={"wait": json.dumps({"v": 1})})
                self.done[node] = time.monotonic()
                self.seen[node] = self.seen[name]
            self.standin.store.wait_for_events(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_case(manifest: dict[str, Any], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        standin = KubeStandin().start()
        try:
            standin.write_kubeconfig(Path(tmp) / "kubeconfig")
            for crd in sorted((ROOT / "crds").glob("*.yaml")):
                standin.create(yaml.safe_load(crd.read_text()))
            kubelet = Kubelet(standin)
            kubelet.start()
            trellis = [sys.executable, "-m", "executor.cli", "controller", "--kubeconfig", str(standin.kubeconfig)]
            args = ["--namespace", NS, "--metrics-host", "127.0.0.1", "--metrics-port", str(free_port())]
            proc = subprocess.Popen([*trellis, *args, "--log-level", "WARNING"], cwd=ROOT)
            standin.clear_requests()
            started = time.monotonic()
            standin.create(manifest)
            name = manifest["metadata"]["name"]
            standin.wait_until(
                lambda: (
                    standin.get("argoproj.io/v1alpha1", "Workflow", name, NS).get("status", {}).get("phase")
                    == "Succeeded"
                ),
                timeout=timeout,
                what="Succeeded",
            )
            wall = time.monotonic() - started
            proc.send_signal(signal.SIGTERM)
            _, _, usage = os.wait4(proc.pid, 0)
            kubelet.stop.set()
            requests = standin.requests
        finally:
            standin.stop()
    steps = len(manifest["spec"]["templates"][0]["dag"]["tasks"])
    writes = [r for r in requests if r.verb in ("create", "update", "patch", "delete") and r.resource != "events"]
    by_kind: dict[str, int] = {}
    for r in writes:
        by_kind[f"{r.verb} {r.resource}"] = by_kind.get(f"{r.verb} {r.resource}", 0) + 1
    return {
        "steps": steps,
        "wall_s": wall,
        "writes_per_step": len(writes) / steps,
        "writes": by_kind,
        "events_per_step": sum(1 for r in requests if r.resource == "events") / steps,
        "reads_per_step": sum(1 for r in requests if r.verb in ("get", "list")) / steps,
        "cpu_s_per_1000_steps": (usage.ru_utime + usage.ru_stime) / steps * 1000,
        "kubelet": kubelet,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--chain", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    fan = run_case(fan_out(args.steps), args.timeout)
    print(f"fan-out {fan['steps']} steps: {fan['wall_s']:.2f}s wall")
    print(f"  API writes per step: {fan['writes_per_step']:.2f} {fan['writes']}")
    print(f"  events per step: {fan['events_per_step']:.2f}; reads per step: {fan['reads_per_step']:.2f}")
    print(f"  controller CPU per 1,000 steps: {fan['cpu_s_per_1000_steps']:.1f}s (includes process start-up)")

    ch = run_case(chain(args.chain), args.timeout)
    kubelet = ch["kubelet"]
    latencies = [
        (kubelet.seen[f"chain.s{i}"] - kubelet.done[f"chain.s{i - 1}"]) * 1000
        for i in range(1, args.chain)
        if f"chain.s{i}" in kubelet.seen
    ]
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"chain {args.chain} steps: {ch['wall_s']:.2f}s wall; writes per step {ch['writes_per_step']:.2f}")
    print(f"  dependency done -> dependent Job created: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
