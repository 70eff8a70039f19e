"""`trellis-exec init` and `trellis-exec wait` run for real as subprocesses, configured by the very Jobs that
executor.jobspec.expand produces, against a real S3-compatible server (moto, tests/s3server.py), a local
directory repository, a loopback HTTP server and a git repository made with `git init`.

The test plays the kubelet, explicitly: each volume of the Job is a directory under tmp; a container's
mountPaths are mapped to those directories (subPath included) by rewriting the paths in its TRELLIS_POD_SPEC;
"main" is simulated by writing files where main's mounts put them; the main-exit channel is the local FIFO.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from executor.artifacts.archive import extract_tar_gz
from executor.contract import InputArtifact, PlanContext, StepSpec
from executor.jobspec import expand
from tests.s3server import S3Server, s3_bucket, s3_server  # noqa: F401  (pytest fixtures)
from tests.standin.fixture import kube  # noqa: F401  (pytest fixture)

ROOT = Path(__file__).resolve().parents[2]
WF = {"metadata": {"name": "wf-abc", "namespace": "default", "uid": "u-1"}, "spec": {}}


MEASURED = """
import sys
from pathlib import Path
from executor.pod.main import main
code = main(sys.argv[2:])
status = Path("/proc/self/status").read_text()
Path(sys.argv[1]).write_text(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM:")))
sys.exit(code)
"""


@dataclass
class FakePod:
    """One pod of a Job, its volumes as directories under `root`."""

    job: Mapping[str, Any]
    root: Path

    def __post_init__(self) -> None:
        for vol in self.job["spec"]["template"]["spec"]["volumes"]:
            self.volume_dir(vol["name"]).mkdir(parents=True, exist_ok=True)
        (self.root / "termination-log").touch()

    def volume_dir(self, name: str) -> Path:
        for vol in self.job["spec"]["template"]["spec"]["volumes"]:
            if vol["name"] == name and "hostPath" in vol:
                return Path(vol["hostPath"]["path"])
        return self.root / "volumes" / name

    def container(self, name: str) -> dict[str, Any]:
        spec = self.job["spec"]["template"]["spec"]
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            if c["name"] == name:
                return dict(c)
        raise KeyError(name)

    def mounts(self, container: str) -> list[tuple[str, Path]]:
        out = []
        for m in self.container(container).get("volumeMounts", []):
            host = self.volume_dir(m["name"]) / m.get("subPath", "")
            out.append((m["mountPath"], host))
        return sorted(out, key=lambda m: -len(m[0]))

    def host_path(self, container: str, path: str) -> Path:
        """Where `path` as seen by `container` lives on this host."""
        for mount, host in self.mounts(container):
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return host / path[len(mount) :].lstrip("/")
        raise AssertionError(f"{path} is not on a volume of {container}; the pod layout lost it")

    def main_writes(self, path: str, data: bytes) -> None:
        target = self.host_path("main", path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _config(self, container: str) -> str:
        env = {e["name"]: e.get("value") for e in self.container(container)["env"]}
        cfg = json.loads(env["TRELLIS_POD_SPEC"])
        mounts = self.mounts(container)

        def rewrite(value: Any, key: str = "") -> Any:
            if isinstance(value, dict):
                return {k: rewrite(v, k) for k, v in value.items()}
            if isinstance(value, list):
                return [rewrite(v) for v in value]
            if isinstance(value, str) and key in ("dest", "path") and value.startswith("/var/run/trellis"):
                for mount, host in mounts:
                    if value == mount or value.startswith(mount.rstrip("/") + "/"):
                        return str(host / value[len(mount) :].lstrip("/"))
            return value

        cfg = rewrite(cfg)
        if "report_path" in cfg:
            cfg["report_path"] = str(self.root / "termination-log")
        return json.dumps(cfg)

    def start(
        self, container: str, env: Mapping[str, str] | None = None, *, peak_file: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Run `python -m executor.pod CONTAINER`; with `peak_file`, the same through a wrapper that writes the
        process's peak RSS (VmHWM: since exec, unlike ru_maxrss, which inherits the forking parent's size)."""
        variables = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.root),
            "TRELLIS_POD_SPEC": self._config(container),
            "TRELLIS_MAIN_WATCH": "local",
            "TRELLIS_LOCAL_DIR": str(self.volume_dir("trellis-local")),
            **(env or {}),
        }
        with self.log(container).open("wb") as sink:
            argv = [sys.executable, "-m", "executor.pod", container]
            if peak_file is not None:
                argv = [sys.executable, "-c", MEASURED, str(peak_file), container]
            return subprocess.Popen(
                argv,
                cwd=ROOT,
                env=variables,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def log(self, container: str) -> Path:
        return self.root / f"{container}.log"

    def run_init(self, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        proc = self.start("init", env)
        proc.wait(timeout=60)
        return subprocess.CompletedProcess(proc.args, proc.returncode, b"", self.log("init").read_bytes())

    def run_wait(
        self, exit_code: int = 0, stdout: bytes = b"", env: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any], str]:
        """Run wait as the kubelet would: FIFO first, then wait, then main's exit code into the FIFO."""
        local = self.volume_dir("trellis-local")
        (local / "main.stdout").write_bytes(stdout)
        os.mkfifo(local / "main.exit")
        proc = self.start("wait", env)
        with (local / "main.exit").open("w") as fifo:  # blocks until wait opened it for reading
            fifo.write(f"{exit_code}\n")
        proc.wait(timeout=60)
        report = json.loads((self.root / "termination-log").read_text())
        return proc.returncode, report, self.log("wait").read_text()


def step(template: Mapping[str, Any], inputs: tuple[InputArtifact, ...] = (), name: str = "wf-abc.step") -> StepSpec:
    return StepSpec(
        workflow=WF,
        node_id="wf-abc-1",
        node_name=name,
        template=template,
        input_artifacts=inputs,
        artifact_key_prefix=f"wf-abc/{name}",
    )


def pod_for(tmp_path: Path, template: Mapping[str, Any], repo: Mapping[str, Any] | None, **kw: Any) -> FakePod:
    job = expand(step(template, **kw), context=PlanContext(artifact_repository=repo, runtime="local"))
    return FakePod(job, tmp_path / "pod")


PRODUCER = {
    "name": "produce",
    "container": {"image": "alpine", "command": ["sh"]},
    "outputs": {
        "parameters": [{"name": "count", "valueFrom": {"path": "/tmp/count.txt"}}],
        "artifacts": [
            {"name": "data", "path": "/tmp/output"},
            {"name": "flat", "path": "/tmp/flat", "archive": {"none": {}}},
            {"name": "file", "path": "/tmp/one.csv", "archive": {"tar": {"compressionLevel": 1}}},
        ],
    },
}
CONSUMER = {
    "name": "consume",
    "inputs": {"artifacts": [{"name": "in"}, {"name": "flat"}, {"name": "file"}]},
    "script": {"image": "python", "command": ["python"], "source": "print('hi')\n"},
    "outputs": {"artifacts": [{"name": "out", "path": "/tmp/result", "optional": True}]},
}


def produce(pod: FakePod) -> None:
    pod.main_writes("/tmp/count.txt", b"3\n\n")
    pod.main_writes("/tmp/output/a.csv", b"user1,25\n")
    pod.main_writes("/tmp/output/sub/b.csv", b"user2,30\n")
    pod.main_writes("/tmp/flat/x.txt", b"x")
    pod.main_writes("/tmp/flat/deep/y.txt", b"y")
    pod.main_writes("/tmp/one.csv", b"1,2,3\n")


def consumer_inputs(report: Mapping[str, Any]) -> tuple[InputArtifact, ...]:
    by_name = {a["name"]: a["location"] for a in report["artifacts"]}
    return (
        {"name": "in", "path": "/tmp/input", "location": by_name["data"]},
        {"name": "flat", "path": "/data/flat", "location": by_name["flat"]},
        {"name": "file", "path": "/tmp/in.csv", "location": by_name["file"], "mode": 0o600},
    )


def test_outputs_uploaded_to_s3_come_back_as_inputs_of_the_next_step(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    repo = s3_server.repository(s3_bucket)
    producer = pod_for(tmp_path / "a", PRODUCER, repo)
    produce(producer)
    code, report, err = producer.run_wait(stdout=b"done\n", env=s3_server.secret_env())
    assert (code, report.get("error")) == (0, None), err
    assert report["parameters"] == {"count": "3"}
    assert report["result"] == "done"
    keys = sorted(o.object_name for o in s3_server.client().list_objects(s3_bucket, recursive=True))
    assert keys == [
        "wf-abc/wf-abc.step/data.tgz",
        "wf-abc/wf-abc.step/file.tgz",
        "wf-abc/wf-abc.step/flat/",
        "wf-abc/wf-abc.step/flat/deep/y.txt",
        "wf-abc/wf-abc.step/flat/x.txt",
    ]
    assert [(a["name"], a["archive"], a["location"]["s3"]["key"]) for a in report["artifacts"]] == [
        ("data", "tar", "wf-abc/wf-abc.step/data.tgz"),
        ("flat", "none", "wf-abc/wf-abc.step/flat"),
        ("file", "tar", "wf-abc/wf-abc.step/file.tgz"),
    ]
    assert "trellis-secret-value" not in json.dumps(report)

    consumer = pod_for(tmp_path / "b", CONSUMER, repo, inputs=consumer_inputs(report), name="wf-abc.next")
    done = consumer.run_init(env=s3_server.secret_env())
    assert done.returncode == 0, done.stderr.decode()
    assert consumer.host_path("main", "/tmp/input/a.csv").read_bytes() == b"user1,25\n"
    assert consumer.host_path("main", "/data/flat/x.txt").stat().st_mode & 0o777 == 0o644
    assert consumer.host_path("main", "/tmp/input/sub/b.csv").read_bytes() == b"user2,30\n"
    assert consumer.host_path("main", "/data/flat/deep/y.txt").read_bytes() == b"y"
    in_csv = consumer.host_path("main", "/tmp/in.csv")
    assert (in_csv.read_bytes(), in_csv.stat().st_mode & 0o777) == (b"1,2,3\n", 0o600)
    script = consumer.host_path("main", "/argo/staging/script")
    assert script.read_text() == "print('hi')\n"
    assert consumer.container("main")["args"] == ["/argo/staging/script"]


def test_local_directory_repository_round_trip(tmp_path: Path) -> None:
    repo = {"local": {"path": str(tmp_path / "repo")}}
    producer = pod_for(tmp_path / "a", PRODUCER, repo)
    produce(producer)
    code, report, err = producer.run_wait()
    assert code == 0, err
    assert (tmp_path / "repo/wf-abc/wf-abc.step/flat/deep/y.txt").read_bytes() == b"y"
    consumer = pod_for(tmp_path / "b", CONSUMER, repo, inputs=consumer_inputs(report), name="wf-abc.next")
    done = consumer.run_init()
    assert done.returncode == 0, done.stderr.decode()
    assert consumer.host_path("main", "/tmp/input/sub/b.csv").read_bytes() == b"user2,30\n"
    assert consumer.host_path("main", "/data/flat/x.txt").read_bytes() == b"x"


def test_missing_outputs_use_defaults_skip_optional_and_fail_the_rest(tmp_path: Path) -> None:
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {
            "parameters": [
                {"name": "with-default", "valueFrom": {"path": "/tmp/a.txt", "default": "fallback"}},
                {"name": "required", "valueFrom": {"path": "/tmp/b.txt"}},
            ],
            "artifacts": [
                {"name": "maybe", "path": "/tmp/maybe", "optional": True},
                {"name": "needed", "path": "/tmp/needed.bin"},
            ],
        },
    }
    pod = pod_for(tmp_path, template, {"local": {"path": str(tmp_path / "repo")}})
    code, report, _ = pod.run_wait()
    assert code == 1
    assert report == {
        "v": 1,
        "result": "",
        "parameters": {"with-default": "fallback"},
        "error": 'failed to save outputs: parameter "required": /tmp/b.txt does not exist; write it in main, '
        'or set valueFrom.default; artifact "needed": /tmp/needed.bin does not exist; create it in main, or '
        "mark the artifact optional: true",
    }


def test_a_failed_main_reports_what_exists_without_extra_errors(tmp_path: Path) -> None:
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p"}}]},
    }
    pod = pod_for(tmp_path, template, None)
    code, report, _ = pod.run_wait(exit_code=3, stdout=b"partial\n")
    assert (code, report) == (0, {"v": 1, "result": "partial"})


