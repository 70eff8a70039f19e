"""webhook.schema: the strict schema check of the four Argo kinds (field paths, messages with fixes, speed)."""

from __future__ import annotations

import copy
import functools
import json
import random
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import pytest
import yaml

from webhook.errors import FieldError
from webhook.schema import KINDS, field_path, schema_errors, schema_for
from webhook.schema.validator import StrictValidator

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seed"
ARGO_EXAMPLES = SHARED / "argo-examples"


def workflow(*templates: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "test-"},
        "spec": {"entrypoint": "main", "templates": list(templates), **spec},
    }


def echo(name: str = "main", **container: Any) -> dict[str, Any]:
    return {"name": name, "container": {"image": "alpine:3.20", "command": ["echo"], "args": ["hi"], **container}}


def cron(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "hello"},
        "spec": {"schedules": ["*/5 * * * *"], "workflowSpec": {"entrypoint": "main", "templates": [echo()]}, **spec},
    }


def dag_workflow(size: int) -> dict[str, Any]:
    tasks = [
        {
            "name": f"t{i}",
            "template": "echo",
            "dependencies": [f"t{i - 1}"] if i else [],
            "arguments": {"parameters": [{"name": "message", "value": f"m{i}"}]},
        }
        for i in range(size)
    ]
    return workflow(
        {"name": "main", "dag": {"tasks": tasks}},
        {
            "name": "echo",
            "inputs": {"parameters": [{"name": "message"}]},
            "container": {"image": "alpine:3.20", "command": ["echo"], "args": ["{{inputs.parameters.message}}"]},
        },
    )


@functools.cache
def argo_documents() -> list[Any]:
    if not ARGO_EXAMPLES.is_dir():
        return []
    params = []
    for path in sorted(ARGO_EXAMPLES.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and doc.get("kind") in KINDS:
                name = f"{path.relative_to(ARGO_EXAMPLES)}#{index}"
                params.append(pytest.param(doc, id=name))
    return params


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="../shared/argo-examples is not present")
@pytest.mark.parametrize("document", argo_documents())
def test_every_argo_example_passes_the_schema(document: dict[str, Any]) -> None:
    assert schema_errors(document) == []


def test_the_argo_corpus_is_not_empty_when_present() -> None:
    if not ARGO_EXAMPLES.is_dir():
        pytest.skip("../shared/argo-examples is not present")
    assert len(argo_documents()) > 200


@pytest.mark.skipif(not SEED.is_dir(), reason="../shared/seed is not present")
def test_seed_block_string_args_are_refused_with_the_script_as_one_argument() -> None:
    document = yaml.safe_load((SEED / "artifacts-pipeline.yaml").read_text())
    errors = schema_errors(document)
    assert [e.path for e in errors] == [
        "spec.templates[1].container.args",
        "spec.templates[2].container.args",
        "spec.templates[3].container.args",
    ]
    script = document["spec"]["templates"][3]["container"]["args"]
    lines = [line.strip()[2:] for line in script.splitlines() if line.strip()]
    corrected = "\\n".join(line.replace('"', '\\"') for line in lines)
    assert errors[2] == FieldError(
        "spec.templates[3].container.args",
        'must be a list of strings, got a string (YAML reads an "args: |" block as one string, even when its '
        'lines start with "- "); to solve this, pass the script as one argument (the command ["sh", "-c"] runs '
        f'it as a whole): args: ["{corrected}"], or in block form "args:" then "  - |" followed by the script lines',
        "FieldValueTypeInvalid",
    )


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param(
            {"command": ["bash", "-ec"], "args": "- set -x\n- echo hi\n"},
            'must be a list of strings, got a string (YAML reads an "args: |" block as one string, even when its '
            'lines start with "- "); to solve this, pass the script as one argument (the command ["bash", "-ec"] '
            'runs it as a whole): args: ["set -x\\necho hi"], or in block form "args:" then "  - |" followed by '
            "the script lines",
            id="bash-ec-block",
        ),
        pytest.param(
            {"command": ["/bin/sh", "-c"], "args": "echo a && echo b"},
            'must be a list of strings, got a string ("echo a && echo b"); to solve this, pass the script as one '
            'argument: args: ["echo a && echo b"]',
            id="shell-with-a-plain-string",
        ),
        pytest.param(
            {"command": ["printf"], "args": "- '%s\\n'\n- one\n- two\n"},
            'must be a list of strings, got a string (YAML reads an "args: |" block as one string, even when its '
            'lines start with "- "); to solve this, write each line as a list item: args: ["\'%s\\\\n\'", '
            '"one", "two"]',
            id="not-a-shell-each-line-is-an-argument",
        ),
        pytest.param(
            {"command": "- sh\n- -c\n"},
            'must be a list of strings, got a string (YAML reads a "command: |" block as one string, even when '
            'its lines start with "- "); to solve this, write each line as a list item: command: ["sh", "-c"]',
            id="command-block",
        ),
    ],
)
def test_string_args_and_commands_get_the_list_they_meant(container: dict[str, Any], expected: str) -> None:
    (error,) = schema_errors(workflow({"name": "main", "container": {"image": "alpine", **container}}))
    assert error.message == expected


