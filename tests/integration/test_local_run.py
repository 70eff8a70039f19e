"""`trellis run` end to end: real `trellis` processes, the real engine, the real kubelet, a real S3 server."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.s3server import SECRET_NAME, S3Server, s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SEED = ROOT.parent / "shared" / "seed"
# An example that ends otherwise than Succeeded on purpose says so with this annotation.
EXPECTED_PHASE_ANNOTATION = "trellis.dev/expected-phase"


def trellis_argv() -> list[str]:
    exe = Path(sys.executable).with_name("trellis")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "executor.cli"]


def trellis(
    home: Path, *args: str | Path, timeout: float = 110, check_json: bool = False, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TRELLIS_HOME=str(home), **env_vars)
    proc = subprocess.run(
        [*trellis_argv(), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT
    )
    if check_json:
        assert proc.stdout.lstrip().startswith("{"), proc.stderr
    return proc


def run_json(home: Path, *args: str | Path) -> tuple[int, dict[str, Any], str]:
    proc = trellis(home, "run", *args, "--output", "json", check_json=True)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def write(path: Path, doc: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Path:
    docs = [doc] if isinstance(doc, Mapping) else list(doc)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def workflow(name: str, templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{name}-"},
        "spec": {"entrypoint": templates[0]["name"], "templates": templates, **spec},
    }


def container(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "container": {"image": "alpine", "command": ["sh", "-c", script]}, **extra}


def nodes_by_display(wf: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []


@pytest.mark.slow
@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_every_example_runs_to_its_expected_phase(path: Path, tmp_path: Path) -> None:
    code, wf, stderr = run_json(tmp_path, path, "--templates", EXAMPLES)
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    annotations = next((d.get("metadata") or {} for d in docs), {}).get("annotations") or {}
    expected = annotations.get(EXPECTED_PHASE_ANNOTATION, "Succeeded")
    assert wf["status"]["phase"] == expected, stderr
    assert code == (0 if expected == "Succeeded" else 1)


def test_the_seed_dag_runs_in_dependency_order_with_clean_and_metadata_in_parallel(tmp_path: Path) -> None:
    source = EXAMPLES / "data-pipeline-dag.yaml"
    if not source.exists():
        source = SEED / "data-pipeline-dag.yaml"
    if not source.exists():
        pytest.skip("no data-pipeline-dag.yaml")
    code, wf, _ = run_json(tmp_path, source)
    assert code == 0
    nodes = nodes_by_display(wf)
    start = {k: when(v["startedAt"]) for k, v in nodes.items() if v["type"] == "Pod"}
    end = {k: when(v["finishedAt"]) for k, v in nodes.items() if v["type"] == "Pod"}
    for before, after in [
        ("fetch-data", "clean-data"),
        ("fetch-data", "generate-metadata"),
        ("clean-data", "aggregate-validate"),
        ("generate-metadata", "aggregate-validate"),
        ("aggregate-validate", "load-production"),
    ]:
        assert end[before] <= start[after], (before, after)
    assert max(start["clean-data"], start["generate-metadata"]) < min(end["clean-data"], end["generate-metadata"])
    assert wf["status"]["progress"] == "5/5"


def test_output_json_prints_only_the_final_workflow_and_dump_jobs_writes_each_job(tmp_path: Path) -> None:
    wf_file = write(tmp_path / "wf.yaml", workflow("hello", [container("main", "echo hello")]))
    dump = tmp_path / "jobs"
    proc = trellis(tmp_path / "home", "run", wf_file, "-o", "json", "--dump-jobs", dump)
    assert proc.returncode == 0, proc.stderr
    final = json.loads(proc.stdout)
    assert final["kind"] == "Workflow" and final["status"]["phase"] == "Succeeded"
    (job_file,) = dump.glob("*.yaml")
    job = yaml.safe_load(job_file.read_text())
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    assert job["metadata"]["labels"]["workflows.argoproj.io/workflow"] == final["metadata"]["name"]


def test_a_failing_step_fails_the_run_with_its_message_and_exit_code_1(tmp_path: Path) -> None:
    wf_file = write(tmp_path / "wf.yaml", workflow("fails", [container("main", "echo about to fail; exit 3")]))
    code, wf, _ = run_json(tmp_path / "home", wf_file)
    assert code == 1
    assert wf["status"]["phase"] == "Failed"
    (pod,) = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert pod["message"] == "Error (exit code 3)"
    assert wf["status"]["message"] == "Error (exit code 3)"


@pytest.mark.parametrize("sandbox", ["bwrap", "unshare"])
def test_outputs_flow_between_steps_in_either_sandbox(tmp_path: Path, sandbox: str) -> None:
    templates = [
        {
            "name": "main",
            "steps": [
                [{"name": "make", "template": "make"}],
                [
                    {
                        "name": "use",
                        "template": "use",
                        "arguments": {"parameters": [{"name": "v", "value": "{{steps.make.outputs.parameters.v}}"}]},
                    }
                ],
            ],
        },
        {
            "name": "make",
            "container": {"image": "alpine", "command": ["sh", "-c", "echo -n made-here > /tmp/v.txt"]},
            "outputs": {"parameters": [{"name": "v", "valueFrom": {"path": "/tmp/v.txt"}}]},
        },
        {
            "name": "use",
            "inputs": {"parameters": [{"name": "v"}]},
            "container": {"image": "alpine", "command": ["echo", "got {{inputs.parameters.v}}"]},
        },
    ]
    wf_file = write(tmp_path / "wf.yaml", workflow("outputs", templates))
    home = tmp_path / "home"
    proc = trellis(home, "run", wf_file, "-o", "json", TRELLIS_SANDBOX=sandbox)
    final = json.loads(proc.stdout)
    assert final["status"]["phase"] == "Succeeded", proc.stderr
    assert trellis(home, "logs", final["metadata"]["name"], "--node", "use").stdout == "got made-here\n"


def test_parameters_and_entrypoint_from_the_command_line(tmp_path: Path) -> None:
    templates = [
        container("ignored", "exit 1"),
        {
            "name": "say",
            "inputs": {"parameters": [{"name": "word"}]},
            "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.word}}"]},
        },
    ]
    wf = workflow("params", templates, arguments={"parameters": [{"name": "word", "value": "default"}]})
    wf["spec"]["templates"][1]["inputs"]["parameters"][0]["value"] = "{{workflow.parameters.word}}"
    wf_file = write(tmp_path / "wf.yaml", wf)
    home = tmp_path / "home"
    code, final, _ = run_json(home, wf_file, "-p", "word=chosen", "--entrypoint", "say")
    assert code == 0
    assert trellis(home, "logs", final["metadata"]["name"]).stdout == "chosen\n"


def test_lint_errors_stop_the_run_with_the_lint_lines(tmp_path: Path) -> None:
    from webhook.lint import lint

    source = SEED / "artifacts-pipeline.yaml"
    if not source.exists():
        pytest.skip("the seed is not here")
    proc = trellis(tmp_path, "run", source)
    expected = [f.text() for f in lint([(str(source), source.read_text())]).errors]
    assert proc.returncode == 1
    assert expected, "the seed's artifacts pipeline is invalid as written"
    assert proc.stderr.splitlines() == expected
    assert proc.stdout == ""


def test_workflow_deadline_fails_the_running_step(tmp_path: Path) -> None:
    wf_file = write(
        tmp_path / "wf.yaml",
        workflow("deadline", [container("main", "sleep 60")], activeDeadlineSeconds=2),
    )
    started = time.monotonic()
    code, wf, _ = run_json(tmp_path / "home", wf_file)
    assert time.monotonic() - started < 30
    assert code == 1
    assert wf["status"]["phase"] == "Failed"
    (pod,) = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    assert pod["phase"] == "Failed"
    assert pod["message"] in {
        "Step exceeded its deadline",
        "Pod was active on the node longer than the specified deadline",
    }


def test_artifacts_pass_through_the_local_directory_repository(tmp_path: Path) -> None:
    source = EXAMPLES / "artifacts-pipeline.yaml"
    if not source.exists():
        pytest.skip("no artifacts example")
    repo, home = tmp_path / "repo", tmp_path / "home"
    code, wf, stderr = run_json(home, source, "--artifact-repo", repo)
    assert code == 0, stderr
    stored = sorted(p.relative_to(repo).parts[-1] for p in repo.rglob("*.csv"))
    assert stored == ["data.csv", "processed.csv"]
    logs = trellis(home, "logs", wf["metadata"]["name"], "--node", "analyze-results").stdout
    assert "4 /tmp/analysis/processed.csv" in logs
    listed = json.loads(trellis(home, "get", wf["metadata"]["name"], "-o", "json").stdout)
    assert listed["status"]["phase"] == "Succeeded"


@pytest.mark.slow
def test_artifacts_pass_through_a_real_s3_server(
    tmp_path: Path,
    s3_server: S3Server,  # noqa: F811
    s3_bucket: str,  # noqa: F811
) -> None:
    source = EXAMPLES / "artifacts-pipeline.yaml"
    if not source.exists():
        pytest.skip("no artifacts example")
    repository = s3_server.repository(s3_bucket)
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "workflow-controller-configmap"},
        "data": {"config": yaml.safe_dump({"artifactRepository": repository})},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME},
        "data": {
            "accesskey": base64.b64encode(s3_server.access_key.encode()).decode(),
            "secretkey": base64.b64encode(s3_server.secret_key.encode()).decode(),
        },
    }
    config = write(tmp_path / "controller.yaml", configmap)
    secrets = write(tmp_path / "secrets.yaml", secret)
    home = tmp_path / "home"
    proc = trellis(home, "run", source, "-o", "json", "--artifact-repo-config", config, "--secrets", secrets)
    wf = json.loads(proc.stdout)
    assert wf["status"]["phase"] == "Succeeded", proc.stderr
    keys = sorted(o.object_name for o in s3_server.client().list_objects(s3_bucket, recursive=True))
    assert [k for k in keys if k.endswith(".csv")] != []
    assert all(k.startswith(wf["metadata"]["name"] + "/") for k in keys)
    assert s3_server.secret_key not in proc.stdout + proc.stderr
    logs = trellis(home, "logs", wf["metadata"]["name"], "--node", "analyze-results").stdout
    assert "4 /tmp/analysis/processed.csv" in logs


def test_missing_repository_credentials_are_a_clear_error(tmp_path: Path) -> None:
    wf_file = write(tmp_path / "wf.yaml", workflow("creds", [container("main", "true")]))
    config = write(
        tmp_path / "repo.yaml",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "workflow-controller-configmap"},
            "data": {
                "artifactRepository": yaml.safe_dump(
                    {
                        "s3": {
                            "bucket": "b",
                            "endpoint": "127.0.0.1:1",
                            "accessKeySecret": {"name": "argo-artifacts", "key": "accesskey"},
                            "secretKeySecret": {"name": "argo-artifacts", "key": "secretkey"},
                        }
                    }
                )
            },
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run(
        [*trellis_argv(), "run", str(wf_file), "--artifact-repo-config", str(config)],
        capture_output=True,
        text=True,
        env=dict(env, TRELLIS_HOME=str(tmp_path / "home")),
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        "trellis run: artifact repository: accessKeySecret refers to Secret 'argo-artifacts' key 'accesskey', which"
        " is not given; pass --secrets FILE with that Secret, or set AWS_ACCESS_KEY_ID\n"
    )


def _start(home: Path, *args: str | Path) -> subprocess.Popen[str]:
    env = dict(os.environ, TRELLIS_HOME=str(home))
    return subprocess.Popen(
        [*trellis_argv(), "run", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def _wait_for_line(stream: Any, needle: str, deadline: float) -> list[str]:
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"never saw {needle!r}; got {seen!r}")


@pytest.mark.slow
def test_ctrl_c_stops_the_run_kills_the_step_and_runs_the_exit_handler(tmp_path: Path) -> None:
    wf_file = write(
        tmp_path / "wf.yaml",
        workflow(
            "stop-me",
            [
                container("main", "echo step started; sleep 60"),
                container("bye", "echo handler saw {{workflow.status}}"),
            ],
            onExit="bye",
        ),
    )
    home = tmp_path / "home"
    proc = _start(home, wf_file, "--logs", "-o", "json")
    assert proc.stderr is not None and proc.stdout is not None
    _wait_for_line(proc.stderr, "step started", time.monotonic() + 60)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 1
    wf = json.loads(out)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == "Stopped with strategy 'Stop'"
    nodes = {n["templateName"]: n for n in wf["status"]["nodes"].values()}
    assert nodes["main"]["phase"] == "Failed"
    assert nodes["bye"]["phase"] == "Succeeded"
    logs = trellis(home, "logs", wf["metadata"]["name"], "--node", nodes["bye"]["displayName"]).stdout
    assert logs == "handler saw Failed\n"


@pytest.mark.slow
def test_a_suspended_run_resumes_from_another_terminal_with_a_supplied_value(tmp_path: Path) -> None:
    templates = [
        {
            "name": "main",
            "steps": [
                [{"name": "approve", "template": "approve"}],
                [
                    {
                        "name": "after",
                        "template": "after",
                        "arguments": {
                            "parameters": [{"name": "answer", "value": "{{steps.approve.outputs.parameters.answer}}"}]
                        },
                    }
                ],
            ],
        },
        {
            "name": "approve",
            "suspend": {},
            "outputs": {"parameters": [{"name": "answer", "valueFrom": {"supplied": {}}}]},
        },
        {
            "name": "after",
            "inputs": {"parameters": [{"name": "answer"}]},
            "container": {"image": "alpine", "command": ["echo", "answer={{inputs.parameters.answer}}"]},
        },
    ]
    wf = workflow("approval", templates)
    wf["metadata"] = {"name": "approval-run"}
    home = tmp_path / "home"
    proc = _start(home, write(tmp_path / "wf.yaml", wf), "-o", "json")
    deadline = time.monotonic() + 60
    while True:
        got = trellis(home, "get", "approval-run", "-o", "json")
        if got.returncode == 0 and any(
            n.get("type") == "Suspend" for n in (json.loads(got.stdout).get("status") or {}).get("nodes", {}).values()
        ):
            break
        assert time.monotonic() < deadline and proc.poll() is None, "the run never suspended"
        time.sleep(0.1)
    resumed = trellis(home, "resume", "approval-run", "-p", "answer=yes")
    assert (resumed.returncode, resumed.stdout) == (0, "workflow approval-run resumed\n")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["status"]["phase"] == "Succeeded"
    assert trellis(home, "logs", "approval-run").stdout == "answer=yes\n"


def test_history_lists_gets_and_deletes_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    wf = workflow("listed", [container("main", "echo listed")])
    wf["metadata"] = {"name": "listed-run"}
    code, _, _ = run_json(home, write(tmp_path / "wf.yaml", wf))
    assert code == 0
    listing = trellis(home, "list").stdout.splitlines()
    assert listing[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PROGRESS", "MESSAGE"]
    assert listing[1].split()[:2] == ["listed-run", "Succeeded"]
    get = trellis(home, "get", "listed-run").stdout
    assert get.splitlines()[:3] == [
        "Name:                listed-run",
        "Namespace:           default",
        "Status:              Succeeded",
    ]
    assert trellis(home, "logs", "listed-run").stdout == "listed\n"
    missing = trellis(home, "logs", "listed-run", "--node", "nope")
    assert missing.returncode == 1
    assert missing.stderr == "trellis logs: listed-run has no step 'nope' with a main container; steps: listed-run\n"
    assert trellis(home, "delete", "listed-run").stdout == "Workflow 'listed-run' deleted\n"
    gone = trellis(home, "get", "listed-run")
    assert (gone.returncode, gone.stderr) == (
        1,
        "trellis get: no run named 'listed-run' in history; see trellis list\n",
    )


def test_trellis_cron_refuses_a_plain_workflow_and_stops_at_once_when_suspended(tmp_path: Path) -> None:
    home = tmp_path / "home"
    wf_file = write(tmp_path / "wf.yaml", workflow("not-cron", [container("main", "true")]))
    refused = trellis(home, "cron", wf_file)
    assert (refused.returncode, refused.stderr) == (
        2,
        "trellis cron: expected a CronWorkflow, found a Workflow; use trellis run for it\n",
    )
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "paused"},
        "spec": {
            "schedules": ["* * * * *"],
            "suspend": True,
            "workflowSpec": {"entrypoint": "main", "templates": [container("main", "true")]},
        },
    }
    stopped = trellis(home, "cron", write(tmp_path / "cron.yaml", cron))
    assert stopped.returncode == 0
    assert [line.split(" ", 1)[1] for line in stopped.stderr.splitlines()] == [
        "scheduling paused: * * * * * (UTC)",
        "nothing scheduled (suspended or no schedule): stopping",
    ]
