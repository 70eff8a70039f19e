"""spec.volumeClaimTemplates and volumeClaimGC: the pure parts (executor.jobspec claim helpers and expand, the
planner's status record, admission). The cluster shell is tested in tests/integration/test_controller_pvc.py, the
local runner in tests/integration/test_local_pvc.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from executor.contract import PlanContext, StepSpec, UpdateStatus
from executor.jobspec import claim_manifests, claim_volumes, claims_released, expand
from executor.planning import plan
from webhook.lint import lint
from webhook.validation import validate

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "argo-examples"
# Argo's examples using spec.volumeClaimTemplates (grep -l volumeClaimTemplates ../shared/argo-examples -r).
CLAIM_EXAMPLES = (
    "buildkit-template.yaml",
    "ci-output-artifact.yaml",
    "ci-workflowtemplate.yaml",
    "ci.yaml",
    "fun-with-gifs.yaml",
    "volumes-pvc.yaml",
    "work-avoidance.yaml",
)

K8S_VERSION = kubernetes_validate.utils.latest_version()
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WORKDIR = {
    "metadata": {"name": "workdir", "labels": {"team": "a"}},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}
CACHE = {
    "metadata": {"name": "cache"},
    "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "64Mi"}}},
}


def manifest(*templates: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "build", "namespace": "team-a", "uid": "wf-uid-1"},
        "spec": {"entrypoint": templates[0]["name"], "templates": list(templates), **spec},
    }


def container(name: str, *mounts: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"image": "alpine:3.20", "command": ["true"]}
    if mounts:
        body["volumeMounts"] = [{"name": m, "mountPath": f"/mnt/{m}"} for m in mounts]
    return {"name": name, "container": body, **extra}


def job_for(
    workflow: Mapping[str, Any], template: Mapping[str, Any], context: PlanContext | None = None
) -> dict[str, Any]:
    step = StepSpec(workflow=workflow, node_id="build-1", node_name="build.step", template=template)
    return expand(step, context=context or PlanContext())


def errors(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate(obj).errors]


# -- jobspec ------------------------------------------------------------------------------------------------------


def test_a_step_mounting_a_claim_template_gets_the_workflows_claim_as_a_volume_of_that_name() -> None:
    step = container("write", "workdir")
    job = job_for(manifest(step, volumeClaimTemplates=[WORKDIR, CACHE]), step)
    pod = job["spec"]["template"]["spec"]
    claims = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [{"name": "workdir", "persistentVolumeClaim": {"claimName": "build-workdir"}}]
    main = next(c for c in pod["containers"] if c["name"] == "main")
    assert {"name": "workdir", "mountPath": "/mnt/workdir"} in main["volumeMounts"]
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param(container("plain"), [], id="no-mount-no-claim"),
        pytest.param(
            {
                **container("side"),
                "sidecars": [{"name": "s", "image": "alpine", "volumeMounts": [{"name": "cache", "mountPath": "/c"}]}],
            },
            ["cache"],
            id="sidecar-mount",
        ),
        pytest.param(
            {
                **container("init"),
                "initContainers": [
                    {"name": "i", "image": "alpine", "volumeMounts": [{"name": "workdir", "mountPath": "/w"}]}
                ],
            },
            ["workdir"],
            id="init-container-mount",
        ),
        pytest.param(
            {
                **container("mirror", "workdir"),
                "sidecars": [{"name": "s", "image": "alpine", "mirrorVolumeMounts": True}],
            },
            ["workdir"],
            id="mirrored-mounts",
        ),
    ],
)
def test_only_claims_some_container_of_the_step_mounts_are_added_to_its_pod(
    template: dict[str, Any], expected: list[str]
) -> None:
    job = job_for(manifest(template, volumeClaimTemplates=[WORKDIR, CACHE]), template)
    pod = job["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"] if "persistentVolumeClaim" in v] == expected
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_claim_manifests_are_the_templates_renamed_labelled_and_owned_by_the_workflow() -> None:
    claims = claim_manifests(manifest(container("a"), volumeClaimTemplates=[WORKDIR, CACHE]))
    assert claims[0] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "build-workdir",
            "namespace": "team-a",
            "labels": {"team": "a", "workflows.argoproj.io/workflow": "build"},
            "ownerReferences": [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Workflow",
                    "name": "build",
                    "uid": "wf-uid-1",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert [c["metadata"]["name"] for c in claims] == ["build-workdir", "build-cache"]
    for claim in claims:
        kubernetes_validate.validate(claim, K8S_VERSION, strict=True)


def test_claim_volumes_are_what_argo_records_in_status_persistent_volume_claims() -> None:
    assert claim_volumes("build", {"volumeClaimTemplates": [WORKDIR, CACHE]}) == [
        {"name": "workdir", "persistentVolumeClaim": {"claimName": "build-workdir"}},
        {"name": "cache", "persistentVolumeClaim": {"claimName": "build-cache"}},
    ]
    assert claim_volumes("build", {}) == []


@pytest.mark.parametrize(
    ("gc", "phase", "released"),
    [
        pytest.param(None, "Succeeded", True, id="default-success"),
        pytest.param(None, "Failed", False, id="default-keeps-failed-for-retry"),
        pytest.param(None, "Error", False, id="default-keeps-errored"),
        pytest.param({"strategy": "OnWorkflowSuccess"}, "Succeeded", True, id="success-success"),
        pytest.param({"strategy": "OnWorkflowSuccess"}, "Failed", False, id="success-failed"),
        pytest.param({"strategy": "OnWorkflowCompletion"}, "Failed", True, id="completion-failed"),
        pytest.param({"strategy": "OnWorkflowCompletion"}, "Succeeded", True, id="completion-success"),
    ],
)
def test_volume_claim_gc_releases_claims_as_argo_does(gc: dict[str, str] | None, phase: str, released: bool) -> None:
    spec = {} if gc is None else {"volumeClaimGC": gc}
    assert claims_released(spec, phase) is released


# -- planner --------------------------------------------------------------------------------------------------------


def test_the_running_workflows_status_records_its_claims_and_the_steps_job_mounts_them() -> None:
    step = container("write", "workdir")
    actions = plan(manifest(step, volumeClaimTemplates=[WORKDIR]), {}, NOW, context=PlanContext())
    [status] = [a.status for a in actions if isinstance(a, UpdateStatus)]
    assert status["phase"] == "Running"
    assert status["persistentVolumeClaims"] == [
        {"name": "workdir", "persistentVolumeClaim": {"claimName": "build-workdir"}}
    ]


def test_a_workflow_without_claim_templates_records_no_claims() -> None:
    actions = plan(manifest(container("a")), {}, NOW, context=PlanContext())
    [status] = [a.status for a in actions if isinstance(a, UpdateStatus)]
    assert "persistentVolumeClaims" not in status


def test_claims_of_a_referenced_workflow_template_are_recorded_and_mounted() -> None:
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "pipeline"},
        "spec": {
            "entrypoint": "write",
            "volumeClaimTemplates": [WORKDIR],
            "templates": [container("write", "workdir")],
        },
    }
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "run-1", "namespace": "team-a", "uid": "u"},
        "spec": {"workflowTemplateRef": {"name": "pipeline"}},
    }
    context = PlanContext(templates={("WorkflowTemplate", "pipeline"): template})
    actions = plan(workflow, {}, NOW, context=context)
    [status] = [a.status for a in actions if isinstance(a, UpdateStatus)]
    assert status["persistentVolumeClaims"] == [
        {"name": "workdir", "persistentVolumeClaim": {"claimName": "run-1-workdir"}}
    ]
    [job] = [a.job for a in actions if hasattr(a, "job")]
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "workdir", "persistentVolumeClaim": {"claimName": "run-1-workdir"}} in volumes


# -- admission ------------------------------------------------------------------------------------------------------

VCT = "spec.volumeClaimTemplates"


def test_claim_templates_are_admitted_and_steps_may_mount_them() -> None:
    assert errors(manifest(container("a", "workdir", "cache"), volumeClaimTemplates=[WORKDIR, CACHE])) == []


@pytest.mark.parametrize(
    ("claims", "volumes", "expected"),
    [
        pytest.param(
            [{"metadata": {}, "spec": WORKDIR["spec"]}],
            [],
            [
                (
                    f"{VCT}[0].metadata.name",
                    "is required: name the claim template (e.g. name: workdir); steps mount it by this name",
                )
            ],
            id="no-name",
        ),
        pytest.param(
            [{**WORKDIR, "metadata": {"name": "Work_Dir"}}],
            [],
            [
                (
                    f"{VCT}[0].metadata.name",
                    "\"Work_Dir\" is not a valid volume name: use at most 63 lower-case letters, digits and '-', "
                    "starting and ending with a letter or digit",
                )
            ],
            id="not-a-dns-label",
        ),
        pytest.param(
            [WORKDIR, WORKDIR],
            [],
            [
                (
                    f"{VCT}[1].metadata.name",
                    f'"workdir" is already used by {VCT}[0]; claim template names must be unique',
                )
            ],
            id="duplicate",
        ),
        pytest.param(
            [WORKDIR],
            [{"name": "workdir", "emptyDir": {}}],
            [
                (
                    f"{VCT}[0].metadata.name",
                    '"workdir" is already a volume in spec.volumes[0]; give the claim template another name',
                )
            ],
            id="clashes-with-a-volume",
        ),
        pytest.param(
            [{"metadata": {"name": "workdir"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
            [],
            [
                (
                    f"{VCT}[0].spec.resources.requests.storage",
                    "is required: say how much storage the claim needs; e.g. resources: {requests: {storage: 1Gi}}",
                )
            ],
            id="no-storage",
        ),
        pytest.param(
            [{"metadata": {"name": "workdir"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}],
            [],
            [
                (
                    f"{VCT}[0].spec.accessModes",
                    "is required: the API server refuses a claim without one; e.g. accessModes: [ReadWriteOnce]",
                )
            ],
            id="no-access-modes",
        ),
    ],
)
def test_an_invalid_claim_template_is_denied_with_its_path_and_fix(
    claims: list[dict[str, Any]], volumes: list[dict[str, Any]], expected: list[tuple[str, str]]
) -> None:
    spec: dict[str, Any] = {"volumeClaimTemplates": claims}
    if volumes:
        spec["volumes"] = volumes
    assert errors(manifest(container("a"), **spec)) == expected


def test_a_mount_of_an_unknown_volume_names_the_claim_templates_too() -> None:
    assert errors(manifest(container("a", "wrkdir"), volumeClaimTemplates=[WORKDIR])) == [
        (
            "spec.templates[0].container.volumeMounts[0].name",
            'volume "wrkdir" is not declared in spec.volumes, spec.volumeClaimTemplates or the template\'s volumes; '
            'did you mean "workdir"?',
        )
    ]


def test_volume_claim_gc_strategies_are_admitted_and_a_misspelt_one_is_denied() -> None:
    for strategy in ("OnWorkflowSuccess", "OnWorkflowCompletion"):
        spec = {"volumeClaimTemplates": [WORKDIR], "volumeClaimGC": {"strategy": strategy}}
        assert errors(manifest(container("a", "workdir"), **spec)) == []
    bad = manifest(container("a"), volumeClaimTemplates=[WORKDIR], volumeClaimGC={"strategy": "OnSuccess"})
    assert errors(bad) == [
        (
            "spec.volumeClaimGC.strategy",
            'unsupported value "OnSuccess"; use one of: "OnWorkflowCompletion", "OnWorkflowSuccess"',
        )
    ]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/argo-examples is not available")
def test_argos_examples_with_claim_templates_lint_clean() -> None:
    users = sorted(p.name for p in CORPUS.rglob("*.yaml") if "volumeClaimTemplates:" in p.read_text(encoding="utf-8"))
    assert users == list(CLAIM_EXAMPLES)
    errors = {
        name: [f.text() for f in lint([(name, (CORPUS / name).read_text(encoding="utf-8"))]).errors]
        for name in CLAIM_EXAMPLES
    }
    assert errors == {name: [] for name in CLAIM_EXAMPLES}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/argo-examples is not available")
@pytest.mark.parametrize("name", CLAIM_EXAMPLES)
def test_argos_claim_templates_become_strictly_valid_claims_mounted_by_strictly_valid_jobs(name: str) -> None:
    import yaml

    [doc] = [d for d in yaml.safe_load_all((CORPUS / name).read_text(encoding="utf-8")) if d.get("spec")]
    workflow = {"metadata": {"name": "corpus-run", "namespace": "default", "uid": "u"}, "spec": doc["spec"]}
    made = claim_manifests(workflow)
    assert [c["metadata"]["name"] for c in made] == [
        f"corpus-run-{t['metadata']['name']}" for t in doc["spec"]["volumeClaimTemplates"]
    ]
    for claim in made:
        kubernetes_validate.validate(claim, K8S_VERSION, strict=True)
    names = {t["metadata"]["name"] for t in doc["spec"]["volumeClaimTemplates"]}
    mounting = [
        t
        for t in doc["spec"]["templates"]
        if any(m["name"] in names for m in (t.get("container") or t.get("script") or {}).get("volumeMounts") or [])
    ]
    assert mounting, f"{name}: no container template mounts a claim"
    context = PlanContext(artifact_repository={"s3": {"bucket": "artifacts", "endpoint": "minio:9000"}})
    for template in mounting:
        job = job_for(workflow, template, context)
        assert any("persistentVolumeClaim" in v for v in job["spec"]["template"]["spec"]["volumes"])
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def sized(storage: str, **labels: str) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "metadata": {"name": "workdir"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
    }
    if labels:
        claim["metadata"]["labels"] = labels
    return claim


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        pytest.param(sized("{{workflow.parameters.disk}}", run="{{workflow.name}}"), [], id="declared-parameter"),
        pytest.param(
            sized("{{workflow.parameters.disk2}}"),
            [
                (
                    f"{VCT}[0].spec.resources.requests.storage",
                    '{{workflow.parameters.disk2}} does not resolve: spec.arguments.parameters declares no "disk2"; '
                    'did you mean "disk"?',
                )
            ],
            id="undeclared-parameter",
        ),
        pytest.param(
            sized("1Gi", phase="{{workflow.status}}"),
            [
                (
                    f"{VCT}[0].metadata.labels.phase",
                    "{{workflow.status}} cannot be used in a volume claim template; only workflow.name, "
                    "workflow.namespace, workflow.uid, workflow.labels.*, workflow.annotations.* and "
                    "workflow.parameters.* are substituted there",
                )
            ],
            id="variable-not-known-yet",
        ),
        pytest.param(
            sized("{{inputs.parameters.disk}}"),
            [
                (
                    f"{VCT}[0].spec.resources.requests.storage",
                    "{{inputs.parameters.disk}} cannot be used in a volume claim template; only workflow.name, "
                    "workflow.namespace, workflow.uid, workflow.labels.*, workflow.annotations.* and "
                    "workflow.parameters.* are substituted there",
                )
            ],
            id="template-input",
        ),
    ],
)
def test_a_claim_template_may_use_the_workflows_own_variables_only(
    claim: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    arguments = {"parameters": [{"name": "disk", "value": "2Gi"}]}
    assert errors(manifest(container("a", "workdir"), volumeClaimTemplates=[claim], arguments=arguments)) == expected