def test_the_corrected_seed_form_is_valid_and_runs_the_same_script() -> None:
    script = 'echo "one"\nmkdir -p /tmp/output'
    message = schema_errors(workflow(echo(command=["sh", "-c"], args="- " + script.replace("\n", "\n- ") + "\n")))[
        0
    ].message
    fixed_yaml = message.split("whole): ", 1)[1].split(", or in block form", 1)[0]
    fixed = yaml.safe_load(fixed_yaml)
    assert fixed == {"args": [script]}
    assert schema_errors(workflow(echo(command=["sh", "-c"], **fixed))) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            workflow(echo(imagee="alpine")),
            [
                FieldError(
                    "spec.templates[0].container.imagee",
                    'unknown field "imagee"; did you mean "image"?',
                    "FieldValueForbidden",
                )
            ],
            id="misspelt-container-field",
        ),
        pytest.param(
            workflow(echo(), entrypoint="main", paralelism=2),
            [
                FieldError(
                    "spec.paralelism", 'unknown field "paralelism"; did you mean "parallelism"?', "FieldValueForbidden"
                )
            ],
            id="misspelt-spec-field",
        ),
        pytest.param(
            workflow({**echo(), "frobnicate": True}),
            [
                FieldError(
                    "spec.templates[0].frobnicate",
                    'unknown field "frobnicate" in a Template; remove it',
                    "FieldValueForbidden",
                )
            ],
            id="unknown-template-field",
        ),
        pytest.param(
            workflow(echo(args=["a"], resources={"limits": {"cpu": "1"}, "limit": {}})),
            [
                FieldError(
                    "spec.templates[0].container.resources.limit",
                    'unknown field "limit"; did you mean "limits"?',
                    "FieldValueForbidden",
                )
            ],
            id="unknown-field-deep-in-a-kubernetes-type",
        ),
        pytest.param(
            workflow(echo(command="python -c 'print(1)'")),
            [
                FieldError(
                    "spec.templates[0].container.command",
                    "must be a list of strings, got a string (\"python -c 'print(1)'\"); to solve this, write one "
                    'list item per word: command: ["python", "-c", "print(1)"]',
                    "FieldValueTypeInvalid",
                )
            ],
            id="command-as-a-string",
        ),
        pytest.param(
            workflow(echo(args="hello world")),
            [
                FieldError(
                    "spec.templates[0].container.args",
                    'must be a list of strings, got a string ("hello world"); to solve this, write it as a YAML '
                    'list: args: ["hello world"]',
                    "FieldValueTypeInvalid",
                )
            ],
            id="args-as-a-plain-string",
        ),
        pytest.param(
            workflow(echo(args=["-n", 5])),
            [
                FieldError(
                    "spec.templates[0].container.args[1]",
                    'must be a string, got an integer (5); to solve this, quote it: "5"',
                    "FieldValueTypeInvalid",
                )
            ],
            id="number-in-args",
        ),
        pytest.param(
            workflow(echo(), parallelism="2"),
            [
                FieldError(
                    "spec.parallelism",
                    'must be an integer, got a string ("2"); to solve this, write the number without quotes: '
                    "parallelism: 2",
                    "FieldValueTypeInvalid",
                )
            ],
            id="quoted-number",
        ),
        pytest.param(
            workflow(echo(), parallelism=2.0),
            [
                FieldError(
                    "spec.parallelism",
                    "must be an integer, got a number (2.0); to solve this, write it without a decimal point: "
                    "parallelism: 2",
                    "FieldValueTypeInvalid",
                )
            ],
            id="integer-written-as-a-decimal",
        ),
        pytest.param(
            workflow(echo(), suspend="yes"),
            [
                FieldError(
                    "spec.suspend",
                    'must be a boolean (true or false), got a string ("yes"); to solve this, write suspend: '
                    "true without quotes",
                    "FieldValueTypeInvalid",
                )
            ],
            id="quoted-boolean",
        ),
        pytest.param(
            workflow({"name": "main", "container": "alpine"}),
            [
                FieldError(
                    "spec.templates[0].container",
                    'must be an object (Container), got a string ("alpine")',
                    "FieldValueTypeInvalid",
                )
            ],
            id="container-as-a-string",
        ),
        pytest.param(
            workflow({"name": "main", "dag": {"tasks": [{"template": "x"}]}}),
            [
                FieldError(
                    "spec.templates[0].dag.tasks[0].name",
                    'required field "name" of this DAGTask is missing; add it',
                    "FieldValueRequired",
                )
            ],
            id="task-without-name",
        ),
        pytest.param(
            workflow({**echo(), "retryStrategy": {"limit": 2, "retryPolicy": "OnFailures"}}),
            [
                FieldError(
                    "spec.templates[0].retryStrategy.retryPolicy",
                    'unsupported value "OnFailures"; did you mean "OnFailure"? (supported values: "Always", '
                    '"OnFailure", "OnError", "OnTransientError")',
                    "FieldValueNotSupported",
                )
            ],
            id="bad-retry-policy",
        ),
        pytest.param(
            cron(concurrencyPolicy="forbid"),
            [
                FieldError(
                    "spec.concurrencyPolicy",
                    'unsupported value "forbid"; did you mean "Forbid"? (supported values: "Allow", "Forbid", '
                    '"Replace")',
                    "FieldValueNotSupported",
                )
            ],
            id="cron-policy-case",
        ),
        pytest.param(
            {**workflow(echo()), "apiVersion": "argoproj.io/v1"},
            [
                FieldError(
                    "apiVersion",
                    'unsupported value "argoproj.io/v1"; use one of: "argoproj.io/v1alpha1"',
                    "FieldValueNotSupported",
                )
            ],
            id="wrong-api-version",
        ),
        pytest.param(
            {**workflow(echo()), "kind": "Workflows"},
            [
                FieldError(
                    "kind",
                    'unsupported value "Workflows"; did you mean "Workflow"? (supported values: "Workflow", '
                    '"WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")',
                    "FieldValueNotSupported",
                )
            ],
            id="wrong-kind",
        ),
        pytest.param(
            workflow(
                {
                    "name": "main",
                    "inputs": {"parameters": [{"name": "p", "value": {"a": 1}}]},
                    "container": {"image": "alpine"},
                }
            ),
            [
                FieldError(
                    "spec.templates[0].inputs.parameters[0].value",
                    "must be a string (numbers and booleans are also accepted), got an object; to solve this, "
                    """pass it as a JSON string: value: '{"a": 1}'""",
                    "FieldValueTypeInvalid",
                )
            ],
            id="object-as-parameter-value",
        ),
        pytest.param(
            workflow({"name": "main", "steps": [{"name": "a", "template": "b"}]}),
            [
                FieldError(
                    "spec.templates[0].steps[0]",
                    "must be a list (of WorkflowStep), got an object; to solve this, make each item of steps a list "
                    'of steps that run in parallel: write "- - name: ..." (two dashes) for a step that runs on its own',
                    "FieldValueTypeInvalid",
                )
            ],
            id="steps-without-their-parallel-group",
        ),
        pytest.param(
            workflow({"name": "main", "dag": [{"name": "a", "template": "b"}]}),
            [
                FieldError(
                    "spec.templates[0].dag",
                    "must be an object (DAGTemplate), got a list; to solve this, put the items under dag.tasks: "
                    "dag: {tasks: [...]}",
                    "FieldValueTypeInvalid",
                )
            ],
            id="dag-written-as-its-task-list",
        ),
        pytest.param(
            workflow({"name": "main", "inputs": {"parameters": {"msg": "hi"}}, "container": {"image": "a"}}),
            [
                FieldError(
                    "spec.templates[0].inputs.parameters",
                    "must be a list (of Parameter), got an object; to solve this, write one list item per entry, "
                    'each with its name: parameters: [{name: "msg", ...}]',
                    "FieldValueTypeInvalid",
                )
            ],
            id="parameters-as-a-map",
        ),
        pytest.param(
            workflow({"name": "main", "image": "alpine", "container": {"image": "alpine"}}),
            [
                FieldError(
                    "spec.templates[0].image",
                    'unknown field "image" in a Template; image belongs inside container (or script): move it '
                    "under container:",
                    "FieldValueForbidden",
                )
            ],
            id="container-field-on-the-template",
        ),
        pytest.param(
            workflow({"name": "main", "dependencies": ["a"], "container": {"image": "alpine"}}),
            [
                FieldError(
                    "spec.templates[0].dependencies",
                    'unknown field "dependencies" in a Template; dependencies belongs to a DAG task: move it to the '
                    "task in dag.tasks that runs this template",
                    "FieldValueForbidden",
                )
            ],
            id="dependencies-on-the-template",
        ),
        pytest.param(
            workflow({"name": "main", "steps": [[{"name": "a", "template": "b", "depends": "c"}]]}),
            [
                FieldError(
                    "spec.templates[0].steps[0][0].depends",
                    'unknown field "depends" in a WorkflowStep; steps run group by group, so there are no '
                    "dependencies: put this step in a later group",
                    "FieldValueForbidden",
                )
            ],
            id="depends-on-a-step",
        ),
        pytest.param(
            workflow({"name": "main", "dag": {"tasks": [{"name": "a", "template": "b", "inputs": {}}]}}),
            [
                FieldError(
                    "spec.templates[0].dag.tasks[0].inputs",
                    'unknown field "inputs" in a DAGTask; pass values to the template with arguments: '
                    "arguments: {parameters: [...]}",
                    "FieldValueForbidden",
                )
            ],
            id="inputs-on-a-task",
        ),
        pytest.param(
            workflow(echo(), parameters=[{"name": "a"}]),
            [
                FieldError(
                    "spec.parameters",
                    'unknown field "parameters" in a WorkflowSpec; workflow parameters go under spec.arguments: '
                    "arguments: {parameters: [...]}",
                    "FieldValueForbidden",
                )
            ],
            id="workflow-parameters-outside-arguments",
        ),
        pytest.param(
            workflow({"name": "main", "container": {"image": "python", "source": "print(1)"}}),
            [
                FieldError(
                    "spec.templates[0].container.source",
                    'unknown field "source" in a Container; source belongs to script templates: rename container '
                    "to script",
                    "FieldValueForbidden",
                )
            ],
            id="source-in-a-container",
        ),
        pytest.param(
            cron(entrypoint="main"),
            [
                FieldError(
                    "spec.entrypoint",
                    'unknown field "entrypoint" in a CronWorkflowSpec; entrypoint belongs to the workflow it '
                    "starts: move it under spec.workflowSpec",
                    "FieldValueForbidden",
                )
            ],
            id="workflow-field-on-a-cron-spec",
        ),
        pytest.param(
            {**cron(), "schedules": ["* * * * *"]},
            [
                FieldError(
                    "schedules",
                    'unknown field "schedules" in a CronWorkflow; schedules belongs under spec',
                    "FieldValueForbidden",
                )
            ],
            id="cron-field-at-the-top-level",
        ),
        pytest.param(
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "x"}, "sepc": {}},
            [
                FieldError("sepc", 'unknown field "sepc"; did you mean "spec"?', "FieldValueForbidden"),
                FieldError("spec", 'required field "spec" of this Workflow is missing; add it', "FieldValueRequired"),
            ],
            id="misspelt-spec",
        ),
        pytest.param(
            {**workflow(echo()), "metadata": {"generatename": "x-"}},
            [
                FieldError(
                    "metadata.generatename",
                    'unknown field "generatename"; did you mean "generateName"?',
                    "FieldValueForbidden",
                )
            ],
            id="misspelt-metadata-field",
        ),
        pytest.param(
            workflow(echo(), arguments={"parameters": [{"name": "n", "value": 3}, {"name": "b", "value": True}]}),
            [],
            id="numbers-and-booleans-are-accepted-as-parameter-values",
        ),
        pytest.param(
            workflow({**echo(), "activeDeadlineSeconds": "{{inputs.parameters.t}}", "retryStrategy": {"limit": "3"}}),
            [],
            id="int-or-string-fields-take-both",
        ),
        pytest.param(
            workflow({**echo(), "retryStrategy": {"retryPolicy": "{{workflow.parameters.policy}}"}}),
            [],
            id="a-placeholder-stands-in-for-an-enum-value",
        ),
        pytest.param(
            {**workflow(echo()), "kind": "{{kind}}"},
            [
                FieldError(
                    "kind",
                    'unsupported value "{{kind}}"; use one of: "Workflow", "WorkflowTemplate", '
                    '"ClusterWorkflowTemplate", "CronWorkflow"',
                    "FieldValueNotSupported",
                )
            ],
            id="but-not-for-the-kind",
        ),
        pytest.param(
            workflow({**echo(), "retryStrategy": {"retryPolicy": True}}),
            [
                FieldError(
                    "spec.templates[0].retryStrategy.retryPolicy",
                    'must be a string, got a boolean (true); use one of: "Always", "OnFailure", "OnError", '
                    '"OnTransientError"',
                    "FieldValueTypeInvalid",
                )
            ],
            id="enum-field-with-a-non-string",
        ),
        pytest.param(
            {**workflow(echo()), "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": 3}}},
            [
                FieldError(
                    "metadata.labels[app.kubernetes.io/name]",
                    'must be a string, got an integer (3); to solve this, quote it: app.kubernetes.io/name: "3"',
                    "FieldValueTypeInvalid",
                )
            ],
            id="map-keys-go-in-brackets",
        ),
        pytest.param(
            workflow(echo(), hooks={"exit": {"templat": "x"}}),
            [
                FieldError(
                    "spec.hooks[exit].templat",
                    'unknown field "templat"; did you mean "template"?',
                    "FieldValueForbidden",
                )
            ],
            id="field-inside-a-map-value",
        ),
        pytest.param(
            workflow({"name": "main", "dag": {"tasks": [{"name": "a", "template": "b", "withItems": "{{x}}"}]}}),
            [
                FieldError(
                    "spec.templates[0].dag.tasks[0].withItems",
                    'must be a list, got a string ("{{x}}"); to solve this, list the items (withItems: [a, b]), or '
                    'use withParam for a JSON list or a {{...}} expression: withParam: "{{x}}"',
                    "FieldValueTypeInvalid",
                )
            ],
            id="with-items-given-an-expression",
        ),
        pytest.param(
            workflow({"name": "main", "dag": {"tasks": [{"name": None, "template": "b"}, None]}}),
            [
                FieldError(
                    "spec.templates[0].dag.tasks[0].name",
                    'required value: "name:" with no value counts as missing; set it to a string',
                    "FieldValueRequired",
                ),
                FieldError(
                    "spec.templates[0].dag.tasks[1]",
                    "required value: an empty value counts as missing; set it to an object (DAGTask)",
                    "FieldValueRequired",
                ),
            ],
            id="empty-required-field-and-empty-list-item",
        ),
        pytest.param(
            {**workflow(echo()), "spec": None},
            [
                FieldError(
                    "spec",
                    'required value: "spec:" with no value counts as missing; set it to an object (WorkflowSpec)',
                    "FieldValueRequired",
                )
            ],
            id="empty-spec",
        ),
        pytest.param(
            workflow(echo(), entrypoint=None, onExit=None, arguments=None),
            [],
            id="empty-optional-fields-mean-unset",
        ),
        pytest.param(
            cron(schedule="* * * * *", schedules=None),
            [],
            id="argo-v3-schedule-is-accepted",
        ),
    ],
)
def test_invalid_manifests_get_every_error_with_path_and_fix(
    document: dict[str, Any], expected: list[FieldError]
) -> None:
    assert schema_errors(document) == expected


