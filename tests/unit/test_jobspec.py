"""executor.jobspec: the pod layout. Golden Jobs for representative steps (tests/golden/, regenerate with
TRELLIS_UPDATE_GOLDEN=1 and review the diff), layout rules as table tests, and strict Kubernetes schema
validation of the Job expanded from every container/script template in examples/ and Argo's example corpus."""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from executor.artifacts.repository import secret_env_name
from executor.contract import InputArtifact, PlanContext, StepSpec
from executor.jobspec import ExpandError, expand, job_name

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
CORPUS = ROOT.parent / "shared" / "argo-examples"
K8S_VERSION = kubernetes_validate.utils.latest_version()
WF = {"metadata": {"name": "wf-abc", "namespace": "team-a", "uid": "9f1c-uid"}, "spec": {}}
S3_REPO = {
    "s3": {
        "bucket": "artifacts",
        "endpoint": "minio.minio:9000",
        "insecure": True,
        "accessKeySecret": {"name": "s3-creds", "key": "accesskey"},
        "secretKeySecret": {"name": "s3-creds", "key": "secretkey"},
    }
}


def make_step(template: Mapping[str, Any], workflow: Mapping[str, Any] = WF, **kw: Any) -> StepSpec:
    return StepSpec(workflow=workflow, node_id="wf-abc-123", node_name="wf-abc.step", template=template, **kw)


def validate(job: Mapping[str, Any]) -> None:
    kubernetes_validate.validate(dict(job), K8S_VERSION, strict=True)


