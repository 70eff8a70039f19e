"""`trellis stop|terminate|suspend|retry|resubmit NAME`: Argo's workflow operations against a cluster.

They write only what Argo's own CLI writes: `spec.shutdown` (Stop: running steps end, exit handlers run;
Terminate: exit handlers don't), `spec.suspend`, a reset of failed nodes in `status` (retry), or a new
Workflow (resubmit). The controller does the rest on its next pass.
"""

from __future__ import annotations

import argparse
import sys
import time

from executor.operations import FAILED, retry_status

HELP = {
    "stop": "stop a workflow on the cluster: running steps end, exit handlers run",
    "terminate": "terminate a workflow on the cluster: running steps end, exit handlers don't run",
    "suspend": "suspend a workflow on the cluster: no new steps start",
    "retry": "retry a failed workflow on the cluster: failed steps run again",
    "resubmit": "submit a finished workflow's spec again as a new workflow",
}

RESUBMITTED_FROM = "workflows.argoproj.io/resubmitted-from-workflow"


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("name", help="the Workflow's name")
    parser.add_argument("--namespace", "-n", default="default")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: ~/.kube/config or in-cluster)")
    parser.add_argument("--timeout", type=float, default=60.0, help="retry: seconds to wait for old Jobs to go")


def run(args: argparse.Namespace) -> int:
    from kubernetes import client

    from executor.cluster.config import CredentialsError, load_configuration
    from executor.cluster.kube import JOBS, WORKFLOWS, ApiError, Kube, TransientError

    try:
        configuration = load_configuration(args.kubeconfig, prefer_in_cluster=False)
    except CredentialsError as exc:
        print(f"trellis {args.command}: cannot load Kubernetes credentials: {exc}", file=sys.stderr)
        return 2
    kube = Kube(client.ApiClient(configuration))
    ns, name = args.namespace, args.name
    try:
        workflow = kube.get(WORKFLOWS, ns, name)
        if workflow is None:
            print(f'trellis {args.command}: workflow "{name}" not found in namespace "{ns}"', file=sys.stderr)
            return 1
        phase = (workflow.get("status") or {}).get("phase", "")
        if args.command in {"stop", "terminate"}:
            shutdown = "Stop" if args.command == "stop" else "Terminate"
            kube.patch(WORKFLOWS, ns, name, {"spec": {"shutdown": shutdown}})
            print(f"workflow {name} {args.command}ped" if args.command == "stop" else f"workflow {name} terminated")
        elif args.command == "suspend":
            kube.patch(WORKFLOWS, ns, name, {"spec": {"suspend": True}})
            print(f"workflow {name} suspended")
        elif args.command == "retry":
            if phase not in FAILED:
                print(
                    f"trellis retry: workflow {name} is {phase or 'not started'}; only Failed or Error workflows can be"
                    " retried",
                    file=sys.stderr,
                )
                return 1
            new_status, node_ids = retry_status(workflow.get("status") or {})
            if (workflow.get("spec") or {}).get("shutdown"):
                # as argo retry: a stopped workflow's retry must not stop again. Cleared while the workflow is still
                # Failed (the controller only does housekeeping then), before its status says Running.
                workflow = kube.patch(WORKFLOWS, ns, name, {"spec": {"shutdown": None}})
            for job in kube.list(JOBS, ns, label_selector=f"workflows.argoproj.io/workflow={name}").get("items") or []:
                annotations = job["metadata"].get("annotations") or {}
                if annotations.get("workflows.argoproj.io/node-id") in node_ids:
                    kube.delete(JOBS, ns, job["metadata"]["name"], propagation="Background")
                    deadline = time.monotonic() + args.timeout
                    while kube.get(JOBS, ns, job["metadata"]["name"]) is not None:
                        if time.monotonic() > deadline:
                            print(
                                f"trellis retry: Job {job['metadata']['name']} is still being deleted", file=sys.stderr
                            )
                            return 1
                        time.sleep(0.2)  # waiting on the API server's garbage collector; no watch for one object
            workflow["status"] = new_status
            kube.replace(WORKFLOWS, ns, name, workflow, subresource="status")
            print(f"workflow {name} retried: {len(node_ids)} failed step(s) will run again")
        elif args.command == "resubmit":
            meta = workflow.get("metadata") or {}
            labels = {k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("workflows.argoproj.io/")}
            labels[RESUBMITTED_FROM] = name
            body = {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "metadata": {"generateName": f"{name}-", "namespace": ns, "labels": labels},
                # as argo resubmit: a fresh run, so a Stop/Terminate that ended the original does not carry over
                "spec": {k: v for k, v in (workflow.get("spec") or {}).items() if k != "shutdown"},
            }
            created = kube.create(WORKFLOWS, ns, body)
            print(f"workflow {created['metadata']['name']} resubmitted from {name}")
    except (ApiError, TransientError) as exc:
        print(f"trellis {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0