def test_every_error_is_reported_not_only_the_first() -> None:
    document = workflow(
        echo(imagee="x"), {"name": "b", "script": {"image": "python", "sorce": "print(1)"}}, onExitt="x"
    )
    assert [str(e) for e in schema_errors(document)] == [
        'spec.onExitt: unknown field "onExitt"; did you mean "onExit"?',
        'spec.templates[0].container.imagee: unknown field "imagee"; did you mean "image"?',
        'spec.templates[1].script.sorce: unknown field "sorce"; did you mean "source"?',
    ]


def test_messages_never_carry_a_huge_value() -> None:
    document = workflow(echo(args="x" * 100_000))
    (error,) = schema_errors(document)
    assert len(error.message) < 400


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_has_a_self_contained_schema(kind: str) -> None:
    schema = schema_for(kind)
    assert schema["properties"]["kind"]["enum"][0] == kind
    assert "io.k8s.api.core.v1.Container" in schema["$defs"]


def test_a_non_object_document_is_one_error() -> None:
    assert schema_errors(["not", "a", "manifest"]) == [  # type: ignore[arg-type]
        FieldError("", "must be an object, got a list", "FieldValueTypeInvalid")
    ]


def test_a_5000_task_dag_validates() -> None:  # its speed: bench/webhook.py and docs/benchmarks.md
    assert schema_errors(dag_workflow(5000)) == []


