"""A real container engine for the user's containers: `trellis run --runtime podman|docker`.

The local kubelet hands a step's *user* containers (main, the user's own init containers and sidecars) to this
module; Trellis's own containers (`trellis-exec init|wait`) keep running in the host sandbox, because the Trellis
image is usually not present locally and they only touch the Pod's shared volumes (docs/architecture.md, "Local
runner"). podman and docker share the flags used here (`run`, `kill`, `rm`, `image inspect`, `pull`, `info`), so
one class drives both CLIs.

Kubernetes semantics kept (Kubernetes docs "Define a Command and Arguments for a Container", "Images"):
- `command` replaces the image's ENTRYPOINT and `args` its CMD: neither given runs the image's own; only `args`
  runs the image's ENTRYPOINT with them; `command` without `args` runs `command` alone (the engine drops the
  image's CMD when the entrypoint is replaced);
- `imagePullPolicy` Always / IfNotPresent / Never, defaulting as Kubernetes does (Always for `:latest` or an
  untagged image, else IfNotPresent). The image is made present *before* `run` (which then uses `--pull=never`),
  so a pull failure is known to be one: the container ends `ErrImagePull` (`ErrImageNeverPull` for a missing
  image under Never) with a message naming the image and the engine's own error line. Always pulls once per `trellis`
  process (a run, or all runs of `trellis cron`), IfNotPresent checks once per process;
- env only from the pod spec (`--http-proxy=false` keeps podman from adding the host's proxy variables), the
  hostname is the Pod's name, the network is the host's (`--network host`, as the host runtime), volumes and the
  termination-message file are bind mounts, `securityContext` runAsUser/runAsGroup (container over pod),
  readOnlyRootFilesystem, privileged, allowPrivilegeEscalation and capabilities map to the engine's flags.
- Killing: killing the engine's CLI client does not stop its container, so SIGTERM is `<engine> stop -t GRACE`
  (the engine sends SIGKILL after the grace period, as the kubelet does), other signals `<engine> kill --signal`,
  and the final kill is `<engine> kill --signal=SIGKILL` then `rm -f`, all by the container's unique name.
- Env values travel in an `--env-file` (mode 0600, removed when the container ends), so Secrets never appear on a
  command line (`ps`); only values a line cannot carry (with a newline) go as `-e NAME=VALUE`.

`run_invocation`, `pull_policy`, `security_flags`, `env_file_text` and `engine_error_line` are pure;
`ContainerEngine` runs the CLI.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from executor.local.sandbox import Mount

EngineKind = Literal["podman", "docker"]
ENGINES: tuple[EngineKind, ...] = ("podman", "docker")
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
PROBE_TIMEOUT = 30.0
CONTROL_TIMEOUT = 60.0  # kill / rm / inspect: local operations
# Exit codes with which the engine itself (not the container's program) reports a failure to start:
# 125 the engine's error, 126 the command cannot be invoked, 127 the command was not found.
ENGINE_EXIT_CODES = frozenset({125, 126, 127})


class EngineUnavailable(RuntimeError):
    """The engine is not installed or does not work here; the message is one line saying what and how to fix."""


@dataclass(frozen=True)
class EngineContainer:
    """One container as the engine runs it (everything resolved by the kubelet: env expanded, volume paths)."""

    name: str  # the engine's container name, unique on this host
    hostname: str  # the Pod's name
    image: str
    pull_policy: PullPolicy
    command: Sequence[str] = ()
    args: Sequence[str] = ()
    env: Sequence[tuple[str, str]] = ()
    env_file: str = ""  # where the kubelet writes env_file_text(env): values never on a command line
    mounts: Sequence[Mount] = ()
    working_dir: str = ""
    security: Sequence[str] = ()  # flags from securityContext (security_flags)
    labels: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class PullFailure:
    """Why a container's image is not there; the container ends with this reason and message."""

    reason: str  # ErrImagePull | ErrImageNeverPull
    message: str


