"""webhook.semantics: cross-field checks, every error with its full path and message (the fix included)."""

from __future__ import annotations

from typing import Any

import pytest

from webhook.semantics import ValidationContext, check_semantics


def workflow(*templates: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "test-"},
        "spec": {"entrypoint": "main", "templates": list(templates), **spec},
    }


def echo(name: str = "echo", *inputs: str, **extra: Any) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "container": {"image": "alpine:3.20", "command": ["echo"]}, **extra}
    if inputs:
        template["inputs"] = {"parameters": [{"name": p} for p in inputs]}
    return template


def dag(*tasks: dict[str, Any], name: str = "main") -> dict[str, Any]:
    return {"name": name, "dag": {"tasks": list(tasks)}}


def task(name: str, template: str = "echo", **extra: Any) -> dict[str, Any]:
    return {"name": name, "template": template, **extra}


def steps(*groups: list[dict[str, Any]], name: str = "main") -> dict[str, Any]:
    return {"name": name, "steps": [list(g) for g in groups]}


def arg(name: str, value: str) -> dict[str, Any]:
    return {"parameters": [{"name": name, "value": value}]}


def cron(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {"workflowSpec": {"entrypoint": "echo", "templates": [echo()]}, **spec},
    }


def errors_of(obj: dict[str, Any], context: ValidationContext | None = None) -> list[tuple[str, str]]:
    errors, _ = check_semantics(obj, context=context)
    return [(e.path, e.message) for e in errors]


T = "spec.templates"
TYPES = "container, script, dag, steps, suspend, resource, data, http, plugin, containerSet"

