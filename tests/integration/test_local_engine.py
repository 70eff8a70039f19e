"""`trellis run --runtime podman`: real `trellis` processes running steps in a real podman with a real image.

The image is built once per session without any registry: a root filesystem holding a static busybox (sh, cat,
echo, sleep, ...) and a marker file only the image has (/etc/trellis-test-image), imported with `podman import`;
a second image adds an ENTRYPOINT and a CMD to check Kubernetes' command/args semantics.

Test-environment adaptations (never product code: the product just calls `podman`):
- this VM mounts cgroups in hybrid v1+v2 mode, which crun refuses: every podman (and therefore every
  `trellis run --runtime podman`) runs inside `unshare -m` with /sys/fs/cgroup remounted as cgroup2, when it is not
  cgroup2 already;
- it lacks CAP_SYS_RESOURCE for podman's default rlimits and has no systemd: CONTAINERS_CONF points to a file
  with small `default_ulimits`, `cgroups = "disabled"` and `cgroup_manager = "cgroupfs"`;
- CONTAINERS_STORAGE_CONF keeps images and containers in the session's temporary directory (vfs driver).

Skipped, with the reason, only when podman or a static busybox is missing or the user is not root (CI installs
podman, crun and busybox-static and runs as root, so these tests run there).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor.status import nodes_of

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/trellis-test:1"
ENTRY_IMAGE = "localhost/trellis-test-entry:1"
MARKER = "/etc/trellis-test-image"
MARKER_TEXT = "only in the trellis test image"
BUSYBOX_TOOLS = (
    *("sh", "cat", "echo", "sleep", "true", "false", "ls", "hostname", "env", "sort", "id", "mkdir"),
    *("sed", "wc", "date", "grep", "head", "tail", "httpd", "wget"),
)
ALPINE = "localhost/alpine:3.20"  # the busybox image under the name examples/ use (short names resolve locally)
EXAMPLES = ROOT / "examples"
CGROUP2 = (
    '[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] ||'
    ' { umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup; } || exit 97; exec "$@"'
)


def static_busybox() -> Path | None:
    """A statically linked busybox (no ELF interpreter), which runs in an image with nothing else."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        path = Path(candidate)
        if not path.is_file():
            continue
        data = path.read_bytes()[:4096]
        if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only
            continue
        phoff, phentsize, phnum = struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from("<HH", data, 54)
        types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
        if 3 not in types:  # PT_INTERP: dynamically linked
            return path
    return None


@dataclass(frozen=True)
class Podman:
    """The session's podman: its environment and a way to run commands where podman works."""

    env: Mapping[str, str]
    dir: Path

    def wrap(self, argv: Sequence[str | Path]) -> list[str]:
        return ["unshare", "-m", "sh", "-c", CGROUP2, "sh", *map(str, argv)]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.wrap(["podman", *args]), capture_output=True, text=True, env=dict(self.env), timeout=60
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    def containers(self) -> list[str]:
        return self.run("ps", "-a", "--format", "{{.Names}}").stdout.split()

    def monitors(self) -> list[str]:
        """conmon processes of this session's containers: a container's process lives while its conmon does."""
        storage = f"{self.dir}/graph/"
        found = []
        for proc in Path("/proc").iterdir():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"conmon") and any(storage.encode() in a for a in argv):
                found.append(proc.name)
        return found

    def trellis(self, home: Path, *args: str | Path, timeout: float = 100) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "TRELLIS_HOME": str(home)}
        return subprocess.run(self.wrap(trellis_argv(*args)), capture_output=True, text=True, env=env, timeout=timeout)


