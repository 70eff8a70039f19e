"""How one container's process is started in its own mount (and PID) namespace on this host.

Two implementations with one shape: `Sandbox.argv(spec)` returns the host command line that runs `spec.argv`
with `spec.mounts` bound at their targets, a private /dev (with the termination-log file bound in by the
kubelet), a fresh /proc and a PID namespace (killing its first process kills the whole tree).

- bubblewrap (`bwrap`): preferred; works as root and, through user namespaces, as a normal user.
- `unshare` (util-linux) + executor/local/nsexec.py: the fallback when bwrap is missing or does not work here
  (as a normal user it maps the user to root inside a user namespace, because mounting needs that).

`detect()` tries bwrap then unshare once, with a real command, and returns the first that works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SandboxKind = Literal["bwrap", "unshare"]
NSEXEC = str(Path(__file__).with_name("nsexec.py"))


class SandboxUnavailable(RuntimeError):
    """Neither bubblewrap nor unshare can create a mount namespace here."""


@dataclass(frozen=True)
class Mount:
    source: str  # a host directory or file
    target: str  # where the process sees it
    read_only: bool = False


@dataclass(frozen=True)
class ProcessSpec:
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    mounts: Sequence[Mount] = field(default_factory=tuple)


def _ordered(mounts: Sequence[Mount]) -> list[Mount]:
    # Parents before children (/tmp before /tmp/output), whatever order the pod spec lists them in.
    return sorted(mounts, key=lambda m: (m.target.rstrip("/").count("/"), m.target))


@dataclass(frozen=True)
class Sandbox:
    kind: SandboxKind
    python: str = sys.executable  # runs nsexec.py (unshare only)
    user_namespace: bool = field(default_factory=lambda: os.geteuid() != 0)  # unshare only: map user to root

    def argv(self, spec: ProcessSpec) -> list[str]:
        if self.kind == "bwrap":
            cmd = ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid"]
            cmd += ["--die-with-parent"]
            for m in _ordered(spec.mounts):
                cmd += ["--ro-bind" if m.read_only else "--bind", m.source, m.target]
            return [*cmd, "--chdir", spec.cwd, "--", *spec.argv]
        payload = {
            "mounts": [[m.source, m.target, m.read_only] for m in _ordered(spec.mounts)],
            "cwd": spec.cwd,
            "argv": list(spec.argv),
            "env": dict(spec.env),
        }
        cmd = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private"]
        if self.user_namespace:
            cmd.append("--map-root-user")
        return [*cmd, self.python, "-I", "-S", NSEXEC, json.dumps(payload)]


def _works(sandbox: Sandbox, scratch: Path) -> str:
    """'' when `sandbox` can run a command with a bind mount here, else what went wrong."""
    probe = scratch / "probe"
    probe.mkdir(parents=True, exist_ok=True)
    spec = ProcessSpec(
        argv=["sh", "-c", "echo ok > /tmp/sandbox-probe"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd="/",
        mounts=[Mount(str(probe), "/tmp")],
    )
    try:
        proc = subprocess.run(sandbox.argv(spec), capture_output=True, text=True, timeout=30, env=spec.env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode != 0 or not (probe / "sandbox-probe").exists():
        return (proc.stderr.strip() or f"exit code {proc.returncode}").splitlines()[-1]
    return ""


def detect(scratch: Path, *, prefer: SandboxKind | None = None) -> Sandbox:
    """The first sandbox that really works here (bwrap, then unshare), or `prefer` only when given."""
    kinds: list[SandboxKind] = [prefer] if prefer else ["bwrap", "unshare"]
    problems = []
    for kind in kinds:
        if shutil.which(kind) is None:
            problems.append(f"{kind}: not installed")
            continue
        why = _works(Sandbox(kind), scratch)
        if not why:
            return Sandbox(kind)
        problems.append(f"{kind}: {why}")
    raise SandboxUnavailable(
        "cannot create a private mount namespace for steps ("
        + "; ".join(problems)
        + "); install bubblewrap (apt-get install bubblewrap) or enable user namespaces"
        " (sysctl kernel.unprivileged_userns_clone=1)"
    )