INVALID = [
    pytest.param(
        workflow(echo("main"), entrypoint="mian"),
        [("spec.entrypoint", 'template "mian" is not defined in spec.templates; did you mean "main"?')],
        id="entrypoint-unknown-with-suggestion",
    ),
    pytest.param(
        workflow(echo("main"), entrypoint=None) | {"spec": {"templates": [echo("main")]}},
        [("spec.entrypoint", "is required: name the template to run first; e.g. entrypoint: main")],
        id="entrypoint-missing",
    ),
    pytest.param(
        workflow(echo("main"), echo("main")),
        [(f"{T}[1].name", '"main" is already used by spec.templates[0]; template names must be unique')],
        id="template-name-duplicate",
    ),
    pytest.param(
        workflow(echo("main"), echo("Bad_Name")),
        [
            (
                f"{T}[1].name",
                "\"Bad_Name\" is not a valid name: use letters, digits and '-', starting with a letter or digit",
            )
        ],
        id="template-name-invalid",
    ),
    pytest.param(
        workflow({"name": "main", "container": {"image": "a"}, "script": {"image": "a", "source": "x"}}),
        [(f"{T}[0]", f"sets both container and script; keep exactly one of: {TYPES}")],
        id="template-two-types",
    ),
    pytest.param(
        workflow({"name": "main", "inputs": {}}),
        [(f"{T}[0]", f"sets no template type; add exactly one of: {TYPES}")],
        id="template-no-type",
    ),
    pytest.param(
        workflow({"name": "main", "resource": {"action": "create", "manifest": "x"}}),
        [
            (
                f"{T}[0].resource",
                "resource templates are not supported yet by Trellis; to solve this, run kubectl in a container "
                "template instead",
            )
        ],
        id="resource-template-unsupported",
    ),
    pytest.param(
        workflow(echo("main", memoize={"key": "k", "cache": {"configMap": {"name": "c"}}})),
        [
            (
                f"{T}[0].memoize",
                "memoize is not supported yet by Trellis; to solve this, remove it; the step will run every time",
            )
        ],
        id="memoize-unsupported",
    ),
    pytest.param(
        workflow(dag(task("a"), task("b", "ech")), echo()),
        [(f"{T}[0].dag.tasks[1].template", 'template "ech" is not defined in spec.templates; did you mean "echo"?')],
        id="task-template-unknown",
    ),
    pytest.param(
        workflow(dag(task("a"), task("a")), echo()),
        [
            (
                f"{T}[0].dag.tasks[1].name",
                '"a" is already used by spec.templates[0].dag.tasks[0]; task names must be unique in a DAG',
            )
        ],
        id="task-name-duplicate",
    ),
    pytest.param(
        workflow(dag(task("fetch"), task("load", dependencies=["fetsh", "nothing"])), echo()),
        [
            (f"{T}[0].dag.tasks[1].dependencies[0]", 'task "fetsh" is not defined in this DAG; did you mean "fetch"?'),
            (
                f"{T}[0].dag.tasks[1].dependencies[1]",
                'task "nothing" is not defined in this DAG; its tasks are: fetch, load',
            ),
        ],
        id="dependency-unknown",
    ),
    pytest.param(
        workflow(
            dag(
                task("a", dependencies=["c"]),
                task("b", dependencies=["a"]),
                task("c", dependencies=["b"]),
                task("d", dependencies=["d"]),
                task("e", dependencies=["a"]),
            ),
            echo(),
        ),
        [
            (
                f"{T}[0].dag.tasks[0].dependencies",
                "dependency cycle: a -> c -> b -> a; to solve this, remove one of these dependencies",
            ),
            (
                f"{T}[0].dag.tasks[3].dependencies",
                "dependency cycle: d -> d; to solve this, remove one of these dependencies",
            ),
        ],
        id="dag-cycles-each-named-once",
    ),
    pytest.param(
        workflow(dag(task("a"), task("b", depends="a.Succeded && (a")), echo()),
        [
            (
                f"{T}[0].dag.tasks[1].depends",
                "cannot parse \"a.Succeded && (a\": expected ')' at position 16, found the end; write task names "
                'joined by &&, || and !, e.g. "a && (b.Succeeded || c.Failed)"',
            )
        ],
        id="depends-does-not-parse",
    ),
    pytest.param(
        workflow(dag(task("a"), task("b", depends="a.Succeded || x")), echo()),
        [
            (
                f"{T}[0].dag.tasks[1].depends",
                '"a.Succeded" uses an unknown task result "Succeded"; use one of: Succeeded, Failed, Errored, '
                'Skipped, Omitted, Daemoned, AnySucceeded, AllFailed; did you mean "Succeeded"?',
            ),
            (f"{T}[0].dag.tasks[1].depends", 'task "x" is not defined in this DAG; its tasks are: a, b'),
        ],
        id="depends-unknown-result-and-task",
    ),
    pytest.param(
        workflow(dag(task("a"), task("b", depends="a.AllFailed")), echo()),
        [
            (
                f"{T}[0].dag.tasks[1].depends",
                '"a.AllFailed" needs task "a" to loop (withItems, withParam or withSequence); to solve this, use '
                "a.Succeeded or a.Failed",
            )
        ],
        id="depends-item-result-without-loop",
    ),
    pytest.param(
        workflow(dag(task("a"), task("b", depends="a"), task("c", dependencies=["a", "b"])), echo()),
        [
            (
                f"{T}[0].dag.tasks[2].dependencies",
                "cannot be mixed with depends in the same DAG (spec.templates[0].dag.tasks[1] uses depends); to "
                'solve this, write depends: "a && b"',
            )
        ],
        id="depends-mixed-with-dependencies",
    ),
    pytest.param(
        workflow(
            dag(
                task("a", "produce"),
                task("b", arguments=arg("msg", "{{tasks.a.outputs.parameters.out}}")),
                task("c", dependencies=["a"], arguments=arg("msg", "{{tasks.a.outputs.parameters.ot}}")),
                task("d", dependencies=["a"], arguments=arg("msg", "{{tasks.a.outputs.result}} {{tasks.zz.id}}")),
            ),
            echo("echo", "msg"),
            echo("produce", outputs={"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/o"}}]}),
        ),
        [
            (
                f"{T}[0].dag.tasks[1].arguments.parameters[0].value",
                '{{tasks.a.outputs.parameters.out}} does not resolve: task "a" is not an ancestor of task "b"; to '
                'solve this, add "a" to its dependencies',
            ),
            (
                f"{T}[0].dag.tasks[2].arguments.parameters[0].value",
                '{{tasks.a.outputs.parameters.ot}} does not resolve: template "produce" (run by task "a") declares '
                'no output parameter "ot"; did you mean "out"?',
            ),
            (
                f"{T}[0].dag.tasks[3].arguments.parameters[0].value",
                '{{tasks.zz.id}} does not resolve: task "zz" is not defined in this DAG; its tasks are: a, b, c, d',
            ),
        ],
        id="task-references-ancestors-and-declared-outputs",
    ),
    pytest.param(
        workflow(
            dag(task("a", "inner"), task("b", dependencies=["a"], arguments=arg("msg", "{{tasks.a.outputs.result}}"))),
            echo("echo", "msg"),
            dag(task("x", arguments=arg("msg", "hi")), name="inner"),
        ),
        [
            (
                f"{T}[0].dag.tasks[1].arguments.parameters[0].value",
                '{{tasks.a.outputs.result}} does not resolve: template "inner" (run by task "a") is a dag template, '
                "which has no outputs.result; only container and script templates have one",
            ),
        ],
        id="result-of-a-dag-template",
    ),
    pytest.param(
        workflow(
            steps(
                [
                    {"name": "x", "template": "echo", "arguments": arg("msg", "{{steps.y.outputs.result}}")},
                    {"name": "y", "template": "echo", "arguments": arg("msg", "hi")},
                ],
                [{"name": "z", "template": "echo", "arguments": arg("msg", "{{steps.x.outputs.result}} {{item}}")}],
            ),
            echo("echo", "msg"),
        ),
        [
            (
                f"{T}[0].steps[0][0].arguments.parameters[0].value",
                '{{steps.y.outputs.result}} does not resolve: step "y" runs in the same step group as this one '
                '(group 0), in parallel; only steps of earlier groups can be referenced; to solve this, move "y" to '
                "an earlier group",
            ),
            (
                f"{T}[0].steps[1][0].arguments.parameters[0].value",
                "{{item}} does not resolve: item is only set in a step or task that loops (withItems, withParam or "
                'withSequence), and step "z" does not loop; to solve this, add a loop, or pass the value to the '
                "template as an input parameter",
            ),
        ],
        id="step-references-earlier-groups-and-item-in-loops",
    ),
    pytest.param(
        workflow(
            steps(
                [
                    {
                        "name": "s",
                        "template": "echo",
                        "withItems": [{"os": "debian"}],
                        "arguments": arg("msg", "{{item.os}} {{item.version}}"),
                    }
                ]
            ),
            echo("echo", "msg"),
        ),
        [
            (
                f"{T}[0].steps[0][0].arguments.parameters[0].value",
                '{{item.version}} does not resolve: the withItems entries have no key "version"',
            )
        ],
        id="item-key-not-in-items",
    ),
    pytest.param(
        workflow(
            echo("main", "message", outputs={"parameters": [{"name": "o", "valueFrom": {"path": "/o"}}]})
            | {
                "container": {
                    "image": "a",
                    "args": [
                        "{{inputs.parameters.mesage}}",
                        "{{workflow.parameters.x}}",
                        "{{retries}}",
                        "{{outputs.parameters.oo}}",
                    ],
                }
            },
            arguments={"parameters": [{"name": "message", "value": "hi"}, {"name": "y", "value": "1"}]},
        ),
        [
            (
                f"{T}[0].container.args[0]",
                '{{inputs.parameters.mesage}} does not resolve: template "main" declares no input parameter '
                '"mesage"; did you mean "message"?',
            ),
            (
                f"{T}[0].container.args[1]",
                '{{workflow.parameters.x}} does not resolve: spec.arguments.parameters declares no "x"; to solve '
                "this, add it to spec.arguments.parameters",
            ),
            (
                f"{T}[0].container.args[2]",
                "{{retries}} does not resolve: retries is only set in templates with a retryStrategy; to solve this, "
                'add retryStrategy to template "main"',
            ),
            (
                f"{T}[0].container.args[3]",
                '{{outputs.parameters.oo}} does not resolve: template "main" declares no output parameter "oo"; '
                'did you mean "o"?',
            ),
        ],
        id="template-references",
    ),
    pytest.param(
        workflow(echo("main", "who")),
        [
            (
                "spec.arguments.parameters",
                'template "main" needs input parameter "who", which spec.arguments (the entrypoint\'s inputs) does '
                "not supply; to solve this, add {name: who, value: ...} here (or give the input a default)",
            )
        ],
        id="entrypoint-input-not-supplied",
    ),
    pytest.param(
        workflow(
            dag(task("a", arguments={"artifacts": [{"name": "data"}]})),
            echo("echo", inputs={"artifacts": [{"name": "in", "path": "/in"}]}),
        ),
        [
            (
                f"{T}[0].dag.tasks[0].arguments.artifacts[0]",
                'artifact "data" has no source; to solve this, set from: "{{tasks.<task>.outputs.artifacts.<name>}}" '
                "(or steps.<step>...), or a location such as s3, http, git or raw",
            ),
            (
                f"{T}[0].dag.tasks[0].arguments.artifacts",
                'template "echo" needs input artifact "in", which task "a" does not supply; to solve this, add '
                "{name: in, from: ...} here (or make the input optional)",
            ),
        ],
        id="artifact-arguments",
    ),
    pytest.param(
        workflow(
            dag(
                task("a", "gen"),
                task(
                    "b",
                    dependencies=["a"],
                    arguments={"artifacts": [{"name": "in", "from": "{{tasks.a.outputs.artifacts.dat}}"}]},
                ),
            ),
            echo("echo", inputs={"artifacts": [{"name": "in", "path": "/in"}]}),
            echo("gen", outputs={"artifacts": [{"name": "data", "path": "/out"}]}),
        ),
        [
            (
                f"{T}[0].dag.tasks[1].arguments.artifacts[0].from",
                '{{tasks.a.outputs.artifacts.dat}} does not resolve: template "gen" (run by task "a") declares no '
                'output artifact "dat"; did you mean "data"?',
            )
        ],
        id="artifact-from-undeclared-output",
    ),
    pytest.param(
        workflow(
            dag(task("a", withItems=["x"], withParam="[]"), task("b", withSequence={"count": "2", "end": "3"})),
            echo(),
        ),
        [
            (
                f"{T}[0].dag.tasks[0]",
                "sets both withItems and withParam; keep only one of: withItems, withParam, withSequence",
            ),
            (f"{T}[0].dag.tasks[1].withSequence", "sets both count and end; keep only one"),
        ],
        id="loops",
    ),
    pytest.param(
        workflow(
            echo(
                "main",
                timeout="30",
                retryStrategy={"limit": -1, "backoff": {"duration": "5 min", "maxDuration": "1h"}},
                parallelism=2,
            )
        ),
        [
            (
                f"{T}[0].parallelism",
                "is only valid on dag and steps templates, not on a container template; to solve this, move it to "
                "the dag or steps template that runs this one",
            ),
            (f"{T}[0].retryStrategy.limit", "-1 is negative; use 0 or more retries"),
            (
                f"{T}[0].retryStrategy.backoff.duration",
                '"5 min" is not a duration; write a duration such as "30s", "5m" or "1h30m"',
            ),
            (f"{T}[0].timeout", '"30" has no unit; write a duration such as "30s"'),
        ],
        id="retry-timeout-parallelism",
    ),
    pytest.param(
        workflow(dag(task("a"), name="main") | {"timeout": "1m", "parallelism": 0}, echo()),
        [
            (
                f"{T}[0].timeout",
                "is only valid on container and script templates, not on a dag template; to solve this, set timeout "
                "on the templates it runs, or activeDeadlineSeconds on the workflow",
            ),
            (f"{T}[0].parallelism", "0 is less than 1; use 1 or more (or remove it for no limit)"),
        ],
        id="timeout-on-dag",
    ),
    pytest.param(
        workflow(
            echo(
                "main",
                outputs={
                    "parameters": [
                        {"name": "a"},
                        {"name": "b", "valueFrom": {"parameter": "x"}},
                        {"name": "c", "value": "1", "valueFrom": {"path": "/c"}},
                    ],
                    "artifacts": [
                        {"name": "d", "path": "/d", "archive": {"none": {}, "tar": {}}},
                        {"name": "e", "path": "/e", "archive": {"tar": {"compressionLevel": 12}}},
                        {"name": "f"},
                    ],
                },
            )
        ),
        [
            (f"{T}[0].outputs.artifacts[0].archive", "sets both none and tar; keep exactly one of: none, tar, zip"),
            (
                f"{T}[0].outputs.artifacts[1].archive.tar.compressionLevel",
                "12 is out of range; use -1 (default) to 9 (0: no compression, 9: smallest)",
            ),
            (
                f"{T}[0].outputs.artifacts[2].path",
                "is required: the file or directory the container writes, e.g. /tmp/output",
            ),
            (
                f"{T}[0].outputs.parameters[0].valueFrom",
                "is required: say where the value comes from, e.g. valueFrom: {path: /tmp/out.txt}",
            ),
            (
                f"{T}[0].outputs.parameters[1].valueFrom",
                "uses parameter; a container template's output parameters take path (a file the container writes)",
            ),
            (f"{T}[0].outputs.parameters[2]", "sets both value and valueFrom; keep only one"),
        ],
        id="outputs-and-archives",
    ),
    pytest.param(
        workflow(steps([{"name": "s", "template": "echo"}]) | {"steps": [{"name": "s", "template": "echo"}]}, echo()),
        [
            (
                f"{T}[0].steps[0]",
                "is a single step, but steps is a list of step groups (each a list of steps run in parallel); to "
                'solve this, write "- - name: ..." (two dashes) to put the step in a group of its own',
            )
        ],
        id="steps-not-a-list-of-lists",
    ),
    pytest.param(
        workflow(echo("main"), metadata=None) | {"metadata": {"name": "x" * 64}},
        [
            (
                "metadata.name",
                f'"{"x" * 64}" is 64 characters long; a Workflow name may have at most 63 because it is used as a '
                "label value; to solve this, shorten it",
            )
        ],
        id="workflow-name-too-long",
    ),
    pytest.param(
        cron(schedules=["61 * * * *", "@every 1x", "* * * *"], timezone="Europe/Pariss", concurrencyPolicy="forbid")
        | {"metadata": {"name": "c" * 53}},
        [
            (
                "metadata.name",
                f'"{"c" * 53}" is 53 characters long; a CronWorkflow name may have at most 52 because Argo appends a '
                "timestamp to it to name each Workflow it starts; to solve this, shorten it",
            ),
            (
                "spec.concurrencyPolicy",
                '"forbid" is not a concurrency policy; use one of: Allow, Forbid, Replace; did you mean "Forbid"?',
            ),
            (
                "spec.schedules[0]",
                '"61 * * * *" is not a valid cron expression; use 5 fields (minute hour day-of-month month '
                'day-of-week) such as "*/5 * * * *", or a descriptor such as @hourly, @daily or @every 1h',
            ),
            (
                "spec.schedules[1]",
                '"1x" after @every is not a duration like 1h30m; use 5 fields (minute hour day-of-month month '
                'day-of-week) such as "*/5 * * * *", or a descriptor such as @hourly, @daily or @every 1h',
            ),
            (
                "spec.schedules[2]",
                '"* * * *" has 4 fields, not 5; use 5 fields (minute hour day-of-month month day-of-week) such as '
                '"*/5 * * * *", or a descriptor such as @hourly, @daily or @every 1h',
            ),
            ("spec.timezone", '"Europe/Pariss" is not an IANA time zone; did you mean "Europe/Paris"?'),
        ],
        id="cron-fields",
    ),
    pytest.param(
        workflow(
            steps(
                [
                    {
                        "name": "a",
                        "template": "echo",
                        "hooks": {
                            "exit": {"template": "echo", "arguments": arg("msg", "{{steps.a.outputs.result}}")},
                            "running": {
                                "template": "echo",
                                "expression": "steps.a.status == 'Running'",
                                "arguments": arg("msg", "running"),
                            },
                            "late": {"template": "echo", "arguments": arg("msg", "x")},
                            "broken": {
                                "template": "echo",
                                "expression": "steps.a.status ==",
                                "arguments": arg("msg", "x"),
                            },
                        },
                        "arguments": arg("msg", "x"),
                    }
                ]
            ),
            echo("echo", "msg"),
            hooks={"exit": {"template": "cleanup"}},
        ),
        [
            (
                "spec.hooks[exit].template",
                'template "cleanup" is not defined in spec.templates; to solve this, add a template with this name '
                "or fix the name",
            ),
            (
                f"{T}[0].steps[0][0].hooks[late].expression",
                'is required: a hook other than "exit" runs when its expression becomes true (e.g. expression: '
                'steps.NAME.status == "Running"); or keep only the exit hook (hooks: {exit: {template: ...}}), which '
                "runs when the step ends, and check the status there",
            ),
            (
                f"{T}[0].steps[0][0].hooks[broken].expression",
                '"steps.a.status ==" is not a valid expression: unexpected end of expression at position 17; '
                "expected a value",
            ),
        ],
        id="expression-hooks-need-an-expression-and-exit-hooks-may-read-their-own-step",
    ),
    pytest.param(
        workflow(
            steps(
                [
                    {
                        "name": "a",
                        "inline": {
                            "inputs": {"parameters": [{"name": "z"}]},
                            "container": {
                                "image": "alpine",
                                "args": ["{{inputs.parameters.z}} {{inputs.parameters.q}}"],
                            },
                        },
                    }
                ]
            )
        ),
        [
            (
                f"{T}[0].steps[0][0].arguments.parameters",
                'template "a" needs input parameter "z", which step "a" does not supply; to solve this, add '
                "{name: z, value: ...} here (or give the input a default)",
            ),
            (
                f"{T}[0].steps[0][0].inline.container.args[0]",
                '{{inputs.parameters.q}} does not resolve: template "a" declares no input parameter "q"; to solve '
                "this, declare it in inputs.parameters",
            ),
        ],
        id="inline-template-checked-as-a-template",
    ),
    pytest.param(
        workflow(
            steps(
                [
                    {
                        "name": "a",
                        "template": "echo",
                        "when": "{{workflow.parameters.x}} == (((",
                        "arguments": arg("msg", "{{= asInt('1') + }}"),
                    }
                ]
            ),
            echo("echo", "msg", retryStrategy={"expression": "lastRetry.status == "}),
            arguments={"parameters": [{"name": "x", "value": "1"}]},
        ),
        [
            (
                f"{T}[0].steps[0][0].arguments.parameters[0].value",
                "{{= asInt('1') + }} is not a valid expression: unexpected end of expression at position 13; "
                "expected a value",
            ),
            (
                f"{T}[0].steps[0][0].when",
                '"{{workflow.parameters.x}} == (((" is not a valid condition: unexpected end of expression at '
                'position 32; expected a value, "(", "!" or "-"',
            ),
            (
                f"{T}[1].retryStrategy.expression",
                '"lastRetry.status == " is not a valid expression: unexpected end of expression at position 20; '
                "expected a value",
            ),
        ],
        id="expressions-compile",
    ),
    pytest.param(
        workflow(
            dag(
                task("a", arguments=arg("msg", "1")),
                task(
                    "b",
                    arguments=arg("msg", "{{= asInt(tasks.a.outputs.result) + asInt(inputs.parameters.limt) }}"),
                ),
                name="main",
            )
            | {"inputs": {"parameters": [{"name": "limit", "value": "3"}]}},
            echo("echo", "msg"),
        ),
        [
            (
                f"{T}[0].dag.tasks[1].arguments.parameters[0].value",
                "{{= asInt(tasks.a.outputs.result) + asInt(inputs.parameters.limt) }} reads tasks.a.outputs.result, "
                'which does not resolve: task "a" is not an ancestor of task "b"; to solve this, add "a" to its '
                "dependencies",
            ),
            (
                f"{T}[0].dag.tasks[1].arguments.parameters[0].value",
                "{{= asInt(tasks.a.outputs.result) + asInt(inputs.parameters.limt) }} reads inputs.parameters.limt, "
                'which does not resolve: template "main" declares no input parameter "limt"; did you mean "limit"?',
            ),
        ],
        id="expression-variables-resolve",
    ),
    pytest.param(
        workflow(
            steps([{"name": "s", "template": "echo", "withParam": "a, b", "arguments": arg("msg", "{{item}}")}]),
            echo("echo", "msg"),
        ),
        [
            (
                f"{T}[0].steps[0][0].withParam",
                '"a, b" is neither a JSON list nor a {{...}} reference to one; to solve this, use withItems for a '
                'fixed list, or e.g. withParam: "{{steps.gen.outputs.result}}"',
            )
        ],
        id="with-param-not-a-list",
    ),
    pytest.param(
        workflow(
            echo("main"),
            activeDeadlineSeconds=-1,
            ttlStrategy={"secondsAfterCompletion": -5},
            podGC={"strategy": "OnPodCompletion", "deleteDelayDuration": "5"},
        ),
        [
            ("spec.activeDeadlineSeconds", "-1 is negative; use a number of seconds (0 or more)"),
            ("spec.podGC.deleteDelayDuration", '"5" has no unit; write a duration such as "5s"'),
            ("spec.ttlStrategy.secondsAfterCompletion", "-5 is negative; use a number of seconds (0 or more)"),
        ],
        id="workflow-deadlines-and-gc",
    ),
    pytest.param(
        cron(schedule="0 * * * *", schedules=["0 1 * * *"]),
        [
            (
                "spec.schedule",
                "cannot be used together with spec.schedules; to solve this, move it into schedules and remove "
                "schedule",
            )
        ],
        id="cron-schedule-and-schedules",
    ),
    pytest.param(
        cron(),
        [("spec.schedules", 'is required: give at least one cron schedule, e.g. schedules: ["0 * * * *"]')],
        id="cron-without-schedule",
    ),
]