def trellis_argv(*args: str | Path) -> list[str]:
    exe = Path(sys.executable).with_name("trellis")
    head = [str(exe)] if exe.exists() else [sys.executable, "-m", "executor.cli"]
    return [*head, *map(str, args)]


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (CI installs it: apt-get install podman crun busybox-static)")
    if os.geteuid() != 0:
        pytest.skip("podman tests run as root (remounting cgroups needs it)")
    busybox = static_busybox()
    if busybox is None:
        pytest.skip("no statically linked busybox for the test image (apt-get install busybox-static)")
    base = tmp_path_factory.mktemp("podman")
    (base / "containers.conf").write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]\ncgroups = "disabled"\n'
        '[engine]\ncgroup_manager = "cgroupfs"\n'
    )
    (base / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{base}/graph"\nrunroot = "{base}/run"\n'
    )
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    (rootfs / "tmp").mkdir(mode=0o1777)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for tool in BUSYBOX_TOOLS:
        (rootfs / "bin" / tool).symlink_to("busybox")
    (rootfs / MARKER.lstrip("/")).write_text(MARKER_TEXT + "\n")
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(base / "rootfs.tar"), "."], check=True)
    env = {
        **os.environ,
        "CONTAINERS_CONF": str(base / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(base / "storage.conf"),
    }
    engine = Podman(env=env, dir=base)
    engine.run("import", str(base / "rootfs.tar"), IMAGE)
    engine.run("tag", IMAGE, ALPINE)
    engine.run(
        "import",
        "--change",
        'ENTRYPOINT ["echo", "image-entrypoint"]',
        "--change",
        'CMD ["image-cmd"]',
        str(base / "rootfs.tar"),
        ENTRY_IMAGE,
    )
    yield engine
    engine.run("rm", "-a", "-f", check=False)


@pytest.fixture
def clean(podman: Podman) -> Iterator[Podman]:
    """The podman, with no container left behind by the test (asserted afterwards)."""
    assert podman.containers() == []
    yield podman
    assert podman.containers() == []
    deadline = time.monotonic() + 15  # a killed container's conmon exits just after trellis did
    while podman.monitors():
        assert time.monotonic() < deadline, f"container processes left running: conmon {podman.monitors()}"


def workflow(name: str, templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{name}-"},
        "spec": {"entrypoint": templates[0]["name"], "templates": templates, **spec},
    }


def sh(name: str, script: str, *, image: str = IMAGE, **extra: Any) -> dict[str, Any]:
    return {"name": name, "container": {"image": image, "command": ["sh", "-c"], "args": [script]}, **extra}


def write(path: Path, doc: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_json(podman: Podman, home: Path, wf_file: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = podman.trellis(home, "run", wf_file, "--runtime", "podman", "--output", "json", *args)
    assert proc.stdout.lstrip().startswith("{"), proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def start_pull(podman: Podman, image: str) -> subprocess.Popen[str]:
    """`podman pull IMAGE` in the background (what the engine says about it, gathered while trellis runs)."""
    argv = podman.wrap(["podman", "pull", image])
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(podman.env))


def last_error(proc: subprocess.Popen[str]) -> str:
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, "the reference pull was expected to fail"
    return [line for line in err.splitlines() if line.startswith("Error")][-1]


def pods(wf: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in nodes_of(wf["status"]).values() if n["type"] == "Pod"}


@pytest.mark.slow
def test_main_runs_in_the_image_with_only_the_pod_specs_env_and_the_pods_hostname(
    clean: Podman, tmp_path: Path
) -> None:
    script = f"cat {MARKER}; hostname; env | sort"
    template = sh("main", script)
    template["container"]["env"] = [{"name": "WHO", "value": "you"}, {"name": "GREETING", "value": "hi $(WHO)"}]
    wf_file = write(tmp_path / "wf.yaml", workflow("marker", [template]))
    code, wf, stderr = run_json(clean, tmp_path / "home", wf_file)
    assert (code, wf["status"]["phase"]) == (0, "Succeeded"), stderr
    (node,) = pods(wf).values()
    lines = node["outputs"]["result"].splitlines()
    assert lines[0] == MARKER_TEXT
    pod_name = lines[1]
    assert pod_name.startswith(wf["metadata"]["name"] + "-")
    env = dict(line.split("=", 1) for line in lines[2:])
    # The image's PATH and the engine's own variables; of the host's nothing (not even CONTAINERS_CONF).
    assert env == {
        "GREETING": "hi you",
        "HOME": "/",
        "HOSTNAME": pod_name,
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PWD": "/",
        "SHLVL": "1",
        "TERM": "xterm",
        "WHO": "you",
        "container": "podman",
    }


def test_the_host_runtime_does_not_see_the_image(clean: Podman, tmp_path: Path) -> None:
    wf_file = write(tmp_path / "wf.yaml", workflow("host", [sh("main", f"cat {MARKER}")]))
    proc = clean.trellis(tmp_path / "home", "run", wf_file, "--output", "json")
    wf = json.loads(proc.stdout)
    assert (proc.returncode, wf["status"]["phase"], wf["status"]["message"]) == (1, "Failed", "Error (exit code 1)")


@pytest.mark.slow
def test_command_and_args_replace_the_images_entrypoint_and_cmd_as_in_kubernetes(clean: Podman, tmp_path: Path) -> None:
    def step(name: str, **fields: Any) -> dict[str, Any]:
        return {"name": name, "container": {"image": ENTRY_IMAGE, **fields}}

    templates = [
        {
            "name": "all",
            "dag": {"tasks": [{"name": n, "template": n} for n in ("neither", "args-only", "command-only", "both")]},
        },
        step("neither"),
        step("args-only", args=["given-arg"]),
        step("command-only", command=["echo", "given-command"]),
        step("both", command=["echo", "given-command"], args=["given-arg"]),
    ]
    code, wf, stderr = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("cmd", templates)))
    assert code == 0, stderr
    results = {name: node["outputs"]["result"] for name, node in pods(wf).items()}
    assert results == {
        "neither": "image-entrypoint image-cmd",
        "args-only": "image-entrypoint given-arg",
        "command-only": "given-command",
        "both": "given-command given-arg",
    }