def pull_policy(image: str, given: object) -> PullPolicy:
    """The container's imagePullPolicy, defaulted as Kubernetes does: Always for `:latest` or no tag (a digest
    counts as a tag), else IfNotPresent."""
    if given in ("Always", "IfNotPresent", "Never"):
        return given
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def security_flags(container: Mapping[str, Any], pod_spec: Mapping[str, Any], kind: EngineKind) -> list[str]:
    """Engine flags for the container's securityContext over the pod's (runAsUser/runAsGroup per field, as
    Kubernetes merges them). runAsGroup without runAsUser is not expressible with `--user` and is ignored."""
    own = container.get("securityContext") or {}
    pod = pod_spec.get("securityContext") or {}
    flags: list[str] = []
    user = own.get("runAsUser", pod.get("runAsUser"))
    group = own.get("runAsGroup", pod.get("runAsGroup"))
    if user is not None:
        flags.append(f"--user={user}:{group}" if group is not None else f"--user={user}")
    if own.get("readOnlyRootFilesystem"):
        # Kubernetes gives a read-only root no writable /tmp; podman would mount tmpfs there unless told not to.
        flags += ["--read-only", "--read-only-tmpfs=false"] if kind == "podman" else ["--read-only"]
    if own.get("privileged"):
        flags.append("--privileged")
    if own.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    caps = own.get("capabilities") or {}
    flags += [f"--cap-drop={c}" for c in caps.get("drop") or []]
    flags += [f"--cap-add={c}" for c in caps.get("add") or []]
    return flags


def run_invocation(kind: EngineKind, executable: str, c: EngineContainer) -> list[str]:
    """The `<engine> run` command line that runs `c` in the foreground, its output on the client's stdout/stderr,
    removed when it ends. Pure."""
    argv = [executable, "run", "--rm", f"--name={c.name}", f"--hostname={c.hostname}", "--network=host"]
    argv += ["--pull=never", "--sig-proxy=false"]  # the image is made present first; signals go through `kill`
    if kind == "podman":
        argv.append("--http-proxy=false")  # env only from the pod spec
    for key, value in c.labels:
        argv.append(f"--label={key}={value}")
    for m in c.mounts:
        for path in (m.source, m.target):
            if ":" in path or "," in path:
                raise ValueError(f"cannot bind {path!r} into a container: the engine's -v syntax forbids ':' and ','")
        argv += ["-v", f"{m.source}:{m.target}:ro" if m.read_only else f"{m.source}:{m.target}"]
    if c.working_dir:
        argv.append(f"--workdir={c.working_dir}")
    for key, value in c.env:
        if not (c.env_file and env_file_safe(key, value)):
            argv += ["-e", f"{key}={value}"]
    if c.env_file:
        argv.append(f"--env-file={c.env_file}")
    argv += list(c.security)
    rest = list(c.args)
    if c.command:
        if kind == "podman":
            argv.append("--entrypoint=" + json.dumps(list(c.command)))
        else:  # docker takes one executable; the rest of `command` goes before the args, which is the same argv
            argv.append(f"--entrypoint={c.command[0]}")
            rest = [*c.command[1:], *rest]
    return [*argv, c.image, *rest]


def env_file_safe(name: str, value: str) -> bool:
    """Whether NAME=VALUE survives a line of an `--env-file` exactly (podman's and docker's parsers read a line,
    skip `#` comments, refuse whitespace in names and keep the value as written). Pure."""
    return bool(name) and name[0] != "#" and not any(ch.isspace() for ch in name) and not set(value) & {"\n", "\r"}


def env_file_text(env: Sequence[tuple[str, str]]) -> str:
    """The `--env-file` contents for the variables env_file_safe accepts (the others go on the command line). Pure."""
    return "".join(f"{name}={value}\n" for name, value in env if env_file_safe(name, value))