def test_one_invalid_task_among_5000_is_found_with_its_path() -> None:
    broken = copy.deepcopy(dag_workflow(5000))
    broken["spec"]["templates"][0]["dag"]["tasks"][4000]["dependecies"] = ["t1"]
    errors = schema_errors(broken)
    assert [str(e) for e in errors] == [
        'spec.templates[0].dag.tasks[4000].dependecies: unknown field "dependecies"; did you mean "dependencies"?'
    ]


def test_the_schemas_are_valid_draft_2020_12_schemas() -> None:
    shared = schema_for("Workflow")
    jsonschema.Draft202012Validator.check_schema(shared)  # the shared $defs, checked once (about a second)
    for kind in KINDS:
        schema = schema_for(kind)
        assert schema["$defs"] is shared["$defs"]
        jsonschema.Draft202012Validator.check_schema({k: v for k, v in schema.items() if k != "$defs"})


def jsonschema_finds_errors(document: dict[str, Any]) -> bool:
    validator = StrictValidator(schema_for(document["kind"]))
    return next(iter(validator.iter_errors(document)), None) is not None


def mutations() -> list[Any]:
    """Valid and invalid documents for checking that the fast path and jsonschema agree."""
    base = dag_workflow(3)
    cases: list[Any] = [pytest.param(base, id="valid-dag"), pytest.param(cron(), id="valid-cron")]
    edits: list[tuple[str, Any]] = [
        ("spec.parallelism", 2.0),
        ("spec.parallelism", 2.5),
        ("spec.parallelism", True),
        ("spec.suspend", 1),
        ("spec.entrypoint", None),
        ("spec.templates.0", None),
        ("spec.templates.0.dag.tasks.1", None),
        ("spec.templates.0.dag.tasks.1.name", None),
        ("spec.templates.0.dag", "tasks"),
        ("spec.templates.0.dag.tasks", "t0"),
        ("metadata", None),
        ("spec.templates.1.container.args", [None]),
        ("spec.templates.1.container.args", "x"),
        ("spec.templates.1.container.resources", {"limits": {"cpu": 1.5, "memory": "1Gi"}}),
        ("spec.templates.1.container.resources", {"limits": {"cpu": True}}),
        ("spec.templates.1.container.ports", [{"containerPort": "80"}]),
        ("spec.templates.1.container.livenessProbe", {"httpGet": {"port": "http"}}),
        ("spec.templates.1.container.livenessProbe", {"httpGet": {"port": 8.5}}),
        ("spec.templates.1.retryStrategy", {"limit": 2.0, "retryPolicy": None}),
        ("spec.templates.1.retryStrategy", {"retryPolicy": ""}),
        ("spec.templates.1.retryStrategy", {"retryPolicy": "never"}),
        ("spec.templates.1.retryStrategy", {"retryPolicy": "{{inputs.parameters.p}}"}),
        ("spec.templates.1.retryStrategy", {"retryPolicy": 3}),
        ("spec.podGC", {"strategy": "{{x"}),
        ("spec.templates.0.dag.tasks.0.withItems", [1, "a", {"b": [None]}, True]),
        ("spec.templates.0.dag.tasks.0.inline", {"container": {"image": "x", "bogus": 1}}),
        ("spec.templates.0.dag.tasks.0.inline", {"steps": [[{"name": "s", "inline": {"suspend": {}}}]]}),
        ("spec.templates.0.dag.tasks.0.inline", {"steps": [[{"name": "s", "inline": {"suspend": {"x": 1}}}]]}),
        ("spec.templates.1.inputs.parameters.0.enum", [1, "a", False, 2.5]),
        ("spec.templates.1.inputs.parameters.0.enum", [[1]]),
        ("metadata.labels", {"a": 1}),
        ("metadata.uid", 5),
        ("spec.hooks", {"exit": {"template": "x"}, "running": {"expression": 1}}),
        ("spec.volumes", [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}]),
        ("spec.volumes", [{"name": "v", "emptyDir": {"sizeLimit": []}}]),
        ("status", {"phase": "Running", "nodes": {"x": {"id": "x", "extra": 1}}}),
        ("status", {"nodes": {"x": {"children": "y"}}}),
    ]
    for dotted, value in edits:
        document = copy.deepcopy(base)
        *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        node: Any = document
        for part in parents:
            node = node[part]
        node[last] = value
        cases.append(pytest.param(document, id=f"{dotted}={json.dumps(value)}"))
    return cases