@pytest.mark.slow
def test_a_dag_passes_a_parameter_and_an_artifact_between_engine_steps_through_the_host_sidecars(
    clean: Podman, tmp_path: Path
) -> None:
    produce = sh(
        "produce",
        f"mkdir -p /tmp/out/dir && cat {MARKER} > /tmp/out/dir/data.txt && echo -n 42 > /tmp/out/answer && id -u",
        outputs={
            "parameters": [{"name": "answer", "valueFrom": {"path": "/tmp/out/answer"}}],
            "artifacts": [{"name": "data", "path": "/tmp/out/dir"}],
        },
    )
    # A non-root user writes the outputs: the Pod's emptyDirs are world-writable, as in Kubernetes.
    produce["container"]["securityContext"] = {"runAsUser": 1000, "runAsGroup": 1000}
    consume = sh(
        "consume",
        "echo answer={{inputs.parameters.answer}}; cat /in/data/data.txt",
        inputs={"parameters": [{"name": "answer"}], "artifacts": [{"name": "data", "path": "/in/data"}]},
    )
    dag = {
        "name": "pipeline",
        "dag": {
            "tasks": [
                {"name": "produce", "template": "produce"},
                {
                    "name": "consume",
                    "template": "consume",
                    "dependencies": ["produce"],
                    "arguments": {
                        "parameters": [{"name": "answer", "value": "{{tasks.produce.outputs.parameters.answer}}"}],
                        "artifacts": [{"name": "data", "from": "{{tasks.produce.outputs.artifacts.data}}"}],
                    },
                },
            ]
        },
    }
    wf_file = write(tmp_path / "wf.yaml", workflow("pass", [dag, produce, consume]))
    code, wf, stderr = run_json(clean, tmp_path / "home", wf_file, "--artifact-repo", str(tmp_path / "repo"))
    assert code == 0, stderr
    nodes = pods(wf)
    assert nodes["produce"]["outputs"]["result"] == "1000"
    assert nodes["produce"]["outputs"]["parameters"] == [{"name": "answer", "value": "42"}]
    assert nodes["consume"]["outputs"]["result"] == f"answer=42\n{MARKER_TEXT}"
    assert list((tmp_path / "repo").rglob("data.tgz")), "the artifact went through the local repository"