def test_result_keeps_256_kib_of_stdout_and_trims_trailing_newlines(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    pod = pod_for(tmp_path / "big", {"name": "t", "container": {"image": "alpine"}}, {"local": {"path": str(repo)}})
    code, message, _ = pod.run_wait(stdout=b"x" * (300 * 1024))
    assert (code, message["offloaded"]["local"]["key"]) == (0, "wf-abc/wf-abc.step/trellis-report.json")
    report = json.loads((repo / "wf-abc/wf-abc.step/trellis-report.json").read_text())
    assert report == {"v": 1, "result": "x" * (256 * 1024)}
    small = pod_for(tmp_path / "small", {"name": "t", "container": {"image": "alpine"}}, None)
    code, report, _ = small.run_wait(stdout=b"line one\nline two\r\n\n")
    assert (code, report) == (0, {"v": 1, "result": "line one\nline two"})


def test_a_report_too_large_without_a_repository_is_an_error_not_a_silent_cut(tmp_path: Path) -> None:
    pod = pod_for(tmp_path, {"name": "t", "container": {"image": "alpine"}}, None)
    code, report, _ = pod.run_wait(stdout=b"y" * 5000)
    size = len(json.dumps({"result": "y" * 5000, "v": 1}, separators=(",", ":")))
    assert (code, report) == (
        1,
        {
            "v": 1,
            "error": f"the step's outputs take {size} bytes, more than the 3584 bytes of a termination message, and "
            "could not be offloaded: no artifact repository is configured to hold it",
        },
    )


def test_large_report_is_offloaded_to_the_repository(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {"parameters": [{"name": "big", "valueFrom": {"path": "/tmp/big.json"}}]},
    }
    pod = pod_for(tmp_path, template, s3_server.repository(s3_bucket))
    value = json.dumps([{"i": i, "text": "v" * 40} for i in range(200)])
    pod.main_writes("/tmp/big.json", value.encode())
    code, message, err = pod.run_wait(env=s3_server.secret_env())
    assert code == 0, err
    location = message["offloaded"]["s3"]
    assert location["key"] == "wf-abc/wf-abc.step/trellis-report.json"
    body = s3_server.client().get_object(s3_bucket, location["key"]).read()
    assert json.loads(body)["parameters"]["big"] == value


def test_upload_failure_fails_the_step_with_the_reason(tmp_path: Path, s3_server: S3Server) -> None:  # noqa: F811
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {"artifacts": [{"name": "a", "path": "/tmp/a"}]},
    }
    pod = pod_for(tmp_path, template, s3_server.repository("no-such-bucket"))
    pod.main_writes("/tmp/a", b"data")
    code, report, _ = pod.run_wait(env=s3_server.secret_env())
    assert code == 1
    assert report["error"] == (
        'failed to save outputs: artifact "a": cannot upload s3://no-such-bucket/wf-abc/wf-abc.step/a.tgz: '
        "NoSuchBucket: The specified bucket does not exist"
    )
    assert "artifacts" not in report


