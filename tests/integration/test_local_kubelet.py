"""The local kubelet on hand-written batch/v1 Jobs: real processes in real mount namespaces, both sandboxes."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from executor.local.kubelet import (
    BACKOFF_MESSAGE,
    JOB_DEADLINE_MESSAGE,
    POD_DEADLINE_MESSAGE,
    Kubelet,
    KubeletSettings,
    LocalObjects,
    expand_vars,
)
from executor.local.sandbox import NSEXEC, Mount, ProcessSpec, Sandbox, SandboxKind, detect

KINDS: list[SandboxKind] = ["bwrap", "unshare"]


def available(kind: SandboxKind, scratch: Path) -> Sandbox | None:
    if shutil.which(kind) is None:
        return None
    try:
        return detect(scratch, prefer=kind)
    except RuntimeError:
        return None


@pytest.fixture(params=KINDS)
def kubelet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kubelet]:
    sandbox = available(request.param, tmp_path / "probe")
    if sandbox is None:
        pytest.skip(f"{request.param} cannot make mount namespaces here")
    settings = KubeletSettings(
        root=tmp_path / "run",
        sandbox=sandbox,
        host_env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        objects=LocalObjects(secrets={"creds": {"user": b"alice"}}, config_maps={"settings": {"mode": "fast"}}),
        capacity=4,
        max_grace_seconds=2,
    )
    k = Kubelet(settings)
    yield k
    k.shutdown()


def job(
    name: str, *containers: Mapping[str, Any], init: tuple[Mapping[str, Any], ...] = (), **pod: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": list(containers), **pod}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": name}, "spec": {"backoffLimit": 0, "template": {"spec": spec}}}


def sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "alpine", "command": ["sh", "-c", script], **extra}


def run(k: Kubelet, manifest: Mapping[str, Any], timeout: float = 60) -> tuple[dict[str, Any], dict[str, Any]]:
    name = manifest["metadata"]["name"]
    assert k.create_job(manifest)
    assert k.wait_job(name, timeout), f"job {name} did not finish in {timeout}s"
    got = k.get_job(name)
    assert got is not None
    return got, k.pods_of(name)[0]


def terminated(pod: Mapping[str, Any], container: str) -> dict[str, Any]:
    statuses = [*(pod["status"].get("initContainerStatuses") or []), *pod["status"]["containerStatuses"]]
    state = next(s for s in statuses if s["name"] == container)["state"]
    assert "terminated" in state, state
    result: dict[str, Any] = state["terminated"]
    return result


def log(k: Kubelet, job_name: str, container: str) -> str:
    return k.log_paths(job_name)[container].read_text()


def test_init_containers_run_in_order_before_main_sharing_an_empty_dir(kubelet: Kubelet) -> None:
    mount = [{"name": "work", "mountPath": "/opt/work-dir"}]
    manifest = job(
        "order",
        sh("main", "echo main >> /opt/work-dir/trace; cat /opt/work-dir/trace", volumeMounts=mount),
        init=(
            sh("first", "echo first >> /opt/work-dir/trace", volumeMounts=mount),
            sh("second", "echo second >> /opt/work-dir/trace", volumeMounts=mount),
        ),
        volumes=[{"name": "work", "emptyDir": {}}],
    )
    got, pod = run(kubelet, manifest)
    assert log(kubelet, "order", "main") == "first\nsecond\nmain\n"
    assert pod["status"]["phase"] == "Succeeded"
    assert [c["type"] for c in got["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert got["status"]["succeeded"] == 1
    assert not Path("/opt/work-dir").exists(), "the mount point was made inside the sandbox, not on the host"


def test_a_mount_point_directly_under_the_root_is_made_in_the_sandbox_only(kubelet: Kubelet) -> None:
    mount = [{"name": "staging", "mountPath": "/trellis-top-level-test/staging"}]
    manifest = job(
        "top",
        sh("main", "cat /trellis-top-level-test/staging/script", volumeMounts=mount),
        init=(sh("init", "echo from-init > /trellis-top-level-test/staging/script", volumeMounts=mount),),
        volumes=[{"name": "staging", "emptyDir": {}}],
    )
    _, pod = run(kubelet, manifest)
    assert pod["status"]["phase"] == "Succeeded"
    assert log(kubelet, "top", "main") == "from-init\n"
    assert not Path("/trellis-top-level-test").exists()


def test_a_failing_init_container_fails_the_pod_and_main_never_starts(kubelet: Kubelet) -> None:
    got, pod = run(kubelet, job("init-fails", sh("main", "echo never"), init=(sh("init", "exit 4"),)))
    assert terminated(pod, "init")["exitCode"] == 4
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert pod["status"]["phase"] == "Failed"
    assert got["status"]["conditions"][-1]["reason"] == "BackoffLimitExceeded"
    assert got["status"]["conditions"][-1]["message"] == BACKOFF_MESSAGE


def test_two_parallel_pods_writing_tmp_output_never_see_each_other_or_the_host(kubelet: Kubelet) -> None:
    script = (
        "mkdir -p /tmp/output && echo $HOSTNAME > /tmp/output/who && "
        "while [ ! -e /shared/$OTHER ]; do touch /shared/$ME; sleep 0.05; done; touch /shared/$ME; cat /tmp/output/who"
    )
    shared = {
        "name": "shared",
        "hostPath": {"path": str(kubelet.settings.root / "meeting"), "type": "DirectoryOrCreate"},
    }
    names = ["left", "right"]
    for me, other in zip(names, reversed(names), strict=True):
        env = [{"name": "ME", "value": me}, {"name": "OTHER", "value": other}]
        c = sh("main", script, env=env, volumeMounts=[{"name": "shared", "mountPath": "/shared"}])
        assert kubelet.create_job(job(me, c, volumes=[shared]))
    for me in names:
        assert kubelet.wait_job(me, 60)
    for me in names:
        pod = kubelet.pods_of(me)[0]
        assert pod["status"]["phase"] == "Succeeded"
        assert log(kubelet, me, "main") == pod["metadata"]["name"] + "\n"
    host_file = Path("/tmp/output/who")
    assert not host_file.exists() or host_file.read_text() not in {log(kubelet, n, "main") for n in names}


def test_env_expansion_field_refs_secrets_config_maps_and_working_dir(kubelet: Kubelet) -> None:
    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "MESSAGE", "value": "$(GREETING) world $$(GREETING) $(UNKNOWN)"},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "USER_NAME", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
    ]
    c = {
        "name": "main",
        "command": ["sh", "-c"],
        "args": ['echo "$MESSAGE|$POD|$NS|$USER_NAME|$MODE|$(GREETING)|$(pwd)"'],
        "env": env,
        "workingDir": "/opt/made-for-this-step",
    }
    _, pod = run(kubelet, job("env", c))
    name = pod["metadata"]["name"]
    assert log(kubelet, "env", "main") == (
        f"hello world $(GREETING) $(UNKNOWN)|{name}|default|alice|fast|hello|/opt/made-for-this-step\n"
    )
    assert not Path("/opt/made-for-this-step").exists()


def test_secret_values_never_appear_on_a_command_line(kubelet: Kubelet, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}}]
    c = sh("main", "touch /ready/now; sleep 30", env=env, volumeMounts=[{"name": "ready", "mountPath": "/ready"}])
    manifest = job("secretive", c, volumes=[{"name": "ready", "hostPath": {"path": str(ready)}}])
    assert kubelet.create_job(manifest)
    deadline = time.monotonic() + 30
    while not (ready / "now").exists():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.02)
    exposed = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"alice" in cmdline.read_bytes():
                exposed.append(cmdline)
        except OSError:
            continue
    kubelet.delete_job("secretive")
    assert exposed == []


def test_a_missing_secret_fails_the_pod_with_how_to_give_it(kubelet: Kubelet) -> None:
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "token"}}}]
    _, pod = run(kubelet, job("no-secret", sh("main", "true", env=env)))
    assert pod["status"]["phase"] == "Failed"
    assert terminated(pod, "main")["reason"] == "CreateContainerConfigError"
    assert terminated(pod, "main")["message"] == (
        'secret "absent" not found; give it to the local runner with --secrets FILE (a YAML file of Secret manifests)'
    )


@pytest.mark.parametrize(
    ("script", "policy", "code", "message"),
    [
        pytest.param("echo done > /dev/termination-log", None, 0, "done\n", id="message-on-success"),
        pytest.param("echo why > /dev/termination-log; exit 3", None, 3, "why\n", id="message-on-failure"),
        pytest.param("echo last words; exit 2", "FallbackToLogsOnError", 2, "last words", id="fallback-to-logs"),
        pytest.param("echo ignored; exit 2", None, 2, None, id="no-fallback-by-default"),
        pytest.param("kill -9 $$$$", None, 137, None, id="killed-by-sigkill"),
    ],
)
def test_exit_codes_and_termination_messages_are_reported_as_the_kubelet_does(
    kubelet: Kubelet, script: str, policy: str | None, code: int, message: str | None
) -> None:
    c = sh("main", script)
    if policy:
        c["terminationMessagePolicy"] = policy
    _, pod = run(kubelet, job("exit", c))
    term = terminated(pod, "main")
    assert term["exitCode"] == code
    assert term["reason"] == ("Completed" if code == 0 else "Error")
    assert term.get("message") == message
    assert pod["status"]["phase"] == ("Succeeded" if code == 0 else "Failed")


def test_a_custom_termination_message_path_is_honoured(kubelet: Kubelet) -> None:
    c = sh("main", "printf custom > /tmp/msg", terminationMessagePath="/tmp/msg")
    _, pod = run(kubelet, job("custom-path", c))
    assert terminated(pod, "main")["message"] == "custom"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(") ", 1)[1][0] != "Z"


def test_pod_deadline_kills_the_whole_process_tree(kubelet: Kubelet) -> None:
    marker = f"{300 + random.random():.6f}"  # a sleep only this test runs, to look for leftovers
    manifest = job("deadline", sh("main", f"setsid sleep {marker} & sleep {marker}"), activeDeadlineSeconds=1)
    started = time.monotonic()
    got, pod = run(kubelet, manifest, timeout=30)
    assert time.monotonic() - started < 60  # far below the 300 s sleep: killed at the deadline
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert pod["status"]["message"] == POD_DEADLINE_MESSAGE
    assert pod["status"]["phase"] == "Failed"
    assert terminated(pod, "main")["exitCode"] in {137, 143}
    assert got["status"]["conditions"][-1]["reason"] == "BackoffLimitExceeded"
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "a process of the pod outlived it"
        time.sleep(0.05)


def test_job_deadline_fails_the_job_with_deadline_exceeded(kubelet: Kubelet) -> None:
    manifest = job("job-deadline", sh("main", "sleep 300"))
    manifest["spec"]["activeDeadlineSeconds"] = 1
    got, pod = run(kubelet, manifest, timeout=30)
    failed = got["status"]["conditions"][-1]
    assert (failed["type"], failed["reason"], failed["message"]) == ("Failed", "DeadlineExceeded", JOB_DEADLINE_MESSAGE)
    assert pod["status"]["phase"] == "Failed"


def test_deleting_a_job_kills_its_pod(kubelet: Kubelet) -> None:
    assert kubelet.create_job(job("doomed", sh("main", "sleep 300")))
    deadline = time.monotonic() + 30
    while not kubelet.timings("doomed"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert kubelet.delete_job("doomed")
    assert kubelet.get_job("doomed") is None
    assert kubelet.create_job(job("doomed", sh("main", "true"))), "the name is free again"


def test_creating_a_job_twice_is_already_exists(kubelet: Kubelet) -> None:
    manifest = job("twice", sh("main", "true"))
    assert kubelet.create_job(manifest)
    assert not kubelet.create_job(manifest)


def test_main_exit_channel_tells_wait_the_exit_code_and_stdout_of_main(kubelet: Kubelet) -> None:
    channel = [{"name": "trellis-local", "mountPath": "/var/run/trellis/local"}]
    wait = sh(
        "wait",
        'read code < /var/run/trellis/local/main.exit; printf "$code:$(cat /var/run/trellis/local/main.stdout)"'
        " > /dev/termination-log",
        volumeMounts=channel,
    )
    manifest = job(
        "channel",
        sh("main", "echo out; echo err >&2; exit 5"),
        wait,
        volumes=[{"name": "trellis-local", "emptyDir": {}}],
    )
    _, pod = run(kubelet, manifest)
    assert terminated(pod, "wait")["message"] == "5:out"
    assert log(kubelet, "channel", "main") in {"out\nerr\n", "err\nout\n"}


def test_python_and_trellis_exec_resolve_on_the_host(kubelet: Kubelet) -> None:
    c = sh("main", "python -c 'print(6 * 7)' && command -v trellis-exec")
    _, pod = run(kubelet, job("python", c))
    lines = log(kubelet, "python", "main").splitlines()
    assert lines[0] == "42"
    assert pod["status"]["phase"] == "Succeeded"


def test_python_resolves_to_python3_on_a_host_without_python(tmp_path: Path) -> None:
    host_path = "/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
    if shutil.which("python", path=host_path) is not None or shutil.which("python3", path=host_path) is None:
        pytest.skip("needs a host PATH with python3 and no python")
    settings = KubeletSettings(root=tmp_path / "run", sandbox=detect(tmp_path / "probe"), host_env={"PATH": host_path})
    k = Kubelet(settings)
    try:
        _, pod = run(k, job("py", sh("main", "python -c 'import sys; print(sys.version_info[0])'")))
        assert pod["status"]["phase"] == "Succeeded"
        assert log(k, "py", "main") == "3\n"
    finally:
        k.shutdown()


def test_pods_wait_for_a_free_slot_when_the_node_is_full(tmp_path: Path) -> None:
    sandbox = detect(tmp_path / "probe")
    settings = KubeletSettings(
        root=tmp_path / "run", sandbox=sandbox, host_env={"PATH": os.environ["PATH"]}, capacity=1
    )
    changed = threading.Event()
    k = Kubelet(settings, on_change=changed.set)
    try:
        for name in ("one", "two"):
            assert k.create_job(job(name, sh("main", "sleep 0.3")))
        assert k.pods_of("two")[0]["status"]["phase"] == "Pending"
        for name in ("one", "two"):
            assert k.wait_job(name, 30)
        one, two = k.timings("one")["main"], k.timings("two")["main"]
        assert one.finished is not None and one.finished <= two.started
        assert changed.is_set()
    finally:
        k.shutdown()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(A)-$(B)", "1-two", id="known"),
        pytest.param("$(MISSING)", "$(MISSING)", id="unknown-stays"),
        pytest.param("$$(A)", "$(A)", id="escaped"),
        pytest.param("$A $(A", "$A $(A", id="not-a-reference"),
    ],
)
def test_variable_references_expand_as_kubernetes_does(text: str, expected: str) -> None:
    assert expand_vars(text, {"A": "1", "B": "two"}) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_sandbox_works_for_a_normal_user(kind: SandboxKind) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which(kind) is None:
        pytest.skip("needs root to switch to an unprivileged user")
    python = shutil.which("python3", path="/usr/bin:/bin")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if python is None or subprocess.run([*nobody, python, "-c", f"open({NSEXEC!r})"], capture_output=True).returncode:
        pytest.skip("no system python3 that an unprivileged user can run with this checkout")
    scratch = Path(tempfile.mkdtemp(prefix="trellis-nobody-"))  # pytest's tmp_path is private to root
    os.chmod(scratch, 0o777)
    spec = ProcessSpec(
        argv=[
            "sh",
            "-c",
            "echo private > /tmp/f && echo mounted > /mnt/new-mount-point/f && ls /trellis-new-top-level/x",
        ],
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
        mounts=[
            Mount(str(scratch), "/tmp"),
            Mount(str(scratch), "/mnt/new-mount-point"),
            Mount(str(scratch), "/trellis-new-top-level/x"),
        ],
    )
    argv = Sandbox(kind, python=python, user_namespace=True).argv(spec)
    try:
        proc = subprocess.run([*nobody, *argv], capture_output=True, text=True, env=dict(spec.env), timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert (scratch / "f").read_text() == "mounted\n"
    finally:
        shutil.rmtree(scratch)
    assert not Path("/mnt/new-mount-point").exists()
    assert not Path("/trellis-new-top-level").exists()