def test_a_script_template_runs_its_source_in_the_image(clean: Podman, tmp_path: Path) -> None:
    script = {
        "name": "main",
        "script": {"image": IMAGE, "command": ["sh"], "source": f"cat {MARKER}\necho from the script\n"},
    }
    code, wf, stderr = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("script", [script])))
    assert code == 0, stderr
    (node,) = pods(wf).values()
    assert node["outputs"]["result"] == f"{MARKER_TEXT}\nfrom the script"


def test_a_failing_step_gives_its_exit_code_and_message(clean: Podman, tmp_path: Path) -> None:
    template = sh("main", "echo going down >&2; echo 'disk full' > /dev/termination-log; exit 3")
    code, wf, _ = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("fails", [template])))
    assert (code, wf["status"]["phase"], wf["status"]["message"]) == (1, "Failed", "Error (exit code 3)")
    (node,) = pods(wf).values()
    assert (node["message"], node["outputs"]["exitCode"]) == ("Error (exit code 3)", "3")
    logs = clean.trellis(tmp_path / "home", "logs", wf["metadata"]["name"])
    assert "going down" in logs.stdout


def test_a_command_missing_from_the_image_fails_with_the_engines_start_error(clean: Podman, tmp_path: Path) -> None:
    template = {"name": "main", "container": {"image": IMAGE, "command": ["no-such-program"]}}
    code, wf, _ = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("nocmd", [template])))
    assert (code, wf["status"]["phase"], wf["status"]["message"]) == (1, "Failed", "StartError (exit code 127)")


def test_active_deadline_kills_the_container_and_leaves_none_behind(clean: Podman, tmp_path: Path) -> None:
    template = sh("main", "trap 'echo terminated; exit 143' TERM; sleep 60 & wait", activeDeadlineSeconds=1)
    started = time.monotonic()
    code, wf, stderr = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("late", [template])))
    assert time.monotonic() - started < 30, "the container was not killed at its deadline"
    assert (code, wf["status"]["phase"]) == (1, "Failed"), stderr
    (node,) = pods(wf).values()
    assert node["message"] == "Pod was active on the node longer than the specified deadline"


def test_ctrl_c_stops_the_run_and_leaves_no_container(clean: Podman, tmp_path: Path) -> None:
    wf_file = write(tmp_path / "wf.yaml", workflow("interrupted", [sh("main", "sleep 60")]))
    env = {**clean.env, "TRELLIS_HOME": str(tmp_path / "home")}
    argv = clean.wrap(trellis_argv("run", wf_file, "--runtime", "podman", "--output", "json"))
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        deadline = time.monotonic() + 60
        labelled = ["ps", "--filter", "label=workflows.argoproj.io/workflow", "--format", "{{.Names}}"]
        while not [n for n in clean.run(*labelled).stdout.split() if n.startswith("trellis-interrupted-")]:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the step's container never started"
        proc.send_signal(signal.SIGINT)  # `unshare` and `sh` exec'd: this is the trellis process
        out, err = proc.communicate(timeout=60)
    wf = json.loads(out)
    assert (proc.returncode, wf["status"]["phase"]) == (1, "Failed"), err
    assert wf["status"]["message"] == "Stopped with strategy 'Stop'"


def test_a_missing_image_with_pull_policy_never_fails_the_node_with_the_pull_error(
    clean: Podman, tmp_path: Path
) -> None:
    missing = "localhost/trellis-missing:1"
    template = sh("main", "true", image=missing)
    template["container"]["imagePullPolicy"] = "Never"
    code, wf, stderr = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("noimage", [template])))
    engine_says = clean.run("image", "inspect", missing, check=False).stderr.strip().splitlines()[-1]
    expected = (
        f'ErrImageNeverPull: Container image "{missing}" is not present with pull policy of Never'
        f" (podman: {engine_says})"
    )
    assert (code, wf["status"]["phase"]) == (1, "Failed"), stderr
    (node,) = pods(wf).values()
    assert node["message"] == expected
    assert wf["status"]["message"] == expected