def test_missing_credentials_are_named_without_their_values(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {"artifacts": [{"name": "a", "path": "/tmp/a"}]},
    }
    pod = pod_for(tmp_path, template, s3_server.repository(s3_bucket))
    pod.main_writes("/tmp/a", b"data")
    code, report, _ = pod.run_wait()
    assert code == 1
    assert report["error"] == (
        'failed to save outputs: artifact "a": accessKeySecret Secret "s3-credentials" key "accesskey" was not '
        "provided to this container; check the Secret exists in the workflow's namespace and has that key"
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    uploads: dict[str, bytes] = {}
    BASIC = "Basic " + base64.b64encode(b"reader:s3cret").decode()

    def do_GET(self) -> None:
        allowed = {
            "/data.txt": self.headers.get("X-Token") == "t0k",
            "/private.txt": self.headers.get("Authorization") == self.BASIC,
        }
        if allowed.get(self.path):
            body = f"from http {self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path in allowed:
            self.send_error(401)
        else:
            self.send_error(404)

    def do_PUT(self) -> None:
        if self.headers.get("Transfer-Encoding") == "chunked":
            data = b""
            while (size := int(self.rfile.readline().strip(), 16)) > 0:
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers["Content-Length"]))
        _Handler.uploads[self.path] = data
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def git_repo(tmp_path: Path) -> tuple[str, str]:
    repo = tmp_path / "origin"
    env = dict(
        os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x"
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    (repo / "README").write_text("first\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "one"], check=True, env=env)
    first = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()
    (repo / "README").write_text("second\n")
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "two"], check=True, env=env)
    return f"file://{repo}", first


