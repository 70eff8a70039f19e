"""spec.volumeClaimTemplates on a cluster: the reconciler on the Kubernetes API stand-in with the real client.

Argo's behaviour (workflow/controller/operator.go createPVCs/deletePVCs): one claim `<workflow>-<template name>`
per claim template, created before the first pod, owned by the Workflow (deleting it deletes them), recorded in
status.persistentVolumeClaims, deleted at the end per volumeClaimGC (default OnWorkflowSuccess).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor.cluster.kube import WORKFLOWS
from tests.integration.test_controller import (
    NS,
    env,
    kube,
    node_of,
    run_to_completion,
    submit,
    unfinished_jobs,
)
from tests.standin import KubeStandin, SimKubelet

__all__ = ["env", "kube"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "volume-claim-pipeline.yaml"


def pipeline(gc: str | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    if gc is None:
        del manifest["spec"]["volumeClaimGC"]
    else:
        manifest["spec"]["volumeClaimGC"] = {"strategy": gc}
    return manifest


def finish(kubelet: SimKubelet, job: dict[str, Any]) -> None:
    """Every step succeeds; the report step reports its output parameter as its wait sidecar would."""
    report = {"v": 1, "parameters": {"total": "55"}} if node_of(job).endswith(".report") else {"v": 1}
    kubelet.succeed(NS, job["metadata"]["name"], messages={"wait": json.dumps(report)})


def claims(standin: KubeStandin) -> list[dict[str, Any]]:
    return standin.list_objects("v1", "PersistentVolumeClaim", NS)


WATCHED = ("persistentvolumeclaims", "jobs")


def claim_requests(standin: KubeStandin) -> list[tuple[str, str, str]]:
    """The creates of claims and Jobs, in the order the API saw them."""
    return [(r.verb, r.resource, r.name) for r in standin.requests if r.verb == "create" and r.resource in WATCHED]


def test_the_claim_is_created_once_owned_by_the_workflow_before_its_first_job(env: Any) -> None:
    standin, client, reconciler, kubelet, clock = env
    name = submit(client, pipeline(), "pvc-first")
    uid = client.get(WORKFLOWS, NS, name)["metadata"]["uid"]
    standin.clear_requests()
    reconciler.reconcile(NS, name)
    [job] = unfinished_jobs(standin, name)
    assert claim_requests(standin) == [
        ("create", "persistentvolumeclaims", ""),
        ("create", "jobs", ""),
    ]
    [claim] = claims(standin)
    assert claim["metadata"]["name"] == "pvc-first-workdir"
    assert claim["metadata"]["labels"] == {"workflows.argoproj.io/workflow": name}
    assert claim["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert {"name": "workdir", "persistentVolumeClaim": {"claimName": "pvc-first-workdir"}} in volumes
    status = client.get(WORKFLOWS, NS, name)["status"]
    assert status["persistentVolumeClaims"] == [
        {"name": "workdir", "persistentVolumeClaim": {"claimName": "pvc-first-workdir"}}
    ]

    listed = standin.kubectl("get", "pvc", "-l", f"workflows.argoproj.io/workflow={name}", "-o", "name")
    assert listed.stdout == "persistentvolumeclaim/pvc-first-workdir\n"  # a real kubectl finds it by the label

    standin.clear_requests()
    finish(kubelet, job)
    clock.tick()
    reconciler.reconcile(NS, name)
    assert [r for r in standin.requests if r.resource == "persistentvolumeclaims"] == []  # recorded: not again


@pytest.mark.parametrize(
    ("gc", "outcome", "kept"),
    [
        pytest.param(None, "succeed", False, id="default-success-deletes"),
        pytest.param(None, "fail", True, id="default-failure-keeps-for-retry"),
        pytest.param("OnWorkflowSuccess", "fail", True, id="on-success-failure-keeps"),
        pytest.param("OnWorkflowCompletion", "fail", False, id="on-completion-failure-deletes"),
        pytest.param("OnWorkflowCompletion", "succeed", False, id="on-completion-success-deletes"),
    ],
)
def test_the_claim_is_deleted_at_the_end_per_volume_claim_gc(
    env: Any, gc: str | None, outcome: str, kept: bool
) -> None:
    standin, client, _, _, _ = env
    name = submit(client, pipeline(gc), f"pvc-{(gc or 'default').lower()}-{outcome}")

    def outcomes(kubelet: SimKubelet, job: dict[str, Any]) -> None:
        if outcome == "fail" and node_of(job).endswith(".sum-odd"):
            kubelet.fail(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})
        else:
            finish(kubelet, job)

    workflow, _ = run_to_completion(env, name, outcomes)
    assert workflow["status"]["phase"] == ("Succeeded" if outcome == "succeed" else "Failed")
    recorded = [{"name": "workdir", "persistentVolumeClaim": {"claimName": f"{name}-workdir"}}]
    if kept:
        assert [c["metadata"]["name"] for c in claims(standin)] == [f"{name}-workdir"]
        assert workflow["status"]["persistentVolumeClaims"] == recorded
    else:
        assert claims(standin) == []
        assert "persistentVolumeClaims" not in workflow["status"]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        pytest.param(
            403,
            'persistentvolumeclaims "pvc-denied-workdir" is forbidden: exceeded quota: storage, requested: '
            "requests.storage=1Gi, used: requests.storage=10Gi, limited: requests.storage=10Gi",
            'could not create persistentvolumeclaim "pvc-denied-workdir": persistentvolumeclaims '
            '"pvc-denied-workdir" is forbidden: exceeded quota: storage, requested: requests.storage=1Gi, '
            "used: requests.storage=10Gi, limited: requests.storage=10Gi",
            id="quota-403",
        ),
        pytest.param(
            422,
            'PersistentVolumeClaim "pvc-denied-workdir" is invalid: spec.storageClassName: Invalid value: "Fast": '
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters",
            'could not create persistentvolumeclaim "pvc-denied-workdir": PersistentVolumeClaim '
            '"pvc-denied-workdir" is invalid: spec.storageClassName: Invalid value: "Fast": a lowercase RFC 1123 '
            "subdomain must consist of lower case alphanumeric characters",
            id="invalid-422",
        ),
    ],
)
def test_a_claim_the_api_refuses_errors_the_workflow_with_the_apis_message_and_runs_no_job(
    env: Any, code: int, message: str, expected: str
) -> None:
    standin, client, reconciler, _, _ = env
    name = submit(client, pipeline(), "pvc-denied")
    standin.inject_fault("create", "persistentvolumeclaims", code, message=message)
    result = reconciler.reconcile(NS, name)
    status = client.get(WORKFLOWS, NS, name)["status"]
    assert (result.phase, status["phase"], status["message"]) == ("Error", "Error", expected)
    assert unfinished_jobs(standin, name) == []
    [event] = standin.list_objects("v1", "Event", NS)
    assert (event["reason"], event["type"], event["message"]) == ("WorkflowFailed", "Warning", expected)


def test_a_claim_of_that_name_owned_by_something_else_is_not_taken_over(env: Any) -> None:
    standin, client, reconciler, _, _ = env
    standin.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "pvc-taken-workdir", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
        }
    )
    name = submit(client, pipeline(), "pvc-taken")
    reconciler.reconcile(NS, name)
    status = client.get(WORKFLOWS, NS, name)["status"]
    assert (status["phase"], status["message"]) == (
        "Error",
        'persistentvolumeclaim "pvc-taken-workdir" already exists and does not belong to this workflow; delete it '
        "or rename the volume claim template",
    )
    assert unfinished_jobs(standin, name) == []
    [claim] = claims(standin)
    assert "ownerReferences" not in claim["metadata"]  # untouched


def test_a_claim_that_exists_already_from_an_earlier_pass_is_reused(env: Any) -> None:
    standin, client, reconciler, _, _ = env
    name = submit(client, pipeline(), "pvc-again")
    standin.inject_fault("update", "workflows/status", 409)  # the first pass's status write loses a race
    reconciler.reconcile(NS, name)  # re-planned: the claim made by the first try already exists, and is ours
    status = client.get(WORKFLOWS, NS, name)["status"]
    assert status["phase"] == "Running"
    assert [c["metadata"]["name"] for c in claims(standin)] == ["pvc-again-workdir"]
    assert [node_of(j) for j in unfinished_jobs(standin, name)] == [f"{name}[0].checkout"]


def test_a_claim_that_cannot_be_deleted_stays_recorded_and_is_deleted_on_a_later_pass(env: Any) -> None:
    standin, client, reconciler, _, _ = env
    name = submit(client, pipeline(), "pvc-sticky")
    fault = standin.inject_fault("delete", "persistentvolumeclaims", 403, message="forbidden for now")
    standin.clear_requests()
    workflow, _ = run_to_completion(env, name, finish)
    assert fault.times == 0
    assert [(r.verb, r.code) for r in standin.requests if r.resource == "persistentvolumeclaims"] == [
        ("create", 201),
        ("delete", 403),
    ]
    assert workflow["status"]["phase"] == "Succeeded"
    assert workflow["status"]["persistentVolumeClaims"] == [
        {"name": "workdir", "persistentVolumeClaim": {"claimName": f"{name}-workdir"}}
    ]
    assert len(claims(standin)) == 1
    result = reconciler.reconcile(NS, name)  # housekeeping of the finished workflow tries again
    assert (result.status_writes, result.requeue_after) == (1, None)
    assert claims(standin) == []
    assert "persistentVolumeClaims" not in client.get(WORKFLOWS, NS, name)["status"]


def test_deleting_the_workflow_deletes_its_retained_claim(env: Any) -> None:
    standin, client, reconciler, _, _ = env
    name = submit(client, pipeline(), "pvc-owned")
    reconciler.reconcile(NS, name)
    assert len(claims(standin)) == 1
    client.delete(WORKFLOWS, NS, name, propagation="Background")
    standin.wait_until(lambda: claims(standin) == [], what="the claim to go with its workflow")


def test_claims_of_a_referenced_workflow_template_are_created_for_the_workflow(env: Any) -> None:
    standin, client, _, _, _ = env
    template = pipeline()
    template["kind"] = "WorkflowTemplate"
    template["metadata"] = {"name": "pipeline", "namespace": NS}
    standin.create(template)
    name = submit(
        client,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {},
            "spec": {"workflowTemplateRef": {"name": "pipeline"}},
        },
        "pvc-from-template",
    )
    workflow, _ = run_to_completion(env, name, finish)
    assert workflow["status"]["phase"] == "Succeeded"
    assert [(r.verb, r.name) for r in standin.requests if r.resource == "persistentvolumeclaims"] == [
        ("create", ""),
        ("delete", f"{name}-workdir"),
    ]
    assert claims(standin) == []


def test_the_controllers_role_may_get_create_and_delete_claims_and_set_blocking_owner_references() -> None:
    from tests.integration.test_chart import HELM, RELEASE, render

    if HELM is None:
        pytest.skip("helm not found: run `bash scripts/get-helm` (puts it in .tools/)")
    docs = render()
    [role] = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == f"{RELEASE}-controller"]
    rules = [r for r in role["rules"] if {"persistentvolumeclaims", "workflows/finalizers"} & set(r["resources"])]
    assert rules == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflows/finalizers"], "verbs": ["update"]},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "create", "delete"]},
    ]


def test_a_retried_failed_workflow_reuses_its_kept_claim_and_releases_it_once_it_succeeds(env: Any) -> None:
    from tests.integration.test_cluster_operations import trellis

    standin, client, _, _, _ = env
    name = submit(client, pipeline(), "pvc-retried")
    attempts: list[str] = []

    def flaky(kubelet: SimKubelet, job: dict[str, Any]) -> None:
        attempts.append(node_of(job))
        if node_of(job).endswith(".sum-odd") and attempts.count(node_of(job)) == 1:
            kubelet.fail(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})
        else:
            finish(kubelet, job)

    failed, _ = run_to_completion(env, name, flaky)
    assert failed["status"]["phase"] == "Failed"
    [claim] = claims(standin)
    done = trellis(standin, "retry", name)
    assert done.returncode == 0, done.stderr
    standin.clear_requests()
    final, waves = run_to_completion(env, name, flaky)
    assert final["status"]["phase"] == "Succeeded"
    assert waves[0] == [f"{name}[1].sum-odd"]
    assert [(r.verb, r.name) for r in standin.requests if r.resource == "persistentvolumeclaims"] == [
        ("delete", claim["metadata"]["name"])  # the kept claim served the retry: nothing created again
    ]
    assert claims(standin) == []


def test_global_parameters_in_a_claim_template_are_substituted_and_an_unknown_one_fails_the_workflow(
    env: Any,
) -> None:
    standin, client, reconciler, _, _ = env
    sized = pipeline()
    sized["spec"]["arguments"] = {"parameters": [{"name": "disk", "value": "5Gi"}]}
    sized["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = (
        "{{workflow.parameters.disk}}"
    )
    sized["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"] = {"run": "{{workflow.name}}"}
    name = submit(client, sized, "pvc-sized")
    reconciler.reconcile(NS, name)
    [claim] = claims(standin)
    assert claim["spec"]["resources"] == {"requests": {"storage": "5Gi"}}
    assert claim["metadata"]["labels"] == {"run": name, "workflows.argoproj.io/workflow": name}

    del sized["spec"]["arguments"]
    unknown = submit(client, sized, "pvc-unsized")
    reconciler.reconcile(NS, unknown)
    status = client.get(WORKFLOWS, NS, unknown)["status"]
    assert (status["phase"], status["message"]) == (  # created while the webhook was away: refused on the first pass
        "Failed",
        "invalid spec: spec.volumeClaimTemplates[0].spec.resources.requests.storage: {{workflow.parameters.disk}} "
        'does not resolve: spec.arguments.parameters declares no "disk"; to solve this, add it to '
        "spec.arguments.parameters",
    )
    assert unfinished_jobs(standin, unknown) == []
    assert [c["metadata"]["name"] for c in claims(standin)] == ["pvc-sized-workdir"]  # none for the invalid one


def test_a_claim_template_reading_a_label_the_workflow_lacks_errors_the_workflow_with_the_variable(env: Any) -> None:
    standin, client, reconciler, _, _ = env
    labelled = pipeline()
    labelled["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"] = {"team": "{{workflow.labels.team}}"}
    name = submit(client, labelled, "pvc-unlabelled")
    reconciler.reconcile(NS, name)
    status = client.get(WORKFLOWS, NS, name)["status"]
    assert (status["phase"], status["message"]) == (
        "Error",
        'spec.volumeClaimTemplates "workdir": failed to resolve {{workflow.labels.team}}',
    )
    assert claims(standin) == []
    assert unfinished_jobs(standin, name) == []


@pytest.mark.parametrize(
    ("gc", "kept"),
    [pytest.param(None, True, id="default"), pytest.param("OnWorkflowCompletion", False, id="on-completion")],
)
def test_claims_made_before_one_fails_are_recorded_and_released_per_volume_claim_gc(
    env: Any, gc: str | None, kept: bool
) -> None:
    standin, client, reconciler, _, _ = env
    manifest = pipeline(gc)
    cache = {"metadata": {"name": "cache"}, "spec": manifest["spec"]["volumeClaimTemplates"][0]["spec"]}
    manifest["spec"]["volumeClaimTemplates"].append(cache)
    name = submit(client, manifest, f"pvc-half-{(gc or 'default').lower()}")
    standin.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{name}-cache", "namespace": NS},
            "spec": cache["spec"],
        }
    )
    reconciler.reconcile(NS, name)
    status = client.get(WORKFLOWS, NS, name)["status"]
    assert status["phase"] == "Error"
    workdir = {"name": "workdir", "persistentVolumeClaim": {"claimName": f"{name}-workdir"}}
    mine = [c["metadata"]["name"] for c in claims(standin) if c["metadata"]["name"] != f"{name}-cache"]
    if kept:
        assert (status["persistentVolumeClaims"], mine) == ([workdir], [f"{name}-workdir"])
    else:
        assert ("persistentVolumeClaims" in status, mine) == (False, [])