@pytest.mark.parametrize("document", mutations())
def test_the_fast_path_agrees_with_jsonschema(document: dict[str, Any]) -> None:
    assert (schema_errors(document) != []) is jsonschema_finds_errors(document)


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="../shared/argo-examples is not present")
def test_jsonschema_itself_accepts_every_argo_example() -> None:
    # The fast path says "valid" for all of them (test above); jsonschema must agree, or the fast path is lax.
    rejected = [doc.id for doc in argo_documents() if jsonschema_finds_errors(doc.values[0])]
    assert rejected == []


def test_hostile_nesting_is_one_error_not_a_crash() -> None:
    template: dict[str, Any] = {"name": "leaf", "container": {"image": "alpine"}}
    for _ in range(3000):
        template = {"name": "n", "dag": {"tasks": [{"name": "a", "inline": template}]}}
    assert schema_errors(workflow(template)) == [
        FieldError("spec", "is nested too deeply to check; inline templates may nest a few levels, not hundreds")
    ]


def test_a_few_levels_of_inline_templates_are_checked_all_the_way_down() -> None:
    template: dict[str, Any] = {"name": "leaf", "container": {"image": "alpine", "imagee": "x"}}
    for _ in range(5):
        template = {"name": "n", "dag": {"tasks": [{"name": "a", "inline": template}]}}
    inner = "".join(".dag.tasks[0].inline" for _ in range(5))
    assert [str(e) for e in schema_errors(workflow(template))] == [
        f'spec.templates[0]{inner}.container.imagee: unknown field "imagee"; did you mean "image"?'
    ]