def test_raw_http_and_git_inputs_are_fetched(tmp_path: Path, http_server: str, git_repo: tuple[str, str]) -> None:
    url, first = git_repo
    inputs: tuple[InputArtifact, ...] = (
        {"name": "raw", "path": "/tmp/raw.txt", "location": {"raw": {"data": "raw data\n"}}},
        {
            "name": "web",
            "path": "/tmp/web.txt",
            "location": {"http": {"url": f"{http_server}/data.txt", "headers": [{"name": "X-Token", "value": "t0k"}]}},
        },
        {"name": "src", "path": "/src", "location": {"git": {"repo": url, "depth": 1}}},
        {"name": "old", "path": "/old", "location": {"git": {"repo": url, "revision": first}}},
        {"name": "gone", "path": "/tmp/gone", "location": {"http": {"url": f"{http_server}/nope"}}, "optional": True},
    )
    template = {
        "name": "t",
        "inputs": {"artifacts": [{"name": i["name"]} for i in inputs]},
        "container": {"image": "alpine"},
    }
    pod = pod_for(tmp_path, template, None, inputs=inputs)
    done = pod.run_init()
    assert done.returncode == 0, done.stderr.decode()
    assert pod.host_path("main", "/tmp/raw.txt").read_text() == "raw data\n"
    assert pod.host_path("main", "/tmp/web.txt").read_text() == "from http /data.txt\n"
    assert pod.host_path("main", "/src/README").read_text() == "second\n"
    assert pod.host_path("main", "/old/README").read_text() == "first\n"
    shallow = subprocess.run(
        ["git", "-C", str(pod.host_path("main", "/src")), "rev-list", "--count", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shallow.stdout.strip() == "1"
    assert 'input artifact "gone"' in done.stderr.decode() and "skipped because it is optional" in done.stderr.decode()


def test_http_basic_auth_inputs_and_http_outputs(tmp_path: Path, http_server: str) -> None:
    from executor.artifacts.repository import secret_env_name

    auth = {
        "basicAuth": {
            "usernameSecret": {"name": "web", "key": "user"},
            "passwordSecret": {"name": "web", "key": "password"},
        }
    }
    inputs: tuple[InputArtifact, ...] = (
        {
            "name": "private",
            "path": "/tmp/private.txt",
            "location": {"http": {"url": f"{http_server}/private.txt", "auth": auth}},
        },
    )
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {
            "artifacts": [
                {
                    "name": "plain",
                    "path": "/tmp/out.txt",
                    "archive": {"none": {}},
                    "http": {"url": f"{http_server}/up/out.txt"},
                },
                {"name": "packed", "path": "/tmp/dir", "http": {"url": f"{http_server}/up/dir.tgz"}},
            ]
        },
    }
    pod = pod_for(tmp_path, template, None, inputs=inputs)
    assert [e["name"] for e in pod.container("init")["env"] if "valueFrom" in e] == [
        secret_env_name("web", "user"),
        secret_env_name("web", "password"),
    ]
    secrets = {secret_env_name("web", "user"): "reader", secret_env_name("web", "password"): "s3cret"}
    done = pod.run_init(env=secrets)
    assert done.returncode == 0, done.stderr.decode()
    assert pod.host_path("main", "/tmp/private.txt").read_text() == "from http /private.txt\n"
    wrong = pod_for(tmp_path / "wrong", template, None, inputs=inputs).run_init(
        env={**secrets, secret_env_name("web", "password"): "x"}
    )
    assert wrong.returncode == 1
    assert wrong.stderr.decode().strip().endswith(f"cannot download {http_server}/private.txt: HTTP 401 Unauthorized")
    pod.main_writes("/tmp/out.txt", b"plain output")
    pod.main_writes("/tmp/dir/a.txt", b"a")
    code, report, err = pod.run_wait()
    assert code == 0, err
    assert _Handler.uploads["/up/out.txt"] == b"plain output"
    extract_tar_gz(io.BytesIO(_Handler.uploads["/up/dir.tgz"]), tmp_path / "unpacked")
    assert (tmp_path / "unpacked" / "a.txt").read_bytes() == b"a"
    assert [a["location"] for a in report["artifacts"]] == [
        {"http": {"url": f"{http_server}/up/out.txt"}},
        {"http": {"url": f"{http_server}/up/dir.tgz"}},
    ]


def test_a_missing_required_input_fails_init_with_its_name_and_location(tmp_path: Path) -> None:
    missing = {"local": {"path": str(tmp_path / "repo"), "key": "wf/x/data.tgz"}}
    inputs: tuple[InputArtifact, ...] = ({"name": "data", "path": "/tmp/data", "location": missing},)
    pod = pod_for(tmp_path, {"name": "t", "container": {"image": "alpine"}}, None, inputs=inputs)
    done = pod.run_init()
    assert done.returncode == 1
    expected = (
        f'input artifact "data" ({tmp_path}/repo/wf/x/data.tgz -> /tmp/data): {tmp_path}/repo/wf/x/data.tgz: '
        "no such artifact in the local repository"
    )
    assert done.stderr.decode().strip() == f"trellis-exec init: {expected}"


def test_an_input_and_outputs_in_the_same_directory_share_one_volume(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "k").mkdir(parents=True)
    with tarfile.open(repo / "k" / "in.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("whatever/inside.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {
            "artifacts": [{"name": "o", "path": "/work/out"}],
            "parameters": [{"name": "p", "valueFrom": {"path": "/work/p"}}],
        },
    }
    inputs: tuple[InputArtifact, ...] = (
        {"name": "i", "path": "/work/in", "location": {"local": {"path": str(repo), "key": "k/in.tgz"}}},
    )
    pod = pod_for(tmp_path, template, {"local": {"path": str(repo)}}, inputs=inputs)
    assert pod.run_init().returncode == 0
    assert pod.host_path("main", "/work/in/inside.txt").read_text() == "ok"
    pod.main_writes("/work/out/r.txt", b"r")
    pod.main_writes("/work/p", b"v")
    code, report, err = pod.run_wait()
    assert (code, report["parameters"]) == (0, {"p": "v"}), err


@pytest.mark.slow
def test_a_file_much_larger_than_memory_streams_up_and_down(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    sizes = {"big": 200 * 1024 * 1024, "raw": 64 * 1024 * 1024}
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {
            "artifacts": [
                {"name": "big", "path": "/tmp/big.bin", "archive": {"tar": {"compressionLevel": 1}}},
                {"name": "raw", "path": "/tmp/raw.bin", "archive": {"none": {}}},
            ]
        },
    }
    repo = s3_server.repository(s3_bucket)
    pod = pod_for(tmp_path / "a", template, repo)
    chunk = os.urandom(1024 * 1024)
    for name, size in sizes.items():
        target = pod.host_path("main", f"/tmp/{name}.bin")
        with target.open("wb") as f:
            for i in range(size // len(chunk)):
                f.write(chunk[i % 7 :] + chunk[: i % 7])
    local = pod.volume_dir("trellis-local")
    (local / "main.stdout").write_bytes(b"")
    os.mkfifo(local / "main.exit")
    proc = pod.start("wait", s3_server.secret_env(), peak_file=tmp_path / "wait.peak")
    with (local / "main.exit").open("w") as fifo:
        fifo.write("0")
    assert proc.wait(timeout=100) == 0, pod.log("wait").read_text()
    wait_peak = int((tmp_path / "wait.peak").read_text()) * 1024
    report = json.loads((pod.root / "termination-log").read_text())
    inputs: tuple[InputArtifact, ...] = tuple(
        {"name": a["name"], "path": f"/in/{a['name']}.bin", "location": a["location"]} for a in report["artifacts"]
    )
    consumer = pod_for(
        tmp_path / "b", {"name": "c", "container": {"image": "alpine"}}, repo, inputs=inputs, name="wf-abc.c"
    )
    proc = consumer.start("init", s3_server.secret_env(), peak_file=tmp_path / "init.peak")
    assert proc.wait(timeout=100) == 0, consumer.log("init").read_text()
    init_peak = int((tmp_path / "init.peak").read_text()) * 1024
    for name, size in sizes.items():
        assert consumer.host_path("main", f"/in/{name}.bin").stat().st_size == size
    limit = 100 * 1024 * 1024  # the files are 200 MiB and 64 MiB
    assert (wait_peak < limit, init_peak < limit) == (True, True), (wait_peak, init_peak)
    print(f"peak RSS for 200 + 64 MiB: wait {wait_peak >> 20} MiB, init {init_peak >> 20} MiB")


# ---------------------------------------------------------------------------------------------------------------
# The cluster main-exit channel: wait watches its own Pod through the real kubernetes client, against the
# Kubernetes API stand-in (tests/standin); the test moves the Pod's status as a kubelet would.
# ---------------------------------------------------------------------------------------------------------------


def test_kube_channel_watches_the_pod_until_main_terminates_then_reads_its_log(
    kube: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from kubernetes import client as k8s

    from executor.pod.channel import KubeChannel
    from executor.pod.wait import run_wait

    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "wf-abc-1a-xyz", "namespace": "default"},
            "spec": {"containers": [{"name": "main", "image": "alpine"}, {"name": "wait", "image": "trellis"}]},
        }
    )
    running = {
        "containerStatuses": [{"name": "main", "state": {"running": {}}}, {"name": "wait", "state": {"running": {}}}]
    }
    kube.patch("v1", "Pod", "wf-abc-1a-xyz", {"status": {"phase": "Running", **running}}, subresource="status")
    api = kube.client()
    channel = KubeChannel(k8s.CoreV1Api(api), pod="wf-abc-1a-xyz", namespace="default")
    out = tmp_path / "tmp"
    out.mkdir()
    (out / "p.txt").write_text("42\n")
    cfg: Any = {
        "v": 1,
        "result": True,
        "parameters": [{"name": "p", "path": str(out / "p.txt"), "declared": "/tmp/p.txt"}],
        "artifacts": [],
        "report_path": str(tmp_path / "termination-log"),
    }
    outcome: list[int] = []
    thread = threading.Thread(target=lambda: outcome.append(run_wait(cfg, channel=channel, secrets=lambda n, k: None)))
    thread.start()
    # wait is blocked in its watch: the "kubelet" ends main (exit code 0) and the log holds main's stdout
    kube.wait_until(lambda: any(r.verb == "watch" for r in kube.requests), what="wait to start watching its pod")
    kube.set_pod_log("default", "wf-abc-1a-xyz", "main", "result line\n")
    done = {
        "containerStatuses": [
            {"name": "main", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "wait", "state": {"running": {}}},
        ]
    }
    kube.patch("v1", "Pod", "wf-abc-1a-xyz", {"status": done}, subresource="status")
    thread.join(timeout=30)
    api.close()
    assert outcome == [0]
    assert json.loads((tmp_path / "termination-log").read_text()) == {
        "v": 1,
        "parameters": {"p": "42"},
        "result": "result line",
    }