@pytest.mark.parametrize(("manifest", "expected"), INVALID)
def test_invalid_manifest_gets_every_error_with_path_and_fix(
    manifest: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert sorted(errors_of(manifest)) == sorted(expected)


VALID = [
    pytest.param(workflow(echo("main")), id="one-container"),
    pytest.param(
        workflow(
            dag(
                task("a", "gen"),
                task("b", depends="a.Succeeded || a.Failed", arguments=arg("msg", "{{tasks.a.outputs.result}}")),
                task("c", depends="b && !a.Skipped", arguments=arg("msg", "{{tasks.a.outputs.parameters.p}}")),
            ),
            echo("echo", "msg"),
            echo("gen", outputs={"parameters": [{"name": "p", "valueFrom": {"path": "/p"}}]}),
        ),
        id="dag-with-depends-and-ancestor-outputs",
    ),
    pytest.param(
        workflow(
            steps(
                [{"name": "gen", "template": "gen"}],
                [
                    {
                        "name": "each",
                        "template": "echo",
                        "withParam": "{{steps.gen.outputs.result}}",
                        "arguments": arg("msg", "{{item.anything}} {{steps.gen.outputs.parameters.p}}"),
                        "when": "{{steps.gen.outputs.result}} != '[]'",
                    }
                ],
            ),
            echo("echo", "msg"),
            echo("gen", outputs={"parameters": [{"name": "p", "valueFrom": {"path": "/p"}}]}),
        ),
        id="steps-with-loop-and-when",
    ),
    pytest.param(
        workflow(
            echo("main")
            | {
                "container": {
                    "image": "a",
                    "args": [
                        "{{workflow.name}} {{workflow.creationTimestamp.Y}} {{workflow.labels.team}} {{pod.name}}",
                        "{{= sprig.upper('x') }} {{custom}} {{workflow.outputs.parameters.g}}",
                    ],
                },
                "outputs": {"parameters": [{"name": "o", "globalName": "g", "valueFrom": {"path": "/o"}}]},
            }
        ),
        id="workflow-variables-and-expressions",
    ),
    pytest.param(
        cron(schedules=["@daily", "@every 90m", "CRON_TZ=Europe/Paris 0 6 * * MON-FRI"], timezone="America/New_York"),
        id="cron-descriptors-and-timezone",
    ),
    pytest.param(
        workflow(
            {
                "name": "main",
                "suspend": {"duration": "20"},
                "outputs": {"parameters": [{"name": "a", "valueFrom": {"supplied": {}}}]},
            }
        ),
        id="suspend-with-supplied-output",
    ),
    pytest.param(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "shared"},
            "spec": {
                "arguments": {"parameters": [{"name": "who"}], "artifacts": [{"name": "data"}]},
                "templates": [
                    echo("hello", "who") | {"container": {"image": "a", "args": ["{{workflow.parameters.other}}"]}}
                ],
            },
        },
        id="workflow-template-arguments-come-at-submission",
    ),
]