def test_any_mapping_is_read_as_an_object() -> None:
    document = workflow(echo(imagee="x"))
    assert schema_errors(MappingProxyType(document)) == schema_errors(document) != []


def all_locations(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found.extend(all_locations(sub, (*prefix, key)))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found.extend(all_locations(sub, (*prefix, index)))
    return found


REPLACEMENTS: list[Any] = [None, 1, 1.5, 2.0, True, "x", "{{x}}", "Always", [], {}, ["a"], [1], {"k": "v"}, {"name": 1}]


def test_the_fast_path_agrees_with_jsonschema_on_random_mutations() -> None:
    rng = random.Random(20261128)
    corpus = [p.values[0] for p in argo_documents()] or [dag_workflow(3), cron()]
    for _ in range(400):
        document = copy.deepcopy(rng.choice(corpus))
        location = rng.choice([loc for loc in all_locations(document)[1:] if loc != ("kind",)])
        *parents, last = location
        node: Any = document
        for part in parents:
            node = node[part]
        if isinstance(node[last], dict) and rng.random() < 0.3:
            node[last]["unknownField"] = 1
        else:
            node[last] = rng.choice(REPLACEMENTS)
        fast_says_invalid = schema_errors(document) != []
        assert fast_says_invalid is jsonschema_finds_errors(document), (location, node[last])


def test_a_yaml_alias_loop_is_one_error_not_a_crash() -> None:
    document = yaml.safe_load(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: x}\n"
        "spec:\n  templates:\n  - &t {name: a, dag: {tasks: [{name: b, inline: *t}]}}\n"
    )
    assert [str(e) for e in schema_errors(document)] == [
        "spec: is nested too deeply to check; inline templates may nest a few levels, not hundreds"
    ]
    document["spec"]["templates"][0]["dag"]["tasks"][0]["withItems"] = "loop"
    document["spec"]["arguments"] = {"parameters": [{"name": "p", "value": document["spec"]["templates"]}]}
    assert [str(e) for e in schema_errors(document)] == [
        "spec: is nested too deeply to check; inline templates may nest a few levels, not hundreds"
    ]


