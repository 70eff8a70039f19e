"""executor.artifacts: repository resolution as Argo does it (pure), keys and locations, tar+gzip round trips."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor.artifacts.archive import ArchiveError, extract_tar_gz, is_tar_gz, tar_gz_reader, write_tar_gz
from executor.artifacts.repository import (
    RepositoryError,
    location_in_repository,
    output_key,
    resolve_repository,
    secret_refs,
)

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed" / "workflow-controller-configmap.yaml"

S3_A = {"s3": {"bucket": "a", "endpoint": "minio:9000"}}
S3_B = {"s3": {"bucket": "b", "endpoint": "minio:9000"}}


def repos_cm(name: str = "artifact-repositories", default: str | None = "a", **data: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if default:
        meta["annotations"] = {"workflows.argoproj.io/default-artifact-repository": default}
    return {"metadata": meta, "data": {k: yaml.safe_dump(v) for k, v in data.items()}}


def controller_cm(**data: str) -> dict[str, Any]:
    return {"metadata": {"name": "workflow-controller-configmap"}, "data": data}


def wf(ref: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "w"}, "spec": {} if ref is None else {"artifactRepositoryRef": ref}}


@pytest.mark.parametrize(
    ("workflow", "configmaps", "expected"),
    [
        pytest.param(wf(), {}, None, id="nothing-configured"),
        pytest.param(
            wf(),
            {"workflow-controller-configmap": controller_cm(artifactRepository=yaml.safe_dump(S3_A))},
            S3_A,
            id="controller-artifactRepository",
        ),
        pytest.param(
            wf(),
            {"workflow-controller-configmap": controller_cm(config=yaml.safe_dump({"artifactRepository": S3_B}))},
            S3_B,
            id="controller-legacy-config",
        ),
        pytest.param(
            wf(),
            {
                "artifact-repositories": repos_cm(a=S3_A, b=S3_B),
                "workflow-controller-configmap": controller_cm(artifactRepository=yaml.safe_dump(S3_B)),
            },
            S3_A,
            id="namespace-default-beats-controller",
        ),
        pytest.param(
            wf(),
            {
                "artifact-repositories": repos_cm(default=None, a=S3_A),
                "workflow-controller-configmap": controller_cm(artifactRepository=yaml.safe_dump(S3_B)),
            },
            S3_B,
            id="namespace-configmap-without-default-annotation-is-ignored",
        ),
        pytest.param(wf({"key": "b"}), {"artifact-repositories": repos_cm(a=S3_A, b=S3_B)}, S3_B, id="ref-key"),
        pytest.param(wf({}), {"artifact-repositories": repos_cm(a=S3_A, b=S3_B)}, S3_A, id="ref-default-key"),
        pytest.param(
            wf({"configMap": "my-repos", "key": "a"}),
            {"my-repos": repos_cm("my-repos", a=S3_A)},
            S3_A,
            id="ref-other-configmap",
        ),
    ],
)
def test_repository_is_resolved_as_argo_does(
    workflow: dict[str, Any], configmaps: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    assert resolve_repository(workflow, configmaps) == expected


@pytest.mark.parametrize(
    ("workflow", "configmaps", "message"),
    [
        pytest.param(
            wf({"configMap": "missing"}),
            {},
            'spec.artifactRepositoryRef: ConfigMap "missing" not found in the workflow\'s namespace; create it or '
            "fix spec.artifactRepositoryRef.configMap",
            id="ref-to-missing-configmap",
        ),
        pytest.param(
            wf({}),
            {"artifact-repositories": repos_cm(default=None, a=S3_A)},
            'spec.artifactRepositoryRef: no key given and ConfigMap "artifact-repositories" has no annotation '
            "workflows.argoproj.io/default-artifact-repository; set spec.artifactRepositoryRef.key or annotate the "
            "ConfigMap",
            id="ref-without-key-or-default",
        ),
        pytest.param(
            wf({"key": "zz"}),
            {"artifact-repositories": repos_cm(a=S3_A)},
            'spec.artifactRepositoryRef: ConfigMap "artifact-repositories" has no key "zz" (it has: a); add it or '
            "fix spec.artifactRepositoryRef.key",
            id="ref-to-missing-key",
        ),
        pytest.param(
            wf(),
            {"workflow-controller-configmap": controller_cm(artifactRepository="gcs: {bucket: x}")},
            "workflow-controller-configmap data.artifactRepository: gcs repositories are not supported yet; use s3 "
            "(any S3-compatible store, e.g. MinIO, GCS interoperability) instead",
            id="unsupported-kind",
        ),
        pytest.param(
            wf(),
            {"workflow-controller-configmap": controller_cm(artifactRepository="s3: {endpoint: x}")},
            "workflow-controller-configmap data.artifactRepository.s3.bucket: required; name the bucket artifacts "
            "go to",
            id="s3-without-bucket",
        ),
        pytest.param(
            wf(),
            {"workflow-controller-configmap": controller_cm(config="artifactRepository: [unclosed")},
            "workflow-controller-configmap data.config: not valid YAML",
            id="bad-yaml",
        ),
    ],
)
def test_bad_repository_configuration_is_an_error_saying_where_and_how_to_fix(
    workflow: dict[str, Any], configmaps: dict[str, Any], message: str
) -> None:
    with pytest.raises(RepositoryError) as info:
        resolve_repository(workflow, configmaps)
    assert str(info.value).startswith(message)


def test_the_seed_controller_configmap_resolves_to_its_s3_repository() -> None:
    if not SEED.exists():
        pytest.skip("../shared/seed is not available")
    cm = yaml.safe_load(SEED.read_text())
    repo = resolve_repository(wf(), {"workflow-controller-configmap": cm})
    assert repo == {
        "s3": {
            "bucket": "my-argo-artifacts",
            "endpoint": "s3.amazonaws.com",
            "accessKeySecret": {"name": "argo-artifacts", "key": "accesskey"},
            "secretKeySecret": {"name": "argo-artifacts", "key": "secretkey"},
        }
    }
    location = location_in_repository(repo, "wf/pod/out.tgz")
    assert location["s3"]["key"] == "wf/pod/out.tgz"
    assert list(secret_refs(location)) == [("argo-artifacts", "accesskey"), ("argo-artifacts", "secretkey")]


@pytest.mark.parametrize(
    ("name", "archived", "path", "key"),
    [
        pytest.param("data", True, "/tmp/output", "wf/pod/data.tgz", id="archived"),
        pytest.param("data", False, "/tmp/output", "wf/pod/output", id="none-directory-base-name"),
        pytest.param("data", False, "/tmp/out.csv", "wf/pod/out.csv", id="none-file-base-name"),
    ],
)
def test_output_keys_follow_argos_default_format(name: str, archived: bool, path: str, key: str) -> None:
    assert output_key("wf/pod", name, archived=archived, path=path) == key


def test_a_directory_survives_a_tar_gz_round_trip_under_a_new_name(tmp_path: Path) -> None:
    src = tmp_path / "output"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("a")
    (src / "sub" / "b.csv").write_text("b")
    (src / "empty").mkdir()
    with tar_gz_reader(src, compression_level=9) as stream:
        data = stream.read()
    archive = tmp_path / "out.tgz"
    archive.write_bytes(data)
    assert is_tar_gz(archive)
    extract_tar_gz(io.BytesIO(data), tmp_path / "input")
    assert sorted(p.relative_to(tmp_path / "input").as_posix() for p in (tmp_path / "input").rglob("*")) == [
        "a.csv",
        "empty",
        "sub",
        "sub/b.csv",
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".trellis-untar-")] == []


def test_a_single_file_unpacks_to_the_destination_path(tmp_path: Path) -> None:
    (tmp_path / "hello_world.txt").write_text("hello")
    buffer = io.BytesIO()
    write_tar_gz(tmp_path / "hello_world.txt", buffer)
    extract_tar_gz(io.BytesIO(buffer.getvalue()), tmp_path / "in" / "message")
    assert (tmp_path / "in" / "message").read_text() == "hello"


def test_plain_gzip_is_not_taken_for_an_archive(tmp_path: Path) -> None:
    import gzip

    (tmp_path / "data.csv.gz").write_bytes(gzip.compress(b"1,2,3\n"))
    assert not is_tar_gz(tmp_path / "data.csv.gz")


def test_archives_that_escape_the_destination_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../etc/evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ArchiveError) as info_:
        extract_tar_gz(io.BytesIO(buffer.getvalue()), tmp_path / "in")
    assert str(info_.value).startswith(f"cannot unpack the archive for {tmp_path}/in: ")
    assert not (tmp_path.parent.parent / "etc" / "evil").exists()


def test_compression_level_out_of_range_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ArchiveError) as info:
        write_tar_gz(tmp_path / "f", io.BytesIO(), compression_level=12)
    assert str(info.value) == "compressionLevel 12 is out of range; use -1 (default) to 9"


@pytest.mark.parametrize(
    ("location", "repository", "expected"),
    [
        pytest.param(
            {"s3": {"key": "wf/parts/"}},
            {"s3": {"bucket": "a", "endpoint": "m:9000", "keyFormat": "x"}},
            {"s3": {"bucket": "a", "endpoint": "m:9000", "key": "wf/parts/"}},
            id="key-only-in-s3-repository",
        ),
        pytest.param(
            {"s3": {"key": "wf/parts/"}},
            {"local": {"path": "/repo"}},
            {"local": {"path": "/repo", "key": "wf/parts/"}},
            id="key-only-in-local-repository",
        ),
        pytest.param(
            {"s3": {"bucket": "other", "key": "k"}},
            S3_A,
            {"s3": {"bucket": "other", "key": "k"}},
            id="full-location-unchanged",
        ),
        pytest.param({"raw": {"data": "x"}}, S3_A, {"raw": {"data": "x"}}, id="other-kinds-unchanged"),
        pytest.param({"s3": {"key": "k"}}, None, {"s3": {"key": "k"}}, id="no-repository"),
    ],
)
def test_key_only_artifacts_are_completed_from_the_repository(
    location: dict[str, Any], repository: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    from executor.artifacts.repository import complete_location

    assert complete_location(location, repository) == expected


def test_an_offloaded_report_is_fetched_and_its_error_fails_the_node(tmp_path: Path) -> None:
    import json

    from executor.artifacts.reports import resolve_report
    from executor.contract import JobObservation

    repo = tmp_path / "repo"
    (repo / "wf" / "job").mkdir(parents=True)
    pointer = {"local": {"path": str(repo), "key": "wf/job/trellis-report.json"}}

    def observed(phase: Any, message: str = "") -> JobObservation:
        return JobObservation(
            node_id="n", job_name="j", phase=phase, exit_code=0, message=message, report={"v": 1, "offloaded": pointer}
        )

    def no_secrets(name: str, key: str) -> None:
        return None

    full = {"v": 1, "parameters": {"p": "x" * 5000}, "result": "ok"}
    (repo / "wf/job/trellis-report.json").write_text(json.dumps(full))
    seen = resolve_report(observed("Succeeded"), secrets=no_secrets)
    assert (seen.phase, seen.report) == ("Succeeded", full)

    failed = {"v": 1, "error": 'failed to save outputs: artifact "a": boom'}
    (repo / "wf/job/trellis-report.json").write_text(json.dumps(failed))
    seen = resolve_report(observed("Failed", "the wait container failed (exit code 1)"), secrets=no_secrets)
    assert (seen.phase, seen.message, seen.report) == ("Failed", failed["error"], failed)

    (repo / "wf/job/trellis-report.json").unlink()
    seen = resolve_report(observed("Succeeded"), secrets=no_secrets)
    message = (
        f"cannot read the step's offloaded report from {repo}/wf/job/trellis-report.json: "
        f"{repo}/wf/job/trellis-report.json: no such artifact in the local repository"
    )
    assert (seen.phase, seen.message, seen.report) == ("Failed", message, {"v": 1, "error": message})


WF_META = {
    "metadata": {
        "name": "etl-x1",
        "namespace": "data",
        "uid": "u-9",
        "creationTimestamp": "2026-03-04T05:06:07Z",
        "labels": {"team": "red"},
    }
}


@pytest.mark.parametrize(
    ("key_format", "expected"),
    [
        pytest.param(None, "etl-x1/etl-x1-0123456789", id="argo-default"),
        pytest.param(
            "art/{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}/{{workflow.name}}/{{pod.name}}",
            "art/2026/03/etl-x1/etl-x1-0123456789",
            id="dated",
        ),
        pytest.param("{{workflow.namespace}}/{{workflow.labels.team}}/{{ workflow.uid }}", "data/red/u-9", id="more"),
    ],
)
def test_key_prefix_renders_argos_key_format(key_format: str | None, expected: str) -> None:
    from executor.artifacts.repository import key_prefix

    repo = {"s3": {"bucket": "b", **({"keyFormat": key_format} if key_format else {})}}
    assert key_prefix(repo, workflow=WF_META, pod_name="etl-x1-0123456789") == expected


def test_key_format_with_an_unknown_variable_is_an_error() -> None:
    from executor.artifacts.repository import key_prefix

    with pytest.raises(RepositoryError) as info:
        key_prefix({"s3": {"bucket": "b", "keyFormat": "{{workflow.parameters.x}}/a"}}, workflow=WF_META, pod_name="p")
    assert str(info.value) == (
        "artifactRepository.s3.keyFormat '{{workflow.parameters.x}}/a': cannot resolve {{workflow.parameters.x}}; "
        "use workflow.name, workflow.namespace, workflow.uid, pod.name, workflow.creationTimestamp.<Y|m|d|H|M|S>, "
        "workflow.labels.<key> or workflow.annotations.<key>"
    )


def test_an_output_path_that_is_a_symlink_archives_its_target(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("content")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    buffer = io.BytesIO()
    write_tar_gz(tmp_path / "link.txt", buffer)
    extract_tar_gz(io.BytesIO(buffer.getvalue()), tmp_path / "out" / "file.txt")
    target = tmp_path / "out" / "file.txt"
    assert (target.is_symlink(), target.read_text()) == (False, "content")
