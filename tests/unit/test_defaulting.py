"""webhook.defaulting: Argo's implicit defaults made explicit, as add-only JSONPatch ops."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
import yaml

from webhook.defaulting import apply_defaults, default_patch, pointer


def cron(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "hello", "labels": {"app.kubernetes.io/name": "hello"}},
        "spec": {
            "schedules": ["*/5 * * * *"],
            "workflowSpec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "a"}}]},
            **spec,
        },
    }


def workflow(*templates: dict[str, Any], kind: str = "Workflow", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": {"generateName": "wf-"},
        "spec": {"entrypoint": "main", "templates": list(templates), **spec},
    }


def retrying(name: str = "main", **strategy: Any) -> dict[str, Any]:
    return {"name": name, "retryStrategy": strategy, "container": {"image": "alpine"}}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            cron(),
            [
                {"op": "add", "path": "/spec/concurrencyPolicy", "value": "Allow"},
                {"op": "add", "path": "/spec/successfulJobsHistoryLimit", "value": 3},
                {"op": "add", "path": "/spec/failedJobsHistoryLimit", "value": 1},
            ],
            id="cron-history-and-concurrency",
        ),
        pytest.param(
            cron(concurrencyPolicy="Forbid", successfulJobsHistoryLimit=0, failedJobsHistoryLimit=5),
            [],
            id="cron-values-the-user-set-are-kept-even-zero",
        ),
        pytest.param(
            cron(concurrencyPolicy=None, successfulJobsHistoryLimit=10, failedJobsHistoryLimit=1),
            [{"op": "add", "path": "/spec/concurrencyPolicy", "value": "Allow"}],
            id="cron-null-means-unset",
        ),
        pytest.param(
            workflow(retrying(limit=3)),
            [{"op": "add", "path": "/spec/templates/0/retryStrategy/retryPolicy", "value": "OnFailure"}],
            id="template-retry-policy-on-failure",
        ),
        pytest.param(
            workflow(retrying(limit=3, expression="lastRetry.exitCode == 1")),
            [{"op": "add", "path": "/spec/templates/0/retryStrategy/retryPolicy", "value": "Always"}],
            id="retry-policy-always-when-an-expression-decides",
        ),
        pytest.param(
            workflow(retrying(limit=3, retryPolicy="OnError")),
            [],
            id="retry-policy-the-user-set-is-kept",
        ),
        pytest.param(
            workflow(retrying(limit=3), retryStrategy={"limit": 1}),
            [
                {"op": "add", "path": "/spec/retryStrategy/retryPolicy", "value": "OnFailure"},
                {"op": "add", "path": "/spec/templates/0/retryStrategy/retryPolicy", "value": "OnFailure"},
            ],
            id="workflow-level-retry-strategy",
        ),
        pytest.param(
            workflow(retrying(limit=3), templateDefaults={"retryStrategy": {"retryPolicy": "Always"}}),
            [],
            id="template-defaults-decide-so-templates-are-left-alone",
        ),
        pytest.param(
            workflow(retrying(limit=3), kind="WorkflowTemplate"),
            [],
            id="workflow-template-templates-are-left-alone",
        ),
        pytest.param(
            workflow(
                {"name": "main", "dag": {"tasks": [{"name": "a", "inline": retrying(limit=1)}]}},
                {"name": "s", "steps": [[{"name": "b", "inline": retrying(limit=2)}]]},
            ),
            [
                {
                    "op": "add",
                    "path": "/spec/templates/0/dag/tasks/0/inline/retryStrategy/retryPolicy",
                    "value": "OnFailure",
                },
                {
                    "op": "add",
                    "path": "/spec/templates/1/steps/0/0/inline/retryStrategy/retryPolicy",
                    "value": "OnFailure",
                },
            ],
            id="inline-templates-in-dags-and-steps",
        ),
        pytest.param(
            cron(
                concurrencyPolicy="Allow",
                successfulJobsHistoryLimit=3,
                failedJobsHistoryLimit=1,
                workflowSpec={"entrypoint": "main", "templates": [retrying(limit=2)]},
            ),
            [{"op": "add", "path": "/spec/workflowSpec/templates/0/retryStrategy/retryPolicy", "value": "OnFailure"}],
            id="cron-workflow-spec-templates",
        ),
        pytest.param(
            {**workflow(retrying(limit=3)), "status": {"phase": "Running"}},
            [],
            id="a-started-workflow-is-left-alone",
        ),
        pytest.param(
            {**workflow(retrying(limit=3)), "status": {}},
            [{"op": "add", "path": "/spec/templates/0/retryStrategy/retryPolicy", "value": "OnFailure"}],
            id="an-empty-status-is-not-started",
        ),
        pytest.param(workflow(), [], id="nothing-to-default"),
        pytest.param({"kind": "Workflow", "spec": "garbage"}, [], id="wrong-shape-is-skipped"),
        pytest.param(
            {"kind": "Workflow", "spec": {"templates": [None, 3, {"retryStrategy": None}]}}, [], id="wrong-shape-deep"
        ),
        pytest.param({"kind": "ConfigMap", "spec": {}}, [], id="other-kinds"),
    ],
)
def test_default_patch_adds_only_what_argo_would_assume(
    document: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    assert default_patch(document) == expected


def test_defaults_never_overwrite_what_the_user_set() -> None:
    document = cron(
        concurrencyPolicy="Replace",
        successfulJobsHistoryLimit=7,
        failedJobsHistoryLimit=0,
        workflowSpec={"entrypoint": "main", "templates": [retrying(limit=2, retryPolicy="Always")]},
    )
    assert apply_defaults(document) == document


def test_unknown_fields_survive_defaulting() -> None:
    document = cron(futureField={"nested": [1, 2]})
    document["spec"]["workflowSpec"]["templates"][0]["x-unknown"] = "kept"
    document["metadata"]["annotations"] = {"example.com/a~b": "v"}
    result = apply_defaults(document)
    assert result["spec"]["futureField"] == {"nested": [1, 2]}
    assert result["spec"]["workflowSpec"]["templates"][0]["x-unknown"] == "kept"
    assert result["metadata"] == document["metadata"]
    assert result["spec"]["concurrencyPolicy"] == "Allow"


def test_apply_defaults_does_not_modify_its_input() -> None:
    document = cron()
    before = copy.deepcopy(document)
    apply_defaults(document)
    assert document == before


def test_the_patch_applies_cleanly_with_jsonpatch_and_is_idempotent() -> None:
    document = workflow(retrying(limit=3), retryStrategy={"limit": 1})
    once = jsonpatch.apply_patch(document, default_patch(document))
    assert default_patch(once) == []


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        pytest.param(
            ("metadata", "labels", "app.kubernetes.io/name"), "/metadata/labels/app.kubernetes.io~1name", id="slash"
        ),
        pytest.param(("metadata", "annotations", "a~b/c"), "/metadata/annotations/a~0b~1c", id="tilde-then-slash"),
        pytest.param(("spec", "templates", 3), "/spec/templates/3", id="index"),
        pytest.param(("spec", "hooks", ""), "/spec/hooks/", id="empty-key"),
    ],
)
def test_pointer_escapes_keys_as_rfc_6901_says(tokens: tuple[str | int, ...], expected: str) -> None:
    assert pointer(*tokens) == expected


def test_an_escaped_pointer_reaches_the_right_key() -> None:
    document = {"metadata": {"labels": {"a/b": "x", "a~b": "y"}}}
    patched = jsonpatch.apply_patch(
        document,
        [
            {"op": "replace", "path": pointer("metadata", "labels", "a/b"), "value": "1"},
            {"op": "replace", "path": pointer("metadata", "labels", "a~b"), "value": "2"},
        ],
    )
    assert patched == {"metadata": {"labels": {"a/b": "1", "a~b": "2"}}}


def test_hostile_nesting_stops_the_walk_instead_of_crashing() -> None:
    template: dict[str, Any] = retrying(limit=1)
    for _ in range(3000):
        template = {"name": "n", "dag": {"tasks": [{"name": "a", "inline": template}]}}
    assert default_patch(workflow(template)) == []


def test_a_yaml_alias_loop_stops_the_walk() -> None:
    document = yaml.safe_load(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: x}\n"
        "spec:\n  templates:\n  - &t {name: a, retryStrategy: {}, dag: {tasks: [{name: b, inline: *t}]}}\n"
    )
    ops = default_patch(document)
    assert ops[0] == {"op": "add", "path": "/spec/templates/0/retryStrategy/retryPolicy", "value": "OnFailure"}
    assert len(ops) < 100