@pytest.mark.parametrize("manifest", VALID)
def test_valid_manifest_has_no_semantic_error(manifest: dict[str, Any]) -> None:
    assert errors_of(manifest) == []


def test_the_singular_cron_schedule_is_accepted_with_a_deprecation_warning() -> None:
    errors, warnings = check_semantics(cron(schedule="*/5 * * * *"))
    assert errors == []
    assert warnings == [
        'spec.schedule: is deprecated (Argo v4 reads only spec.schedules); write schedules: ["*/5 * * * *"]'
    ]


def test_a_missing_workflow_template_is_a_warning_offline_and_an_error_against_the_cluster() -> None:
    manifest = workflow(steps([{"name": "s", "templateRef": {"name": "shared", "template": "hello"}}]))
    errors, warnings = check_semantics(manifest, context=ValidationContext())
    assert errors == []
    assert warnings == [
        'spec.templates[0].steps[0][0].templateRef.name: WorkflowTemplate "shared" is not among the linted files; '
        "it must exist in the cluster"
    ]
    asked: list[tuple[str, str, str]] = []

    def resolve(kind: str, namespace: str, name: str) -> None:
        asked.append((kind, namespace, name))
        return None

    manifest["metadata"]["namespace"] = "team-a"
    cluster = ValidationContext(resolve_template=resolve, authoritative=True)
    assert errors_of(manifest, cluster) == [
        (
            "spec.templates[0].steps[0][0].templateRef.name",
            'WorkflowTemplate "shared" does not exist in namespace "team-a"; to solve this, create it first or fix '
            "the name",
        )
    ]
    assert asked == [("WorkflowTemplate", "team-a", "shared")]


