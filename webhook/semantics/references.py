"""Resolve `{{...}}` references against what a template, its DAG/steps and the workflow declare. Pure: no I/O.

Follows Argo's rules (workflow/validate): only tags starting with `inputs.`, `outputs.`, `workflow.`, `tasks.`,
`steps.`, `item`, `pod.`, `retries` and `lastRetry.` are checked; other tags (a script's own `{{ }}` text) are
left alone, as Argo does. `{{= expr}}` tags are expressions: only their syntax is checked, by the caller.
Trellis is stricter than Argo in two places, both races at run time in Argo: `tasks.X` must be an ancestor of the
task using it, and `steps.X` must run in an earlier step group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from webhook.semantics.scalars import suggest

TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)

LEAF_KINDS = frozenset({"container", "script", "containerSet", "resource", "data", "http", "plugin"})
RESULT_KINDS = frozenset({"container", "script", "containerSet", "data", "http", "plugin"})
NODE_ATTRIBUTES = ("id", "status", "startedAt", "finishedAt", "hostNodeName", "exitCode", "ip")
WORKFLOW_SCALARS = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "serviceAccountName",
        "mainEntrypoint",
        "status",
        "failures",
        "duration",
        "priority",
        "scheduledTime",
        "parameters",
        "parameters.json",
        "labels",
        "labels.json",
        "annotations",
        "annotations.json",
        "creationTimestamp",
    }
)
CHECKED_ROOTS = ("inputs.", "outputs.", "workflow.", "tasks.", "steps.", "item.", "pod.", "lastRetry.")
CHECKED_EXACT = frozenset({"item", "retries", "inputs", "outputs", "workflow", "tasks", "steps", "pod"})


@dataclass(frozen=True)
class TemplateInfo:
    """What references need to know about one template (local, or from a referenced WorkflowTemplate)."""

    name: str
    kind: str  # container, script, dag, steps, suspend, ... ("" when it has no single type)
    input_parameters: frozenset[str] = frozenset()
    input_artifacts: frozenset[str] = frozenset()
    output_parameters: frozenset[str] = frozenset()
    output_artifacts: frozenset[str] = frozenset()
    output_parameter_paths: frozenset[str] = frozenset()
    output_artifact_paths: frozenset[str] = frozenset()
    has_retry: bool = False
    daemon: bool = False  # `daemon: true`: the only kind of step whose `ip` is set

    @property
    def leaf(self) -> bool:
        return self.kind in LEAF_KINDS


@dataclass(frozen=True)
class Sibling:
    """A task or step other references may point at. `template` is None when it cannot be known offline."""

    template: TemplateInfo | None
    looped: bool


@dataclass(frozen=True)
class WorkflowInfo:
    parameters: frozenset[str]
    any_parameter: bool  # WorkflowTemplates: parameters may come from the Workflow using them
    global_parameters: frozenset[str]  # outputs.parameters[].globalName anywhere
    global_artifacts: frozenset[str]
    any_global: bool  # a globalName is itself templated: names known only at run time
    is_cron: bool = False


@dataclass(frozen=True)
class Scope:
    """Where a string sits: its template, loop and the siblings it may see."""

    workflow: WorkflowInfo
    template: TemplateInfo
    node_kind: str = ""  # "tasks" or "steps" inside a DAG task / step; "" elsewhere
    node_name: str = ""
    loop_keys: frozenset[str] | None = None  # None: not in a loop; empty: any key (withParam, ...)
    in_loop: bool = False
    siblings: Mapping[str, Sibling] = field(default_factory=dict)
    # visible(name) -> "" when this string may refer to sibling `name`, else why not
    visible: Callable[[str], str] = lambda _name: ""


MAX_DEPTH = 64  # deeper values are not searched (the schema refuses such nesting; Kubernetes objects are shallow)


def iter_tagged_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, string) for every string containing "{{" in `value`, with Kubernetes field paths, in document order.
    Iterative, so hostile nesting cannot exhaust the stack; paths are built only for containers and tagged strings."""
    if isinstance(value, str):
        if "{{" in value:
            yield path, value
        return
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            yield where, node
            continue
        if depth >= MAX_DEPTH:
            continue
        found: list[tuple[Any, str, int]] = []
        if isinstance(node, dict):
            for key, item in node.items():
                if isinstance(item, str):
                    if "{{" in item:
                        found.append((item, f"{where}.{key}" if where else str(key), depth + 1))
                elif isinstance(item, dict | list) and item:
                    found.append((item, f"{where}.{key}" if where else str(key), depth + 1))
        else:
            for i, item in enumerate(node):
                if isinstance(item, str):
                    if "{{" in item:
                        found.append((item, f"{where}[{i}]", depth + 1))
                elif isinstance(item, dict | list) and item:
                    found.append((item, f"{where}[{i}]", depth + 1))
        stack.extend(reversed(found))


