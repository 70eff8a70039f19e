"""Fallback sandbox helper: runs inside `unshare --mount --pid --fork`, sets up mounts, then runs the command.

Used when bubblewrap is missing or fails. Standalone (stdlib only, started with `python -I -S <this file>`) so it
starts fast. Usage: nsexec.py SPEC_JSON where SPEC_JSON is {"mounts": [[source, target, read_only], ...],
"shadows": [dir, ...], "new_root": bool, "cwd": str, "argv": [...]}; mounts are applied in list order after /dev,
/proc and the shadows. A shadow is a host directory replaced by a tmpfs holding binds of its entries, so mount
points missing on the host are made inside the namespace only (sandbox.shadowed_dirs); "new_root": true does the
same for / itself (a tmpfs root holding binds of the host's top-level entries, entered with chroot).

Invariants: every source is opened (O_PATH) before anything is mounted, so a source hidden by an earlier mount
(e.g. a pod directory under /tmp once the private /tmp is mounted) still resolves. This process stays as PID 1 of
the new PID namespace and reaps; when the command ends, it exits with the command's status (128 + signal when
killed, as container runtimes report), and the kernel kills whatever is left in the namespace.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import stat
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _ensure_target(target: str, is_dir: bool) -> None:
    if os.path.lexists(target):
        return
    # exist_ok: the containers of one pod share its /tmp and start together, so a sibling may make it first
    os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        with open(target, "a"):
            pass


def _private_dev(host_fds: dict[str, int]) -> None:
    _mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755")
    for name, fd in host_fds.items():
        target = f"/dev/{name}"
        if name in {"pts", "shm"}:
            os.mkdir(target)
        else:
            with open(target, "a"):
                pass
        _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    for name, dest in {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1"}.items():
        os.symlink(dest, f"/dev/{name}")
    os.symlink("/proc/self/fd/2", "/dev/stderr")


def _shadow(directory: str) -> None:
    entries: list[tuple[str, str, str | int]] = []
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        if os.path.islink(path):
            entries.append((entry, "link", os.readlink(path)))
        else:
            entries.append((entry, "dir" if os.path.isdir(path) else "file", os.open(path, os.O_PATH)))
    _mount("tmpfs", directory, "tmpfs", MS_NOSUID, "mode=755")
    for entry, kind, ref in entries:
        path = os.path.join(directory, entry)
        if kind == "link":
            os.symlink(str(ref), path)
            continue
        _ensure_target(path, kind == "dir")
        _mount(f"/proc/self/fd/{ref}", path, None, MS_BIND | MS_REC)
        os.close(int(ref))


def _new_root() -> None:
    """Make the root a tmpfs holding binds of the host's top-level entries (then chroot into it), so mount points
    missing directly under / are made in the namespace only. The tmpfs is mounted over /tmp, whose own host entry
    was opened first; /dev and /proc are left empty for their own mounts."""
    entries: list[tuple[str, str, str | int]] = []
    for entry in sorted(os.listdir("/")):
        path = "/" + entry
        if entry in {"dev", "proc"}:
            entries.append((entry, "dir", -1))
        elif os.path.islink(path):
            entries.append((entry, "link", os.readlink(path)))
        else:
            entries.append((entry, "dir" if os.path.isdir(path) else "file", os.open(path, os.O_PATH)))
    staging = "/tmp"
    _mount("tmpfs", staging, "tmpfs", MS_NOSUID, "mode=755")
    for entry, kind, ref in entries:
        path = os.path.join(staging, entry)
        if kind == "link":
            os.symlink(str(ref), path)
            continue
        _ensure_target(path, kind == "dir")
        if int(ref) >= 0:
            _mount(f"/proc/self/fd/{ref}", path, None, MS_BIND | MS_REC)
            os.close(int(ref))
    os.chroot(staging)
    os.chdir("/")


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    # The command's environment is this process's own (never argv: /proc/*/cmdline is world-readable).
    env = dict(os.environ)
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    host_dev = {}
    for name in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm"):
        try:
            host_dev[name] = os.open(f"/dev/{name}", os.O_PATH)
        except OSError:
            continue
    sources = [(os.open(src, os.O_PATH), src, dst, bool(ro)) for src, dst, ro in spec["mounts"]]
    if spec.get("new_root"):
        _new_root()
        _mount("proc", "/proc", "proc", 0)  # /proc/self/fd is needed to bind from the descriptors
        _private_dev(host_dev)
    else:
        _private_dev(host_dev)
        _mount("proc", "/proc", "proc", 0)
    for directory in spec.get("shadows") or []:
        _shadow(directory)
    for fd, _src, dst, ro in sources:
        _ensure_target(dst, stat.S_ISDIR(os.fstat(fd).st_mode))
        _mount(f"/proc/self/fd/{fd}", dst, None, MS_BIND | MS_REC)
        if ro:
            _mount("none", dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    for fd in [*host_dev.values(), *(s[0] for s in sources)]:
        os.close(fd)
    os.chdir(spec["cwd"])
    child = os.fork()
    if child == 0:
        try:
            os.execvpe(spec["argv"][0], spec["argv"], env)
        except OSError as exc:
            print(f"exec {spec['argv'][0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the command gets the signal itself (same process group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pid, status = os.wait()
        if pid == child:
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except OSError as exc:
        print(f"trellis sandbox (unshare): {exc}", file=sys.stderr)
        sys.exit(127)