def test_a_referenced_template_is_checked_for_its_templates_inputs_and_outputs() -> None:
    shared = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ClusterWorkflowTemplate",
        "metadata": {"name": "shared"},
        "spec": {
            "templates": [echo("hello", "who", outputs={"parameters": [{"name": "o", "valueFrom": {"path": "/o"}}]})]
        },
    }
    context = ValidationContext(manifests={("ClusterWorkflowTemplate", "shared"): shared})
    ref = {"name": "shared", "template": "hello", "clusterScope": True}
    manifest = workflow(
        dag(
            {"name": "a", "templateRef": ref},
            {"name": "b", "templateRef": ref | {"template": "helo"}},
            task("c", dependencies=["a"], arguments=arg("msg", "{{tasks.a.outputs.parameters.x}}")),
        ),
        echo("echo", "msg"),
    )
    assert errors_of(manifest, context) == [
        (
            "spec.templates[0].dag.tasks[0].arguments.parameters",
            'template "hello" needs input parameter "who", which task "a" does not supply; to solve this, add '
            "{name: who, value: ...} here (or give the input a default)",
        ),
        (
            "spec.templates[0].dag.tasks[1].templateRef.template",
            'ClusterWorkflowTemplate "shared" has no template "helo"; did you mean "hello"?',
        ),
        (
            "spec.templates[0].dag.tasks[2].arguments.parameters[0].value",
            '{{tasks.a.outputs.parameters.x}} does not resolve: template "hello" (run by task "a") declares no '
            'output parameter "x"; its output parameters are: o',
        ),
    ]