def containers(job: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    spec = job["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def config(job: Mapping[str, Any], container: str) -> dict[str, Any]:
    env = {e["name"]: e.get("value") for e in containers(job)[container]["env"]}
    cfg: dict[str, Any] = json.loads(env["TRELLIS_POD_SPEC"])
    return cfg


def mounts(job: Mapping[str, Any], container: str) -> list[tuple[str, str, str]]:
    return [(m["mountPath"], m["name"], m.get("subPath", "")) for m in containers(job)[container]["volumeMounts"]]


# ---------------------------------------------------------------------------------------------------------------
# Golden Jobs
# ---------------------------------------------------------------------------------------------------------------


def golden_cases() -> list[Path]:
    return sorted(GOLDEN.glob("*.step.yaml"))


@pytest.mark.parametrize("case", golden_cases(), ids=lambda p: p.name.removesuffix(".step.yaml"))
def test_expanded_job_matches_its_golden_manifest(case: Path) -> None:
    data = yaml.safe_load(case.read_text())
    ctx = data.get("context") or {}
    step = StepSpec(
        workflow=data["workflow"],
        node_id=data["node_id"],
        node_name=data["node_name"],
        template=data["template"],
        input_artifacts=tuple(data.get("input_artifacts") or ()),
        active_deadline_seconds=data.get("active_deadline_seconds"),
        artifact_key_prefix=data.get("artifact_key_prefix", ""),
    )
    job = expand(
        step,
        context=PlanContext(
            artifact_repository=ctx.get("artifact_repository"),
            runtime=ctx.get("runtime", "kube"),
            executor_image=ctx.get("executor_image", "ghcr.io/trellis-workflows/trellis:latest"),
            extra_job_labels=ctx.get("extra_job_labels") or {},
        ),
    )
    validate(job)
    expected_file = case.with_name(case.name.replace(".step.yaml", ".job.yaml"))
    rendered = yaml.safe_dump(job, sort_keys=False, width=120)
    if os.environ.get("TRELLIS_UPDATE_GOLDEN") == "1":
        expected_file.write_text(rendered)
    assert rendered == expected_file.read_text()


def test_there_are_golden_cases() -> None:
    assert len(golden_cases()) >= 4


# ---------------------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------------------

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("workflow", "node"),
    [
        pytest.param("hello", "hello", id="short"),
        pytest.param("a" * 63, "a" * 63 + ".step", id="workflow-name-of-63"),
        pytest.param("x" * 253, "deep.node(0)[1]", id="longest-workflow-name"),
        pytest.param("wf.with.dots", "wf.with.dots.s", id="dots-in-workflow-name"),
        pytest.param("wf-", "wf-.a", id="prefix-ends-with-dash"),
    ],
)
def test_job_names_are_dns_labels_of_at_most_63_characters(workflow: str, node: str) -> None:
    name = job_name(workflow, node)
    assert len(name) <= 63 and DNS_LABEL.match(name), name


def test_job_names_are_deterministic_and_differ_per_node_and_attempt() -> None:
    names = {job_name("wf", f"wf.task({i})") for i in range(1000)}
    assert len(names) == 1000
    assert job_name("wf", "wf.task(0)") == job_name("wf", "wf.task(0)")
    assert job_name("wf", "wf.a").startswith("wf-")


# ---------------------------------------------------------------------------------------------------------------
# Layout rules
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        pytest.param(["/tmp/hello_world.txt"], ["/tmp"], id="file-gets-its-parent"),
        pytest.param(["/tmp/output"], ["/tmp"], id="directory-gets-its-parent-too"),
        pytest.param(["/tmp/a.txt", "/tmp/b.txt"], ["/tmp"], id="two-outputs-one-directory"),
        pytest.param(["/tmp/a.txt", "/tmp/out/deep/b"], ["/tmp"], id="nested-collapse-to-outermost"),
        pytest.param(["/output"], ["/output"], id="under-root-the-path-itself"),
        pytest.param(["/mnt/out/a", "/work/b/c"], ["/mnt", "/work/b"], id="separate-directories"),
        pytest.param(["/mnt/out/part.json"], ["/mnt"], id="scratch-directory-so-main-can-mkdir-the-parent"),
        pytest.param(["/app/out/result.json"], ["/app/out"], id="elsewhere-only-the-parent-is-hidden"),
        pytest.param(["/data/result.json"], [], id="under-a-user-volume-mount-no-extra-volume"),
    ],
)
def test_output_paths_get_shared_volumes_at_their_parent_directories(outputs: list[str], expected: list[str]) -> None:
    template = {
        "name": "t",
        "container": {"image": "alpine", "volumeMounts": [{"name": "work", "mountPath": "/data"}]},
        "volumes": [{"name": "work", "emptyDir": {}}],
        "outputs": {"artifacts": [{"name": f"a{i}", "path": p} for i, p in enumerate(outputs)]},
    }
    job = expand(make_step(template), context=PlanContext(artifact_repository=S3_REPO))
    validate(job)
    out_mounts = [path for path, name, _ in mounts(job, "main") if name.startswith("trellis-out-")]
    assert out_mounts == expected
    wait_paths = [a["path"] for a in config(job, "wait")["artifacts"]]
    assert all(p.startswith("/var/run/trellis/mnt/") for p in wait_paths)


def test_user_volume_holding_an_output_is_mounted_into_wait_read_only() -> None:
    template = {
        "name": "t",
        "container": {"image": "alpine", "volumeMounts": [{"name": "work", "mountPath": "/data", "subPath": "x"}]},
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/data/p.txt"}}]},
    }
    job = expand(make_step(template), context=PlanContext())
    assert ("/var/run/trellis/mnt/0", "work", "x") in mounts(job, "wait")
    assert config(job, "wait")["parameters"] == [
        {"name": "p", "declared": "/data/p.txt", "path": "/var/run/trellis/mnt/0/p.txt"}
    ]


def test_inputs_outside_shared_volumes_are_mounted_by_sub_path_and_inside_them_written_in_place() -> None:
    inputs: tuple[InputArtifact, ...] = (
        {"name": "message", "path": "/tmp/message", "location": {"raw": {"data": "hi"}}},
        {"name": "src", "path": "/src", "location": {"git": {"repo": "https://example.com/r.git"}}},
        {"name": "root", "path": "/out", "location": {"raw": {"data": "x"}}},
    )
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {"artifacts": [{"name": "o", "path": "/tmp/o.txt"}, {"name": "d", "path": "/out"}]},
    }
    job = expand(make_step(template, input_artifacts=inputs), context=PlanContext(artifact_repository=S3_REPO))
    validate(job)
    assert mounts(job, "main") == [
        ("/out", "trellis-out-0", ""),
        ("/tmp", "trellis-out-1", ""),
        ("/src", "trellis-inputs", "src"),
    ]
    dests = [(i["name"], i["dest"], i.get("merge")) for i in config(job, "init")["inputs"]]
    assert dests == [
        ("message", "/var/run/trellis/mnt/1/message", False),
        ("src", "/var/run/trellis/inputs/src", None),
        ("root", "/var/run/trellis/mnt/0", True),
    ]


