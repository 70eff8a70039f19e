"""webhook.validation.validate: schema + semantics merged and sorted, UPDATE rules, the seed, and linear cost."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.errors import FieldError
from webhook.validation import ValidationContext, path_sort_key, validate

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed"


def workflow(*templates: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "main", "templates": list(templates), **spec},
    }


def echo(name: str = "main", **extra: Any) -> dict[str, Any]:
    return {"name": name, "container": {"image": "alpine:3.20", "command": ["echo"]}, **extra}


def big_dag(n: int) -> dict[str, Any]:
    """A DAG of n tasks, each depending on the previous one and on the one at half its index, each reading the
    outputs of its predecessor and of the first task: the worst case for ancestor checks."""
    tasks: list[dict[str, Any]] = [
        {"name": "t0", "template": "echo", "arguments": {"parameters": [{"name": "msg", "value": "x"}]}}
    ]
    for i in range(1, n):
        deps = sorted({f"t{i - 1}", f"t{i // 2}"})
        value = f"{{{{tasks.t{i - 1}.outputs.result}}}} {{{{tasks.t0.outputs.parameters.o}}}}"
        tasks.append(
            {
                "name": f"t{i}",
                "template": "echo",
                "dependencies": deps,
                "arguments": {"parameters": [{"name": "msg", "value": value}]},
            }
        )
    printer = echo(
        "echo",
        inputs={"parameters": [{"name": "msg"}]},
        outputs={"parameters": [{"name": "o", "valueFrom": {"path": "/tmp/o"}}]},
    )
    printer["container"]["args"] = ["{{inputs.parameters.msg}}"]
    return workflow({"name": "main", "dag": {"tasks": tasks}}, printer)


def test_a_valid_workflow_has_no_errors_and_no_warnings() -> None:
    result = validate(workflow(echo()))
    assert result.ok
    assert result.errors == ()
    assert result.warnings == ()


def test_schema_and_semantic_errors_come_together_sorted_by_path() -> None:
    manifest = workflow(
        echo("main", timeout="30"),
        echo("b"),
        *[echo(f"t{i}") for i in range(2, 10)],
        {"name": "x", "container": {"image": "a"}, "script": {"image": "a", "source": "s"}},
        entrypoint="mian",
    )
    manifest["spec"]["templates"][1]["contaner"] = {}
    result = validate(manifest)
    assert [(e.path, e.type) for e in result.errors] == [
        ("spec.entrypoint", "FieldValueNotFound"),
        ("spec.templates[0].timeout", "FieldValueInvalid"),
        ("spec.templates[1].contaner", result.errors[2].type),
        ("spec.templates[10]", "FieldValueInvalid"),
    ]
    assert result.errors[0].message == 'template "mian" is not defined in spec.templates; did you mean "main"?'
    assert result.errors[3].message == (
        "sets both container and script; keep exactly one of: container, script, dag, steps, suspend, resource, "
        "data, http, plugin, containerSet"
    )


def test_a_field_the_schema_already_reports_gets_no_second_semantic_message() -> None:
    manifest = workflow(echo(retryStrategy={"retryPolicy": "Sometimes"}))
    result = validate(manifest)
    assert [e.path for e in result.errors] == ["spec.templates[0].retryStrategy.retryPolicy"]


def test_paths_sort_with_numeric_indexes() -> None:
    paths = ["spec.templates[10].name", "spec.templates[2].name", "spec.entrypoint", "metadata.name"]
    assert sorted(paths, key=path_sort_key) == [
        "metadata.name",
        "spec.entrypoint",
        "spec.templates[2].name",
        "spec.templates[10].name",
    ]


@pytest.mark.skipif(not (SEED / "artifacts-pipeline.yaml").exists(), reason="../shared/seed is not available")
def test_the_seed_artifacts_pipeline_is_rejected_with_the_args_list_fix() -> None:
    manifest = yaml.safe_load((SEED / "artifacts-pipeline.yaml").read_text(encoding="utf-8"))
    result = validate(manifest)
    assert [e.path for e in result.errors] == [
        "spec.templates[1].container.args",
        "spec.templates[2].container.args",
        "spec.templates[3].container.args",
    ]
    first = result.errors[0]
    assert first.type == "FieldValueTypeInvalid"
    assert first.message.startswith("must be a list of strings, got a string")
    script = manifest["spec"]["templates"][1]["container"]["args"]
    fixed = "\n".join(line[2:] for line in script.strip().splitlines())
    assert fixed.replace('"', '\\"').replace("\n", "\\n") in first.message


@pytest.mark.skipif(not (SEED / "cron-hello-world.yaml").exists(), reason="../shared/seed is not available")
def test_the_seed_dag_and_cron_are_valid_and_the_old_schedule_gets_a_warning() -> None:
    dag = validate(yaml.safe_load((SEED / "data-pipeline-dag.yaml").read_text(encoding="utf-8")))
    assert dag.ok and dag.warnings == ()
    cron = validate(yaml.safe_load((SEED / "cron-hello-world.yaml").read_text(encoding="utf-8")))
    assert cron.ok
    assert cron.warnings == (
        'spec.schedule: is deprecated (Argo v4 reads only spec.schedules); write schedules: ["*/5 * * * *"]',
    )


def started(manifest: dict[str, Any], phase: str = "Running") -> dict[str, Any]:
    return {**copy.deepcopy(manifest), "status": {"phase": phase}}


UPDATES = [
    pytest.param(lambda s: s.update(suspend=True), [], id="suspend"),
    pytest.param(lambda s: s.update(shutdown="Stop"), [], id="shutdown"),
    pytest.param(lambda s: s.update(activeDeadlineSeconds=60), [], id="active-deadline"),
    pytest.param(
        lambda s: s.update(entrypoint="other"),
        [
            FieldError(
                "spec.entrypoint",
                'cannot be changed once the Workflow has started (status.phase is "Running"); only spec.suspend, '
                "spec.shutdown, spec.activeDeadlineSeconds can; to solve this, submit a new Workflow with the change",
                "FieldValueForbidden",
            )
        ],
        id="entrypoint",
    ),
    pytest.param(
        lambda s: s["templates"].append(echo("more")),
        [
            FieldError(
                "spec.templates",
                'cannot be changed once the Workflow has started (status.phase is "Running"); only spec.suspend, '
                "spec.shutdown, spec.activeDeadlineSeconds can; to solve this, submit a new Workflow with the change",
                "FieldValueForbidden",
            )
        ],
        id="templates",
    ),
]


@pytest.mark.parametrize(("change", "expected"), UPDATES)
def test_a_started_workflow_accepts_only_suspend_shutdown_and_deadline_changes(
    change: Any, expected: list[FieldError]
) -> None:
    old = started(workflow(echo()))
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"team": "a"}
    change(new["spec"])
    assert list(validate(new, operation="UPDATE", old=old).errors) == expected


def test_an_invalid_shutdown_value_is_still_refused_on_update() -> None:
    old = started(workflow(echo()))
    new = copy.deepcopy(old)
    new["spec"]["shutdown"] = "Halt"
    errors = validate(new, operation="UPDATE", old=old).errors
    assert [e.path for e in errors] == ["spec.shutdown"]


def test_a_started_workflow_admitted_while_invalid_can_still_be_stopped() -> None:
    old = started(workflow(echo(), entrypoint="missing"), phase="Failed")
    new = copy.deepcopy(old)
    new["spec"]["shutdown"] = "Terminate"
    assert validate(new, operation="UPDATE", old=old).ok


def test_an_update_before_the_workflow_started_is_validated_like_a_create() -> None:
    old = workflow(echo())
    new = workflow(echo(), entrypoint="other")
    assert [e.path for e in validate(new, operation="UPDATE", old=old).errors] == ["spec.entrypoint"]


def test_the_context_supplies_workflow_templates_for_workflow_template_ref() -> None:
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "shared"},
        "spec": {"entrypoint": "hello", "templates": [echo("hello")]},
    }
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "run-"},
        "spec": {"workflowTemplateRef": {"name": "shared"}, "entrypoint": "helo"},
    }
    context = ValidationContext(manifests={("WorkflowTemplate", "shared"): template})
    result = validate(manifest, context=context)
    assert [(e.path, e.message) for e in result.errors] == [
        ("spec.entrypoint", 'template "helo" is not defined in the referenced template; did you mean "hello"?')
    ]


def test_a_deep_dag_validates_and_a_reference_to_a_non_ancestor_is_named_deep_inside_it() -> None:
    """Ancestor checks on 5,000 tasks (their cost is measured in bench/webhook.py, not here)."""
    manifest = big_dag(5000)
    assert validate(manifest).ok
    tasks = manifest["spec"]["templates"][0]["dag"]["tasks"]
    tasks[4000]["arguments"]["parameters"][0]["value"] = "{{tasks.t4500.outputs.result}}"
    assert [(e.path, e.message) for e in validate(manifest).errors] == [
        (
            "spec.templates[0].dag.tasks[4000].arguments.parameters[0].value",
            '{{tasks.t4500.outputs.result}} does not resolve: task "t4500" runs after task "t4000" (it depends on '
            'it), so its outputs do not exist yet; to solve this, read them in a task that depends on "t4500"',
        )
    ]


def test_a_task_reading_its_own_outputs_is_told_where_to_read_them() -> None:
    manifest = big_dag(3)
    tasks = manifest["spec"]["templates"][0]["dag"]["tasks"]
    tasks[1]["arguments"]["parameters"][0]["value"] = "{{tasks.t1.outputs.result}}"
    assert [(e.path, e.message) for e in validate(manifest).errors] == [
        (
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            '{{tasks.t1.outputs.result}} does not resolve: task "t1" cannot read its own outputs; to solve this, '
            "read them in a task that depends on it",
        )
    ]


def test_an_update_that_leaves_the_spec_alone_is_allowed_even_for_an_invalid_object() -> None:
    old = cron_with_bad_schedule = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {"schedules": ["61 * * * *"], "workflowSpec": {"entrypoint": "main", "templates": [echo()]}},
    }
    assert not validate(cron_with_bad_schedule).ok
    new = copy.deepcopy(old) | {"status": {"lastScheduledTime": "2026-01-01T00:00:00Z"}}
    new["metadata"]["labels"] = {"team": "a"}
    assert validate(new, operation="UPDATE", old=old).ok


@pytest.mark.parametrize("value", [None, [], "Workflow", 3], ids=["null", "list", "string", "number"])
def test_a_manifest_that_is_not_an_object_gets_one_error_and_no_crash(value: Any) -> None:
    result = validate(value)
    assert [e.path for e in result.errors] == [""]