def test_docker_without_a_daemon_is_refused_with_one_line(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if info.returncode == 0:
        pytest.skip("a docker daemon answers here")
    wf_file = write(tmp_path / "wf.yaml", workflow("docker", [sh("main", "true")]))
    env = {**os.environ, "TRELLIS_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        trellis_argv("run", wf_file, "--runtime", "docker"), capture_output=True, text=True, env=env, timeout=60
    )
    docker_says = info.stderr.strip().splitlines()[-1]
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f"trellis run: --runtime docker: the docker engine does not work here (docker: {docker_says});"
        " start the engine or use --runtime host\n"
    )


@pytest.mark.slow
def test_a_failed_pull_fails_the_node_with_err_image_pull_and_the_engines_words(clean: Podman, tmp_path: Path) -> None:
    unreachable = "127.0.0.1:9/trellis/nothing:1"  # nothing listens on the discard port: the pull fails
    template = sh("main", "true", image=unreachable)
    reference = start_pull(clean, unreachable)
    code, wf, stderr = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("nopull", [template])))
    engine_says = last_error(reference)
    expected = f'ErrImagePull: Failed to pull image "{unreachable}": podman: {engine_says}'
    assert (code, wf["status"]["phase"]) == (1, "Failed"), stderr
    (node,) = pods(wf).values()
    assert node["message"] == expected


def test_a_sidecar_that_ignores_sigterm_is_killed_after_the_grace_period(clean: Podman, tmp_path: Path) -> None:
    template = sh("main", "echo main done")
    template["sidecars"] = [{"name": "helper", "image": IMAGE, "command": ["sleep", "60"]}]  # PID 1: ignores TERM
    template["podSpecPatch"] = '{"terminationGracePeriodSeconds": 1}'
    started = time.monotonic()
    code, wf, stderr = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("sidecar", [template])))
    assert time.monotonic() - started < 8, "the sidecar was not killed after its 1 s grace period"
    assert (code, wf["status"]["phase"]) == (0, "Succeeded"), stderr
    (node,) = pods(wf).values()
    assert node["outputs"]["result"] == "main done"


def test_the_templates_own_init_container_runs_in_the_engine_and_shares_a_volume_with_main(
    clean: Podman, tmp_path: Path
) -> None:
    template = sh("main", "cat /work/prepared")
    template["container"]["volumeMounts"] = [{"name": "work", "mountPath": "/work"}]
    template["initContainers"] = [
        {
            "name": "prepare",
            "image": IMAGE,
            "command": ["sh", "-c", f"cat {MARKER} > /work/prepared"],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
        }
    ]
    wf = workflow("init", [template], volumes=[{"name": "work", "emptyDir": {}}])
    code, final, stderr = run_json(clean, tmp_path / "home", write(tmp_path / "wf.yaml", wf))
    assert code == 0, stderr
    (node,) = pods(final).values()
    assert node["outputs"]["result"] == MARKER_TEXT


@pytest.mark.slow
def test_a_latest_image_is_pulled_as_kubernetes_does_and_a_local_one_gets_the_hint(
    clean: Podman, tmp_path: Path
) -> None:
    latest = "localhost/trellis-test:latest"  # no registry at localhost: the pull fails
    clean.run("tag", IMAGE, latest)
    reference = start_pull(clean, latest)
    code, wf, stderr = run_json(
        clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("latest", [sh("main", "true", image=latest)]))
    )
    engine_says = last_error(reference)
    assert (code, wf["status"]["phase"]) == (1, "Failed"), stderr
    (node,) = pods(wf).values()
    assert node["message"] == (
        f'ErrImagePull: Failed to pull image "{latest}": podman: {engine_says}; the image is present locally:'
        " set imagePullPolicy: IfNotPresent to use it"
    )