def test_credentials_reach_init_and_wait_as_secret_refs_and_never_main_or_the_config() -> None:
    inputs: tuple[InputArtifact, ...] = (
        {"name": "in", "path": "/in", "location": {"s3": {**S3_REPO["s3"], "key": "k.tgz"}}},
    )
    template = {
        "name": "t",
        "container": {"image": "alpine"},
        "outputs": {"artifacts": [{"name": "o", "path": "/o/x"}]},
    }
    job = expand(make_step(template, input_artifacts=inputs), context=PlanContext(artifact_repository=S3_REPO))
    expected = [
        {"name": secret_env_name("s3-creds", key), "valueFrom": {"secretKeyRef": {"name": "s3-creds", "key": key}}}
        for key in ("accesskey", "secretkey")
    ]
    for name in ("init", "wait"):
        assert [e for e in containers(job)[name]["env"] if "secretKeyRef" in e.get("valueFrom", {})] == expected
    assert "env" not in containers(job)["main"]
    assert all("TRELLIS_SECRET" not in json.dumps(config(job, c)) for c in ("init", "wait"))


@pytest.mark.parametrize(
    ("template_fields", "workflow_fields", "main_has_token"),
    [
        pytest.param({}, {}, False, id="default-no-token-in-main"),
        pytest.param({"serviceAccountName": "builder"}, {}, True, id="template-asks-for-a-service-account"),
        pytest.param({}, {"serviceAccountName": "builder"}, True, id="workflow-asks-for-a-service-account"),
        pytest.param(
            {"serviceAccountName": "b", "automountServiceAccountToken": False}, {}, False, id="explicit-opt-out"
        ),
        pytest.param({"automountServiceAccountToken": True}, {}, True, id="explicit-opt-in"),
    ],
)
def test_only_wait_gets_an_api_token_unless_the_template_asks_for_one(
    template_fields: dict[str, Any], workflow_fields: dict[str, Any], main_has_token: bool
) -> None:
    workflow = {**WF, "spec": workflow_fields}
    job = expand(
        make_step({"name": "t", "container": {"image": "a"}, **template_fields}, workflow), context=PlanContext()
    )
    validate(job)
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert (sa, "trellis-token", "") in mounts(job, "wait")
    assert ((sa, "trellis-token", "") in mounts(job, "main")) is main_has_token


def test_local_runtime_gives_wait_the_fifo_directory_and_no_token() -> None:
    job = expand(make_step({"name": "t", "container": {"image": "a"}}), context=PlanContext(runtime="local"))
    wait = containers(job)["wait"]
    assert {"name": "TRELLIS_MAIN_WATCH", "value": "local"} in wait["env"]
    assert mounts(job, "wait") == [("/tmp", "trellis-tmp", ""), ("/var/run/trellis/local", "trellis-local", "")]
    assert "trellis-token" not in json.dumps(job)


