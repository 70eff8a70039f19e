"""`trellis lint` without the I/O: parse manifest texts, validate every Argo document, format the findings. Pure.

The command (executor.commands.lint) reads files and stdin and hands their text here as (source, text) pairs.
All WorkflowTemplates and ClusterWorkflowTemplates among the texts form the ValidationContext, so a Workflow and
the templates it references can be linted together; a template that is not among them only gets a warning (it may
exist in the cluster), unlike in the webhook.

Text output, one line per finding:
    SOURCE: KIND/NAME: FIELD PATH: MESSAGE           (NAME is metadata.name, or metadata.generateName + "*")
    warning: SOURCE: KIND/NAME: FIELD PATH: MESSAGE  (on stderr)
    SOURCE:LINE:COLUMN: MESSAGE                      (a file that does not parse)
Field paths are shown with the names of the templates, steps and tasks they go through:
`spec.templates[1] ("build").container.args`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import yaml

from webhook.semantics import ARGO_KINDS, ValidationContext
from webhook.validation import validate

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Document:
    source: str
    index: int  # position among the source's documents, from 0
    line: int  # line where the document starts, from 1
    obj: Mapping[str, Any]

    @property
    def kind(self) -> str:
        kind = self.obj.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        name, generate = meta.get("name"), meta.get("generateName")
        if isinstance(name, str) and name:
            return name
        if isinstance(generate, str) and generate:
            return generate + "*"
        return f"<document {self.index + 1}>"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    source: str
    message: str
    kind: str = ""
    name: str = ""
    path: str = ""  # Kubernetes field path
    display_path: str = ""  # the same, with names: spec.templates[1] ("build").container
    reason: str = ""  # FieldValueInvalid, ... ("" for warnings and parse errors)
    line: int = 0  # for parse errors: where (from 1)
    column: int = 0

    def text(self) -> str:
        if self.line:
            head = f"{self.source}:{self.line}:{self.column}: {self.message}"
        else:
            where = f"{self.display_path or self.path}: " if (self.display_path or self.path) else ""
            head = f"{self.source}: {self.kind}/{self.name}: {where}{self.message}"
        return f"warning: {head}" if self.severity == "warning" else head


class FindingJSON(TypedDict, total=False):
    severity: str
    source: str
    kind: str
    name: str
    path: str
    message: str
    reason: str
    line: int
    column: int


class ReportJSON(TypedDict):
    ok: bool
    documents: int
    errors: list[FindingJSON]
    warnings: list[FindingJSON]


@dataclass(frozen=True)
class Report:
    documents: tuple[Document, ...] = ()
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Document, ...] = field(default=())  # documents of other kinds

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> ReportJSON:
        def one(f: Finding) -> FindingJSON:
            out: FindingJSON = {"severity": f.severity, "source": f.source, "message": f.message}
            if f.line:
                out["line"], out["column"] = f.line, f.column
            else:
                out.update({"kind": f.kind, "name": f.name, "path": f.path})
            if f.reason:
                out["reason"] = f.reason
            return out

        return {
            "ok": self.ok,
            "documents": len(self.documents),
            "errors": [one(f) for f in self.errors],
            "warnings": [one(f) for f in self.warnings],
        }


class _DuplicateKeyLoader(yaml.SafeLoader):
    """SafeLoader that records duplicate keys (the later one wins, as in kubectl and Argo; lint warns)."""

    duplicates: list[tuple[str, int, int]]


def _construct_mapping(loader: _DuplicateKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str) and key in seen:
            loader.duplicates.append((key, key_node.start_mark.line + 1, key_node.start_mark.column + 1))
        if isinstance(key, str):
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _construct_timestamp(loader: _DuplicateKeyLoader, node: yaml.ScalarNode) -> str:
    # kubectl (sigs.k8s.io/yaml) sends an unquoted date such as `value: 2024-01-01` as the string it reads, so
    # the API server and our webhook see a string: lint must see the same, not a Python date.
    return str(loader.construct_scalar(node))


_DuplicateKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_DuplicateKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse(source: str, text: str) -> tuple[list[Document], list[Finding]]:
    """The documents of one text (multi-document YAML, or JSON), or a finding saying where it does not parse."""
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    stripped = text.lstrip()
    if source.endswith(".json") or stripped.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except RecursionError:
            return [], [
                Finding("error", source, "JSON nesting is too deep to be a Kubernetes manifest", line=1, column=1)
            ]
        except json.JSONDecodeError as exc:
            if source.endswith(".json"):
                return [], [
                    Finding("error", source, f"JSON syntax error: {exc.msg}", line=exc.lineno, column=exc.colno)
                ]
        else:
            return _expand(source, [(value, 1)]), []
    docs: list[tuple[Any, int]] = []
    try:
        loader = _DuplicateKeyLoader(text)
        loader.duplicates = []
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is not None:
                    docs.append((loader.construct_document(node), node.start_mark.line + 1))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return [], [Finding("error", source, f"YAML syntax error: {problem}{context}", line=line, column=column)]
    except yaml.YAMLError as exc:
        return [], [Finding("error", source, f"YAML syntax error: {exc}", line=1, column=1)]
    except RecursionError:
        return [], [Finding("error", source, "YAML nesting is too deep to be a Kubernetes manifest", line=1, column=1)]
    warnings = [
        Finding(
            "warning",
            source,
            f'the key "{key}" appears twice in one mapping; only the last one counts, so remove the other',
            line=line,
            column=column,
        )
        for key, line, column in loader.duplicates
    ]
    return _expand(source, docs), warnings


def _expand(source: str, values: Sequence[tuple[Any, int]]) -> list[Document]:
    """Documents, with `kind: List` (kubectl's list form) and JSON arrays flattened."""
    out: list[Document] = []
    for value, line in values:
        items: Iterable[Any]
        if isinstance(value, list):
            items = value
        elif isinstance(value, Mapping) and value.get("kind") == "List" and isinstance(value.get("items"), list):
            items = value["items"]
        else:
            items = [value]
        for item in items:
            if item is None:
                continue
            obj = item if isinstance(item, Mapping) else {"__not_an_object__": item}
            out.append(Document(source=source, index=len(out), line=line, obj=obj))
    return out


def context_for(documents: Iterable[Document]) -> ValidationContext:
    """The lint context: every WorkflowTemplate/ClusterWorkflowTemplate given, by (kind, name)."""
    manifests: dict[tuple[str, str], Mapping[str, Any]] = {}
    for doc in documents:
        if doc.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
            name = doc.obj.get("metadata", {}).get("name") if isinstance(doc.obj.get("metadata"), Mapping) else None
            if isinstance(name, str) and name:
                manifests.setdefault((doc.kind, name), doc.obj)
    return ValidationContext(manifests=manifests, authoritative=False)


def lint(texts: Iterable[tuple[str, str]]) -> Report:
    """Parse and validate every (source, text); the findings of all of them, in input order."""
    documents: list[Document] = []
    findings: list[Finding] = []
    for source, text in texts:
        docs, problems = parse(source, text)
        documents.extend(docs)
        findings.extend(problems)
    argo = [d for d in documents if d.kind in ARGO_KINDS]
    skipped = [d for d in documents if d.kind not in ARGO_KINDS]
    for doc in documents:
        if "__not_an_object__" in doc.obj:
            findings.append(
                Finding(
                    "error",
                    doc.source,
                    f"document {doc.index + 1} (line {doc.line}) is not a Kubernetes object (a mapping with "
                    "apiVersion, kind, metadata and spec)",
                    line=doc.line,
                    column=1,
                )
            )
    context = context_for(argo)
    first: dict[tuple[str, str], Document] = {}
    for doc in argo:
        if doc.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate") and not doc.name.endswith(("*", ">")):
            earlier = first.setdefault((doc.kind, doc.name), doc)
            if earlier is not doc:
                findings.append(
                    Finding(
                        "warning",
                        doc.source,
                        f"{doc.kind} {doc.name} is also defined in {earlier.source}; references use that one",
                        kind=doc.kind,
                        name=doc.name,
                        path="metadata.name",
                        display_path="metadata.name",
                    )
                )
    for doc in argo:
        result = validate(doc.obj, context=context)
        for error in result.errors:
            findings.append(
                Finding(
                    "error",
                    doc.source,
                    error.message,
                    kind=doc.kind,
                    name=doc.name,
                    path=error.path,
                    display_path=display_path(doc.obj, error.path),
                    reason=error.type,
                )
            )
        for warning in result.warnings:
            path, _, message = warning.partition(": ")
            if not message:
                path, message = "", warning
            findings.append(
                Finding(
                    "warning",
                    doc.source,
                    message,
                    kind=doc.kind,
                    name=doc.name,
                    path=path,
                    display_path=display_path(doc.obj, path),
                )
            )
    return Report(documents=tuple(argo), findings=tuple(findings), skipped=tuple(skipped))


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^\]]*)\]")
_NAMED_LISTS = frozenset({"templates", "tasks", "steps"})


def display_path(obj: Mapping[str, Any], path: str) -> str:
    """`path` with the names of the templates, tasks and steps it goes through, for people to read."""
    out: list[str] = []
    node: Any = obj
    last_key = ""
    for m in _SEGMENT.finditer(path):
        key, index, map_key = m.group(1), m.group(2), m.group(3)
        if map_key is not None:  # a map key in brackets: spec.hooks[exit], metadata.labels[app/x]
            out.append(f"[{map_key}]")
            node = node.get(map_key) if isinstance(node, Mapping) else None
            last_key = ""
            continue
        if key is not None:
            out.append(("." if out else "") + key)
            node = node.get(key) if isinstance(node, Mapping) else None
            last_key = key
            continue
        out.append(f"[{index}]")
        node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        if last_key in _NAMED_LISTS and isinstance(node, Mapping) and isinstance(node.get("name"), str):
            out.append(f' ("{node["name"]}")')
    return "".join(out)


def with_defaults(documents: Iterable[Document]) -> list[dict[str, Any]]:
    """The documents as the API server would store them after the mutating webhook (Argo kinds only)."""
    from webhook.defaulting import apply_defaults

    return [apply_defaults(d.obj) for d in documents]