@pytest.mark.parametrize(
    ("program", "env", "code", "stderr"),
    [
        pytest.param(
            "init",
            {},
            2,
            "trellis-exec init: TRELLIS_POD_SPEC is not set; trellis-exec runs inside pods made by Trellis",
            id="no-configuration",
        ),
        pytest.param(
            "init",
            {"TRELLIS_POD_SPEC": "{"},
            2,
            "trellis-exec init: TRELLIS_POD_SPEC is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
            id="bad-json",
        ),
        pytest.param(
            "wait",
            {"TRELLIS_POD_SPEC": '{"v": 7}'},
            2,
            "trellis-exec wait: TRELLIS_POD_SPEC: expected a version 1 configuration object",
            id="unknown-version",
        ),
        pytest.param(
            "wait",
            {"TRELLIS_POD_SPEC": '{"v": 1}', "TRELLIS_MAIN_WATCH": "docker"},
            2,
            "trellis-exec wait: TRELLIS_MAIN_WATCH='docker'; use kube or local",
            id="unknown-channel",
        ),
    ],
)
def test_bad_configuration_exits_2_with_a_message_not_a_traceback(
    program: str, env: dict[str, str], code: int, stderr: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "executor.pod", program],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr.strip()) == (code, stderr)


def test_wait_outside_a_cluster_reports_why_it_cannot_watch_main(tmp_path: Path) -> None:
    cfg = {"v": 1, "report_path": str(tmp_path / "termination-log")}
    done = subprocess.run(
        [sys.executable, "-m", "executor.pod", "wait"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "TRELLIS_POD_SPEC": json.dumps(cfg),
            "TRELLIS_MAIN_WATCH": "kube",
            "TRELLIS_SERVICE_ACCOUNT_DIR": str(tmp_path / "no-token"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    message = "cannot reach the Kubernetes API to watch main: Service host/port is not set."
    assert (done.returncode, done.stderr.strip()) == (1, f"trellis-exec wait: {message}")
    assert json.loads((tmp_path / "termination-log").read_text()) == {"v": 1, "error": message}


def test_wait_in_a_pod_uses_its_projected_token_over_tls_and_survives_a_dropped_watch(tmp_path: Path) -> None:
    """The whole cluster path as a subprocess: in-cluster config (KUBERNETES_SERVICE_HOST/PORT, token, CA) against
    the stand-in serving HTTPS; the watch is dropped once; then the "kubelet" ends main with exit code 2."""
    from tests.standin.server import KubeStandin

    standin = KubeStandin(tls=True, bookmark_interval=0.2).start()
    try:
        assert standin.ca_file is not None
        sa = tmp_path / "serviceaccount"
        sa.mkdir()
        (sa / "token").write_text("standin-token")
        (sa / "ca.crt").write_bytes(standin.ca_file.read_bytes())
        standin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        standin.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "wf-1-abcde", "namespace": "team"},
                "spec": {"containers": [{"name": "main", "image": "a"}, {"name": "wait", "image": "t"}]},
            }
        )
        port = standin.url.rsplit(":", 1)[1]
        cfg = {"v": 1, "result": True, "parameters": [], "artifacts": [], "report_path": str(tmp_path / "term")}
        env = {
            "PATH": os.environ.get("PATH", ""),
            "TRELLIS_POD_SPEC": json.dumps(cfg),
            "TRELLIS_MAIN_WATCH": "kube",
            "TRELLIS_POD_NAME": "wf-1-abcde",
            "TRELLIS_POD_NAMESPACE": "team",
            "TRELLIS_SERVICE_ACCOUNT_DIR": str(sa),
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": port,
        }
        with (tmp_path / "wait.log").open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "executor.pod", "wait"], cwd=ROOT, env=env, stdout=sink, stderr=sink
            )

        def watches() -> int:
            return sum(1 for r in standin.requests if r.verb == "watch" and r.name in ("", "wf-1-abcde"))

        standin.wait_until(lambda: watches() >= 1, timeout=60, what="wait to watch its pod")
        standin.drop_watches()
        standin.wait_until(lambda: watches() >= 2, timeout=60, what="wait to watch again after the drop")
        standin.set_pod_log("team", "wf-1-abcde", "main", "partial output\n")
        status = {
            "phase": "Running",
            "containerStatuses": [
                {"name": "main", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}},
                {"name": "wait", "state": {"running": {}}},
            ],
        }
        standin.patch("v1", "Pod", "wf-1-abcde", {"status": status}, namespace="team", subresource="status")
        assert proc.wait(timeout=60) == 0, (tmp_path / "wait.log").read_text()
        assert json.loads((tmp_path / "term").read_text()) == {"v": 1, "result": "partial output"}
    finally:
        standin.stop()