def test_pod_fields_come_from_the_template_over_the_workflow_and_kueue_labels_reach_the_job() -> None:
    workflow = {
        **WF,
        "spec": {
            "nodeSelector": {"pool": "wf"},
            "tolerations": [{"key": "wf", "operator": "Exists"}],
            "podPriorityClassName": "low",
            "imagePullSecrets": [{"name": "regcred"}],
            "podMetadata": {"labels": {"kueue.x-k8s.io/queue-name": "team-a", "team": "a"}},
            "podSpecPatch": '{"containers": [{"name": "main", "resources": {"limits": {"cpu": "1"}}}]}',
        },
    }
    template = {
        "name": "t",
        "container": {"image": "a", "resources": {"limits": {"memory": "1Gi"}}},
        "nodeSelector": {"pool": "tmpl"},
        "metadata": {"labels": {"team": "b"}, "annotations": {"note": "x"}},
        "podSpecPatch": "containers:\n- name: main\n  resources:\n    limits:\n      memory: 2Gi\n",
        "sidecars": [{"name": "proxy", "image": "envoy", "mirrorVolumeMounts": True}],
    }
    job = expand(make_step(template, workflow), context=PlanContext())
    validate(job)
    pod = job["spec"]["template"]["spec"]
    assert (pod["nodeSelector"], pod["tolerations"], pod["priorityClassName"], pod["imagePullSecrets"]) == (
        {"pool": "tmpl"},
        [{"key": "wf", "operator": "Exists"}],
        "low",
        [{"name": "regcred"}],
    )
    assert containers(job)["main"]["resources"] == {"limits": {"memory": "2Gi", "cpu": "1"}}
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    assert job["spec"]["template"]["metadata"]["labels"]["team"] == "b"
    assert job["spec"]["template"]["metadata"]["annotations"]["note"] == "x"
    assert containers(job)["proxy"]["restartPolicy"] == "Always"


