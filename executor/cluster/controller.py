"""The controller process: watches feed a work queue, workers reconcile, a Lease picks the leader.

Watches (one per resource per watched namespace, or cluster-wide): Workflows, CronWorkflows, and the Jobs and
Pods carrying the `workflows.argoproj.io/workflow` label (only those: a label selector keeps the controller
off every other Job in the cluster), plus ConfigMaps (artifact repositories: a change re-queues every running
workflow). Each watch lists, then watches from the list's resourceVersion, resumes from the last version seen
(bookmarks included) when the server ends the stream, and lists again on 410 Gone. Events only say "look at
this workflow": the reconciler re-reads the world (level-based), so a dropped or duplicated event costs
nothing but a pass.

Standby replicas run the watches (warm) but no workers until they hold the Lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest

from executor.cluster.cron import CronReconciler
from executor.cluster.kube import (
    CONFIG_MAPS,
    CRON_WORKFLOWS,
    JOBS,
    PODS,
    WORKFLOWS,
    ApiError,
    Gone,
    Kube,
    Resource,
    TransientError,
)
from executor.cluster.leader import LeaderElector
from executor.cluster.reconciler import WORKFLOW_LABEL, Reconciler, ReconcilerSettings
from executor.cluster.workqueue import WorkQueue

log = logging.getLogger("trellis.controller")

Key = tuple[str, str, str]  # (kind, namespace, name): kind "wf" or "cron"


@dataclass(frozen=True)
class ControllerSettings:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    workers: int = 4
    leader_elect: bool = False
    lease_namespace: str = "argo"
    lease_name: str = "trellis-controller"
    identity: str = "trellis-controller"
    http_host: str = "0.0.0.0"
    http_port: int = 9090
    watch_timeout_seconds: int = 300
    reconciler: ReconcilerSettings = field(default_factory=ReconcilerSettings)


class Metrics:
    def __init__(
        self, registry: CollectorRegistry, queue: WorkQueue[Key], phases: Callable[[], dict[str, int]]
    ) -> None:
        self.registry = registry
        self.reconcile_seconds = Histogram(
            "trellis_reconcile_duration_seconds",
            "Time for one reconcile pass",
            ["kind"],
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        depth = Gauge("trellis_queue_depth", "Keys waiting in the work queue", registry=registry)
        depth.set_function(lambda: float(len(queue)))
        self.workflows = Gauge(
            "trellis_workflows", "Workflows seen by the controller, by phase", ["phase"], registry=registry
        )
        self._phases = phases

    def refresh(self) -> None:
        counts = self._phases()
        for phase in ("Pending", "Running", "Succeeded", "Failed", "Error"):
            self.workflows.labels(phase).set(counts.get(phase, 0))


class Controller:
    def __init__(
        self,
        kube: Kube,
        settings: ControllerSettings,
        *,
        registry: CollectorRegistry,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self.stop = kube.stop
        self.queue: WorkQueue[Key] = WorkQueue()
        self.configmaps: dict[tuple[str, str], dict[str, Any]] = {}  # (ns, name) -> ConfigMap, from the watch
        self.reconciler = Reconciler(kube, settings.reconciler, clock=clock, configmaps=self._configmap)
        self.cron = CronReconciler(kube, clock=clock)
        self.phases: dict[tuple[str, str], str] = {}  # (ns, name) -> phase, from the Workflow watch
        self.phases_lock = threading.Lock()
        self.synced: set[str] = set()
        self.leading = threading.Event()
        if not settings.leader_elect:
            self.leading.set()
        self.metrics = Metrics(registry, self.queue, self._phase_counts)
        self.threads: list[threading.Thread] = []
        self.http: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        namespaces: list[str | None] = list(self.settings.namespaces) or [None]
        for ns in namespaces:
            self._spawn(f"watch-workflows-{ns}", self._watch_loop, WORKFLOWS, ns, "", self._on_workflow)
            self._spawn(f"watch-cron-{ns}", self._watch_loop, CRON_WORKFLOWS, ns, "", self._on_cron)
            self._spawn(f"watch-jobs-{ns}", self._watch_loop, JOBS, ns, WORKFLOW_LABEL, self._on_owned)
            self._spawn(f"watch-pods-{ns}", self._watch_loop, PODS, ns, WORKFLOW_LABEL, self._on_owned)
            self._spawn(f"watch-configmaps-{ns}", self._watch_loop, CONFIG_MAPS, ns, "", self._on_configmap)
        for i in range(self.settings.workers):
            self._spawn(f"worker-{i}", self._worker)
        if self.settings.leader_elect:
            elector = LeaderElector(
                self.kube,
                namespace=self.settings.lease_namespace,
                name=self.settings.lease_name,
                identity=self.settings.identity,
            )
            self._spawn("leader-election", elector.run, self.stop, self._on_leadership)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def shutdown(self, timeout: float = 5.0) -> None:
        self.stop.set()
        self.queue.close()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            if thread.name.startswith("watch-"):
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
        self.kube.close()  # ends the watch streams
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def ready(self) -> bool:
        expected = 5 * len(self.settings.namespaces or [None])
        return len(self.synced) >= expected

    def _on_leadership(self, leading: bool) -> None:
        if leading:
            self.leading.set()
            with self.phases_lock:
                keys = list(self.phases)
            for ns, name in keys:
                self.queue.add(("wf", ns, name))
        else:
            self.leading.clear()

    # -- watches ---------------------------------------------------------------------------------------------

    def _watch_loop(
        self, resource: Resource, namespace: str | None, label: str, handle: Callable[[str, dict[str, Any]], None]
    ) -> None:
        version = ""
        delay = 0.1
        tag = f"{resource.plural}@{namespace or '*'}"
        while not self.stop.is_set():
            try:
                if not version:
                    listing = self.kube.list(resource, namespace, label_selector=label)
                    for item in listing.get("items") or []:
                        handle("ADDED", item)
                    version = str((listing.get("metadata") or {}).get("resourceVersion", ""))
                    self.synced.add(tag)
                for event in self._events(resource, namespace, version, label):
                    obj = event.get("object") or {}
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if event.get("type") != "BOOKMARK":
                        handle(str(event.get("type")), obj)
                delay = 0.1
            except Gone:
                log.info("watch %s: resourceVersion %s is too old; will list again", tag, version)
                version = ""
            except (TransientError, ApiError, OSError, ValueError, urllib3.exceptions.HTTPError) as exc:
                if self.stop.is_set():
                    return
                log.warning("watch %s failed: %s; will list again in %.1fs", tag, exc, delay)
                version = ""
                self.stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def _events(self, resource: Resource, namespace: str | None, version: str, label: str) -> Iterator[dict[str, Any]]:
        return self.kube.watch(
            resource,
            namespace,
            resource_version=version,
            label_selector=label,
            timeout_seconds=self.settings.watch_timeout_seconds,
        )

    def _on_workflow(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        with self.phases_lock:
            if kind == "DELETED":
                self.phases.pop(key, None)
            else:
                self.phases[key] = str((obj.get("status") or {}).get("phase") or "Pending")
        if kind != "DELETED":
            self.queue.add(("wf", *key))
        cron = (meta.get("labels") or {}).get("workflows.argoproj.io/cron-workflow")
        if cron:
            self.queue.add(("cron", key[0], cron))

    def _on_cron(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if kind != "DELETED":
            self.queue.add(("cron", meta.get("namespace", ""), meta.get("name", "")))

    def _on_owned(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        workflow = (meta.get("labels") or {}).get(WORKFLOW_LABEL)
        if workflow:
            self.queue.add(("wf", meta.get("namespace", ""), workflow))

    def _configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A ConfigMap from the watch cache once the ConfigMap watches have listed; a live GET before."""
        watched = f"configmaps@{namespace if self.settings.namespaces else '*'}"
        if watched not in self.synced or (self.settings.namespaces and namespace not in self.settings.namespaces):
            return self.kube.get(CONFIG_MAPS, namespace, name)
        with self.phases_lock:
            return self.configmaps.get((namespace, name))

    def _on_configmap(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        if name not in {"artifact-repositories", self.settings.reconciler.controller_configmap}:
            return  # only repository ConfigMaps are cached and acted on
        with self.phases_lock:
            if kind == "DELETED":
                self.configmaps.pop((meta.get("namespace", ""), name), None)
            else:
                self.configmaps[(meta.get("namespace", ""), name)] = obj
        if kind == "ADDED" and not self.ready:
            return  # the initial list: workflows are queued by their own watch
        with self.phases_lock:
            running = [k for k, phase in self.phases.items() if phase in {"Pending", "Running"}]
        for ns, wf in running:
            self.queue.add(("wf", ns, wf))

    def _phase_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.phases_lock:
            for phase in self.phases.values():
                counts[phase] = counts.get(phase, 0) + 1
        return counts

    # -- workers ---------------------------------------------------------------------------------------------

    def _worker(self) -> None:
        failures: dict[Key, int] = {}
        while not self.stop.is_set():
            key = self.queue.get()
            if key is None:
                return
            try:
                if not self.leading.is_set():
                    continue  # standby: the leader handles it; leadership change re-queues everything
                kind, namespace, name = key
                started = time.perf_counter()
                if kind == "cron":
                    requeue = self.cron.reconcile(namespace, name).requeue_after
                else:
                    requeue = self.reconciler.reconcile(namespace, name).requeue_after
                self.metrics.reconcile_seconds.labels(kind).observe(time.perf_counter() - started)
                failures.pop(key, None)
                if requeue is not None:
                    self.queue.add_after(key, requeue)
            except (TransientError, ApiError) as exc:
                count = failures[key] = failures.get(key, 0) + 1
                delay = min(0.2 * 2**count, 60.0)
                log.warning("reconcile %s/%s: %s; will try again in %.1fs", key[1], key[2], exc, delay)
                self.queue.add_after(key, delay)
            except Exception:  # a bug must not kill the worker: log it with the key, retry later
                log.exception("reconcile %s/%s crashed; will try again in 30s", key[1], key[2])
                self.queue.add_after(key, 30.0)
            finally:
                self.queue.done(key)

    # -- HTTP: /metrics /healthz /readyz ---------------------------------------------------------------------

    def serve_http(self) -> ThreadingHTTPServer:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    controller.metrics.refresh()
                    body, ctype, code = generate_latest(controller.metrics.registry), CONTENT_TYPE_LATEST, 200
                elif self.path == "/healthz":
                    body, ctype, code = b"ok\n", "text/plain", 200
                elif self.path == "/readyz":
                    ok = controller.ready
                    body, ctype, code = (b"ok\n" if ok else b"watches not synced\n"), "text/plain", 200 if ok else 503
                else:
                    body, ctype, code = b"not found\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: probes hit this every few seconds
                return

        self.http = ThreadingHTTPServer((self.settings.http_host, self.settings.http_port), Handler)
        self._spawn("http", self.http.serve_forever)
        return self.http
