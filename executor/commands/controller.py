"""`trellis controller`: the in-cluster controller (also the container's entry point in the Helm chart)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from types import FrameType

HELP = "run the controller: watch Workflows and CronWorkflows, run their steps as Jobs"


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster config, then ~/.kube/config)")
    parser.add_argument(
        "--namespace", "-n", action="append", default=[], help="watch only this namespace (repeatable; default: all)"
    )
    parser.add_argument("--workers", type=int, default=4, help="concurrent reconcile workers (default 4)")
    parser.add_argument("--qps", type=float, default=50.0, help="API requests per second (default 50)")
    parser.add_argument("--burst", type=int, default=100, help="API request burst (default 100)")
    parser.add_argument("--leader-elect", action="store_true", help="elect a leader through a Lease (hot standby)")
    parser.add_argument("--lease-namespace", default=os.environ.get("POD_NAMESPACE", "argo"))
    parser.add_argument("--lease-name", default="trellis-controller")
    parser.add_argument("--metrics-port", type=int, default=9090, help="port of /metrics, /healthz, /readyz")
    parser.add_argument("--metrics-host", default="0.0.0.0")
    parser.add_argument(
        "--executor-image",
        default=os.environ.get("TRELLIS_EXECUTOR_IMAGE", "ghcr.io/trellis-workflows/trellis:latest"),
        help="image of the init and wait containers",
    )
    parser.add_argument(
        "--configmap-namespace",
        default=os.environ.get("POD_NAMESPACE", "argo"),
        help="namespace of workflow-controller-configmap (default: the controller's own)",
    )
    parser.add_argument("--configmap", default="workflow-controller-configmap")
    parser.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    from kubernetes import client
    from prometheus_client import CollectorRegistry

    from executor.cluster.config import CredentialsError, load_configuration
    from executor.cluster.controller import Controller, ControllerSettings
    from executor.cluster.kube import Kube, KubeSettings
    from executor.cluster.reconciler import ReconcilerSettings

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    try:
        configuration = load_configuration(args.kubeconfig, prefer_in_cluster=True)
    except CredentialsError as exc:
        print(f"trellis {args.command}: cannot load Kubernetes credentials: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    registry = CollectorRegistry()
    kube = Kube(
        client.ApiClient(configuration), KubeSettings(qps=args.qps, burst=args.burst), registry=registry, stop=stop
    )
    settings = ControllerSettings(
        namespaces=tuple(args.namespace),
        workers=args.workers,
        leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace,
        lease_name=args.lease_name,
        identity=f"{socket.gethostname()}-{os.getpid()}",
        http_host=args.metrics_host,
        http_port=args.metrics_port,
        reconciler=ReconcilerSettings(
            executor_image=args.executor_image,
            controller_namespace=args.configmap_namespace,
            controller_configmap=args.configmap,
        ),
    )
    controller = Controller(kube, settings, registry=registry)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("trellis.controller").info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    controller.serve_http()
    controller.start()
    stop.wait()
    controller.shutdown()
    return 0