@pytest.mark.parametrize(
    ("template", "repository", "message"),
    [
        pytest.param(
            {"name": "t", "container": {"image": "a"}, "podSpecPatch": "{not: [valid"},
            None,
            'template "t": podSpecPatch: not valid JSON or YAML',
            id="malformed-pod-spec-patch",
        ),
        pytest.param(
            {"name": "t", "container": {"image": "a"}, "outputs": {"artifacts": [{"name": "o", "path": "/o"}]}},
            None,
            "template \"t\": outputs.artifacts[0] ('o'): no artifact repository is configured; set "
            "artifactRepository in the workflow-controller-configmap, an artifact-repositories ConfigMap, or give "
            "the artifact an s3 location",
            id="outputs-without-repository",
        ),
        pytest.param(
            {
                "name": "t",
                "container": {"image": "a"},
                "outputs": {"artifacts": [{"name": "o", "path": "/o", "archive": {"zip": {}}}]},
            },
            S3_REPO,
            "template \"t\": outputs.artifacts[0].archive: ['zip'] is not supported; use tar (default) or none",
            id="zip-archive",
        ),
        pytest.param(
            {"name": "t", "container": {"image": "a"}, "outputs": {"artifacts": [{"name": "o", "path": "out/x"}]}},
            S3_REPO,
            "template \"t\": outputs.artifacts[0].path 'out/x' must be absolute",
            id="relative-output-path",
        ),
        pytest.param(
            {
                "name": "t",
                "container": {"image": "a"},
                "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "p.txt"}}]},
            },
            None,
            "template \"t\": outputs.parameters[0].valueFrom.path 'p.txt' must be absolute",
            id="relative-parameter-path",
        ),
        pytest.param(
            {"name": "t", "dag": {"tasks": []}},
            None,
            'template "t": expand() takes container or script templates only',
            id="not-a-leaf",
        ),
        pytest.param(
            {"name": "t", "container": {"command": ["x"]}},
            None,
            'template "t": container.image is required; set the image main runs in',
            id="no-image",
        ),
    ],
)
def test_steps_that_cannot_become_jobs_raise_a_clear_error(
    template: dict[str, Any], repository: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(ExpandError) as info:
        expand(make_step(template), context=PlanContext(artifact_repository=repository))
    assert str(info.value).startswith(message)


def test_inputs_from_unsupported_storage_raise_a_clear_error() -> None:
    inputs: tuple[InputArtifact, ...] = ({"name": "x", "path": "/x", "location": {"gcs": {"bucket": "b", "key": "k"}}},)
    with pytest.raises(ExpandError) as info:
        expand(make_step({"name": "t", "container": {"image": "a"}}, input_artifacts=inputs), context=PlanContext())
    assert str(info.value) == (
        'template "t": input artifact "x": gcs storage is not supported; use s3 (any S3-compatible store), http, '
        "git or raw"
    )


def test_expand_is_pure_and_deterministic() -> None:
    template = {"name": "t", "script": {"image": "python", "command": ["python"], "source": "print(1)"}}
    step = make_step(template, active_deadline_seconds=30)
    before = json.dumps(template)
    assert expand(step, context=PlanContext()) == expand(step, context=PlanContext())
    assert json.dumps(template) == before


# ---------------------------------------------------------------------------------------------------------------
# Every template of examples/ and of Argo's corpus expands to a strictly valid Job
# ---------------------------------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")


def _fill(value: Any) -> Any:
    """Stand in for the planner's substitution: every {{...}} becomes "1" (valid as a string and a quantity)."""
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    if isinstance(value, str) and "{{" in value:
        return PLACEHOLDER.sub("1", value)
    return value


def _leaf_steps(path: Path) -> Iterator[tuple[str, StepSpec]]:
    for doc in yaml.safe_load_all(path.read_text()):
        if not isinstance(doc, dict) or doc.get("kind") not in (
            "Workflow",
            "WorkflowTemplate",
            "ClusterWorkflowTemplate",
            "CronWorkflow",
        ):
            continue
        spec = doc.get("spec") or {}
        if doc["kind"] == "CronWorkflow":
            spec = spec.get("workflowSpec") or {}
        name = (
            str((doc.get("metadata") or {}).get("name") or (doc.get("metadata") or {}).get("generateName", "wf-")) + "x"
        )
        workflow = _fill({"metadata": {"name": name, "namespace": "default", "uid": "u"}, "spec": spec})
        for tmpl in spec.get("templates") or []:
            if "container" not in tmpl and "script" not in tmpl:
                continue
            if "{{" in str(tmpl.get("podSpecPatch", "")):
                tmpl = {k: v for k, v in tmpl.items() if k != "podSpecPatch"}  # a whole patch from a parameter
            tmpl = _fill(tmpl)
            inputs: tuple[InputArtifact, ...] = tuple(
                {"name": a["name"], "path": a["path"], "location": {"raw": {"data": "x"}}}
                for a in (tmpl.get("inputs") or {}).get("artifacts") or []
                if a.get("path")
            )
            yield f"{path.name}:{tmpl.get('name')}", make_step(tmpl, workflow, input_artifacts=inputs)


def _sources() -> list[Path]:
    files = sorted((ROOT / "examples").glob("*.yaml"))
    if CORPUS.is_dir():
        files += sorted(CORPUS.rglob("*.yaml"))
    return files


@pytest.mark.parametrize("source", _sources(), ids=lambda p: str(p.relative_to(p.parents[1])))
def test_every_example_template_expands_to_a_strictly_valid_job(source: Path) -> None:
    problems = []
    for where, step in _leaf_steps(source):
        for runtime in ("kube", "local"):
            try:
                job = expand(step, context=PlanContext(artifact_repository=S3_REPO, runtime=runtime))
            except ExpandError as exc:
                if "is not supported" not in str(exc):  # storage Trellis refuses clearly (gcs, azure, ...)
                    problems.append(f"{where}: {exc}")
                continue
            try:
                validate(job)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{where} ({runtime}): {exc.message} at {list(exc.path)}")
    assert problems == []


def _volume_view(job: Mapping[str, Any], container: str, path: str) -> tuple[str, str] | None:
    """(volume name, path inside the volume) of `path` as `container` sees it; None if on its own filesystem."""
    best: tuple[int, tuple[str, str]] | None = None
    for m in containers(job)[container].get("volumeMounts", []):
        mount = m["mountPath"].rstrip("/") or "/"
        if path == mount or path.startswith(mount.rstrip("/") + "/"):
            rest = path[len(mount) :].lstrip("/")
            inside = "/".join(p for p in (m.get("subPath", ""), rest) if p)
            if best is None or len(mount) > best[0]:
                best = (len(mount), (m["name"], inside))
    return None if best is None else best[1]


@pytest.mark.parametrize("source", _sources(), ids=lambda p: str(p.relative_to(p.parents[1])))
def test_init_main_and_wait_see_every_artifact_and_parameter_on_the_same_volume(source: Path) -> None:
    problems = []
    for where, step in _leaf_steps(source):
        try:
            job = expand(step, context=PlanContext(artifact_repository=S3_REPO, runtime="local"))
        except ExpandError:
            continue
        names = containers(job)
        for entry in config(job, "wait")["parameters"] + config(job, "wait")["artifacts"]:
            main_view = _volume_view(job, "main", posixpath.normpath(entry["declared"]))
            if main_view is None or main_view != _volume_view(job, "wait", entry["path"]):
                problems.append(f"{where}: output {entry['declared']}: main {main_view}, wait {entry['path']}")
        if "init" in names:
            for entry in config(job, "init")["inputs"]:
                main_view = _volume_view(job, "main", posixpath.normpath(entry["path"]))
                if main_view is None or main_view != _volume_view(job, "init", entry["dest"]):
                    problems.append(f"{where}: input {entry['path']}: main {main_view}, init {entry['dest']}")
    assert problems == []


def test_dollar_signs_in_the_pod_config_survive_kubernetes_env_expansion() -> None:
    """The kubelet turns `$$` into `$` and expands `$(VAR)` in env values; the script must arrive as written."""
    import json as _json

    from executor.contract import PlanContext, StepSpec
    from executor.jobspec import expand

    source = "echo $(( $$ % 100 )) $(HOME) $$(PWD)"
    template = {"name": "s", "script": {"image": "alpine", "command": ["sh"], "source": source}}
    workflow = {"metadata": {"name": "a", "namespace": "d", "uid": "u"}, "spec": {}}
    job = expand(StepSpec(workflow=workflow, node_id="a-1", node_name="a.s", template=template), context=PlanContext())
    (init,) = job["spec"]["template"]["spec"]["initContainers"]
    (value,) = [e["value"] for e in init["env"] if e["name"] == "TRELLIS_POD_SPEC"]
    kubelet_sees = value.replace("$$", "$")  # what Kubernetes' expansion makes of every `$$`
    assert _json.loads(kubelet_sees)["script"]["source"] == source


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        pytest.param(
            '{"containers": [{"name": "main", "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}]}]}',
            lambda pod: containers_of(pod)["main"]["env"] == [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
            id="env-merged-by-name",
        ),
        pytest.param(
            "containers:\n- name: main\n  volumeMounts:\n  - {name: extra, mountPath: /extra}\nvolumes:\n"
            "- {name: extra, emptyDir: {}}\n",
            lambda pod: (
                ("/extra" in [m["mountPath"] for m in containers_of(pod)["main"]["volumeMounts"]])
                and ("/tmp" in [m["mountPath"] for m in containers_of(pod)["main"]["volumeMounts"]])
                and any(v["name"] == "extra" for v in pod["volumes"])
            ),
            id="mounts-and-volumes-appended",
        ),
        pytest.param(
            '{"tolerations": [{"key": "b", "operator": "Exists"}]}',
            lambda pod: pod["tolerations"] == [{"key": "b", "operator": "Exists"}],
            id="other-lists-replaced",
        ),
        pytest.param(
            '{"nodeSelector": null, "containers": [{"name": "wait", "resources": {"limits": {"memory": "1Gi"}}}]}',
            lambda pod: (
                "nodeSelector" not in pod and containers_of(pod)["wait"]["resources"]["limits"] == {"memory": "1Gi"}
            ),
            id="null-deletes-and-sidecar-containers-patchable",
        ),
        pytest.param(
            '{"containers": [{"name": "debug", "image": "busybox"}]}',
            lambda pod: list(containers_of(pod)) == ["main", "wait", "debug"],
            id="unknown-container-added",
        ),
    ],
)
def test_pod_spec_patch_merges_containers_by_name_as_argo(patch: str, check: Any) -> None:
    template = {
        "name": "t",
        "container": {"image": "a", "env": [{"name": "A", "value": "1"}]},
        "nodeSelector": {"pool": "x"},
        "tolerations": [{"key": "a", "operator": "Exists"}],
        "podSpecPatch": patch,
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p"}}]},
    }
    job = expand(make_step(template), context=PlanContext(runtime="local"))
    validate(job)
    assert check(job["spec"]["template"]["spec"])


def containers_of(pod: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod["containers"]}