def tags(text: str) -> Iterator[str]:
    """The content of every `{{...}}` tag in `text` (untrimmed)."""
    for m in TAG.finditer(text):
        yield m.group(1)


def unclosed_tag(text: str) -> bool:
    """True when an `{{` has no matching `}}` (Argo's template engine refuses it)."""
    return "{{" in TAG.sub("", text)


def is_checked(tag: str) -> bool:
    return tag in CHECKED_EXACT or tag.startswith(CHECKED_ROOTS)


def resolve(tag: str, scope: Scope) -> str:
    """ "" when the trimmed, non-expression `tag` resolves in `scope`, else why it does not (with a fix)."""
    head, _, rest = tag.partition(".")
    if head == "inputs":
        return _resolve_inputs(rest, scope.template)
    if head == "outputs":
        return _resolve_own_outputs(rest, scope.template)
    if head == "workflow":
        return _resolve_workflow(rest, scope.workflow)
    if head in ("tasks", "steps"):
        return _resolve_sibling(head, rest, scope)
    if head == "item":
        if not scope.in_loop:
            noun = {"tasks": "task", "steps": "step"}.get(scope.node_kind, "")
            where = (
                f'{noun} "{scope.node_name}" does not loop'
                if noun
                else f'template "{scope.template.name}" is not a step or task'
            )
            return (
                f"item is only set in a step or task that loops (withItems, withParam or withSequence), and {where}; "
                "to solve this, add a loop, or pass the value to the template as an input parameter"
            )
        if rest and scope.loop_keys:
            key = rest.split(".", 1)[0]
            if key not in scope.loop_keys:
                return f'the withItems entries have no key "{key}"{suggest(key, scope.loop_keys)}'
        return ""
    if head == "pod":
        if rest != "name":
            return "pod.name is the only pod variable"
        if scope.template.kind and not scope.template.leaf:
            return f"pod.name is only set in container and script templates, not in a {scope.template.kind} template"
        return ""
    if head in ("retries", "lastRetry"):
        if head == "lastRetry" and rest not in ("exitCode", "status", "duration", "message"):
            return "use one of: lastRetry.exitCode, lastRetry.status, lastRetry.duration, lastRetry.message"
        if not scope.template.has_retry:
            return (
                f"{head} is only set in templates with a retryStrategy; "
                f'to solve this, add retryStrategy to template "{scope.template.name}"'
            )
        return ""
    return ""


def _resolve_inputs(rest: str, template: TemplateInfo) -> str:
    kind, _, name = rest.partition(".")
    if kind == "parameters":
        if not name:
            return "" if template.input_parameters else f'template "{template.name}" has no input parameters'
        if name not in template.input_parameters:
            return (
                f'template "{template.name}" declares no input parameter "{name}"'
                f"{suggest(name, template.input_parameters) or '; to solve this, declare it in inputs.parameters'}"
            )
        return ""
    if kind == "artifacts":
        art, _, attr = name.partition(".")
        if art not in template.input_artifacts:
            return (
                f'template "{template.name}" declares no input artifact "{art}"'
                f"{suggest(art, template.input_artifacts) or '; to solve this, declare it in inputs.artifacts'}"
            )
        if attr and attr != "path":
            return f"inputs.artifacts.{art}.{attr} is not a variable; use inputs.artifacts.{art}.path"
        return ""
    return "use inputs.parameters.<name> or inputs.artifacts.<name>"


def _resolve_own_outputs(rest: str, template: TemplateInfo) -> str:
    kind, _, name = rest.partition(".")
    if kind in ("result", "exitCode") and not name:
        return ""  # a template's own outputs, as Argo allows for metrics
    if kind == "parameters":
        param = name.rsplit(".path", 1)[0] if name.endswith(".path") else name
        if param in template.output_parameters:
            return ""
        return f'template "{template.name}" declares no output parameter "{param}"' + suggest(
            param, template.output_parameters, listing="its output parameters"
        )
    if kind == "artifacts":
        art = name.rsplit(".path", 1)[0] if name.endswith(".path") else name
        if art in template.output_artifacts:
            return ""
        return f'template "{template.name}" declares no output artifact "{art}"' + suggest(
            art, template.output_artifacts, listing="its output artifacts"
        )
    return "use outputs.parameters.<name>, outputs.artifacts.<name>, outputs.result or outputs.exitCode"


# workflow.creationTimestamp.<f>: one strftime letter (Argo formats with strftime), RFC3339, or s (Unix seconds).
STRFTIME_LETTERS = frozenset("aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ")