def engine_error_line(kind: EngineKind, output: str) -> str:
    """The engine's own error in `output` (its last `Error...` line, else the last line), prefixed by the engine's
    name. Pure."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("Error", "docker:", "error"))]
    line = (errors or lines or ["no output"])[-1]
    return f"{kind}: {line}"


@dataclass
class ContainerEngine:
    """The podman or docker CLI on this machine. Shared by every Pod of a run (thread-safe)."""

    kind: EngineKind
    executable: str
    environ: Mapping[str, str]  # the CLI's own environment (the trellis process's): CONTAINERS_CONF, DOCKER_HOST...
    _present: set[str] = field(default_factory=set, repr=False)
    _image_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def find(cls, kind: EngineKind, environ: Mapping[str, str]) -> ContainerEngine:
        """The engine's CLI on PATH, checked to work (EngineUnavailable with a one-line reason otherwise)."""
        executable = shutil.which(kind, path=environ.get("PATH"))
        if executable is None:
            raise EngineUnavailable(f"--runtime {kind}: {kind} is not installed; install it or use --runtime host")
        engine = cls(kind, executable, dict(environ))
        engine.probe()
        return engine

    def probe(self) -> None:
        """`<engine> info`: the engine answers (docker's CLI without a daemon does not)."""
        proc = self._cli(["info", "--format", "{{json .}}"], timeout=PROBE_TIMEOUT)
        if proc.returncode != 0:
            raise EngineUnavailable(self._unavailable(engine_error_line(self.kind, proc.stderr or proc.stdout)))

    def _unavailable(self, why: str) -> str:
        return (
            f"--runtime {self.kind}: the {self.kind} engine does not work here ({why});"
            " start the engine or use --runtime host"
        )

    def run_argv(self, container: EngineContainer) -> list[str]:
        return run_invocation(self.kind, self.executable, container)

    def ensure_image(
        self, image: str, policy: PullPolicy, *, started: Callable[[subprocess.Popen[bytes]], None]
    ) -> PullFailure | None:
        """Make `image` present as `policy` says; None when it is. `started` receives a pull's process so the
        kubelet can kill it (deadline, Ctrl-C)."""
        with self._lock:
            lock = self._image_locks.setdefault(image, threading.Lock())
        with lock:
            if image in self._present:
                return None
            if policy != "Always":
                inspect = self._inspect(image)
                if inspect.returncode == 0:
                    self._present.add(image)
                    return None
                if policy == "Never":
                    line = engine_error_line(self.kind, inspect.stderr)
                    return PullFailure(
                        "ErrImageNeverPull",
                        f'Container image "{image}" is not present with pull policy of Never ({line})',
                    )
            try:
                proc = subprocess.Popen(
                    [self.executable, "pull", image],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    env=dict(self.environ),
                    start_new_session=True,
                )
            except OSError as exc:
                return PullFailure("ErrImagePull", f'Failed to pull image "{image}": {self.kind}: Error: {exc}')
            started(proc)
            _, err = proc.communicate()
            if proc.returncode != 0:
                line = engine_error_line(self.kind, err.decode("utf-8", "replace"))
                message = f'Failed to pull image "{image}": {line}'
                if policy == "Always" and self._has(image):
                    # Kubernetes' default for :latest and untagged images; a locally built image needs the hint.
                    message += "; the image is present locally: set imagePullPolicy: IfNotPresent to use it"
                return PullFailure("ErrImagePull", message)
            self._present.add(image)
            return None

    def _inspect(self, image: str) -> subprocess.CompletedProcess[str]:
        return self._cli(["image", "inspect", "--format", "{{.Id}}", image], timeout=CONTROL_TIMEOUT)

    def _has(self, image: str) -> bool:
        return self._inspect(image).returncode == 0

    def stop(self, name: str, grace: float) -> bool:
        """SIGTERM to the container `name`, SIGKILL after `grace` seconds (blocks until it ended). False when there
        is no such container (not created yet, or gone)."""
        seconds = max(0, int(grace + 0.999))
        proc = self._cli(["stop", "-t", str(seconds), name], timeout=CONTROL_TIMEOUT + seconds)
        return proc.returncode == 0

    def kill(self, name: str, sig: signal.Signals) -> bool:
        """Send `sig` to the container `name`; SIGKILL also removes it. False when there is no such container
        (not created yet, or gone)."""
        proc = self._cli(["kill", f"--signal={sig.name}", name], timeout=CONTROL_TIMEOUT)
        if sig == signal.SIGKILL:
            # `kill` first: podman's `rm -f` during a running `stop -t N` drops the container from its records but
            # leaves its process alive until the stop's own SIGKILL.
            return self.remove(name) or proc.returncode == 0
        return proc.returncode == 0

    def remove(self, name: str) -> bool:
        """`rm -f`: kill and remove the container `name` (True when one was there)."""
        # podman's `rm -f` stops with a 10 s grace first; docker's kills at once.
        proc = self._cli(
            ["rm", "-f", "--time=0", name] if self.kind == "podman" else ["rm", "-f", name], timeout=CONTROL_TIMEOUT
        )
        return proc.returncode == 0 and bool(proc.stdout.strip())

    def _cli(self, args: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run the CLI; a CLI that cannot start or hangs is a failed command (exit code 1, the reason as stderr),
        never an exception in a kubelet thread."""
        argv = [self.executable, *args]
        try:
            return subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=dict(self.environ),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 1, "", f"Error: no answer after {timeout:.0f} s")
        except OSError as exc:
            return subprocess.CompletedProcess(argv, 1, "", f"Error: {exc}")


__all__ = [
    "ENGINES",
    "ENGINE_EXIT_CODES",
    "ContainerEngine",
    "EngineContainer",
    "EngineKind",
    "EngineUnavailable",
    "PullFailure",
    "PullPolicy",
    "engine_error_line",
    "env_file_safe",
    "env_file_text",
    "pull_policy",
    "run_invocation",
    "security_flags",
]