def test_an_example_runs_unchanged_with_its_image_name_served_locally(clean: Podman, tmp_path: Path) -> None:
    example = EXAMPLES / "artifacts-pipeline.yaml"
    if not example.exists():
        pytest.skip("examples/artifacts-pipeline.yaml is not there")
    code, wf, stderr = run_json(clean, tmp_path / "home", example)
    assert (code, wf["status"]["phase"], wf["status"]["progress"]) == (0, "Succeeded", "3/3"), stderr
    logs = clean.trellis(tmp_path / "home", "logs", wf["metadata"]["name"], "--node", "analyze-results").stdout
    lines = logs.splitlines()
    listing = [[*f[:5], f[-1]] for f in (line.split() for line in lines[3:6])]  # without the dates
    assert lines[:2] + lines[6:] == [  # lines[2] is `total N` blocks, which depends on the file system
        "Analyzing processed data...",
        "Input files:",
        "Content analysis:",
        "4 /tmp/analysis/processed.csv",
        "Analysis complete!",
    ]
    # busybox's ls in the image: numeric owners (the image has no /etc/passwd), unlike the host's
    assert listing[2] == ["-rw-r--r--", "1", "0", "0", "95", "processed.csv"]


def test_env_values_arrive_exactly_and_secrets_come_from_the_secrets_file(clean: Podman, tmp_path: Path) -> None:
    values = {"PADDED": "  both ends  ", "SYMBOLS": "a=b #c 'q' \"qq\" $HOME", "MULTI": "line one\nline two"}
    template = sh("main", 'printf \'[%s]\' "$PADDED" "$SYMBOLS" "$MULTI" "$TOKEN"')
    template["container"]["env"] = [
        *({"name": k, "value": v.replace("$", "$$")} for k, v in values.items()),  # $$: Kubernetes' escaped $
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
    ]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "s3cr3t"}}
    secrets = write(tmp_path / "secrets.yaml", secret)
    wf_file = write(tmp_path / "wf.yaml", workflow("env", [template]))
    code, wf, stderr = run_json(clean, tmp_path / "home", wf_file, "--secrets", str(secrets))
    assert code == 0, stderr
    (node,) = pods(wf).values()
    assert node["outputs"]["result"] == "[  both ends  ][a=b #c 'q' \"qq\" $HOME][line one\nline two][s3cr3t]"
    assert [p for p in (tmp_path / "home" / "runs").rglob("engine-env/*")] == []


def test_a_daemon_step_in_the_engine_serves_the_next_step_once_its_exec_probe_passes_inside_it(
    clean: Podman, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = sh("server", f"mkdir -p /www && cat {MARKER} > /www/index.html && exec httpd -f -p {port} -h /www")
    server["daemon"] = True
    # The probe runs in the container (`podman exec`): it passes only where the image's marker file is.
    probe = f"test -f {MARKER} && wget -qO- http://127.0.0.1:{port}/ | grep -q '{MARKER_TEXT}'"
    server["container"]["readinessProbe"] = {"exec": {"command": ["sh", "-c", probe]}, "periodSeconds": 1}
    client = sh("client", "wget -qO- http://{{inputs.parameters.ip}}:" + f"{port}/")
    client["inputs"] = {"parameters": [{"name": "ip"}]}
    main = {
        "name": "main",
        "steps": [
            [{"name": "server", "template": "server"}],
            [
                {
                    "name": "client",
                    "template": "client",
                    "arguments": {"parameters": [{"name": "ip", "value": "{{steps.server.ip}}"}]},
                }
            ],
        ],
    }
    code, wf, stderr = run_json(
        clean, tmp_path / "home", write(tmp_path / "wf.yaml", workflow("daemon", [main, server, client]))
    )
    assert code == 0, stderr
    assert pods(wf)["client"]["outputs"]["result"] == MARKER_TEXT