def _resolve_workflow(rest: str, wf: WorkflowInfo) -> str:
    if rest.startswith("creationTimestamp."):
        fmt = rest[len("creationTimestamp.") :]
        if fmt == "RFC3339" or (len(fmt) == 1 and fmt in STRFTIME_LETTERS):
            return ""
        return (
            f"creationTimestamp.{fmt} is not a format; use one strftime letter (creationTimestamp.Y, .m, .d, .H, "
            "...), creationTimestamp.RFC3339 or creationTimestamp.s"
        )
    if rest in WORKFLOW_SCALARS or rest.startswith(("labels.", "annotations.")):
        return ""
    if rest.startswith("parameters."):
        name = rest[len("parameters.") :]
        if name in wf.parameters or wf.any_parameter:
            return ""
        return (
            f'spec.arguments.parameters declares no "{name}"'
            f"{suggest(name, wf.parameters) or '; to solve this, add it to spec.arguments.parameters'}"
        )
    if rest.startswith("outputs.parameters."):
        name = rest[len("outputs.parameters.") :]
        if name in wf.global_parameters or wf.any_global:
            return ""
        return f'no output parameter has globalName "{name}"' + suggest(name, wf.global_parameters)
    if rest.startswith("outputs.artifacts."):
        name = rest[len("outputs.artifacts.") :]
        if name in wf.global_artifacts or wf.any_global:
            return ""
        return f'no output artifact has globalName "{name}"' + suggest(name, wf.global_artifacts)
    known = sorted(WORKFLOW_SCALARS - {"parameters.json", "labels.json", "annotations.json"})
    hint = suggest(rest, known)
    if hint:
        return f"workflow.{rest} is not a workflow variable{hint.replace(chr(34), chr(34) + 'workflow.', 1)}"
    return (
        f"workflow.{rest} is not a workflow variable; use one of: workflow."
        + ", workflow.".join(known)
        + ", workflow.parameters.<name>, workflow.labels.<name>, workflow.annotations.<name>, "
        "workflow.outputs.parameters.<name>"
    )


def _resolve_sibling(head: str, rest: str, scope: Scope) -> str:
    noun = "task" if head == "tasks" else "step"
    if rest == "name":
        return ""  # the current task/step's own name
    name, _, attr = rest.partition(".")
    if not scope.siblings and not scope.node_kind:
        return f"{head}.{name} can only be used inside a {'DAG' if head == 'tasks' else 'steps'} template"
    if (head == "tasks") != (scope.node_kind == "tasks" or scope.template.kind == "dag"):
        return f"{head}.{name} can only be used inside a {'DAG' if head == 'tasks' else 'steps'} template"
    sibling = scope.siblings.get(name)
    where = "this DAG" if head == "tasks" else "this steps template"
    if sibling is None:
        return f'{noun} "{name}" is not defined in {where}{suggest(name, scope.siblings.keys(), listing=f"its {head}")}'
    why = scope.visible(name)
    if why:
        return why
    if attr in NODE_ATTRIBUTES:
        if attr == "ip" and sibling.template is not None and not sibling.template.daemon:
            return (
                f'template "{sibling.template.name}" (run by {noun} "{name}") is not a daemon template, so it has no '
                "ip; set daemon: true on it (a service that keeps running) or pass what you need as an output "
                "parameter"
            )
        if attr == "exitCode" and sibling.template is not None and sibling.template.kind not in RESULT_KINDS:
            return _no_result(noun, name, sibling.template, "exitCode")
        return ""
    if attr == "outputs.result":
        if sibling.template is not None and sibling.template.kind not in RESULT_KINDS:
            return _no_result(noun, name, sibling.template, "outputs.result")
        return ""
    if attr == "outputs.parameters" and sibling.looped:
        return ""
    if attr.startswith("outputs.parameters."):
        param = attr[len("outputs.parameters.") :]
        tmpl = sibling.template
        if tmpl is None or param in tmpl.output_parameters:
            return ""
        return (
            f'template "{tmpl.name}" (run by {noun} "{name}") declares no output parameter "{param}"'
            f"{suggest(param, tmpl.output_parameters, listing='its output parameters')}"
        )
    if attr.startswith("outputs.artifacts."):
        art = attr[len("outputs.artifacts.") :]
        tmpl = sibling.template
        if tmpl is None or art in tmpl.output_artifacts:
            return ""
        return (
            f'template "{tmpl.name}" (run by {noun} "{name}") declares no output artifact "{art}"'
            f"{suggest(art, tmpl.output_artifacts, listing='its output artifacts')}"
        )
    return (
        f"{head}.{name}.{attr} is not a {noun} variable; use one of: id, status, startedAt, finishedAt, exitCode, ip, "
        "hostNodeName, outputs.result, outputs.parameters.<name>, outputs.artifacts.<name>"
    )


def _no_result(noun: str, name: str, tmpl: TemplateInfo, what: str) -> str:
    return (
        f'template "{tmpl.name}" (run by {noun} "{name}") is a {tmpl.kind} template, which has no {what}; '
        "only container and script templates have one"
    )
