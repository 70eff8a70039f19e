"""webhook.expressions: tags, depends, when (govaluate) and expr-lang, with full error messages and hostile inputs."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.expressions import (
    MAX_DEPTH,
    MAX_EXPRESSION_LENGTH,
    MAX_LIST_LENGTH,
    MAX_STRING_LENGTH,
    ExpressionError,
    Tag,
    UnresolvedVariable,
    check_expression_syntax,
    check_when_syntax,
    compile_expression,
    depends_from_dependencies,
    evaluate_when,
    expression_problem,
    find_tags,
    find_unclosed_tag,
    format_result,
    format_value,
    jsonpath,
    parse_depends,
    to_json,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "argo-examples"

# ---------------------------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        pytest.param("no tags", [], id="none"),
        pytest.param(
            "{{inputs.parameters.x}}", [Tag("simple", "inputs.parameters.x", 0, 23)], id="simple-whole-string"
        ),
        pytest.param("a {{ item }} b", [Tag("simple", "item", 2, 12)], id="whitespace-inside-is-trimmed"),
        pytest.param(
            "{{item.key}}-{{workflow.creationTimestamp.RFC3339}}",
            [Tag("simple", "item.key", 0, 12), Tag("simple", "workflow.creationTimestamp.RFC3339", 13, 51)],
            id="two-tags",
        ),
        pytest.param("{{= 1 + 2 }}", [Tag("expression", " 1 + 2 ", 0, 12)], id="expression-tag"),
        pytest.param("{{ = 1 }}", [Tag("simple", "= 1", 0, 9)], id="space-before-equals-is-a-simple-tag"),
        pytest.param(
            "{{workflow.annotations.example.io/owner}}",
            [Tag("simple", "workflow.annotations.example.io/owner", 0, 41)],
            id="slash-in-name",
        ),
        pytest.param("echo {{ unclosed", [], id="unclosed-is-literal"),
        pytest.param("{{a {{b}}", [Tag("simple", "b", 4, 9)], id="innermost-opening-starts-the-tag"),
        pytest.param("{{item}}}", [Tag("simple", "item", 0, 8)], id="first-closing-ends-the-tag"),
        pytest.param("${{x}}", [Tag("simple", "x", 1, 6)], id="dollar-before"),
    ],
)
def test_tags_are_found_with_their_offsets(text: str, tags: list[Tag]) -> None:
    assert find_tags(text) == tags


@pytest.mark.parametrize(
    ("text", "position"),
    [
        pytest.param("{{a}}", None, id="closed"),
        pytest.param("x {{a", 2, id="unclosed"),
        pytest.param("{{a}} {{b", 6, id="second-unclosed"),
        pytest.param("}} {{", 3, id="closing-before-opening"),
    ],
)
def test_an_unclosed_tag_is_reported_with_its_offset(text: str, position: int | None) -> None:
    assert find_unclosed_tag(text) == position


# ---------------------------------------------------------------------------------------------------------------
# depends
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "references"),
    [
        pytest.param("A", [("A", None)], id="bare"),
        pytest.param("B.Failed && C", [("B", "Failed"), ("C", None)], id="result-and-bare"),
        pytest.param(
            "A && (C.Succeeded || C.Failed)", [("A", None), ("C", "Succeeded"), ("C", "Failed")], id="parentheses"
        ),
        pytest.param(
            "should-execute-2.Succeeded || should-not-execute",
            [("should-execute-2", "Succeeded"), ("should-not-execute", None)],
            id="hyphenated-names",
        ),
        pytest.param("!a_1.Errored", [("a_1", "Errored")], id="not-and-underscore"),
        pytest.param(
            "loop.AnySucceeded || loop.AllFailed", [("loop", "AnySucceeded"), ("loop", "AllFailed")], id="loop-results"
        ),
        pytest.param("  ", [], id="blank-means-no-dependencies"),
    ],
)
def test_depends_references_are_listed_in_order(text: str, references: list[tuple[str, str | None]]) -> None:
    parsed = parse_depends(text)
    assert parsed.references() == references
    assert parsed.task_names() == {task for task, _ in references}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a && (b", 'depends "a && (b" : unexpected end of expression at 7; expected ")"', id="unclosed"),
        pytest.param(
            "a &&",
            'depends "a &&" : unexpected end of expression at 4; expected a task name, "!" or "("',
            id="dangling",
        ),
        pytest.param("a b", 'depends "a b" : unexpected task "b" at 2; expected "&&", "||" or the end', id="two-names"),
        pytest.param(
            "A.Foo",
            'depends "A.Foo" : unknown task result "Foo" at 2; use one of Succeeded, Failed, Errored, Skipped, '
            "Omitted, Daemoned, AnySucceeded, AllFailed",
            id="unknown-result",
        ),
        pytest.param(
            "A.",
            'depends "A." : expected a task result after "." at 2; use one of Succeeded, Failed, Errored, Skipped, '
            "Omitted, Daemoned, AnySucceeded, AllFailed",
            id="missing-result",
        ),
        pytest.param(
            "a & b",
            'depends "a & b" : unexpected "&" at 2; use "&&" for and, "||" for or, "!" for not',
            id="single-ampersand",
        ),
        pytest.param(")", 'depends ")" : unexpected ")" at 0; expected a task name, "!" or "("', id="stray-paren"),
        pytest.param("(a))", 'depends "(a))" : unexpected ")" at 3; expected "&&", "||" or the end', id="extra-paren"),
    ],
)
def test_bad_depends_is_rejected_with_position_and_fix(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_depends(text)
    assert caught.value.message == message
    assert str(caught.value) == message


# Every task's final result; the table asks "does `depends` let the task run?"
DEPENDS_TABLE = [
    ("A", {"A": "Succeeded"}, True),
    ("A", {"A": "Skipped"}, True),
    ("A", {"A": "Daemoned"}, True),
    ("A", {"A": "Failed"}, False),
    ("A", {"A": "Errored"}, False),
    ("A", {"A": "Omitted"}, False),
    ("A.Failed", {"A": "Failed"}, True),
    ("A.Failed", {"A": "Succeeded"}, False),
    ("!A.Failed", {"A": "Succeeded"}, True),
    ("B.Failed && C", {"B": "Failed", "C": "Succeeded"}, True),
    ("B.Failed && C", {"B": "Succeeded", "C": "Succeeded"}, False),
    ("A && (C.Succeeded || C.Failed)", {"A": "Succeeded", "C": "Failed"}, True),
    ("A && (C.Succeeded || C.Failed)", {"A": "Succeeded", "C": "Errored"}, False),
    ("B || C", {"B": "Failed", "C": "Skipped"}, True),
    ("B || C", {"B": "Failed", "C": "Omitted"}, False),
    ("producer.Succeeded || producer.Skipped", {"producer": "Skipped"}, True),
    ("a || b && c", {"a": "Succeeded", "b": "Failed", "c": "Failed"}, True),
    ("(a || b) && c", {"a": "Succeeded", "b": "Failed", "c": "Failed"}, False),
    ("!!a", {"a": "Succeeded"}, True),
]


@pytest.mark.parametrize(
    ("text", "results", "runs"),
    [pytest.param(text, results, runs, id=f"{text} with {results}") for text, results, runs in DEPENDS_TABLE],
)
def test_depends_follows_argo_enhanced_depends_semantics(text: str, results: dict[str, str], runs: bool) -> None:
    assert parse_depends(text).evaluate(lambda task, result: results[task] == result) is runs


def test_depends_asks_the_planner_only_for_known_results() -> None:
    asked: list[tuple[str, str]] = []

    def outcome(task: str, result: str) -> bool:
        asked.append((task, result))
        return False

    parse_depends("A || B.AllFailed").evaluate(outcome)
    assert asked == [("A", "Succeeded"), ("A", "Skipped"), ("A", "Daemoned"), ("B", "AllFailed")]


def test_legacy_dependencies_become_a_conjunction() -> None:
    assert depends_from_dependencies(["a", "b-2"]) == "a && b-2"
    assert depends_from_dependencies([]) == ""


# ---------------------------------------------------------------------------------------------------------------
# when
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("heads == heads", True, id="coinflip-heads"),
        pytest.param("tails == heads", False, id="coinflip-tails"),
        pytest.param(
            "( heads == heads &&\n  tails == tails\n) ||\n( heads == tails &&\n  tails == tails )",
            True,
            id="conditionals-complex",
        ),
        pytest.param("heads =~ hea", True, id="regex-match"),
        pytest.param("tails =~ '^hea'", False, id="regex-no-match"),
        pytest.param("tails !~ hea", True, id="regex-not-match"),
        pytest.param("true == true", True, id="booleans"),
        pytest.param("false", False, id="literal-false"),
        pytest.param("true", True, id="literal-true"),
        pytest.param("True == true", False, id="bare-True-is-a-string"),
        pytest.param("5 < 10", True, id="numbers-compare-numerically"),
        pytest.param("10 < 9", False, id="not-lexicographically"),
        pytest.param("3 != 1 && 3 != 2", True, id="fibonacci"),
        pytest.param("1 == 1.0", True, id="numbers-are-floats"),
        pytest.param("1 == '1'", False, id="number-is-not-string"),
        pytest.param("'a b' == \"a b\"", True, id="both-quote-kinds"),
        pytest.param("Succeeded != Succeeded", False, id="status-reference"),
        pytest.param("even == even", True, id="parameter-aggregation"),
        pytest.param("YES == YES", True, id="intermediate-parameters"),
        pytest.param("!(a == b)", True, id="not"),
        pytest.param("a in (b, a)", True, id="in-list"),
        pytest.param("c in (b, a)", False, id="not-in-list"),
        pytest.param("1 + 2 == 3", True, id="arithmetic"),
        pytest.param("2 ** 3 == 8", True, id="power"),
        pytest.param("abc < abd", True, id="strings-compare"),
        pytest.param("1.2.3 == 1.2.3", True, id="dotted-word-is-a-string"),
        pytest.param("3abc == 3abc", True, id="word-starting-with-digit-is-a-string"),
        pytest.param("[my-value] == [my-value]", True, id="bracketed-word"),
        pytest.param("a + b == ab", True, id="string-concatenation"),
        pytest.param("true ? a == a : false", True, id="ternary"),
        pytest.param("", True, id="empty-is-true"),
    ],
)
def test_when_follows_govaluate_as_argo_uses_it(text: str, expected: bool) -> None:
    assert evaluate_when(text) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "heads",
            'when "heads" : evaluates to string "heads", not a boolean; compare it with something, e.g. '
            "{{steps.flip.outputs.result}} == heads",
            id="not-boolean",
        ),
        pytest.param(
            "my-value == x",
            'when "my-value == x" : "-" needs numbers, got string "my" at 2; quote values that contain it, e.g. '
            "'my-value'",
            id="hyphenated-bare-word",
        ),
        pytest.param(
            "a == ",
            'when "a == " : unexpected end of expression at 5; expected a value, "(", "!" or "-"',
            id="dangling-operator",
        ),
        pytest.param("a = b", 'when "a = b" : unexpected "=" at 2; use "==" to compare', id="single-equals"),
        pytest.param(
            "a & b",
            'when "a & b" : unexpected "&" at 2; bitwise operators are not supported; use "&&" for and',
            id="and",
        ),
        pytest.param(
            "'abc == abc", "when \"'abc == abc\" : unclosed string literal at 0; add the closing '", id="quote"
        ),
        pytest.param(
            "(a == a", 'when "(a == a" : unexpected end of expression at 7; expected ")"', id="unclosed-paren"
        ),
        pytest.param(
            "a == a b", 'when "a == a b" : unexpected "b" at 7; expected an operator or the end', id="two-values"
        ),
        pytest.param(
            "heads < 5",
            'when "heads < 5" : cannot compare string "heads" with number 5 using "<" at 6; compare two numbers or '
            "two strings",
            id="mixed-compare",
        ),
        pytest.param(
            "a && true",
            'when "a && true" : "&&" needs booleans, got string "a" at 2',
            id="non-boolean-and",
        ),
        pytest.param(
            "5 =~ 5",
            "when \"5 =~ 5\" : \"=~\" needs strings, got number 5 at 2; quote the value, e.g. '5' =~ '^[0-9]+$'",
            id="regex-on-number",
        ),
        pytest.param(
            "a =~ '('",
            'when "a =~ \'(\'" : invalid regular expression "(": missing ): ( at 2; use RE2 (Go) regular '
            "expression syntax",
            id="bad-regex",
        ),
        pytest.param(
            "a ; b",
            "when \"a ; b\" : unexpected character \";\" at 2; quote values that contain it, e.g. 'a;b' == 'a;b'",
            id="bad-char",
        ),
        pytest.param(
            "a == (b, c)", 'when "a == (b, c)" : a list is only allowed after "in", not with "==" at 2', id="list"
        ),
    ],
)
def test_bad_when_is_rejected_with_a_full_message(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_when(text)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{{steps.flip-coin.outputs.result}} == heads", id="coinflip"),
        pytest.param("{{steps.iterate-counter.outputs.result}} < {{inputs.parameters.limit}}", id="two-tags"),
        pytest.param("{{inputs.parameters.num-1}} != 1 && {{inputs.parameters.num-1}} != 2", id="fibonacci"),
        pytest.param("{{= inputs.parameters[\"should-print\"] == 'true'}}", id="expression-tag"),
        pytest.param("'{{workflow.status}}' == 'Succeeded'", id="quoted-tag"),
    ],
)
def test_when_with_tags_passes_the_admission_syntax_check(text: str) -> None:
    check_when_syntax(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "{{steps.a.outputs.result}} ==",
            'when "{{steps.a.outputs.result}} ==" : unexpected end of expression at 29; expected a value, "(", "!" '
            'or "-"',
            id="dangling",
        ),
        pytest.param(
            "{{= 1 + }} == 1",
            'expression " 1 + " : unexpected end of expression at 5; expected a value',
            id="bad-expression-tag",
        ),
        pytest.param(
            "{{steps.a.outputs.result == heads",
            'when "{{steps.a.outputs.result == heads" : unclosed "{{" at 0; close the tag with "}}"',
            id="unclosed-tag",
        ),
    ],
)
def test_when_syntax_errors_point_into_the_original_text(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        check_when_syntax(text)
    assert caught.value.message == message


# ---------------------------------------------------------------------------------------------------------------
# expr-lang
# ---------------------------------------------------------------------------------------------------------------

CONFIG = '{"employees": [{"name": "Baris", "age":43},{"name": "Mo", "age": 42}, {"name": "Jai", "age" :44}]}'
ENV: dict[str, Any] = {
    "inputs": {"parameters": {"foo": "5", "should-print": "true", "week-temps": '{"avg":35.8,"max":57,"min":15}'}},
    "workflow": {
        "name": "wf",
        "parameters": {
            "config": CONFIG,
            "json": '[{"name":"should-print","value":"true"}]',
            "weather": '{"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="}',
        },
        "creationTimestamp": {"RFC3339": "2024-05-06T07:08:09Z", "Y": "2024"},
        "status": "Running",
    },
    "steps": {
        "flip-coin": {"outputs": {"result": "heads"}},
        "heads": {"outputs": {"result": "it was heads"}},
        "tails": {"outputs": {"result": "it was tails"}},
        "step-1": {"status": "Running"},
    },
    "tasks": {"producer": {"outputs": {"parameters": {}}}},
    "lastRetry": {"exitCode": "2", "status": "Failed", "duration": "10", "message": "pod deleted"},
    "item": "3",
    "data": ["a/main.log", "b/other.log"],
}

VERBOSE_SNIPPET = """
  map([
      jsonpath(sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')), '$.temps')
    ], {
      toJson({
        avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
        min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
        max: sprig.max(#[0], #[1], #[2], #[3], #[4])
      })
  })[0]
"""


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        # Argo's examples
        pytest.param("asInt(inputs.parameters.foo) * 10", "50", id="expression-tag-template-asInt"),
        pytest.param("sprig.date('2006', workflow.creationTimestamp)", "2024", id="expression-tag-template-date"),
        pytest.param("toJson(filter([1, 3], {# > 1}))", "[3]", id="expression-tag-template-filter"),
        pytest.param("inputs.parameters[\"should-print\"] == 'true'", "true", id="conditionals-bracket"),
        pytest.param("jsonpath(workflow.parameters.json, '$[0].value') == 'true'", "true", id="conditionals-jsonpath"),
        pytest.param(
            "jsonpath(workflow.parameters.config, '$.employees[?(@.name==\"Baris\")].age')",
            "[43]",
            id="destructure-filter-equals",
        ),
        pytest.param(
            "jsonpath(workflow.parameters.config, '$.employees[?(@.age>42 && @.age<44)].age')",
            "[43]",
            id="destructure-filter-and",
        ),
        pytest.param(
            "jsonpath(workflow.parameters.config, '$.employees[0:1]')",
            '[{"age":43,"name":"Baris"}]',
            id="destructure-slice",
        ),
        pytest.param(
            "jsonpath(workflow.parameters.config, '$.employees[*].name')",
            '["Baris","Mo","Jai"]',
            id="destructure-wildcard",
        ),
        pytest.param(VERBOSE_SNIPPET, '{"avg":35.8,"max":57,"min":15}', id="reusing-verbose-snippets"),
        pytest.param("jsonpath(inputs.parameters['week-temps'], '$.avg')", "35.8", id="reusing-verbose-avg"),
        pytest.param(
            "steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result : steps.tails.outputs.result",
            "it was heads",
            id="conditional-parameters",
        ),
        pytest.param("asInt(item) == 1? 1: asInt(item) == 2? 1: 7", "7", id="fibonacci-nested-ternary-without-spaces"),
        pytest.param("tasks.producer.outputs.parameters.msg ?? 'expr-fallback'", "expr-fallback", id="fallback"),
        pytest.param("tasks.never.outputs.parameters.msg ?? 'fallback'", "fallback", id="fallback-missing-task"),
        pytest.param('workflow.status == "Running"', "true", id="hooks-wf-level"),
        pytest.param('steps["step-1"].status == "Running"', "true", id="hooks-tmpl-level"),
        pytest.param(
            'asInt(lastRetry.exitCode) > 1 && lastRetry.status != "Error" && asInt(lastRetry.duration) < 120 && '
            "(false == true || lastRetry.message matches 'imminent node shutdown|pod deleted')",
            "true",
            id="retry-conditional",
        ),
        pytest.param('filter(data, {# endsWith "main.log"})', '["a/main.log"]', id="data-transformations"),
        pytest.param("workflow.name", "wf", id="label-value-from-workflow"),
        pytest.param("$env['item'] + $env.workflow.name", "3wf", id="env-variable"),
        # the language
        pytest.param("1 + 2 * 3", "7", id="precedence"),
        pytest.param("(1 + 2) * 3", "9", id="parentheses"),
        pytest.param("7 / 2", "3.5", id="division-is-float"),
        pytest.param("6 / 3", "2", id="float-prints-like-go"),
        pytest.param("7 % 3", "1", id="modulo"),
        pytest.param("-7 % 3", "-1", id="modulo-truncates-like-go"),
        pytest.param("2 ** 10", "1024", id="power"),
        pytest.param("2 ^ 3 ^ 2", "512", id="power-is-right-associative"),
        pytest.param("1e6", "1000000", id="big-float-as-json"),
        pytest.param("123456.0", "123456", id="float-below-exponent-threshold"),
        pytest.param("0.0001", "0.0001", id="small-float"),
        pytest.param("0.00001", "0.00001", id="tiny-float"),
        pytest.param("1_000 + 0x10 + 0o10 + 0b10", "1026", id="number-literals"),
        pytest.param("'a' + \"b\" + `c\\n`", "abc\\n", id="string-literals"),
        pytest.param('"tab\\there \\u00e9"', "tab\there é", id="escapes"),
        pytest.param("true and not false", "true", id="word-logic"),
        pytest.param("!true || false", "false", id="symbol-logic"),
        pytest.param("1 in [1, 2] and 'x' not in ['y']", "true", id="in-and-not-in"),
        pytest.param("'a' in {a: 1}", "true", id="in-map"),
        pytest.param("'abc' contains 'b' && 'abc' startsWith 'a' && 'abc' endsWith 'c'", "true", id="string-ops"),
        pytest.param("'abc' not matches '^b'", "true", id="not-matches"),
        pytest.param("nil ?? 'x'", "x", id="nil-coalescing"),
        pytest.param("'' ?? 'x'", "", id="empty-string-is-not-nil"),
        pytest.param("[1, 2, 3][-1]", "3", id="negative-index"),
        pytest.param("[1, 2, 3][1:]", "[2,3]", id="slice"),
        pytest.param("'hello'[1:3]", "el", id="string-slice"),
        pytest.param("{a: {b: [10, 20]}}.a.b[1]", "20", id="member-chain"),
        pytest.param("{'a-b': 1}['a-b']", "1", id="quoted-key"),
        pytest.param("steps?.nope?.x ?? 'none'", "none", id="optional-chaining"),
        pytest.param("1..3", "[1,2,3]", id="range"),
        pytest.param("map(1..3, # * 2)", "[2,4,6]", id="predicate-without-braces"),
        pytest.param("map(['a', 'b'], #index)", "[0,1]", id="index-pointer"),
        pytest.param("filter([{n: 1}, {n: 2}], .n > 1)", '[{"n":2}]', id="field-shorthand"),
        pytest.param(
            "all([1, 2], # > 0) && any([1, 2], # > 1) && none([1], # > 1) && one([1, 2], # > 1)",
            "true",
            id="quantifiers",
        ),
        pytest.param("count([1, 2, 3], # > 1)", "2", id="count"),
        pytest.param("find([1, 2, 3], # > 1)", "2", id="find"),
        pytest.param("findIndex([1, 2, 3], # > 1)", "1", id="find-index"),
        pytest.param("reduce([1, 2, 3], #acc + #, 10)", "16", id="reduce"),
        pytest.param("sortBy([{n: 2}, {n: 1}], .n)[0].n", "1", id="sort-by"),
        pytest.param("groupBy([1, 2, 3], # % 2 == 0 ? 'even' : 'odd').odd", "[1,3]", id="group-by"),
        pytest.param("len('abc') + len([1]) + len({a: 1})", "5", id="len"),
        pytest.param("asFloat('1.5') + float(1)", "2.5", id="as-float"),
        pytest.param("int(3.9)", "3", id="int-truncates"),
        pytest.param("string(12) + 'x'", "12x", id="string"),
        pytest.param("upper('a') + lower('B') + trim('  c  ')", "Abc", id="case-and-trim"),
        pytest.param("split('a,b', ',')", '["a","b"]', id="split"),
        pytest.param("join(['a', 'b'], '-')", "a-b", id="join"),
        pytest.param("replace('a-b', '-', '_')", "a_b", id="replace"),
        pytest.param(
            "toJSON({b: 1, a: [true, nil]})", '{\n  "a": [\n    true,\n    null\n  ],\n  "b": 1\n}', id="toJSON-indents"
        ),
        pytest.param("toJson({html: '<&>'})", '{"html":"\\u003c\\u0026\\u003e"}', id="toJson-escapes-html"),
        pytest.param("fromJSON('{\"a\": [1, 2]}').a[1]", "2", id="fromJSON"),
        pytest.param("toBase64('hi') + fromBase64('aGk=')", "aGk=hi", id="base64"),
        pytest.param("keys({b: 1, a: 2})", '["a","b"]', id="keys"),
        pytest.param("max(1, 5, 3) + min([4, 2])", "7", id="min-max"),
        pytest.param("sum([1, 2.5])", "3.5", id="sum"),
        pytest.param("first([1, 2]) + last([1, 2])", "3", id="first-last"),
        pytest.param("uniq([1, 1, 2])", "[1,2]", id="uniq"),
        pytest.param("sort([3, 1, 2])", "[1,2,3]", id="sort"),
        pytest.param("flatten([1, [2, [3]]])", "[1,2,3]", id="flatten"),
        pytest.param("'x' | upper() | repeat(2)", "XX", id="pipe"),
        pytest.param("1 /* comment */ + 1 // trailing", "2", id="comments"),
        pytest.param("{a: 1, b: 'x'}", '{"a":1,"b":"x"}', id="map-as-json"),
        pytest.param("duration('1h30m').Minutes()", "90", id="duration-method"),
        # sprig
        pytest.param(
            "sprig.upper('a') + sprig.trim(' b ') + sprig.replace('-', '_', 'c-d')", "Ab" + "c_d", id="sprig-strings"
        ),
        pytest.param(
            "sprig.add('1', 2, 3.7) + sprig.sub(5, 2) + sprig.mul(2, 3) + sprig.div(7, 2) + sprig.mod(7, 2)",
            "19",
            id="sprig-math",
        ),
        pytest.param("sprig.b64enc('hi') + sprig.b64dec('aGk=')", "aGk=hi", id="sprig-base64"),
        pytest.param("sprig.default('d', '') + sprig.default('d', 'v')", "dv", id="sprig-default"),
        pytest.param("sprig.regexMatch('^a+$', 'aaa')", "true", id="sprig-regex-match"),
        pytest.param("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')", "-W-xxW-", id="sprig-regex-replace"),
        pytest.param("sprig.splitList(',', 'a,b') | join('+')", "a+b", id="sprig-split-list"),
        pytest.param(
            "sprig.date('2006-01-02T15:04:05Z07:00 Mon Jan _2', '2024-05-06T07:08:09Z')",
            "2024-05-06T07:08:09Z Mon May  6",
            id="sprig-date-layout",
        ),
        pytest.param("sprig.toDate('2006-01-02', '2024-05-06').Year()", "2024", id="sprig-to-date"),
        pytest.param("sprig.sha256sum('a')[0:8]", "ca978112", id="sprig-sha256"),
        pytest.param("sprig.toString(1.5) + sprig.quote('x')", '1.5"x"', id="sprig-to-string-quote"),
        pytest.param("sprig.int('42') + sprig.atoi('x')", "42", id="sprig-int"),
        pytest.param("sprig.ternary('y', 'n', 1 > 2)", "n", id="sprig-ternary"),
        pytest.param("sprig.list(1, 2) | len()", "2", id="sprig-list"),
        pytest.param("sprig.dict('a', 1).a", "1", id="sprig-dict"),
    ],
)
def test_expressions_evaluate_and_print_as_argo_does(text: str, printed: str) -> None:
    assert format_result(compile_expression(text).evaluate(ENV)) == printed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "inputs.parameters.foo * 10",
            'expression "inputs.parameters.foo * 10" : invalid operation: * (mismatched types string and int) at 22; '
            "parameters are strings: convert with asInt(...) or asFloat(...)",
            id="string-times-int",
        ),
        pytest.param(
            "asInt('1.5')",
            'expression "asInt(\'1.5\')" : strconv.Atoi: parsing "1.5": invalid syntax at 0; asInt() needs an '
            'integer string such as "42"; use asFloat() for decimals',
            id="asInt-of-decimal",
        ),
        pytest.param(
            "steps.nope.outputs.result",
            'expression "steps.nope.outputs.result" : cannot fetch outputs from nil at 10; the value before it is '
            "missing; use ?. or ?? to allow that",
            id="member-of-nil",
        ),
        pytest.param(
            "[1][5]",
            'expression "[1][5]" : index out of range: 5 (array length is 1) at 3',
            id="index-out-of-range",
        ),
        pytest.param("7 % 0", 'expression "7 % 0" : integer divide by zero at 2', id="modulo-by-zero"),
        pytest.param(
            "1 && true",
            'expression "1 && true" : invalid operation: && on int at 2; it needs booleans',
            id="non-boolean-logic",
        ),
        pytest.param(
            "1 ? 2 : 3",
            'expression "1 ? 2 : 3" : non-bool expression (type int) used as condition at 2',
            id="non-boolean-condition",
        ),
        pytest.param(
            "jsonpath('{\"a\": 1}', '$.b')",
            'expression "jsonpath(\'{"a": 1}\', \'$.b\')" : jsonpath "$.b": key "b" not found at 0',
            id="jsonpath-missing-key",
        ),
        pytest.param(
            "jsonpath('not json', '$.a')",
            "expression \"jsonpath('not json', '$.a')\" : invalid JSON: Expecting value: line 1 column 1 (char 0) "
            "at 0; pass a JSON document, e.g. '{\"a\": 1}'",
            id="jsonpath-bad-json",
        ),
        pytest.param(
            "'a' matches '('",
            "expression \"'a' matches '('\" : invalid regular expression \"(\": missing ): ( at 4; use RE2 (Go) "
            "regular expression syntax",
            id="bad-regex",
        ),
        pytest.param(
            "now()",
            'expression "now()" : now() needs the current time at 0; the caller must pass now= to evaluate()',
            id="now-without-clock",
        ),
    ],
)
def test_evaluation_errors_say_what_where_and_how_to_fix(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text).evaluate(ENV)
    assert caught.value.message == message
    assert caught.value.code == "evaluation"


def test_a_missing_top_level_variable_is_unresolved_with_its_name() -> None:
    with pytest.raises(UnresolvedVariable) as caught:
        compile_expression("1 + retries").evaluate(ENV)
    assert caught.value.name == "retries"
    assert caught.value.code == "unresolved"
    assert caught.value.message == (
        'expression "1 + retries" : unknown variable retries at 4; it is not defined here; check the spelling and '
        "that it is in scope"
    )


@pytest.mark.parametrize(
    ("text", "message", "code"),
    [
        pytest.param(
            "", 'expression "" : is empty at 0; write an expression, e.g. inputs.parameters.x', "syntax", id="empty"
        ),
        pytest.param(
            "1 +", 'expression "1 +" : unexpected end of expression at 3; expected a value', "syntax", id="dangling"
        ),
        pytest.param(
            "[1, 2", 'expression "[1, 2" : unexpected end of expression at 5; expected "]"', "syntax", id="array"
        ),
        pytest.param("{a 1}", 'expression "{a 1}" : unexpected number 1 at 3; expected ":"', "syntax", id="map"),
        pytest.param(
            "'abc", "expression \"'abc\" : unclosed string literal at 0; add the closing '", "syntax", id="string"
        ),
        pytest.param(
            "1 /* x", 'expression "1 /* x" : unclosed comment at 2; close it with "*/"', "syntax", id="comment"
        ),
        pytest.param(
            "12ab",
            'expression "12ab" : bad number "12a" at 0; put a space or an operator after a number',
            "syntax",
            id="number",
        ),
        pytest.param(
            "a ~ b",
            'expression "a ~ b" : unexpected character "~" at 2; remove it or put it in a string',
            "syntax",
            id="character",
        ),
        pytest.param(
            "a b", 'expression "a b" : unexpected "b" at 2; expected an operator or the end', "syntax", id="two-values"
        ),
        pytest.param(
            "# > 1",
            'expression "# > 1" : "#" is only defined inside a predicate at 0; use it in filter/map/all/any/..., '
            "e.g. filter(list, {# > 1})",
            "syntax",
            id="pointer-outside",
        ),
        pytest.param(
            "'\\q'",
            "expression \"'\\q'\" : invalid escape \\q at 1; use \\n, \\t, \\\\, \\\", \\' or \\uXXXX",
            "syntax",
            id="escape",
        ),
        pytest.param(
            "nope(1)",
            'expression "nope(1)" : unknown function nope() at 0; did you mean none()?',
            "unsupported",
            id="unknown-function",
        ),
        pytest.param(
            "sprig.nope(1)",
            'expression "sprig.nope(1)" : sprig.nope() is not supported at 6; Trellis supports a subset of sprig; '
            "see docs/architecture.md, Expressions and templating",
            "unsupported",
            id="unknown-sprig",
        ),
        pytest.param(
            "sprig.uppr(1)",
            'expression "sprig.uppr(1)" : sprig.uppr() is not supported at 6; did you mean sprig.upper()?',
            "unsupported",
            id="sprig-typo",
        ),
        pytest.param(
            "asInt(1, 2)",
            'expression "asInt(1, 2)" : asInt() takes 1 argument, got 2 at 0; check the arguments of asInt()',
            "syntax",
            id="arity",
        ),
        pytest.param(
            "filter([1])",
            'expression "filter([1])" : filter() takes 2 arguments, got 1 at 0; e.g. filter(list, {# > 1})',
            "syntax",
            id="predicate-arity",
        ),
        pytest.param(
            "a = 1",
            'expression "a = 1" : unexpected character "=" at 2; use "==" to compare',
            "syntax",
            id="assignment",
        ),
        pytest.param(
            "let x",
            'expression "let x" : "let" is not supported at 0; Trellis evaluates single expressions',
            "unsupported",
            id="let",
        ),
        pytest.param(
            "x.y()",
            'expression "x.y()" : method y() is not supported at 2; methods exist on durations (Seconds, Minutes, '
            "Hours, Milliseconds) and times (Unix, Format, Year...)",
            "unsupported",
            id="method",
        ),
        pytest.param(
            "'a' | 1",
            'expression "\'a\' | 1" : the right side of "|" must be a function call at 6; e.g. x | upper() | trim()',
            "syntax",
            id="pipe",
        ),
        pytest.param(
            "@.a",
            'expression "@.a" : unexpected "@" at 0; "@" is only used in jsonpath filters; use "#" inside a predicate',
            "syntax",
            id="at",
        ),
    ],
)
def test_syntax_errors_are_found_at_compile_time(text: str, message: str, code: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.message == message
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("text", "references", "identifiers"),
    [
        pytest.param(
            "jsonpath(inputs.parameters['week-temps'], '$.avg')",
            [("inputs", "parameters", "week-temps")],
            {"inputs"},
            id="index-with-hyphen",
        ),
        pytest.param(
            "steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result : 1",
            [("steps", "flip-coin", "outputs", "result"), ("steps", "heads", "outputs", "result")],
            {"steps"},
            id="ternary",
        ),
        pytest.param("filter(data, {# > x})", [("data",), ("x",)], {"data", "x"}, id="predicate"),
        pytest.param("a[b].c", [("a",), ("b",)], {"a", "b"}, id="computed-key-ends-the-path"),
        pytest.param("sprig.upper(w.x)", [("w", "x")], {"w"}, id="sprig-is-not-a-variable"),
        pytest.param("[1][0]", [], set(), id="no-variables"),
        pytest.param("$env['my-var'].x + len($env)", [("my-var", "x")], {"my-var"}, id="env"),
    ],
)
def test_references_list_constant_access_paths(
    text: str, references: list[tuple[str | int, ...]], identifiers: set[str]
) -> None:
    expression = compile_expression(text)
    assert list(expression.references()) == references
    assert expression.identifiers() == identifiers


def test_now_and_durations_work_when_the_caller_passes_the_time() -> None:
    from datetime import UTC, datetime

    expression = compile_expression(
        "cronworkflow.lastScheduledTime == nil || (now() - cronworkflow.lastScheduledTime).Seconds() > 360"
    )
    now = datetime(2024, 5, 6, 8, 0, 0, tzinfo=UTC)
    assert expression.evaluate({"cronworkflow": {"lastScheduledTime": "2024-05-06T07:50:00Z"}}, now=now) is True
    assert expression.evaluate({"cronworkflow": {"lastScheduledTime": "2024-05-06T07:58:00Z"}}, now=now) is False
    assert expression.evaluate({"cronworkflow": {"lastScheduledTime": None}}, now=now) is True


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        pytest.param(None, "<nil>", id="nil"),
        pytest.param(True, "true", id="bool"),
        pytest.param(43.0, "43", id="integral-float"),
        pytest.param(-0.5, "-0.5", id="negative"),
        pytest.param(1234567.0, "1.234567e+06", id="exponent"),
        pytest.param(1e-7, "1e-07", id="small-exponent"),
        pytest.param(float("inf"), "+Inf", id="infinity"),
        pytest.param([1, "a", [2]], "[1 a [2]]", id="list"),
        pytest.param({"b": 1, "a": {"c": None}}, "map[a:map[c:<nil>] b:1]", id="map"),
    ],
)
def test_values_print_like_go(value: Any, printed: str) -> None:
    assert format_value(value) == printed


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        pytest.param({"b": 1.0, "a": 1e21, "c": 1e-7, "d": 0.5}, '{"a":1e+21,"b":1,"c":1e-7,"d":0.5}', id="floats"),
        pytest.param(["<", "é", "\n"], '["\\u003c","é","\\n"]', id="strings"),
        pytest.param({}, "{}", id="empty"),
    ],
)
def test_to_json_encodes_like_go(value: Any, encoded: str) -> None:
    assert to_json(value) == encoded
    assert json.loads(encoded) == json.loads(json.dumps(value))


@pytest.mark.parametrize(
    ("path", "result"),
    [
        pytest.param("$.a.b", 1, id="definite"),
        pytest.param("$['a']['b']", 1, id="quoted"),
        pytest.param("$.list[1]", {"n": 2}, id="index"),
        pytest.param("$.list[-1].n", 3, id="negative-index"),
        pytest.param("$.list[*].n", [1, 2, 3], id="wildcard"),
        pytest.param("$.list[0,2].n", [1, 3], id="union"),
        pytest.param("$.list[:2].n", [1, 2], id="slice"),
        pytest.param("$..n", [1, 2, 3], id="recursive"),
        pytest.param("$.list[?(@.n >= 2)].n", [2, 3], id="filter"),
        pytest.param("$.list[?(@.missing == 1)]", [], id="filter-on-missing-key"),
        pytest.param("$.a.*", [1], id="dot-wildcard"),
    ],
)
def test_jsonpath_supports_the_subset_people_use(path: str, result: Any) -> None:
    document = {"a": {"b": 1}, "list": [{"n": 1}, {"n": 2}, {"n": 3}]}
    assert jsonpath(json.dumps(document), path) == result


# ---------------------------------------------------------------------------------------------------------------
# Hostile input: nothing hangs, nothing grows without bound, nothing escapes
# ---------------------------------------------------------------------------------------------------------------


def _fails_with(call: Any, fragment: str, code: str) -> None:
    # No timing here (speed lives in benchmarks): a limit that were checked only after the work would make
    # these cases run into the test timeout instead.
    with pytest.raises(ExpressionError) as caught:
        call()
    assert fragment in caught.value.message
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("call", "fragment", "code"),
    [
        pytest.param(
            lambda: compile_expression("(" * 10_000 + "1" + ")" * 10_000),
            "is 20001 characters long",
            "limit",
            id="huge",
        ),
        pytest.param(
            lambda: compile_expression("(" * 200 + "1" + ")" * 200), "nests too deeply", "limit", id="deep-parens"
        ),
        pytest.param(lambda: compile_expression("-" * 500 + "1"), "nests too deeply", "limit", id="deep-unary"),
        pytest.param(lambda: compile_expression("[" * 100 + "]" * 100), "nests too deeply", "limit", id="deep-arrays"),
        pytest.param(lambda: compile_expression("1" + " + 1" * 2000), "nests too deeply", "limit", id="long-chain"),
        pytest.param(
            lambda: parse_depends("(" * 500 + "a" + ")" * 500), "nests too deeply", "limit", id="deep-depends"
        ),
        pytest.param(
            lambda: evaluate_when("(" * 500 + "a == a" + ")" * 500), "nests too deeply", "limit", id="deep-when"
        ),
        pytest.param(
            lambda: compile_expression("1..1000000000").evaluate({}),
            "builds a list of 1000000000 items",
            "limit",
            id="huge-range",
        ),
        pytest.param(
            lambda: compile_expression("repeat('x', 100000000)").evaluate({}),
            "builds a string of 100000000 characters",
            "limit",
            id="huge-repeat",
        ),
        pytest.param(
            lambda: compile_expression("s + s + s + s + s").evaluate({"s": "x" * (MAX_STRING_LENGTH // 4 + 1)}),
            "builds a string of",
            "limit",
            id="growing-string",
        ),
        pytest.param(
            lambda: compile_expression("map(1..100000, map(1..100000, #))").evaluate({}),
            "does too much work",
            "limit",
            id="nested-loops",
        ),
        pytest.param(
            lambda: compile_expression("'x' matches s").evaluate({"s": "a" * 5000}),
            "regular expression is 5000 characters long",
            "limit",
            id="huge-regex",
        ),
    ],
)
def test_hostile_expressions_fail_fast_with_a_limit_error(call: Any, fragment: str, code: str) -> None:
    _fails_with(call, fragment, code)


BIG = {"s": "a" * 500_000, "n": "\n" * 500_000}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("replace(s, 'a', 'aaaa')", id="replace-amplifies"),
        pytest.param("sprig.replace('a', 'aaaa', s)", id="sprig-replace-amplifies"),
        pytest.param("sprig.regexReplaceAll('a', s, 'aaaa')", id="regex-replace-amplifies"),
        pytest.param("sprig.regexReplaceAllLiteral('', s, 'aaaa')", id="empty-pattern-amplifies"),
        pytest.param("sprig.indent(100, n)", id="indent-amplifies"),
        pytest.param("sprig.cat(s, s, s)", id="cat"),
        pytest.param("join([s, s, s], '')", id="join"),
        pytest.param("sprig.repeat(3, s)", id="sprig-repeat"),
    ],
)
def test_functions_refuse_to_build_huge_strings_before_building_them(text: str) -> None:
    _fails_with(lambda: compile_expression(text).evaluate(BIG), "builds a string of", "limit")


def test_uniq_of_a_large_list_keeps_first_occurrences() -> None:
    assert len(compile_expression("uniq(1..100000)").evaluate({})) == 100_000
    assert compile_expression("uniq([1, 1.0, '1', true, [1], [1]])").evaluate({}) == [1, "1", True, [1]]


def test_a_long_substituted_when_is_evaluated_but_not_cached() -> None:
    value = "x" * 200_000
    assert evaluate_when(f"{value} == {value}") is True
    with pytest.raises(ExpressionError) as caught:
        evaluate_when("x" * (MAX_STRING_LENGTH + 1))
    assert caught.value.code == "limit"
    with pytest.raises(ExpressionError) as caught:
        check_when_syntax("x" * (MAX_EXPRESSION_LENGTH + 1))
    assert caught.value.message.endswith(
        f"is {MAX_EXPRESSION_LENGTH + 1} characters long; the limit is {MAX_EXPRESSION_LENGTH}; move data into a "
        "parameter or an artifact"
    )


def test_catastrophic_backtracking_patterns_run_in_linear_time() -> None:
    # A backtracking engine would take longer than the universe's age here (and the test timeout ends it).
    subject = "a" * 100_000 + "!"
    assert compile_expression("s matches '^(a+)+$'").evaluate({"s": subject}) is False
    assert evaluate_when(f"'{'a' * 30}!' =~ '^(a|aa)+$'") is False


def test_expressions_cannot_reach_python_attributes() -> None:
    env = {"x": "text"}
    with pytest.raises(ExpressionError) as caught:
        compile_expression("x.__class__").evaluate(env)
    assert caught.value.message == (
        'expression "x.__class__" : cannot fetch __class__ from string at 1; index with an integer'
    )
    with pytest.raises(ExpressionError) as caught:
        compile_expression("x.upper()")
    assert caught.value.code == "unsupported"
    assert compile_expression("{}.__class__ ?? 'safe'").evaluate(env) == "safe"  # a map has keys, not attributes


def test_limits_are_what_the_docs_say() -> None:
    assert (MAX_EXPRESSION_LENGTH, MAX_DEPTH, MAX_STRING_LENGTH, MAX_LIST_LENGTH) == (10240, 64, 1048576, 100000)


def test_compiled_expressions_are_cached() -> None:
    text = "asInt(inputs.parameters.foo) * 10 + len(steps['flip-coin'].outputs.result)"
    assert compile_expression(text) is compile_expression(text)


# ---------------------------------------------------------------------------------------------------------------
# Every expression in Argo's examples compiles
# ---------------------------------------------------------------------------------------------------------------


def _example_expressions() -> list[tuple[str, str, str]]:
    if not EXAMPLES.is_dir():
        return []
    found: list[tuple[str, str, str]] = []

    def walk(node: Any, name: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "depends" and isinstance(value, str):
                    found.append((name, "depends", value))
                elif key == "when" and isinstance(value, str):
                    found.append((name, "when", value))
                elif key == "expression" and isinstance(value, str):
                    found.append((name, "expression", value))
                walk(value, name)
        elif isinstance(node, list):
            for item in node:
                walk(item, name)
        elif isinstance(node, str):
            found.extend((name, "tag", tag.body) for tag in find_tags(node) if tag.kind == "expression")

    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            walk(document, str(path.relative_to(EXAMPLES)))
    return found


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/argo-examples is not present")
def test_every_expression_in_argo_examples_parses() -> None:
    problems: list[str] = []
    found = _example_expressions()
    for name, kind, text in found:
        try:
            if kind == "depends":
                parse_depends(text)
            elif kind == "when":
                check_when_syntax(text)
            else:
                check_expression_syntax(text)
        except ExpressionError as error:
            problems.append(f"{name}: {error}")
    assert len(found) > 100
    assert problems == []


@pytest.mark.parametrize(
    ("text", "language", "problem"),
    [
        pytest.param("asInt(x) > 1", "expression", "", id="valid-expression"),
        pytest.param("{{inputs.parameters.safe}} == true || x", "expression", "", id="expression-with-tags"),
        pytest.param("1 +", "expression", "unexpected end of expression at 3; expected a value", id="bad-expression"),
        pytest.param("{{steps.a.outputs.result}} =~ hea", "when", "", id="valid-when"),
        pytest.param(
            "a ==", "when", 'unexpected end of expression at 4; expected a value, "(", "!" or "-"', id="bad-when"
        ),
        pytest.param("x =~ hea", "any", "", id="any-accepts-a-when"),
        pytest.param("x ?? 'y'", "any", "", id="any-accepts-an-expression"),
        pytest.param("1 +", "any", "unexpected end of expression at 3; expected a value", id="any-reports-expr-lang"),
        pytest.param(
            "{{= x ==}}", "any", "unexpected end of expression at 5; expected a value", id="expression-tag-body"
        ),
        pytest.param("{{= now() - x > 1 }}", "any", "", id="cron-when"),
    ],
)
def test_expression_problem_is_empty_for_valid_text_and_says_what_is_wrong_otherwise(
    text: str, language: Any, problem: str
) -> None:
    assert expression_problem(text, language=language) == problem


# ---------------------------------------------------------------------------------------------------------------
# Fuzz: any text either works or raises ExpressionError, never another exception
# ---------------------------------------------------------------------------------------------------------------

FUZZ_PIECES = [
    "a", "b-c", "A.Succeeded", ".Failed", "1", "2.5", "0x1F", "1e3", "'s'", '"t"', "`r`", "true", "nil", "#",
    "#index", "@", "(", ")", "[", "]", "{", "}", ",", ":", "?", "??", "?.", ".", "..", "+", "-", "*", "/", "%",
    "**", "^", "==", "!=", "<", ">=", "=~", "!~", "&&", "||", "!", "not", "in", "matches", "contains", "|",
    "inputs.parameters.foo", "steps['flip-coin']", "asInt(", "jsonpath(", "sprig.add(", "filter(", "map(",
    "toJson(", "len(", "'$.a[0]'", "'$..x'", "'$[?(@.a>1)]'", "{{", "}}", "{{=", " ", "\\", "'", '"', "=",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_random_text_never_raises_anything_but_expression_error(seed: int) -> None:
    import random

    generator = random.Random(seed)
    for _ in range(1500):
        text = "".join(generator.choice(FUZZ_PIECES) for _ in range(generator.randint(1, 12)))
        for check in (
            parse_depends,
            evaluate_when,
            check_when_syntax,
            check_expression_syntax,
            lambda t: compile_expression(t).evaluate(ENV),
            expression_problem,
            find_tags,
        ):
            with contextlib.suppress(ExpressionError):
                check(text)
