"""`trellis resume NAME [-p name=value]...`: resume a suspended local run from another terminal, or, with
`-n NAMESPACE` / `--kubeconfig`, a suspended Workflow on a cluster.

The request goes into the history database; the run's `trellis run` process is woken with SIGUSR1 and applies it
as `argo resume` does (spec.suspend cleared, running Suspend nodes Succeeded, with the given output parameters).
Also `trellis resume NAME --stop|--terminate` to stop a run from elsewhere (as `argo stop` / `argo terminate`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from executor.commands.run import trellis_home
from executor.local.history import History
from executor.local.runner import FINISHED, ManifestError, parse_parameter, pid_alive

HELP = "resume a suspended run (local, or on a cluster with -n/--kubeconfig), or --stop / --terminate it"


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="output parameter value for the suspend node",
    )
    parser.add_argument("--namespace", "-n", help="resume the Workflow on the cluster in this namespace")
    parser.add_argument("--kubeconfig", help="kubeconfig of the cluster (implies it; namespace default)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stop", action="store_true", help="stop the run instead (exit handlers run)")
    group.add_argument("--terminate", action="store_true", help="terminate the run instead (no exit handlers)")


def run(args: argparse.Namespace) -> int:
    if args.namespace or args.kubeconfig:
        return resume_on_cluster(args)
    history = History(trellis_home(os.environ) / "history.db")
    record = history.get_run(args.name)
    if record is None:
        print(f"trellis resume: no run named {args.name!r} in history; see trellis list", file=sys.stderr)
        return 1
    if record.phase in FINISHED or not pid_alive(record.pid) or record.pid is None:
        print(f"trellis resume: {args.name} is not running (phase {record.phase or 'unknown'})", file=sys.stderr)
        return 1
    try:
        outputs = dict(parse_parameter(p) for p in args.parameter)
    except ManifestError as exc:
        print(f"trellis resume: {exc}", file=sys.stderr)
        return 2
    kind = "stop" if args.stop else "terminate" if args.terminate else "resume"
    history.add_request(args.name, kind, outputs)
    os.kill(record.pid, signal.SIGUSR1)
    verb = {"resume": "resumed", "stop": "stopped", "terminate": "terminated"}[kind]
    print(f"workflow {args.name} {verb}")
    return 0


def resume_on_cluster(args: argparse.Namespace) -> int:
    """As `argo resume`: suspended nodes Succeeded (with -p values) through the status subresource, then
    `spec.suspend` cleared. --stop / --terminate write `spec.shutdown` instead."""
    from datetime import UTC, datetime

    from kubernetes import client

    from executor.cluster.config import CredentialsError, load_configuration
    from executor.cluster.kube import WORKFLOWS, ApiError, Kube, TransientError
    from executor.operations import resume_workflow

    namespace = args.namespace or "default"
    try:
        outputs = dict(parse_parameter(p) for p in args.parameter)
        kube = Kube(client.ApiClient(load_configuration(args.kubeconfig, prefer_in_cluster=False)))
    except ManifestError as exc:
        print(f"trellis resume: {exc}", file=sys.stderr)
        return 2
    except CredentialsError as exc:
        print(f"trellis resume: cannot load Kubernetes credentials: {exc}", file=sys.stderr)
        return 2
    try:
        workflow = kube.get(WORKFLOWS, namespace, args.name)
        if workflow is None:
            print(f'trellis resume: workflow "{args.name}" not found in namespace "{namespace}"', file=sys.stderr)
            return 1
        if args.stop or args.terminate:
            shutdown = "Stop" if args.stop else "Terminate"
            kube.patch(WORKFLOWS, namespace, args.name, {"spec": {"shutdown": shutdown}})
            print(f"workflow {args.name} {'stopped' if args.stop else 'terminated'}")
            return 0
        resume_workflow(workflow, datetime.now(UTC), outputs)
        if workflow.get("status"):
            kube.replace(WORKFLOWS, namespace, args.name, workflow, subresource="status")
        kube.patch(WORKFLOWS, namespace, args.name, {"spec": {"suspend": None}})
    except (ApiError, TransientError) as exc:
        print(f"trellis resume: {exc}", file=sys.stderr)
        return 1
    print(f"workflow {args.name} resumed")
    return 0