@pytest.mark.parametrize(
    ("kind", "location", "expected"),
    [
        pytest.param(
            "Workflow",
            ["spec", "templates", 2, "dag", "tasks", 0, "dependencies"],
            "spec.templates[2].dag.tasks[0].dependencies",
            id="fields-and-indexes",
        ),
        pytest.param("Workflow", ["spec", "hooks", "exit", "template"], "spec.hooks[exit].template", id="map-key"),
        pytest.param("Workflow", ["metadata", "annotations", "a/b"], "metadata.annotations[a/b]", id="annotation"),
        pytest.param(
            "Workflow",
            ["status", "nodes", "wf-123", "children", 0],
            "status.nodes[wf-123].children[0]",
            id="status-node",
        ),
        pytest.param(
            "CronWorkflow",
            ["spec", "workflowSpec", "nodeSelector", "disk"],
            "spec.workflowSpec.nodeSelector[disk]",
            id="cron-nested-map",
        ),
        pytest.param("Workflow", ["spec", "unknown", "deeper"], "spec.unknown.deeper", id="unknown-names-are-fields"),
        pytest.param(
            "Workflow",
            ["spec", "templates", 0, "container", "resources", "limits", "cpu"],
            "spec.templates[0].container.resources.limits[cpu]",
            id="kubernetes-map",
        ),
    ],
)
def test_field_paths_use_brackets_for_indexes_and_map_keys(kind: str, location: list[str | int], expected: str) -> None:
    assert field_path(kind, location) == expected


def test_5000_invalid_tasks_are_all_reported() -> None:
    big = dag_workflow(5000)
    for task in big["spec"]["templates"][0]["dag"]["tasks"]:
        task["dependecies"] = task.pop("dependencies")
    errors = schema_errors(big)
    assert len(errors) == 5000
    assert str(errors[4999]) == (
        'spec.templates[0].dag.tasks[4999].dependecies: unknown field "dependecies"; did you mean "dependencies"?'
    )
