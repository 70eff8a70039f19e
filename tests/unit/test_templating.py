"""executor.templating: substitution of simple and expression tags, stages, scopes and creation-time variables."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from executor.templating import (
    MAX_SUBSTITUTED_LENGTH,
    Scope,
    TemplatingError,
    build_expression_env,
    creation_timestamp_vars,
    evaluate_expression,
    substitute,
    substitute_string,
    unresolved_names,
)
from webhook.expressions import ExpressionError

CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

FLAT: dict[str, str | None] = {
    "workflow.name": "hello-abc12",
    "workflow.parameters.config": '{"a": {"b": [1, 2]}}',
    "inputs.parameters.foo": "5",
    "inputs.parameters.message": "hi there",
    "inputs.parameters.should-print": "true",
    "inputs.parameters.multi": 'line1\nline2 "quoted"',
    "steps.flip-coin.outputs.result": "heads",
    "tasks.a.outputs.parameters.p": "pv",
    "tasks.skipped.outputs.parameters.msg": None,
    "item": '{"image":"debian","tag":"9.1"}',
    "item.image": "debian",
    "item.tag": "9.1",
    **creation_timestamp_vars(CREATED),
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{{inputs.parameters.message}}", "hi there", id="whole-string"),
        pytest.param("say {{ inputs.parameters.message }}!", "say hi there!", id="whitespace-inside"),
        pytest.param("{{item.image}}:{{item.tag}}", "debian:9.1", id="item-keys"),
        pytest.param("{{inputs.parameters.multi}}", 'line1\nline2 "quoted"', id="special-characters-kept"),
        pytest.param("a/{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}", "a/2024/05", id="dates"),
        pytest.param("{{=asInt(inputs.parameters.foo) * 10}}", "50", id="expression"),
        pytest.param(
            "hello {{=asInt(inputs.parameters.foo) * 10}} @ {{=sprig.date('2006', workflow.creationTimestamp)}}",
            "hello 50 @ 2024",
            id="expression-tag-template",
        ),
        pytest.param("{{=inputs.parameters['should-print'] == 'true'}}", "true", id="hyphen-by-index"),
        pytest.param("{{=jsonpath(workflow.parameters.config, '$.a.b')}}", "[1,2]", id="list-as-json"),
        pytest.param("{{=toJson(jsonpath(workflow.parameters.config, '$.a'))}}", '{"b":[1,2]}', id="to-json"),
        pytest.param("{{=item.image}}", "debian", id="item-map"),
        pytest.param("{{=tasks.a.outputs.parameters.p}}", "pv", id="task-output"),
        pytest.param("{{=tasks.skipped.outputs.parameters.msg ?? 'fallback'}}", "fallback", id="absent-output"),
        pytest.param("{{=steps['flip-coin'].outputs.result}}", "heads", id="hyphenated-step"),
        pytest.param("{{workflow.creationTimestamp}}", "2024-05-06T07:08:09Z", id="creation-time"),
        pytest.param("no tags at all", "no tags at all", id="plain"),
        pytest.param("echo {{ unclosed", "echo {{ unclosed", id="unclosed-is-literal"),
        pytest.param("${{inputs.parameters.foo}}", "$5", id="dollar"),
    ],
)
def test_tags_are_substituted_as_argo_does(template: str, expected: str) -> None:
    assert substitute(template, FLAT) == expected
    assert substitute_string(template, Scope(FLAT)) == expected


def test_nested_structures_are_substituted_deeply_and_the_input_is_untouched() -> None:
    template: dict[str, Any] = {
        "name": "{{workflow.name}}",
        "container": {
            "image": "{{item.image}}:{{item.tag}}",
            "args": ["echo", "{{inputs.parameters.message}}", 3, True, None],
            "env": [{"name": "FOO", "value": "{{=asInt(inputs.parameters.foo) + 1}}"}],
        },
        "{{inputs.parameters.foo}}-key": ("{{item.tag}}",),
    }
    original = copy.deepcopy(template)
    assert substitute(template, FLAT) == {
        "name": "hello-abc12",
        "container": {
            "image": "debian:9.1",
            "args": ["echo", "hi there", 3, True, None],
            "env": [{"name": "FOO", "value": "6"}],
        },
        "5-key": ("9.1",),
    }
    assert template == original


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param("{{inputs.parameters.msg}}", "failed to resolve {{inputs.parameters.msg}}", id="missing"),
        pytest.param("x {{ inputs.parameters.msg }}", "failed to resolve {{ inputs.parameters.msg }}", id="spaces"),
        pytest.param(
            "{{tasks.skipped.outputs.parameters.msg}}",
            "failed to resolve {{tasks.skipped.outputs.parameters.msg}}: the value is absent (its producer did not "
            "run); give the output parameter a default, or use an expression with ?? to choose a fallback",
            id="absent",
        ),
        pytest.param(
            "{{=inputs.parameters.foo * 2}}",
            'failed to evaluate expression {{=inputs.parameters.foo * 2}}: expression "inputs.parameters.foo * 2" : '
            "invalid operation: * (mismatched types string and int) at 22; parameters are strings: convert with "
            "asInt(...) or asFloat(...)",
            id="expression-type-error",
        ),
        pytest.param(
            "{{=retries + 1}}",
            'failed to evaluate expression {{=retries + 1}}: expression "retries + 1" : unknown variable retries at 0; '
            "it is not defined here; check the spelling and that it is in scope",
            id="expression-unknown-variable",
        ),
        pytest.param(
            "{{=tasks.a.outputs.parameters.nope}}",
            "failed to evaluate expression {{=tasks.a.outputs.parameters.nope}}: the result is nil; use ?? to give a "
            "fallback",
            id="nil-result",
        ),
        pytest.param(
            "{{=1 +}}",
            'failed to evaluate expression {{=1 +}}: expression "1 +" : unexpected end of expression at 3; expected '
            "a value",
            id="syntax-error",
        ),
    ],
)
def test_strict_substitution_names_what_failed(template: str, message: str) -> None:
    with pytest.raises(TemplatingError) as caught:
        substitute({"args": [template]}, FLAT)
    assert caught.value.message == message
    assert str(caught.value) == message


def test_the_variable_of_a_failed_tag_is_reported() -> None:
    with pytest.raises(TemplatingError) as caught:
        substitute("{{ pod.name }}", FLAT)
    assert caught.value.variable == " pod.name "


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{{inputs.parameters.msg}}", id="missing"),
        pytest.param("{{=retries + 1}}", id="unknown-variable"),
        pytest.param("{{=tasks.a.outputs.parameters.nope}}", id="nil"),
        pytest.param("{{tasks.skipped.outputs.parameters.msg}}", id="absent"),
    ],
)
def test_lenient_substitution_leaves_unresolved_tags_for_a_later_stage(template: str) -> None:
    text = f"a {template} b {{{{inputs.parameters.foo}}}}"
    assert substitute(text, FLAT, strict=False) == f"a {template} b 5"


def test_stages_leave_later_variables_untouched_even_when_strict() -> None:
    template = {
        "args": ["{{inputs.parameters.foo}}", "{{outputs.parameters.x}}", "{{pod.name}}", "{{=outputs.result + 'x'}}"]
    }
    first = substitute(template, FLAT, leave=("outputs.", "pod.name"))
    assert first == {"args": ["5", "{{outputs.parameters.x}}", "{{pod.name}}", "{{=outputs.result + 'x'}}"]}
    later = Scope(FLAT).child({"outputs.parameters.x": "X", "pod.name": "pod-1", "outputs.result": "R"})
    assert substitute(first, later) == {"args": ["5", "X", "pod-1", "Rx"]}


def test_scopes_chain_without_copying_and_children_win() -> None:
    globals_scope = Scope({"workflow.name": "wf", "item": "outer"})
    node = globals_scope.child({"item": "inner", "inputs.parameters.x": "1"})
    assert substitute("{{workflow.name}} {{item}} {{inputs.parameters.x}}", node) == "wf inner 1"
    assert dict(node) == {"item": "inner", "inputs.parameters.x": "1", "workflow.name": "wf"}
    assert len(node) == 3
    assert node.env == {"item": "inner", "inputs": {"parameters": {"x": "1"}}, "workflow": {"name": "wf"}}
    assert node.env is node.env  # built once


def test_the_expression_environment_nests_flat_names() -> None:
    env = build_expression_env(
        {
            "inputs.parameters.x": "1",
            "inputs.parameters.my-param": "2",
            "tasks.a.outputs.parameters.p": "3",
            "item": '{"k": "v"}',
            "item.k": "v",
            "workflow.creationTimestamp": "2024-05-06T07:08:09Z",
            "workflow.creationTimestamp.Y": "2024",
        }
    )
    assert env == {
        "inputs": {"parameters": {"x": "1", "my-param": "2"}},
        "tasks": {"a": {"outputs": {"parameters": {"p": "3"}}}},
        "item": {"k": "v"},
        "workflow": {"creationTimestamp": {"Y": "2024"}},
    }


def test_bare_expression_fields_substitute_simple_tags_first() -> None:
    scope = Scope({"inputs.parameters.safe-to-retry": "true"}).child(
        {"lastRetry.exitCode": "2", "lastRetry.status": "Failed", "lastRetry.duration": "3", "lastRetry.message": ""}
    )
    expression = (
        'asInt(lastRetry.exitCode) > 1 && lastRetry.status != "Error" && asInt(lastRetry.duration) < 120 && '
        "({{inputs.parameters.safe-to-retry}} == true || lastRetry.message matches 'imminent node shutdown|pod "
        "deleted')"
    )
    assert evaluate_expression(expression, scope) is True
    assert evaluate_expression("tasks.skipped.outputs.parameters.msg ?? 'expr-fallback'", FLAT) == "expr-fallback"
    assert evaluate_expression("{{=asInt(lastRetry.exitCode) >= 2}}", scope) is True  # Argo's documented form
    assert evaluate_expression("{{=lastRetry.exitCode != '2'}}", scope) is False
    with pytest.raises(TemplatingError):
        evaluate_expression("{{inputs.parameters.nope}} == 1", scope)
    with pytest.raises(ExpressionError):
        evaluate_expression("lastRetry.exitCode > 1", scope)


def test_unresolved_names_lists_missing_simple_tags_once_in_order() -> None:
    template = {"a": ["{{x}} {{inputs.parameters.foo}}", "{{y}}"], "{{x}}": "{{=z}}"}
    assert unresolved_names(template, FLAT) == ["x", "y"]


@pytest.mark.parametrize(
    ("char", "value"),
    [
        ("Y", "2024"),
        ("m", "05"),
        ("d", "06"),
        ("H", "07"),
        ("M", "08"),
        ("S", "09"),
        ("y", "24"),
        ("b", "May"),
        ("B", "May"),
        ("a", "Mon"),
        ("A", "Monday"),
        ("j", "127"),
        ("e", " 6"),
        ("F", "2024-05-06"),
        ("T", "07:08:09"),
        ("p", "AM"),
        ("s", "1714979289"),
        ("u", "1"),
        ("w", "1"),
        ("U", "18"),
        ("W", "19"),
        ("V", "19"),
        ("RFC3339", "2024-05-06T07:08:09Z"),
    ],
)
def test_creation_timestamp_variables_format_like_strftime(char: str, value: str) -> None:
    assert creation_timestamp_vars(CREATED)[f"workflow.creationTimestamp.{char}"] == value


def test_creation_timestamp_variables_agree_with_the_c_library_and_use_utc() -> None:
    moment = datetime(2023, 1, 1, 23, 59, 58, tzinfo=timezone(timedelta(hours=-5)))
    names = creation_timestamp_vars(moment)
    utc = moment.astimezone(UTC)
    for char in "aAbBCdDeFgGHIjmMpRSTuUVwWyYzZ":
        assert names[f"workflow.creationTimestamp.{char}"] == utc.strftime(f"%{char}").replace("UTC", "UTC"), char
    assert names["workflow.creationTimestamp"] == "2023-01-02T04:59:58Z"


def test_substitution_of_a_large_template_reaches_every_string() -> None:
    template = {
        "steps": [{"name": f"s{n}", "args": ["{{inputs.parameters.message}} {{item.image}}"]} for n in range(2000)]
    }
    done = substitute(template, Scope(FLAT))
    assert {tuple(step["args"]) for step in done["steps"]} == {
        (f"{FLAT['inputs.parameters.message']} {FLAT['item.image']}",)
    }


def test_a_child_scope_environment_shares_the_parents_untouched_maps() -> None:
    parent = Scope({"workflow.name": "wf", "workflow.parameters.p": "1", "tasks.a.outputs.result": "ra"})
    child = parent.child({"tasks.b.outputs.result": "rb", "item": "x", "workflow.parameters.q": "2"})
    assert child.env == build_expression_env(dict(child))
    assert child.env["tasks"]["a"] is parent.env["tasks"]["a"]
    assert parent.env == {
        "workflow": {"name": "wf", "parameters": {"p": "1"}},
        "tasks": {"a": {"outputs": {"result": "ra"}}},
    }


def test_a_template_that_would_explode_in_size_is_refused() -> None:
    scope = {"big": "x" * 100_000}
    with pytest.raises(TemplatingError) as caught:
        substitute(["{{big}}" * 50] * 10, scope)
    assert caught.value.message == (
        f"substituting {{{{big}}}} makes the template larger than {MAX_SUBSTITUTED_LENGTH} characters; pass large "
        "values as artifacts instead of parameters"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{{='test'}}", "test", id="single-quotes"),
        pytest.param('{{="test"}}', "test", id="double-quotes"),
        pytest.param("{{='some\\\\path'}}", "some\\path", id="escaped-backslash"),
        pytest.param("{{='a\\nb'}}", "a\nb", id="escaped-newline"),
        pytest.param("{{=1 + \n1}}", "2", id="newline-in-expression"),
        pytest.param("{{=toJson('test')}}", '"test"', id="string-as-json"),
        pytest.param("{{=toJson({test: 1})}}", '{"test":1}', id="object-as-json"),
        pytest.param("{{=toJson([1, '2', {an: 'object'}])}}", '[1,"2",{"an":"object"}]', id="array-as-json"),
        pytest.param('{{="\'"}}', "'", id="single-quote-string"),
        pytest.param("{{='\"'}}", '"', id="double-quote-string"),
        pytest.param("{{=true == false}}", "false", id="boolean"),
        pytest.param("{{=[1, 2]}}", "[1,2]", id="array"),
        pytest.param("{{=1.5 * 2}}", "3", id="float"),
    ],
)
def test_expression_results_are_written_as_argo_writes_them(template: str, expected: str) -> None:
    assert substitute(template, {}) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("a", "43", id="filter-equals"),
        pytest.param("b", "43", id="filter-and"),
        pytest.param("c", '{"age":43,"name":"Baris"}', id="slice"),
        pytest.param("d", '["Baris","Mo","Jai"]', id="wildcard"),
    ],
)
def test_destructured_json_matches_argo_outputs(name: str, expected: str) -> None:
    config = '{"employees": [{"name": "Baris", "age":43},{"name": "Mo", "age": 42}, {"name": "Jai", "age" :44}]}'
    paths = {
        "a": """$.employees[?(@.name=="Baris")].age""",
        "b": "$.employees[?(@.age>42 && @.age<44)].age",
        "c": "$.employees[0:1]",
        "d": "$.employees[*].name",
    }
    value = substitute(
        f"{{{{=jsonpath(workflow.parameters.config, '{paths[name]}')}}}}", {"workflow.parameters.config": config}
    )
    assert value in (expected, f"[{expected}]")
    assert value == (expected if name == "d" else f"[{expected}]")


def test_lenient_stages_leave_expressions_over_variables_that_are_not_defined_yet() -> None:
    scope = {"workflow.name": "wf", "tasks.a.outputs.result": "ok"}
    template = (
        "{{=workflow.status == 'Succeeded' ? 'yes' : 'no'}} {{=tasks.b.outputs.result ?? 'x'}} {{=workflow.name}}"
    )
    first = substitute(template, scope, strict=False)
    assert first == "{{=workflow.status == 'Succeeded' ? 'yes' : 'no'}} {{=tasks.b.outputs.result ?? 'x'}} wf"
    later = {**scope, "workflow.status": "Succeeded"}
    assert substitute(first, later) == "yes x wf"