def test_objects_of_wrong_shape_never_crash_the_checks() -> None:
    shapes: list[Any] = [None, 1, "x", [], {}, [1], {"a": 1}]
    for value in shapes:
        for key in ("spec", "templates", "dag", "steps", "tasks", "arguments", "metadata"):
            manifest = workflow(dag(task("a")), echo())
            manifest["spec"]["templates"][0]["dag"]["tasks"][0]["arguments"] = value
            manifest["spec"]["templates"][0][key] = value
            manifest["spec"][key] = value
            check_semantics(manifest)
            check_semantics({**manifest, key: value})


def test_hostile_nesting_is_checked_without_exhausting_the_stack() -> None:
    deep: Any = "{{inputs.parameters.a}}"
    for _ in range(5000):
        deep = [deep]
    inline: dict[str, Any] = {"container": {"image": "a"}}
    for _ in range(500):
        inline = {"dag": {"tasks": [{"name": "a", "inline": inline}]}}
    manifest = workflow(echo("main", env=deep), {"name": "deep", **inline})
    errors, _ = check_semantics(manifest)
    assert all(len(e.path) < 2000 for e in errors)


def test_a_misspelt_argument_is_named_in_the_error_and_warned_about() -> None:
    manifest = workflow(
        steps([{"name": "a", "template": "echo", "arguments": {"parameters": [{"name": "mesage", "value": "hi"}]}}]),
        echo("echo", "message"),
    )
    errors, warnings = check_semantics(manifest)
    assert [(e.path, e.message) for e in errors] == [
        (
            "spec.templates[0].steps[0][0].arguments.parameters",
            'template "echo" needs input parameter "message", which step "a" does not supply (it gives "mesage": a '
            "misspelling?); to solve this, add {name: message, value: ...} here (or give the input a default)",
        )
    ]
    assert warnings == [
        'spec.templates[0].steps[0][0].arguments.parameters[0]: template "echo" declares no input parameter '
        '"mesage", so this argument is ignored; did you mean "message"?'
    ]


