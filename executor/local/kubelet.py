"""A small kubelet: runs batch/v1 Jobs as host processes, one private mount namespace per container.

What it does, as a node with a Job controller would (Kubernetes docs "Pod Lifecycle", "Init Containers",
"Jobs"):
- each created Job gets one Pod `<job>-<5 random chars>`; the Pod stays Pending until the node has a free slot
  (`capacity`, `trellis run --parallelism`), then runs init containers in order (a failing one fails the Pod),
  then all `containers` concurrently (`main` and the `wait` sidecar); init containers with
  `restartPolicy: Always` are native sidecars: started in order, stopped when the regular containers end;
- volumes: emptyDir -> a directory per Pod; hostPath -> that path; persistentVolumeClaim -> the run's directory
  `volumes/pvc/<claimName>` (shared by the run's Pods, made at first use, kept with the run's record until
  `trellis delete` or a run of the same name replaces it);
  secret/configMap -> files from the local objects; volumeMounts
  (with subPath) are bind mounts in the container's namespace; every container gets a private /tmp (so
  `/tmp/output` of one step never collides with another step or the host), a private /dev with its
  termination-message file bound at `terminationMessagePath`, and a fresh /proc;
- env with `$(VAR)` expansion (also in command/args), valueFrom secretKeyRef/configMapKeyRef (local objects),
  fieldRef (metadata.name/namespace/uid/labels/annotations, spec.nodeName/serviceAccountName, status.podIP);
- `activeDeadlineSeconds` of the Pod (Pod Failed, reason DeadlineExceeded) and of the Job (Job condition Failed,
  reason DeadlineExceeded): the whole process tree is killed (SIGTERM, then SIGKILL after the grace period);
- stdout/stderr of each container go to `<pod dir>/logs/<container>.log`; termination messages (max 4096
  bytes; FallbackToLogsOnError) land in the container status as the real kubelet writes them;
- readiness: Pod `status.podIP` is 127.0.0.1 (containers share the host's network); a container is `ready` once
  started, or, with a `readinessProbe`, once the probe passes (exec: the command in the container's sandbox, or
  `<engine> exec` with --runtime; httpGet: a GET to 127.0.0.1:port answered 200-399; tcpSocket: a connection),
  tried after `initialDelaySeconds` and then every `periodSeconds` (at most 1 s apart here) until it passes;
- the local main-exit channel (docs/architecture.md): when the Pod has the `trellis-local` emptyDir, a FIFO
  `main.exit` is made there before `wait` starts, `main`'s stdout is also copied to `main.stdout` there, and when
  `main` ends its exit code is written to the FIFO as decimal text.

The image is ignored: commands run from the host's own filesystem (the root is the host's, bound read-write).
`python` resolves to `python3` when the host has no `python`, and `trellis-exec` to this installation
(`<sys.executable> -m executor.pod.main`), through a shim directory first on PATH. With `settings.engine`
(`trellis run --runtime podman|docker`) the user's containers run in that engine with their images instead
(executor/local/engine.py); Trellis's own `trellis-exec` containers stay in the sandbox.

Job and Pod objects carry Kubernetes-shaped status (phase, conditions, init/containerStatuses with
state.terminated.{exitCode,reason,message,startedAt,finishedAt}) so executor.observe.observe_job reads them as it
reads the cluster's.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import functools
import os
import random
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from executor.local.engine import (
    ENGINE_EXIT_CODES,
    ContainerEngine,
    EngineContainer,
    PullFailure,
    engine_error_line,
    env_file_text,
    pull_policy,
    security_flags,
)
from executor.local.sandbox import Mount, ProcessSpec, Sandbox

MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_BYTES = 2048
FALLBACK_LOG_LINES = 80
LOCAL_CHANNEL_VOLUME = "trellis-local"
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
DEFAULT_GRACE_SECONDS = 30.0
POD_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
JOB_DEADLINE_MESSAGE = "Job was active longer than specified deadline"
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"

Clock = Callable[[], datetime]
LogSink = Callable[[str, str, str], None]  # (job name, container name, line without newline)


def now_utc() -> datetime:
    return datetime.now(UTC)


def k8s_time(t: datetime) -> str:
    """RFC 3339 with second precision, as metav1.Time serialises."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LocalObjects:
    """Secrets and ConfigMaps the kubelet resolves references against (`trellis run --secrets FILE`)."""

    secrets: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class KubeletSettings:
    root: Path  # this run's directory: pods/<pod>/..., volumes/pvc/<claim>/, bin/ (shims)
    sandbox: Sandbox
    host_env: Mapping[str, str]  # PATH, HOME, LANG... given to every container before its own env
    objects: LocalObjects = field(default_factory=LocalObjects)
    capacity: int = 1  # Pods running at once
    namespace: str = "default"
    node_name: str = "localhost"
    python: str = sys.executable
    # Host paths every container must see at the same path even when they lie under the private /tmp (the
    # Python installation, the local artifact repository).
    shared_paths: Sequence[str] = ()
    max_grace_seconds: float = DEFAULT_GRACE_SECONDS
    # `--runtime podman|docker`: the user's containers run in this engine, Trellis's own (`trellis-exec`) in the
    # sandbox (executor/local/engine.py).
    engine: ContainerEngine | None = None


@dataclass(frozen=True)
class ContainerTiming:
    """Precise start/finish of a container (the objects carry Kubernetes' whole seconds)."""

    started: float
    finished: float | None


class ContainerConfigError(Exception):
    """The container cannot start (a missing Secret, a bad mount): the Pod fails with this message."""


class _PodRun:
    def __init__(self, job: dict[str, Any], pod: dict[str, Any], directory: Path) -> None:
        self.job = job
        self.pod = pod
        self.dir = directory
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.engine_names: dict[str, str] = {}  # container name -> the engine's container name (--runtime)
        self.killed_reason = ""  # "", "DeadlineExceeded" (pod), "JobDeadlineExceeded", "Deleted"
        self.kill_event = threading.Event()
        self.done = threading.Event()
        self.timings: dict[str, ContainerTiming] = {}
        self.finished_containers: set[str] = set()
        self.version = 0  # bumped on every change of the Job or Pod objects
        self.thread: threading.Thread | None = None


