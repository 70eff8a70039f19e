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
            mounts = [Mount(m.source, resolve_target(m.target), m.read_only) for m in spec.mounts]
            shadows = shadowed_dirs(mounts)
            cmd = ["bwrap"]
            cmd += _rebuild("/", mounts) if "/" in shadows else ["--bind", "/", "/"]
            cmd += ["--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--die-with-parent"]
            for shadow in sorted(shadows - {"/"}, key=lambda p: (p.count("/"), p)):
                cmd += _rebuild(shadow, mounts)
            for m in _ordered(mounts):
                cmd += ["--ro-bind" if m.read_only else "--bind", m.source, m.target]
            return [*cmd, "--chdir", spec.cwd, "--", *spec.argv]
        mounts = [Mount(m.source, resolve_target(m.target), m.read_only) for m in spec.mounts]
        payload = {
            "mounts": [[m.source, m.target, m.read_only] for m in _ordered(mounts)],
            "shadows": sorted(shadowed_dirs(mounts) - {"/"}, key=lambda p: (p.count("/"), p)),
            "new_root": "/" in shadowed_dirs(mounts),
            "cwd": spec.cwd,
            "argv": list(spec.argv),
        }
        cmd = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private"]
        if self.user_namespace:
            cmd.append("--map-root-user")
        return [*cmd, self.python, "-I", "-S", NSEXEC, json.dumps(payload)]


def resolve_target(path: str) -> str:
    """`path` with its existing leading part resolved (/var/run/x -> /run/x): mount targets must be real paths."""
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts), 0, -1):
        head = "/" + "/".join(parts[:i])
        if os.path.exists(head):
            return os.path.join(os.path.realpath(head), *parts[i:]) if i < len(parts) else os.path.realpath(head)
    return "/" + "/".join(parts)


def _under(path: str, parent: str) -> bool:
    return parent == "/" or path == parent or path.startswith(parent.rstrip("/") + "/")


def shadowed_dirs(mounts: Sequence[Mount]) -> set[str]:
    """Host directories to replace by a tmpfs holding binds of their entries, so that mount points missing on the
    host can be made inside the sandbox without touching the host (and without root): for each target that does
    not exist and is not inside another mount, its nearest existing ancestor."""
    out: set[str] = set()
    for m in mounts:
        if _under(m.target, "/dev") or _under(m.target, "/proc"):
            continue  # both are private already: mount points there are made in the sandbox's own /dev
        if os.path.lexists(m.target) or any(
            o is not m and _under(m.target, o.target) and o.target != "/" for o in mounts
        ):
            continue
        parent = os.path.dirname(m.target.rstrip("/")) or "/"
        while not os.path.isdir(parent):
            parent = os.path.dirname(parent) or "/"
        out.add(parent)
    return out


def _rebuild(directory: str, mounts: Sequence[Mount]) -> list[str]:
    """bwrap arguments replacing `directory` by a tmpfs with its host entries bound back (dev, proc and mount
    targets are left to their own options)."""
    cmd = ["--tmpfs", directory] if directory != "/" else ["--tmpfs", "/"]
    targets = {m.target for m in mounts}
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        if path in {"/dev", "/proc"} or path in targets:
            continue
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path) or os.path.exists(path):
            cmd += ["--bind", path, path]
    return cmd


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