@pytest.mark.parametrize(
    ("fmt", "ok"),
    [
        pytest.param("Y", True, id="year"),
        pytest.param("RFC3339", True, id="rfc3339"),
        pytest.param("s", True, id="unix-seconds"),
        pytest.param("YYYY", False, id="not-one-letter"),
        pytest.param("q", False, id="not-strftime"),
    ],
)
def test_creation_timestamp_formats_are_one_strftime_letter(fmt: str, ok: bool) -> None:
    manifest = workflow(
        echo("main") | {"container": {"image": "a", "args": [f"{{{{workflow.creationTimestamp.{fmt}}}}}"]}}
    )
    expected = (
        []
        if ok
        else [
            (
                "spec.templates[0].container.args[0]",
                f"{{{{workflow.creationTimestamp.{fmt}}}}} does not resolve: creationTimestamp.{fmt} is not a format; "
                "use one strftime letter (creationTimestamp.Y, .m, .d, .H, ...), creationTimestamp.RFC3339 or "
                "creationTimestamp.s",
            )
        ]
    )
    assert errors_of(manifest) == expected


def test_output_expressions_of_a_steps_template_read_only_its_steps_declared_outputs() -> None:
    expression = "steps.flip.outputs.result == 'heads' ? steps.head.outputs.result : steps.flip.outputs.parameters.p"
    main = steps([{"name": "flip", "template": "echo"}], [{"name": "heads", "template": "echo"}])
    main["outputs"] = {"parameters": [{"name": "r", "valueFrom": {"expression": expression}}]}
    assert errors_of(workflow(main, echo())) == [
        (
            "spec.templates[0].outputs.parameters[0].valueFrom.expression",
            'reads steps.head.outputs.result, which does not resolve: step "head" is not defined in this steps '
            'template; did you mean "heads"?',
        ),
        (
            "spec.templates[0].outputs.parameters[0].valueFrom.expression",
            'reads steps.flip.outputs.parameters.p, which does not resolve: template "echo" (run by step "flip") '
            'declares no output parameter "p"; it has no output parameters',
        ),
    ]