def _random_suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


_CLAIM_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known variables are replaced, unknown references stay as written, `$$` is
    an escaped `$`."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR_REF.sub(one, text)


def _labels_selector_value(obj: Mapping[str, Any], path: str) -> str:
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return str(((obj.get("metadata") or {}).get(m.group(1)) or {}).get(m.group(2), ""))
    return ""


class Kubelet:
    """Runs Jobs; `on_change()` is called (from worker threads) whenever a Job or Pod status changes."""

    def __init__(
        self,
        settings: KubeletSettings,
        *,
        on_change: Callable[[], None] = lambda: None,
        log_sink: LogSink | None = None,
        clock: Clock = now_utc,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._on_change = on_change
        self._log_sink = log_sink
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._runs: dict[str, _PodRun] = {}  # by Job name
        self._slots = threading.Semaphore(max(1, settings.capacity))
        self._dying: list[_PodRun] = []  # killed Pods (deleted ones are no longer in _runs): shutdown ends them
        settings.root.mkdir(parents=True, exist_ok=True)
        self._bin = settings.root / "bin"
        self._write_shims()

    # ---------------------------------------------------------------------------------------------------------
    # API, as the Job controller and the API server would offer it
    # ---------------------------------------------------------------------------------------------------------

    def create_job(self, job: Mapping[str, Any]) -> bool:
        """Start a Job; False when a Job of that name exists already (AlreadyExists: nothing to do)."""
        name = str((job.get("metadata") or {}).get("name") or "")
        if not name:
            raise ValueError("Job has no metadata.name")
        with self._lock:
            if name in self._runs:
                return False
            now = self._clock()
            job_obj: dict[str, Any] = copy.deepcopy(dict(job))
            job_obj.setdefault("apiVersion", "batch/v1")
            job_obj.setdefault("kind", "Job")
            meta = job_obj.setdefault("metadata", {})
            meta.setdefault("namespace", self.settings.namespace)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = k8s_time(now)
            job_obj["status"] = {"active": 1, "startTime": k8s_time(now), "ready": 0, "terminating": 0}
            pod = self._pod_for(job_obj)
            directory = self.settings.root / "pods" / pod["metadata"]["name"]
            run = _PodRun(job_obj, pod, directory)
            self._runs[name] = run
            run.thread = threading.Thread(target=self._run_pod, args=(run,), name=f"pod-{name}", daemon=True)
            run.thread.start()
        self._on_change()
        return True

    def delete_job(self, name: str, *, reason: str = "Deleted") -> bool:
        """Kill the Job's Pod (SIGTERM, then SIGKILL after the grace period) and forget the Job."""
        with self._lock:
            run = self._runs.pop(name, None)
        if run is None:
            return False
        self._kill(run, reason or "Deleted")
        self._on_change()
        return True

    def get_job(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            run = self._runs.get(name)
            return copy.deepcopy(run.job) if run else None

    def versions(self) -> dict[str, int]:
        """Job name -> a number that changes whenever that Job or its Pod changes (cheap: no copies)."""
        with self._lock:
            return {name: run.version for name, run in self._runs.items()}

    def snapshot(self, job_name: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The Job and its Pods, taken together: metadata and status are copies; `spec` is shared and must be
        treated as read-only (the kubelet never changes a spec after creation)."""
        with self._lock:
            run = self._runs.get(job_name)
            if run is None:
                return None
            return _view(run.job), [_view(run.pod)]

    def pods_of(self, job_name: str) -> list[dict[str, Any]]:
        with self._lock:
            run = self._runs.get(job_name)
            return [copy.deepcopy(run.pod)] if run else []

    def log_paths(self, job_name: str) -> dict[str, Path]:
        """container name -> its log file, for the Job's Pod (files exist once the container started)."""
        with self._lock:
            run = self._runs.get(job_name)
            if run is None:
                return {}
            return {name: run.dir / "logs" / f"{name}.log" for name in _container_names(run.pod)}

    def timings(self, job_name: str) -> dict[str, ContainerTiming]:
        with self._lock:
            run = self._runs.get(job_name)
            return dict(run.timings) if run else {}

    def wait_job(self, name: str, timeout: float | None = None) -> bool:
        """Block until the Job's Pod ended (tests and the benchmark use this; the runner uses on_change)."""
        with self._lock:
            run = self._runs.get(name)
        return True if run is None else run.done.wait(timeout)

    def shutdown(self, *, reason: str = "Deleted") -> None:
        """Kill every Pod still running and wait for them. Pods deleted earlier and still in their grace period
        are killed at once (the run is over; the host sandbox's processes die with this process the same way), so
        no engine container outlives the run."""
        with self._lock:
            runs = list(self._runs.values())
            dying = [run for run in self._dying if not run.done.is_set() and run not in runs]
        for run in runs:
            if not run.done.is_set():
                self._kill(run, reason)
        for run in dying:
            for name in list(run.processes):
                self._signal(run, name, signal.SIGKILL)
        for run in [*runs, *dying]:
            if run.thread is not None:
                run.thread.join()

    # ---------------------------------------------------------------------------------------------------------
    # Objects
    # ---------------------------------------------------------------------------------------------------------

    def _pod_for(self, job: Mapping[str, Any]) -> dict[str, Any]:
        jmeta = job["metadata"]
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        name = f"{jmeta['name'][:57]}-{_random_suffix(self._rng)}"
        labels = {
            **(tmeta.get("labels") or {}),
            "batch.kubernetes.io/controller-uid": jmeta["uid"],
            "batch.kubernetes.io/job-name": jmeta["name"],
            "controller-uid": jmeta["uid"],
            "job-name": jmeta["name"],
        }
        spec = template.get("spec") or {}
        spec["nodeName"] = self.settings.node_name
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": jmeta["namespace"],
                "uid": str(uuid.uuid4()),
                "labels": labels,
                "annotations": dict(tmeta.get("annotations") or {}),
                "creationTimestamp": jmeta["creationTimestamp"],
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": jmeta["name"],
                        "uid": jmeta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": {
                "phase": "Pending",
                "conditions": [_condition("PodScheduled", "False", self._clock(), reason="Unschedulable")],
                "qosClass": "BestEffort",
            },
        }

    def _update(self, run: _PodRun, change: Callable[[], None]) -> None:
        with self._lock:
            change()
            run.version += 1
        self._on_change()

    # ---------------------------------------------------------------------------------------------------------
    # The Pod's life
    # ---------------------------------------------------------------------------------------------------------

    def _run_pod(self, run: _PodRun) -> None:
        timers: list[threading.Timer] = []
        slot = False
        try:
            job_deadline = (run.job.get("spec") or {}).get("activeDeadlineSeconds")
            if job_deadline is not None:
                timers.append(self._timer(float(job_deadline), run, "JobDeadlineExceeded"))
            while not (slot := self._slots.acquire(timeout=0.5)):
                if run.kill_event.is_set():
                    break
            if run.kill_event.is_set():
                return
            start = self._clock()

            def scheduled() -> None:
                st = run.pod["status"]
                st["conditions"] = [_condition("PodScheduled", "True", start)]
                st["startTime"] = k8s_time(start)
                st["hostIP"] = st["podIP"] = "127.0.0.1"

            self._update(run, scheduled)
            pod_deadline = (run.pod.get("spec") or {}).get("activeDeadlineSeconds")
            if pod_deadline is not None:
                timers.append(self._timer(float(pod_deadline), run, "DeadlineExceeded"))
            try:
                self._prepare(run)
            except ContainerConfigError as exc:
                self._fail_pod(run, "CreateContainerConfigError", str(exc))
                return
            self._run_containers(run)
        except Exception as exc:  # a bug here must fail the Job visibly, not hang the run
            self._fail_pod(run, "KubeletError", f"local kubelet error: {type(exc).__name__}: {exc}")
        finally:
            for t in timers:
                t.cancel()
            if slot:
                self._slots.release()
            self._finish_job(run)
            run.done.set()
            self._on_change()

    def _timer(self, seconds: float, run: _PodRun, reason: str) -> threading.Timer:
        t = threading.Timer(max(0.0, seconds), self._kill, args=(run, reason))
        t.daemon = True
        t.start()
        return t

    def _run_containers(self, run: _PodRun) -> None:
        spec = run.pod["spec"]
        sidecars: list[str] = []
        init_statuses: list[dict[str, Any]] = [_waiting(c["name"]) for c in spec.get("initContainers") or []]
        statuses: list[dict[str, Any]] = [_waiting(c["name"]) for c in spec.get("containers") or []]
        self._update(
            run,
            lambda: run.pod["status"].update({"initContainerStatuses": init_statuses, "containerStatuses": statuses}),
        )
        for i, c in enumerate(spec.get("initContainers") or []):
            if run.kill_event.is_set():
                return
            if c.get("restartPolicy") == "Always":
                self._start(run, c, init_statuses[i])
                sidecars.append(c["name"])
                continue
            code = self._run_to_end(run, c, init_statuses[i])
            if code != 0:
                return
        if run.kill_event.is_set():
            return
        self._update(run, lambda: run.pod["status"].update({"phase": "Running"}))
        threads = []
        for i, c in enumerate(spec.get("containers") or []):
            t = threading.Thread(target=self._run_to_end, args=(run, c, statuses[i]), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        for name in sidecars:
            self._signal(run, name, signal.SIGTERM)
        for name in sidecars:
            proc = run.processes.get(name)
            if proc is not None:
                proc.wait()

    def _start(self, run: _PodRun, c: Mapping[str, Any], status: dict[str, Any]) -> None:
        """Start a native sidecar and record its end in the background."""

        def body() -> None:
            self._run_to_end(run, c, status)

        threading.Thread(target=body, daemon=True).start()

    def _run_to_end(self, run: _PodRun, c: Mapping[str, Any], status: dict[str, Any]) -> int:
        name = c["name"]
        logs = run.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        term_path = run.dir / "termination" / name
        started = self._clock()
        t0 = time.monotonic()
        engine = None if _trellis_own(c) else self.settings.engine
        try:
            if engine is not None:
                container = self._engine_container(run, c, term_path, engine)
                argv, env = engine.run_argv(container), dict(engine.environ)
            else:
                spec = self._process_spec(run, c, term_path)
                argv, env = self.settings.sandbox.argv(spec), dict(spec.env)
        except ContainerConfigError as exc:
            log_path.write_text(f"{exc}\n")
            self._terminate_status(run, status, 128, "CreateContainerConfigError", str(exc), started)
            return 128
        if run.kill_event.is_set():
            return 137
        if engine is not None:

            def pulling(proc: subprocess.Popen[bytes]) -> None:
                with self._lock:
                    run.processes[name] = proc  # a kill stops the pull

            failure = engine.ensure_image(container.image, container.pull_policy, started=pulling)
            if run.kill_event.is_set():
                self._terminate_status(run, status, 137, "Error", "", started)
                return 137
            if failure is not None:
                return self._image_failed(run, status, failure, log_path)
            if container.env_file:
                _write_private(Path(container.env_file), env_file_text(container.env))
        is_main = name == "main"
        channel = self._channel_dir(run) if is_main else None
        with open(log_path, "ab") as log:
            extra = open(channel / "main.stdout", "ab") if channel else None  # noqa: SIM115 - closed below
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE if is_main or self._log_sink else log,
                    stderr=subprocess.PIPE if is_main or self._log_sink else log,
                    env=env,
                    start_new_session=True,
                    cwd="/",
                )
            except OSError as exc:
                if extra:
                    extra.close()
                if engine is not None and container.env_file:
                    Path(container.env_file).unlink(missing_ok=True)
                msg = f"cannot start the {'container engine' if engine else 'sandbox'}: {exc}"
                self._terminate_status(run, status, 128, "StartError", msg, started)
                return 128
            with self._lock:
                run.processes[name] = proc
                if engine is not None:
                    run.engine_names[name] = container.name
                run.timings[name] = ContainerTiming(t0, None)
            probe = c.get("readinessProbe")
            self._update(
                run,
                lambda: status.update(
                    {"state": {"running": {"startedAt": k8s_time(started)}}, "started": True, "ready": not probe}
                ),
            )
            if isinstance(probe, Mapping):
                threading.Thread(
                    target=self._probe_readiness, args=(run, c, status, probe, proc), name=f"probe-{name}", daemon=True
                ).start()
            if run.kill_event.is_set():
                self._signal(run, name, signal.SIGKILL)
            readers = []
            lock = threading.Lock()
            if proc.stdout is not None and proc.stderr is not None:
                readers = [
                    threading.Thread(target=self._pump, args=(run, name, proc.stdout, log, extra, lock), daemon=True),
                    threading.Thread(target=self._pump, args=(run, name, proc.stderr, log, None, lock), daemon=True),
                ]
                for r in readers:
                    r.start()
            code = proc.wait()
            if code < 0:  # the sandbox itself was killed: report it as runtimes do (143 = SIGTERM, 137 = SIGKILL)
                code = 128 - code
            for r in readers:
                r.join()
            if extra:
                extra.close()
        if engine is not None:
            if container.env_file:
                Path(container.env_file).unlink(missing_ok=True)  # read when the container was created
            if run.kill_event.is_set():
                engine.remove(container.name)  # the client may have been killed before its container existed
        finished = self._clock()
        with self._lock:
            run.timings[name] = ContainerTiming(t0, time.monotonic())
        if channel is not None:
            self._report_main_exit(run, channel, code)
        reason = "Completed" if code == 0 else "Error"
        message = _termination_message(c, term_path, log_path, code)
        if engine is not None and code in ENGINE_EXIT_CODES and not run.kill_event.is_set():
            reason, message = _engine_start_error(engine, log_path, reason, message)
        self._terminate_status(run, status, code, reason, message, started, finished)
        return code

    def _probe_readiness(
        self,
        run: _PodRun,
        c: Mapping[str, Any],
        status: dict[str, Any],
        probe: Mapping[str, Any],
        proc: subprocess.Popen[bytes],
    ) -> None:
        """Run the container's readinessProbe until it passes once, then mark the container ready (a daemon step is
        daemoned then). Stops when the container ends or the Pod is killed."""
        delay = float(probe.get("initialDelaySeconds") or 0)
        period = min(float(probe.get("periodSeconds") or 10), 1.0)  # sooner than a node would: nothing to spare
        timeout = float(probe.get("timeoutSeconds") or 1)
        if run.kill_event.wait(delay):
            return
        while proc.poll() is None and not run.kill_event.is_set():
            if self._probe_passes(run, c, probe, timeout):
                if proc.poll() is None and str(c["name"]) not in run.finished_containers:
                    self._update(run, lambda: status.update({"ready": True}))
                return
            if run.kill_event.wait(period):
                return

    def _probe_passes(self, run: _PodRun, c: Mapping[str, Any], probe: Mapping[str, Any], timeout: float) -> bool:
        try:
            if isinstance(probe.get("exec"), Mapping):
                command = [str(x) for x in (probe["exec"].get("command") or [])]
                engine_name = run.engine_names.get(str(c["name"]))
                if engine_name is not None and self.settings.engine is not None:
                    argv, env = [self.settings.engine.executable, "exec", engine_name, *command], None
                else:
                    probe_c = {**c, "command": command, "args": []}
                    spec = self._process_spec(run, probe_c, run.dir / "probes" / str(c["name"]))
                    argv, env = self.settings.sandbox.argv(spec), dict(spec.env)
                done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, cwd="/", check=False)
                return done.returncode == 0
            if isinstance(probe.get("httpGet"), Mapping):
                get = probe["httpGet"]
                port = int(get.get("port"))
                path = str(get.get("path") or "/")
                scheme = "https" if str(get.get("scheme") or "HTTP").upper() == "HTTPS" else "http"
                request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}{path}")
                context = ssl._create_unverified_context() if scheme == "https" else None  # the kubelet skips it too
                with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
                    return 200 <= int(answer.status) < 400
            if isinstance(probe.get("tcpSocket"), Mapping):
                with socket.create_connection(("127.0.0.1", int(probe["tcpSocket"].get("port"))), timeout=timeout):
                    return True
        except (OSError, ValueError, TypeError, subprocess.TimeoutExpired, ContainerConfigError):
            return False
        return True  # a probe kind the local kubelet does not run (grpc): ready, as without a probe

    def _image_failed(self, run: _PodRun, status: dict[str, Any], failure: PullFailure, log_path: Path) -> int:
        """The image cannot be had: the container waits with the pull reason, as a real kubelet shows it, and the
        Pod fails with it (a cluster's Pod would stay Pending; a local run has nobody to fix the image)."""
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{failure.message}\n")
        waiting = {"waiting": {"reason": failure.reason, "message": failure.message}}
        self._update(run, lambda: status.update({"state": waiting}))
        self._fail_pod(run, failure.reason, f"{failure.reason}: {failure.message}")
        run.finished_containers.add(str(status["name"]))
        channel = self._channel_dir(run) if status["name"] == "main" else None
        if channel is not None:
            self._report_main_exit(run, channel, 128)  # `wait` must end too; the Pod's message says why
        return 128

    def _pump(
        self, run: _PodRun, name: str, stream: IO[bytes], log: IO[bytes], extra: IO[bytes] | None, lock: threading.Lock
    ) -> None:
        job_name = run.job["metadata"]["name"]
        for line in iter(stream.readline, b""):
            with lock:
                log.write(line)
                log.flush()
                if extra is not None:
                    extra.write(line)
                    extra.flush()
            if self._log_sink is not None:
                self._log_sink(job_name, name, line.decode("utf-8", "replace").rstrip("\r\n"))
        stream.close()

    def _terminate_status(
        self,
        run: _PodRun,
        status: dict[str, Any],
        code: int,
        reason: str,
        message: str,
        started: datetime,
        finished: datetime | None = None,
    ) -> None:
        end = finished or self._clock()
        term: dict[str, Any] = {
            "exitCode": code,
            "reason": reason,
            "startedAt": k8s_time(started),
            "finishedAt": k8s_time(end),
            "containerID": f"trellis-local://{run.pod['metadata']['name']}/{status['name']}",
        }
        if message:
            term["message"] = message
        run.finished_containers.add(str(status["name"]))
        self._update(run, lambda: status.update({"state": {"terminated": term}, "ready": False, "started": False}))

    def _channel_dir(self, run: _PodRun) -> Path | None:
        for v in run.pod["spec"].get("volumes") or []:
            if v.get("name") == LOCAL_CHANNEL_VOLUME:
                return run.dir / "volumes" / LOCAL_CHANNEL_VOLUME
        return None

    def _report_main_exit(self, run: _PodRun, channel: Path, code: int) -> None:
        """Write main's exit code into the FIFO `wait` reads; never blocks past `wait`'s own end."""
        fifo = channel / "main.exit"
        if "wait" not in _container_names(run.pod):
            return
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    return
            # No reader yet: `wait` has not started or not opened the FIFO. Wait for it, or for its end.
            wait_proc = run.processes.get("wait")
            if (wait_proc is not None and wait_proc.poll() is not None) or run.kill_event.is_set():
                return
            if wait_proc is None and "wait" in run.finished_containers:
                return  # `wait` could not start at all
            run.kill_event.wait(0.005)
        try:
            os.set_blocking(fd, True)
            os.write(fd, f"{code}\n".encode())
        except OSError:
            pass  # `wait` went away: its own status tells what happened
        finally:
            os.close(fd)

    def _fail_pod(self, run: _PodRun, reason: str, message: str) -> None:
        def change() -> None:
            st = run.pod["status"]
            st["phase"] = "Failed"
            st["reason"] = reason
            st["message"] = message

        self._update(run, change)

    def _finish_job(self, run: _PodRun) -> None:
        def change() -> None:
            pod_status = run.pod["status"]
            now = self._clock()
            if run.killed_reason == "DeadlineExceeded":
                pod_status.update(phase="Failed", reason="DeadlineExceeded", message=POD_DEADLINE_MESSAGE)
            elif run.killed_reason and pod_status.get("phase") not in {"Succeeded", "Failed"}:
                pod_status["phase"] = "Failed"
            if pod_status.get("phase") not in {"Succeeded", "Failed"}:
                regular = pod_status.get("containerStatuses") or []
                inits = pod_status.get("initContainerStatuses") or []
                codes = [((s.get("state") or {}).get("terminated") or {}).get("exitCode") for s in regular]
                init_failed = any(
                    ((s.get("state") or {}).get("terminated") or {}).get("exitCode") not in (None, 0) for s in inits
                )
                ok = regular and all(code == 0 for code in codes) and not init_failed
                pod_status["phase"] = "Succeeded" if ok else "Failed"
            pod_status["conditions"] = [
                _condition("PodScheduled", "True", now),
                _condition("Initialized", "True", now),
                _condition("Ready", "False", now, reason="PodCompleted"),
                _condition("ContainersReady", "False", now, reason="PodCompleted"),
            ]
            js = run.job["status"]
            js["active"] = 0
            js["ready"] = 0
            t = k8s_time(now)
            if run.killed_reason == "JobDeadlineExceeded":
                js["failed"] = 1
                js["conditions"] = _job_failed("DeadlineExceeded", JOB_DEADLINE_MESSAGE, t)
            elif pod_status["phase"] == "Succeeded":
                js["succeeded"] = 1
                js["completionTime"] = t
                js["conditions"] = [
                    _job_condition(
                        "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", t
                    ),
                    _job_condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", t),
                ]
            else:
                js["failed"] = 1
                js["conditions"] = _job_failed("BackoffLimitExceeded", BACKOFF_MESSAGE, t)

        with self._lock:
            change()
            run.version += 1

    # ---------------------------------------------------------------------------------------------------------
    # Killing
    # ---------------------------------------------------------------------------------------------------------

    def _kill(self, run: _PodRun, reason: str) -> None:
        with self._lock:
            if run.done.is_set() or run.kill_event.is_set():
                return
            run.killed_reason = reason
            run.kill_event.set()
            names = list(run.processes)
            self._dying = [r for r in self._dying if not r.done.is_set()] + [run]
        if reason == "DeadlineExceeded":
            # The Pod fails at its deadline, as the kubelet reports it, before its containers end (which may take
            # the grace period): whoever looks now sees why, not the exit code of a killed container.
            self._update(run, lambda: run.pod["status"].update(reason=reason, message=POD_DEADLINE_MESSAGE))
        for name in names:
            self._signal(run, name, signal.SIGTERM)
        grace = (run.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        grace_s = min(float(DEFAULT_GRACE_SECONDS if grace is None else grace), self.settings.max_grace_seconds)

        def force() -> None:
            if not run.done.wait(grace_s):
                with self._lock:
                    names = list(run.processes)
                for name in names:
                    self._signal(run, name, signal.SIGKILL)

        threading.Thread(target=force, daemon=True).start()

    def _signal(self, run: _PodRun, name: str, sig: signal.Signals) -> None:
        proc = run.processes.get(name)
        if proc is None or name in run.finished_containers:
            return
        engine_name = run.engine_names.get(name)
        if proc.poll() is not None and engine_name is not None:
            return  # the engine's client ended; `_run_to_end` removes its container
        # A sandbox's process group can outlive its leader (a sandbox killed while it was starting leaves its
        # inner processes holding the log pipes): signal the group until the container is recorded as ended.
        engine = self.settings.engine
        if engine_name is not None and engine is not None:
            # Killing the engine's client would leave its container running: signal the container by name.
            if sig == signal.SIGTERM:
                # `stop` waits out the grace period (then the engine sends SIGKILL): in the background.
                threading.Thread(
                    target=self._stop_in_engine, args=(run, proc, engine, engine_name), daemon=True
                ).start()
                return
            if engine.kill(engine_name, sig) and sig != signal.SIGKILL:
                return
            if proc.poll() is not None:
                return
            # No container yet (the client is still creating it) or SIGKILL: stop the client too; `_run_to_end`
            # removes whatever container it left once it has ended.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def _stop_in_engine(
        self, run: _PodRun, client: subprocess.Popen[bytes], engine: ContainerEngine, engine_name: str
    ) -> None:
        grace = (run.pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        grace_s = min(float(DEFAULT_GRACE_SECONDS if grace is None else grace), self.settings.max_grace_seconds)
        if not engine.stop(engine_name, grace_s) and client.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(client.pid, signal.SIGTERM)  # no container yet: the client gives up creating it

    # ---------------------------------------------------------------------------------------------------------
    # Volumes, env, the process
    # ---------------------------------------------------------------------------------------------------------

    def _prepare(self, run: _PodRun) -> None:
        (run.dir / "tmp").mkdir(parents=True, exist_ok=True)
        (run.dir / "termination").mkdir(exist_ok=True)
        (run.dir / "logs").mkdir(exist_ok=True)
        for v in run.pod["spec"].get("volumes") or []:
            path = self._volume_path(run, v)
            if v.get("name") == LOCAL_CHANNEL_VOLUME:
                os.mkfifo(path / "main.exit", 0o600)
                (path / "main.stdout").touch()

    def _volume_path(self, run: _PodRun, v: Mapping[str, Any]) -> Path:
        name = str(v.get("name"))
        own = run.dir / "volumes" / name
        if "hostPath" in v:
            host = Path(str((v["hostPath"] or {}).get("path", "")))
            kind = (v["hostPath"] or {}).get("type") or ""
            if kind in {"DirectoryOrCreate", ""} and not host.exists():
                host.mkdir(parents=True, exist_ok=True)
            return host
        if "persistentVolumeClaim" in v:
            claim = str((v["persistentVolumeClaim"] or {}).get("claimName") or "")
            if not _CLAIM_NAME.fullmatch(claim) or len(claim) > 253:  # never a path outside the run's directory
                raise ContainerConfigError(
                    f'volume "{name}": persistentVolumeClaim.claimName {claim!r} is not a valid claim name; '
                    "use a DNS-1123 subdomain such as my-claim"
                )
            shared = self.settings.root / "volumes" / "pvc" / claim
            shared.mkdir(parents=True, exist_ok=True)
            return shared
        own.mkdir(parents=True, exist_ok=True)
        if "secret" in v:
            src = v["secret"] or {}
            self._materialise(own, self._secret(str(src.get("secretName")), bool(src.get("optional"))), src)
        elif "configMap" in v:
            src = v["configMap"] or {}
            data = self._config_map(str(src.get("name")), bool(src.get("optional")))
            self._materialise(own, {k: val.encode() for k, val in data.items()}, src)
        return own

    @staticmethod
    def _materialise(directory: Path, data: Mapping[str, bytes], src: Mapping[str, Any]) -> None:
        items = src.get("items")
        pairs = [(i["key"], i.get("path", i["key"])) for i in items] if items else [(k, k) for k in data]
        for key, rel in pairs:
            if key in data:
                target = directory / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data[key])

    def _secret(self, name: str, optional: bool) -> Mapping[str, bytes]:
        found = self.settings.objects.secrets.get(name)
        if found is None:
            if optional:
                return {}
            raise ContainerConfigError(
                f'secret "{name}" not found; give it to the local runner with --secrets FILE'
                " (a YAML file of Secret manifests)"
            )
        return found

    def _config_map(self, name: str, optional: bool) -> Mapping[str, str]:
        found = self.settings.objects.config_maps.get(name)
        if found is None:
            if optional:
                return {}
            raise ContainerConfigError(
                f'configmap "{name}" not found; give it to the local runner with --secrets FILE'
                " (ConfigMap manifests are read from the same file)"
            )
        return found

    def _env(self, run: _PodRun, c: Mapping[str, Any], *, host: bool = True) -> dict[str, str]:
        """The container's environment; `host=False` (a container engine): only what the pod spec defines."""
        env: dict[str, str] = {}
        if host:
            env.update(self.settings.host_env)
            env["PATH"] = f"{self._bin}:{env.get('PATH', '/usr/local/bin:/usr/bin:/bin')}"
            env["HOSTNAME"] = run.pod["metadata"]["name"]
        for src in c.get("envFrom") or []:
            prefix = str(src.get("prefix") or "")
            if "secretRef" in src:
                ref = src["secretRef"] or {}
                for k, v in self._secret(str(ref.get("name")), bool(ref.get("optional"))).items():
                    env[prefix + k] = v.decode("utf-8", "replace")
            if "configMapRef" in src:
                ref = src["configMapRef"] or {}
                for k, s in self._config_map(str(ref.get("name")), bool(ref.get("optional"))).items():
                    env[prefix + k] = s
        for item in c.get("env") or []:
            name = str(item.get("name"))
            if "value" in item or "valueFrom" not in item:
                env[name] = expand_vars(str(item.get("value") or ""), env)
                continue
            value = self._value_from(run, c, item["valueFrom"] or {}, name)
            if value is not None:
                env[name] = value
        return env

    def _value_from(self, run: _PodRun, c: Mapping[str, Any], src: Mapping[str, Any], name: str) -> str | None:
        if "secretKeyRef" in src:
            ref = src["secretKeyRef"] or {}
            data = self._secret(str(ref.get("name")), bool(ref.get("optional")))
            if ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                raise ContainerConfigError(
                    f"couldn't find key {ref.get('key')} in Secret {self.settings.namespace}/{ref.get('name')}"
                    f" (env {name} of container {c.get('name')})"
                )
            return data[str(ref["key"])].decode("utf-8", "replace")
        if "configMapKeyRef" in src:
            ref = src["configMapKeyRef"] or {}
            cm = self._config_map(str(ref.get("name")), bool(ref.get("optional")))
            if ref.get("key") not in cm:
                if ref.get("optional"):
                    return None
                raise ContainerConfigError(
                    f"couldn't find key {ref.get('key')} in ConfigMap {self.settings.namespace}/{ref.get('name')}"
                )
            return cm[str(ref["key"])]
        if "fieldRef" in src:
            path = str((src["fieldRef"] or {}).get("fieldPath", ""))
            meta = run.pod["metadata"]
            simple = {
                "metadata.name": meta["name"],
                "metadata.namespace": meta["namespace"],
                "metadata.uid": meta["uid"],
                "spec.nodeName": self.settings.node_name,
                "spec.serviceAccountName": str(run.pod["spec"].get("serviceAccountName") or "default"),
                "status.podIP": "127.0.0.1",
                "status.hostIP": "127.0.0.1",
                "status.podIPs": "127.0.0.1",
                "status.hostIPs": "127.0.0.1",
            }
            return simple[path] if path in simple else _labels_selector_value(run.pod, path)
        if "resourceFieldRef" in src:
            ref = src["resourceFieldRef"] or {}
            resource = str(ref.get("resource", ""))
            kind, _, res = resource.partition(".")
            value = ((c.get("resources") or {}).get(kind) or {}).get(res)
            if value is None and res == "cpu":
                value = str(os.cpu_count() or 1)
            return str(value if value is not None else 0)
        return None

    def _process_spec(self, run: _PodRun, c: Mapping[str, Any], term_path: Path) -> ProcessSpec:
        env = self._env(run, c)
        command = [expand_vars(str(x), env) for x in c.get("command") or []]
        args = [expand_vars(str(x), env) for x in c.get("args") or []]
        argv = command + args if command else args
        if not argv:
            raise ContainerConfigError(
                f"container {c.get('name')!r} has neither command nor args: the local runner ignores images"
                f" ({c.get('image', 'no image')}), so it cannot use the image's entrypoint; set `command`"
            )
        if argv[0] == "trellis-exec":
            argv = [*trellis_exec_argv(self.settings.python), *argv[1:]]
        term_path.parent.mkdir(parents=True, exist_ok=True)
        term_path.write_bytes(b"")
        mounts = [Mount(str(run.dir / "tmp"), "/tmp")]
        mounts += [Mount(p, p, read_only=True) for p in self._shared_under_tmp()]
        mounts.append(Mount(str(term_path), str(c.get("terminationMessagePath") or "/dev/termination-log")))
        mounts += self._volume_mounts(run, c)
        cwd = str(c.get("workingDir") or "/tmp")
        if _under_tmp(cwd):
            (run.dir / "tmp" / os.path.relpath(cwd, "/tmp")).mkdir(parents=True, exist_ok=True)
        elif not os.path.isdir(cwd) and not any(_inside(cwd, m.target) for m in mounts):
            # A missing working directory is created, as container runtimes do: here a private one.
            workdir = run.dir / "workdirs" / str(c.get("name"))
            workdir.mkdir(parents=True, exist_ok=True)
            mounts.append(Mount(str(workdir), cwd))
        return ProcessSpec(argv=argv, env=env, cwd=cwd, mounts=mounts)

    def _volume_mounts(
        self, run: _PodRun, c: Mapping[str, Any], *, world_writable_empty_dirs: bool = False
    ) -> list[Mount]:
        """The container's volumeMounts as host bind mounts (subPath made on first use, readOnly honoured)."""
        volumes = {str(v.get("name")): v for v in run.pod["spec"].get("volumes") or []}
        mounts: list[Mount] = []
        for vm in c.get("volumeMounts") or []:
            vname = str(vm.get("name"))
            if vname not in volumes:
                raise ContainerConfigError(f"volumeMount {vname!r} of container {c.get('name')!r}: no such volume")
            source = self._volume_path(run, volumes[vname])
            if world_writable_empty_dirs and "emptyDir" in volumes[vname]:
                source.chmod(0o777)  # as Kubernetes makes them, so the image's (any) user can write outputs
            sub = str(vm.get("subPath") or "")
            if sub:
                source = source / sub
                if not source.exists():
                    source.mkdir(parents=True)
            mounts.append(Mount(str(source), str(vm.get("mountPath")), read_only=_read_only(vm, volumes[vname])))
        return mounts

    def _engine_container(
        self, run: _PodRun, c: Mapping[str, Any], term_path: Path, engine: ContainerEngine
    ) -> EngineContainer:
        """How `c` runs in the container engine: the pod spec's env only, `$(VAR)` expanded in command and args,
        volumes and the termination-message file bound in (emptyDirs world-writable, as Kubernetes makes them,
        so a non-root user can write its outputs)."""
        image = str(c.get("image") or "")
        if not image:
            raise ContainerConfigError(f"container {c.get('name')!r} has no image; --runtime {engine.kind} needs one")
        env = self._env(run, c, host=False)
        term_path.parent.mkdir(parents=True, exist_ok=True)
        term_path.write_bytes(b"")
        term_path.chmod(0o666)  # the container's user may be anyone
        mounts = [Mount(str(term_path), str(c.get("terminationMessagePath") or "/dev/termination-log"))]
        mounts += self._volume_mounts(run, c, world_writable_empty_dirs=True)
        pod_name = str(run.pod["metadata"]["name"])
        labels = [("trellis.dev/pod", pod_name), ("trellis.dev/container", str(c.get("name")))]
        workflow = (run.pod["metadata"].get("labels") or {}).get(WORKFLOW_LABEL)
        if workflow:  # `podman ps --filter label=workflows.argoproj.io/workflow=NAME` finds a run's containers
            labels.insert(0, (WORKFLOW_LABEL, str(workflow)))
        container = EngineContainer(
            name=f"trellis-{pod_name}-{c.get('name')}",
            hostname=pod_name,
            image=image,
            pull_policy=pull_policy(image, c.get("imagePullPolicy")),
            command=[expand_vars(str(x), env) for x in c.get("command") or []],
            args=[expand_vars(str(x), env) for x in c.get("args") or []],
            env=list(env.items()),
            env_file=str(run.dir / "engine-env" / str(c.get("name"))) if env else "",
            mounts=mounts,
            working_dir=str(c.get("workingDir") or ""),
            security=security_flags(c, run.pod["spec"], engine.kind),
            labels=labels,
        )
        try:
            engine.run_argv(container)
        except ValueError as exc:
            raise ContainerConfigError(f"container {c.get('name')!r}: {exc}") from exc
        return container

    def _shared_under_tmp(self) -> list[str]:
        paths = [str(self._bin), *self.settings.shared_paths, sys.prefix, str(Path(__file__).resolve().parents[2])]
        out: list[str] = []
        for p in paths:
            real = os.path.realpath(p)
            if _under_tmp(real) and os.path.exists(real) and real not in out:
                out.append(real)
        return [p for p in out if not any(p != q and p.startswith(q + "/") for q in out)]

    def _write_shims(self) -> None:
        self._bin.mkdir(parents=True, exist_ok=True)
        exec_argv = " ".join(shlex.quote(a) for a in trellis_exec_argv(self.settings.python))
        shims = {"trellis-exec": f'#!/bin/sh\nexec {exec_argv} "$@"\n'}
        host_path = self.settings.host_env.get("PATH", "")
        if shutil.which("python", path=host_path) is None:
            python3 = shutil.which("python3", path=host_path) or self.settings.python
            shims["python"] = f'#!/bin/sh\nexec "{python3}" "$@"\n'
        for name, text in shims.items():
            path = self._bin / name
            path.write_text(text)
            path.chmod(0o755)


@functools.cache  # asked at every container start of every step; the answer never changes in a process
def trellis_exec_argv(python: str) -> tuple[str, ...]:
    """How the kubelet starts `trellis-exec`, Trellis's own program in every pod (init and the wait sidecar).

    Every step starts a `wait`, so its start-up is on each step's critical path: with this interpreter, `-S` skips
    `site` (the .pth files of the environment, an editable install's import hook: ~12 ms) and the few directories
    the program needs are put on sys.path directly. Another interpreter gets the plain `-m` form."""
    if os.path.abspath(python) != os.path.abspath(sys.executable):
        return (python, "-m", "executor.pod.main")
    package_root = str(Path(__file__).resolve().parents[2])
    paths = list(dict.fromkeys([package_root, *(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))]))
    boot = f"import sys; sys.path[:0] = {paths!r}; from executor.pod.main import main; sys.exit(main())"
    return (python, "-S", "-c", boot)


def _write_private(path: Path, text: str) -> None:
    """Write `text` readable by this user only (it may hold Secrets)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _trellis_own(c: Mapping[str, Any]) -> bool:
    """Trellis's own containers (`trellis-exec init|wait`) always run in the host sandbox."""
    command = c.get("command") or []
    return bool(command) and str(command[0]) == "trellis-exec"