def test_mounts_name_declared_volumes_once_each_and_artifacts_avoid_them() -> None:
    template = echo("main", inputs={"artifacts": [{"name": "in", "path": "/data", "raw": {"data": "x"}}]})
    template["container"]["volumeMounts"] = [
        {"name": "work", "mountPath": "/data"},
        {"name": "wrok", "mountPath": "/data"},
        {"name": "cache", "mountPath": "/cache"},
    ]
    manifest = workflow(template, volumes=[{"name": "work", "emptyDir": {}}])
    assert errors_of(manifest) == [
        (
            "spec.templates[0].container.volumeMounts[1].name",
            'volume "wrok" is not declared in spec.volumes or the template\'s volumes; did you mean "work"?',
        ),
        (
            "spec.templates[0].container.volumeMounts[1].mountPath",
            '"/data" is already mounted by spec.templates[0].container.volumeMounts[0]; mount each path once',
        ),
        (
            "spec.templates[0].container.volumeMounts[2].name",
            'volume "cache" is not declared in spec.volumes or the template\'s volumes; to solve this, declare it '
            "in spec.volumes",
        ),
        (
            "spec.templates[0].inputs.artifacts[0].path",
            '"/data" is already mounted by spec.templates[0].container.volumeMounts[0]; to solve this, place the '
            "artifact elsewhere",
        ),
    ]


def test_a_script_needs_its_source() -> None:
    manifest = workflow({"name": "main", "script": {"image": "python:3.12", "command": ["python3"]}})
    assert errors_of(manifest) == [("spec.templates[0].script.source", "is required: the script to run")]


def test_a_depends_that_does_not_parse_is_reported_once() -> None:
    manifest = workflow(
        dag(
            task("a", "gen"),
            task("b", depends="a &&", arguments=arg("msg", "{{tasks.a.outputs.result}}")),
            task("c", depends="b", arguments=arg("msg", "{{tasks.a.outputs.result}}")),
        ),
        echo("echo", "msg"),
        echo("gen"),
    )
    assert [path for path, _ in errors_of(manifest)] == ["spec.templates[0].dag.tasks[1].depends"]


def test_retries_is_set_when_the_workflow_gives_every_template_a_retry_strategy() -> None:
    template = echo("main") | {"container": {"image": "a", "args": ["attempt {{retries}}"]}}
    assert errors_of(workflow(template, templateDefaults={"retryStrategy": {"limit": 2}})) == []
    assert errors_of(workflow(template, retryStrategy={"limit": 2})) == []
    assert len(errors_of(workflow(template))) == 1


def test_an_artifact_from_is_one_reference_to_an_artifact() -> None:
    manifest = workflow(
        dag(
            task("a", "gen"),
            task(
                "b",
                dependencies=["a"],
                arguments={
                    "artifacts": [
                        {"name": "in", "from": "tasks.a.outputs.artifacts.data"},
                        {"name": "more", "from": "{{tasks.a.outputs.parameters.p}}"},
                    ]
                },
            ),
        ),
        echo("echo", inputs={"artifacts": [{"name": "in", "path": "/in"}, {"name": "more", "path": "/more"}]}),
        echo(
            "gen",
            outputs={
                "artifacts": [{"name": "data", "path": "/out"}],
                "parameters": [{"name": "p", "valueFrom": {"path": "/p"}}],
            },
        ),
    )
    assert errors_of(manifest) == [
        (
            "spec.templates[0].dag.tasks[1].arguments.artifacts[0].from",
            '"tasks.a.outputs.artifacts.data" is not one {{...}} reference; to solve this, write e.g. '
            'from: "{{tasks.<task>.outputs.artifacts.<name>}}"',
        ),
        (
            "spec.templates[0].dag.tasks[1].arguments.artifacts[1].from",
            '"{{tasks.a.outputs.parameters.p}}" does not name an artifact; from takes an artifact '
            "(tasks.<task>.outputs.artifacts.<name>, steps.<step>..., inputs.artifacts.<name> or "
            "workflow.outputs.artifacts.<name>); to pass a value, use arguments.parameters",
        ),
    ]


def test_the_exit_handler_inputs_come_from_the_workflow_arguments() -> None:
    supplied = {"parameters": [{"name": "who", "value": "me"}]}
    assert errors_of(workflow(echo("main"), echo("bye", "who"), onExit="bye", arguments=supplied)) == []
    assert errors_of(workflow(echo("main"), echo("bye", "who"), onExit="bye")) == [
        (
            "spec.arguments.parameters",
            'template "bye" needs input parameter "who", which spec.arguments (the exit handler\'s inputs) does not '
            "supply; to solve this, add {name: who, value: ...} here (or give the input a default)",
        )
    ]


def test_a_cron_workflow_spec_is_checked_under_spec_workflow_spec() -> None:
    manifest = cron(schedules=["0 * * * *"])
    manifest["spec"]["workflowSpec"]["entrypoint"] = "ecoh"
    assert errors_of(manifest) == [
        ("spec.workflowSpec.entrypoint", 'template "ecoh" is not defined in spec.templates; did you mean "echo"?')
    ]


def test_a_workflow_template_ref_entrypoint_gets_its_inputs_from_the_workflow_arguments() -> None:
    shared = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "shared"},
        "spec": {"entrypoint": "hello", "templates": [echo("hello", "who")]},
    }
    context = ValidationContext(manifests={("WorkflowTemplate", "shared"): shared})
    manifest = workflow(workflowTemplateRef={"name": "shared"})
    del manifest["spec"]["templates"], manifest["spec"]["entrypoint"]
    assert errors_of(manifest, context) == [
        (
            "spec.arguments.parameters",
            'template "hello" needs input parameter "who", which spec.arguments (the entrypoint\'s inputs) does not '
            "supply; to solve this, add {name: who, value: ...} here (or give the input a default)",
        )
    ]
    manifest["spec"]["arguments"] = {"parameters": [{"name": "who", "value": "team"}]}
    assert errors_of(manifest, context) == []