def _engine_start_error(engine: ContainerEngine, log_path: Path, reason: str, message: str) -> tuple[str, str]:
    """(StartError, the engine's line) when the engine itself failed to start the container (its last line is
    the engine's `Error: ...`), else (reason, message) unchanged."""
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(log_path) - 4096))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return reason, message
    last = lines[-1].strip() if lines else ""
    if last.startswith(("Error: ", "docker: ")):
        return "StartError", engine_error_line(engine.kind, last)
    return reason, message


def _view(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {**obj, "metadata": copy.deepcopy(obj.get("metadata")), "status": copy.deepcopy(obj.get("status"))}


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _read_only(mount: Mapping[str, Any], volume: Mapping[str, Any]) -> bool:
    """A mount is read-only when it says so, or when its claim does (persistentVolumeClaim.readOnly forces it, as
    the kubelet does)."""
    return bool(mount.get("readOnly")) or bool((volume.get("persistentVolumeClaim") or {}).get("readOnly"))


def _under_tmp(path: str) -> bool:
    return path == "/tmp" or path.startswith("/tmp/")


def _container_names(pod: Mapping[str, Any]) -> Iterator[str]:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        yield str(c.get("name"))


def _waiting(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "state": {"waiting": {"reason": "PodInitializing"}},
        "ready": False,
        "restartCount": 0,
        "started": False,
        "image": "",
        "imageID": "",
    }


def _condition(kind: str, status: str, t: datetime, *, reason: str = "") -> dict[str, Any]:
    c: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": k8s_time(t)}
    if reason:
        c["reason"] = reason
    return c


def _job_condition(kind: str, reason: str, message: str, t: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": t,
        "lastTransitionTime": t,
    }


def _job_failed(reason: str, message: str, t: str) -> list[dict[str, Any]]:
    return [_job_condition("FailureTarget", reason, message, t), _job_condition("Failed", reason, message, t)]


def _termination_message(c: Mapping[str, Any], term_path: Path, log_path: Path, code: int) -> str:
    try:
        with open(term_path, "rb") as f:
            data = f.read(MAX_TERMINATION_MESSAGE)
    except OSError:
        data = b""
    if not data.strip() and code != 0 and c.get("terminationMessagePolicy") == "FallbackToLogsOnError":
        try:
            with open(log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(log_path) - 64 * 1024))
                tail = f.read().splitlines()[-FALLBACK_LOG_LINES:]
            data = b"\n".join(tail)[-FALLBACK_LOG_BYTES:]
        except OSError:
            data = b""
    return data.decode("utf-8", "replace")


__all__ = [
    "ContainerConfigError",
    "ContainerTiming",
    "Kubelet",
    "KubeletSettings",
    "LocalObjects",
    "expand_vars",
    "k8s_time",
]
