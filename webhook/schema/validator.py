"""The strict schema check: every shape and type problem of an Argo manifest, as Kubernetes field errors.

Pure (after the one cached read of Kubernetes' definitions). `schema_errors(obj)` runs jsonschema over the strict
schema of the object's kind (webhook.schema.strict) and turns each jsonschema error into a FieldError with a
Kubernetes field path (`spec.templates[1].container.args`), what was expected and found, and how to fix it.
jsonschema's own messages are never passed through: they embed the whole offending value, which can be
megabytes for a large DAG.

Validators are compiled once per kind and cached; validation is linear in the size of the manifest. A valid
manifest is recognised by the compiled fast path (webhook.schema.fastcheck); jsonschema then only runs for
manifests that have errors, to find and explain all of them.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import shlex
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]  # no stubs installed; see pyproject overrides
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped,unused-ignore]

from webhook.errors import FieldError, join_path
from webhook.schema.argo import ALL_DEFINITIONS, KINDS
from webhook.schema.dsl import Object
from webhook.schema.fastcheck import Check, Compiler
from webhook.schema.strict import schema_for

_MAX_SHOWN = 80  # characters of a user's value quoted back in a message
_MAX_SCRIPT = 2000  # characters of a rewritten `args`/`command` shown in a message
_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"}


def _is_integer(checker: Any, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Draft 2020-12, except that 3.0 is not an integer: Argo's Go decoder refuses it for int fields, and so does the
# API server for the CRD's integer fields. Tests build their reference validator from this class too.
StrictValidator: Any = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@functools.cache
def _defs() -> dict[str, Any]:
    defs: dict[str, Any] = schema_for(next(iter(KINDS)))["$defs"]
    return defs


@functools.cache
def _compiler() -> Compiler:
    return Compiler(_defs())


def _fast_check(definition: str) -> Check:
    return _compiler().ref(f"#/$defs/{definition}")


@functools.cache
def _validator(definition: str) -> Any:
    """jsonschema's validator for one definition (`kind.Workflow`, `Template`, ...) of the shared `$defs`."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": _defs()}
    schema["$ref"] = f"#/$defs/{definition}"
    return StrictValidator(schema)


def _sub_validator(schema: Mapping[str, Any]) -> Any:
    return StrictValidator({"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": _defs(), **schema})


@functools.cache
def _field_validator(definition: str, field: str, item: bool) -> Any:
    """jsonschema's validator for one field of a definition (or for the items of a list field)."""
    schema = _defs()[definition]["properties"][field]
    return _sub_validator(schema["items"] if item else schema)


@functools.cache
def _field_check(definition: str, field: str, item: bool) -> Check:
    schema = _defs()[definition]["properties"][field]
    return _compiler().compile(schema["items"] if item else schema)


@functools.cache
def _splits(definition: str) -> dict[str, tuple[str, bool]]:
    """Fields of a definition whose values are explained on their own: field -> (definition, is a list of it)."""
    defs = _defs()

    def target(schema: Any) -> str | None:
        # {"$ref": X}, or {"$ref": X, "not": {"type": "null"}} for a required field or a list item.
        if not isinstance(schema, Mapping) or "$ref" not in schema or not set(schema) <= {"$ref", "not"}:
            return None
        name = str(schema["$ref"]).removeprefix("#/$defs/")
        return name if "properties" in defs.get(name, {}) else None

    out: dict[str, tuple[str, bool]] = {}
    for key, prop in defs[definition].get("properties", {}).items():
        single = target(prop)
        if single is not None:
            out[key] = (single, False)
        elif prop.get("type") in (["array", "null"], ["array"]) and (item := target(prop.get("items"))) is not None:
            out[key] = (item, True)
    return out


@functools.cache
def _shallow_validator(definition: str) -> Any:
    """jsonschema's validator for a definition's own fields: the split fields (see _splits) accept anything."""
    schema = dict(_defs()[definition])
    splits = _splits(definition)
    if "properties" in schema and splits:
        schema["properties"] = {k: ({} if k in splits else v) for k, v in schema["properties"].items()}
    return _sub_validator(schema)


def _errors_at(validator: Any, instance: Any, location: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
    for error in validator.iter_errors(instance):
        yield [*location, *error.absolute_path], error


def _explain(definition: str, instance: Any, location: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
    """jsonschema's errors for `instance`, run only over the parts the fast check found invalid.

    A valid template among 5000 is never handed to jsonschema; an invalid one is explained on its own, with
    `location` as the prefix of its errors' paths. Objects are explained level by level: the definition's own
    fields by a shallow validator, each split field (a Template, a DAGTask, ...) recursively.
    """
    if isinstance(instance, dict):
        for key, (target, is_list) in _splits(definition).items():
            if key not in instance:
                continue
            value = instance[key]
            here = [*location, key]
            if is_list and isinstance(value, list):
                check, item_check = _fast_check(target), _field_check(definition, key, True)
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        if not check(item):
                            yield from _explain(target, item, [*here, index])
                    elif not item_check(item):
                        yield from _errors_at(_field_validator(definition, key, True), item, [*here, index])
            elif not is_list and isinstance(value, dict):
                if not _fast_check(target)(value):
                    yield from _explain(target, value, here)
            elif not _field_check(definition, key, False)(value):
                yield from _errors_at(_field_validator(definition, key, False), value, here)
        yield from _errors_at(_shallow_validator(definition), instance, location)
    else:
        yield from _errors_at(_validator(definition), instance, location)


def schema_errors(obj: Mapping[str, Any]) -> list[FieldError]:
    """Every schema problem of one manifest (any of the four Argo kinds), ordered by field path.

    An object of another apiVersion or kind gets one error on that field. An empty list means the shape is
    right; cross-field rules (references, cycles, expressions) are webhook.validation's job.
    """
    if not isinstance(obj, Mapping):
        return [FieldError("", f"must be an object, got {_describe_value(obj)}", "FieldValueTypeInvalid")]
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        supported = ", ".join(f'"{k}"' for k in KINDS)
        if kind is None:
            return [FieldError("kind", f"required value; set kind to one of: {supported}", "FieldValueRequired")]
        return [
            FieldError(
                "kind",
                _not_supported(kind, list(KINDS)),
                "FieldValueNotSupported",
            )
        ]
    if not isinstance(obj, dict):
        obj = dict(obj)  # JSON Schema's "object" is a dict; any other Mapping is read as one
    try:
        if _fast_check(f"kind.{kind}")(obj):
            return []
        errors: set[tuple[tuple[tuple[int, int | str], ...], FieldError]] = set()
        for location, error in _explain(f"kind.{kind}", obj, []):
            for sort_key, field_error in _translate(error, location, obj):
                errors.add((sort_key, field_error))
    except RecursionError:
        # Only a hostile manifest nests inline templates hundreds deep; the webhook also caps JSON depth.
        return [
            FieldError("spec", "is nested too deeply to check; inline templates may nest a few levels, not hundreds")
        ]
    return [fe for _, fe in sorted(errors, key=lambda e: (e[0], e[1].message))]


# --- translation of jsonschema errors ------------------------------------------------------------------------


def _translate(
    error: ValidationError, location: list[str | int], root: Mapping[str, Any]
) -> list[tuple[tuple[tuple[int, int | str], ...], FieldError]]:
    kind_definition = f"kind.{root.get('kind')}"
    path = _field_path(kind_definition, location)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    keyword = error.validator
    instance = error.instance

    def at(parts: list[str | int], message: str, kind: Any = "FieldValueInvalid") -> tuple[Any, FieldError]:
        return _sort_key(parts), FieldError(_field_path(kind_definition, parts), message, kind)

    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = list(schema.get("properties", {}))
        title = schema.get("title")
        out = []
        for key in instance:
            if key in known:
                continue
            where = f" in a {title}" if title else ""
            moved = _misplaced(str(title), str(key))
            hint = _suggest(str(key), known)
            if moved:
                msg = f'unknown field "{key}"{where}; {moved}'
            elif hint:
                msg = f'unknown field "{key}"{hint}'
            else:
                msg = f'unknown field "{key}"{where}; remove it'
            out.append(at([*location, str(key)], msg, "FieldValueForbidden"))
        return out
    if keyword == "required" and isinstance(instance, Mapping):
        title = schema.get("title")
        where = f" of this {title}" if title else ""
        return [
            at([*location, name], f'required field "{name}"{where} is missing; add it', "FieldValueRequired")
            for name in error.validator_value
            if name not in instance
        ]
    if keyword == "not" and instance is None:
        return [
            (
                _sort_key(location),
                FieldError(path, _type_message(_resolved(schema), None, location, root), "FieldValueRequired"),
            )
        ]
    if keyword == "type":
        return [
            (
                _sort_key(location),
                FieldError(
                    path,
                    _type_message(schema, instance, location, root),
                    "FieldValueRequired" if instance is None else "FieldValueTypeInvalid",
                ),
            )
        ]
    if keyword == "anyOf" and any("enum" in option for option in error.validator_value):
        (listed,) = [option["enum"] for option in error.validator_value if "enum" in option]
        allowed = [v for v in listed if v not in (None, "")]
        return [(_sort_key(location), FieldError(path, _not_supported(instance, allowed), "FieldValueNotSupported"))]
    if keyword == "enum":
        allowed = [v for v in error.validator_value if v not in (None, "")]
        return [(_sort_key(location), FieldError(path, _not_supported(instance, allowed), "FieldValueNotSupported"))]
    if keyword in ("minimum", "maximum"):
        bound = "at least" if keyword == "minimum" else "at most"
        return [
            (_sort_key(location), FieldError(path, f"must be {bound} {error.validator_value}, got {_show(instance)}"))
        ]
    return [
        (
            _sort_key(location),
            FieldError(path, f"invalid value {_show(instance)}: fails the schema rule {keyword!r}"),
        )
    ]


_CONTAINER_FIELDS = frozenset(
    {"image", "command", "args", "env", "envFrom", "resources", "volumeMounts", "workingDir", "imagePullPolicy"}
)
_CALL_FIELDS = frozenset({"when", "withItems", "withParam", "withSequence", "continueOn"})
_SPEC = ALL_DEFINITIONS["WorkflowSpec"]
_CRON_SPEC = ALL_DEFINITIONS["CronWorkflowSpec"]
_WORKFLOW_SPEC_FIELDS = frozenset(_SPEC.fields if isinstance(_SPEC, Object) else ())
_CRON_SPEC_FIELDS = frozenset(_CRON_SPEC.fields if isinstance(_CRON_SPEC, Object) else ())


def _misplaced(title: str, key: str) -> str | None:
    """Where a field that is unknown here belongs, for the mix-ups Argo users make most; None if not one."""
    if title == "Template":
        if key in ("dependencies", "depends"):
            return f"{key} belongs to a DAG task: move it to the task in dag.tasks that runs this template"
        if key in _CONTAINER_FIELDS or key == "source":
            return f"{key} belongs inside container (or script): move it under container:"
        if key in ("parameters", "artifacts"):
            return f"{key} belong under inputs or outputs: inputs: {{{key}: [...]}}"
        if key == "arguments":
            return "a template declares inputs; pass values with arguments on the task or step that calls it"
        if key == "tasks":
            return "tasks belong under dag: dag: {tasks: [...]}"
        if key in _CALL_FIELDS:
            return f"{key} belongs to the task or step that calls this template"
    if title in ("DAGTask", "WorkflowStep"):
        if key in ("dependencies", "depends") and title == "WorkflowStep":
            return "steps run group by group, so there are no dependencies: put this step in a later group"
        if key in ("inputs", "parameters", "artifacts"):
            return "pass values to the template with arguments: arguments: {parameters: [...]}"
        if key in _CONTAINER_FIELDS or key in ("container", "script", "dag", "steps"):
            return f"a {title} calls a template: put {key} in a template and name it with template: <name>"
    if title == "WorkflowSpec":
        if key in ("dag", "steps", "container", "script", "inputs", "outputs"):
            return f"{key} belongs in a template: define it under spec.templates and name it in spec.entrypoint"
        if key in ("parameters", "artifacts"):
            return f"workflow {key} go under spec.arguments: arguments: {{{key}: [...]}}"
    if title == "CronWorkflowSpec" and key in _WORKFLOW_SPEC_FIELDS:
        return f"{key} belongs to the workflow it starts: move it under spec.workflowSpec"
    if title == "CronWorkflow" and key in _WORKFLOW_SPEC_FIELDS:
        return f"{key} belongs to the workflow it starts: move it under spec.workflowSpec"
    if title in KINDS and (key in _WORKFLOW_SPEC_FIELDS or (title == "CronWorkflow" and key in _CRON_SPEC_FIELDS)):
        return f"{key} belongs under spec"
    if title in ("Container", "UserContainer") and key == "source":
        return "source belongs to script templates: rename container to script"
    return None


def _not_supported(value: Any, allowed: list[Any]) -> str:
    """`unsupported value "forbid"; did you mean "Forbid"? (supported values: ...)` or `...; use one of: ...`."""
    shown = ", ".join(_show(v) for v in allowed)
    hint = _suggest(value, [str(v) for v in allowed]) if isinstance(value, str) and len(allowed) > 1 else ""
    if hint:
        return f"unsupported value {_show(value)}{hint} (supported values: {shown})"
    return f"unsupported value {_show(value)}; use one of: {shown}"


def field_path(kind: str, location: Sequence[str | int]) -> str:
    """The Kubernetes field path of a location in a manifest of `kind`: fields joined with dots, list indexes and
    map keys in brackets, as k8s.io/apimachinery's field.Path (Child, Index, Key) writes them.

        field_path("Workflow", ["spec", "hooks", "exit", "template"]) == "spec.hooks[exit].template"
        field_path("Workflow", ["metadata", "labels", "a/b"]) == "metadata.labels[a/b]"

    Whether a name is a field or a map key comes from the schema; names the schema does not know are fields.
    """
    return _field_path(f"kind.{kind}", location)


def _field_path(definition: str, location: Sequence[str | int]) -> str:
    shape = tuple(None if isinstance(part, int) else part for part in location)
    path = ""
    for part, is_key in zip(location, _map_keys(definition, shape), strict=True):
        path = f"{path}[{part}]" if is_key else join_path(path, part)
    return path


@functools.lru_cache(maxsize=4096)  # the 5000 tasks of a DAG share one shape
def _map_keys(definition: str, shape: tuple[str | None, ...]) -> tuple[bool, ...]:
    """For each part of a location (list indexes as None): does it go in brackets (an index or a map key)?"""
    defs = _defs()
    schema: Any = defs.get(definition, {})
    out = []
    for part in shape:
        while isinstance(schema, Mapping) and "$ref" in schema:
            schema = defs.get(str(schema["$ref"]).removeprefix("#/$defs/"), {})
        if not isinstance(schema, Mapping):
            schema = {}
        extra = schema.get("additionalProperties")
        if part is None:
            out.append(True)
            schema = schema.get("items", {})
        elif part not in schema.get("properties", {}) and isinstance(extra, Mapping):
            out.append(True)
            schema = extra
        else:
            out.append(False)
            schema = schema.get("properties", {}).get(part, {})
    return tuple(out)


def _resolved(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = _defs().get(str(schema["$ref"]).removeprefix("#/$defs/"), {})
    return schema


def _sort_key(parts: Sequence[str | int]) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in parts)


def _suggest(word: str, candidates: list[str]) -> str:
    """`; did you mean "image"?` for a near miss, or ""."""
    return _suggest_cached(word, tuple(candidates))


@functools.lru_cache(maxsize=4096)  # one typo repeated in 5000 tasks costs one difflib search
def _suggest_cached(word: str, candidates: tuple[str, ...]) -> str:
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return f'; did you mean "{lowered[word.lower()]}"?'
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.75)
    if not close:
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.75)]
    return f'; did you mean "{close[0]}"?' if close else ""


def _json(value: Any) -> str:
    """JSON text of a value from a YAML/JSON document; "..." for what JSON cannot show (a YAML alias loop)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    except (ValueError, RecursionError):
        return "..."


def _show(value: Any) -> str:
    """A value as the user would write it, cut short: messages never carry a whole subtree."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = _json(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 4] + '..."'


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({_show(value)})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string" if len(value) > _MAX_SHOWN or "\n" in value else f"a string ({_show(value)})"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (datetime.date, datetime.time)):
        # Only a YAML loader that resolves timestamps produces these; kubectl sends them as strings.
        return f"a YAML timestamp ({value.isoformat()})"
    return type(value).__name__


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "an object",
    "array": "a list",
}
_PLURAL_WORDS = {
    "string": "strings",
    "integer": "integers",
    "number": "numbers",
    "boolean": "booleans",
    "object": "objects",
    "array": "lists",
}


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type", [])
    types = [declared] if isinstance(declared, str) else list(declared)
    return [t for t in types if t != "null"]


def _describe_schema(schema: Mapping[str, Any]) -> str:
    types = _types(schema)
    if types == ["array"]:
        items = schema.get("items", {})
        item_types = _types(items) if isinstance(items, Mapping) else []
        if len(item_types) == 1 and "$ref" not in items:
            return f"a list of {_PLURAL_WORDS[item_types[0]]}"
        title = _item_definition(schema).get("title")
        return f"a list (of {title})" if title else "a list"
    if types == ["object"] and schema.get("title"):
        return f"an object ({schema['title']})"
    if set(types) == {"string", "number", "boolean"}:
        return "a string (numbers and booleans are also accepted)"
    if set(types) == {"integer", "string"}:
        return "an integer or a string"
    if set(types) == {"string", "number"}:
        return "a quantity such as 100m, 1Gi or 2"
    return " or ".join(_TYPE_WORDS.get(t, t) for t in types)


def _type_message(schema: Mapping[str, Any], instance: Any, location: list[str | int], root: Mapping[str, Any]) -> str:
    expected = _describe_schema(schema)
    message = f"must be {expected}, got {_describe_value(instance)}"
    types = _types(schema)
    key = location[-1] if location else ""
    name = key if isinstance(key, str) else None
    if instance is None:
        written = f'"{name}:" with no value' if name else "an empty value"
        return f"required value: {written} counts as missing; set it to {expected}"
    if types == ["array"] and isinstance(instance, str) and name in ("args", "command"):
        return message + _command_fix(name, instance, _parent(root, location))
    if types == ["array"] and isinstance(instance, str) and name == "withItems":
        return (
            f"{message}; to solve this, list the items (withItems: [a, b]), or use withParam for a JSON list "
            f"or a {{{{...}}}} expression: withParam: {_show(instance)}"
        )
    if set(types) == {"string", "number", "boolean"} and isinstance(instance, (Mapping, list)):
        as_json = _json(instance)
        if len(as_json) <= _MAX_SHOWN and "'" not in as_json and "..." not in as_json:
            return f"{message}; to solve this, pass it as a JSON string: {name or 'value'}: '{as_json}'"
        return f"{message}; to solve this, pass it as a JSON string (quote the whole value)"
    listed = [option["enum"] for option in schema.get("anyOf", ()) if "enum" in option] or [schema.get("enum", [])]
    allowed = [v for v in listed[0] if v not in (None, "")]
    if allowed:
        return f"{message}; use one of: {', '.join(_show(v) for v in allowed)}"
    if types == ["object"] and isinstance(instance, list) and name:
        lists = [
            field
            for field in schema.get("required", ())
            if _types(schema.get("properties", {}).get(field, {})) == ["array"]
        ]
        if len(lists) == 1:
            return f"{message}; to solve this, put the items under {name}.{lists[0]}: {name}: {{{lists[0]}: [...]}}"
    if types == ["array"] and isinstance(instance, Mapping):
        return message + _list_fix(name, location, schema, instance)
    if types == ["array"] and not isinstance(instance, (list, Mapping)) and instance is not None:
        shown = _json(instance)
        if len(shown) <= _MAX_SHOWN and name:
            return f"{message}; to solve this, write it as a YAML list: {name}: [{shown}]"
        return f'{message}; to solve this, write it as a YAML list (one item per line starting with "- ")'
    if "string" in types and isinstance(instance, (bool, int, float)):
        literal = json.dumps(instance)
        prefix = f"{name}: " if name else ""
        return f'{message}; to solve this, quote it: {prefix}"{literal}"'
    if types == ["integer"] and isinstance(instance, float) and instance.is_integer():
        prefix = f"{name}: " if name else ""
        return f"{message}; to solve this, write it without a decimal point: {prefix}{int(instance)}"
    if ("integer" in types or "number" in types) and isinstance(instance, str) and _is_number(instance):
        prefix = f"{name}: " if name else ""
        return f"{message}; to solve this, write the number without quotes: {prefix}{instance.strip()}"
    if "boolean" in types and isinstance(instance, str) and instance.lower() in ("true", "false", "yes", "no"):
        word = "true" if instance.lower() in ("true", "yes") else "false"
        prefix = f"{name}: " if name else ""
        return f"{message}; to solve this, write {prefix}{word} without quotes"
    return message


def _item_definition(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    items = schema.get("items", {})
    if isinstance(items, Mapping) and "$ref" in items:
        resolved = _defs().get(str(items["$ref"]).removeprefix("#/$defs/"), {})
        return resolved if isinstance(resolved, Mapping) else {}
    return items if isinstance(items, Mapping) else {}


def _list_fix(
    name: str | None, location: list[str | int], schema: Mapping[str, Any], instance: Mapping[str, Any]
) -> str:
    """A fix for an object written where a list belongs: steps without their group, or a map of named items."""
    parent = location[-2] if len(location) >= 2 else None
    if isinstance(location[-1] if location else None, int) and parent == "steps":
        return (
            "; to solve this, make each item of steps a list of steps that run in parallel: "
            'write "- - name: ..." (two dashes) for a step that runs on its own'
        )
    item = _item_definition(schema)
    if name and "name" in item.get("required", ()) and instance and all(isinstance(k, str) for k in instance):
        keys = list(instance)[:3]
        shown = ", ".join(f"{{name: {json.dumps(k, ensure_ascii=False)}, ...}}" for k in keys)
        more = ", ..." if len(instance) > 3 else ""
        return f"; to solve this, write one list item per entry, each with its name: {name}: [{shown}{more}]"
    if name:
        return f"; to solve this, write it as a YAML list: {name}: [...]"
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parent(root: Mapping[str, Any], location: list[str | int]) -> Mapping[str, Any]:
    node: Any = root
    for part in location[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return {}
    return node if isinstance(node, Mapping) else {}


def _runs_shell_script(command: Any) -> bool:
    """True for `command: [sh, -c]`, `[bash, -ec]`, `[/bin/sh, -c]`: the next argument is a whole script."""
    if not isinstance(command, list) or len(command) < 2 or not all(isinstance(c, str) for c in command):
        return False
    shell = command[0].rsplit("/", 1)[-1]
    flag = command[-1]
    return shell in _SHELLS and flag.startswith("-") and "c" in flag


def _dash_items(text: str) -> list[str] | None:
    """The items of a block string whose every line starts with "- " (a YAML list typed inside `|`), or None."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not all(line.startswith("- ") or line == "-" for line in lines):
        return None
    return [line[2:] for line in lines]


def _flow_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"


def _command_fix(name: str, text: str, container: Mapping[str, Any]) -> str:
    """How to rewrite a string `args`/`command` as the list Kubernetes wants, said as the user would write it.

    A `|` block whose lines start with "- " is one string to YAML, not a list: the classic mistake (see the seed
    manifest artifacts-pipeline.yaml). When the command is a shell with `-c`, the shell takes the whole script as
    ONE argument, so the lines become one string joined by newlines; otherwise each line is its own argument.
    Values too long to quote back get the instruction without the rewritten value.
    """
    items = _dash_items(text)
    command = container.get("command")
    shell = name == "args" and _runs_shell_script(command)
    command_words: list[str] = list(command) if shell and isinstance(command, list) else []
    block = f'in block form "{name}:" then "  - |" followed by the script lines'
    if items is not None:
        article = "an" if name[0] in "aeiou" else "a"
        why = f' (YAML reads {article} "{name}: |" block as one string, even when its lines start with "- ")'
        if shell:
            script = "\n".join(items)
            fixed = f"{name}: {_flow_list([script])}"
            intro = (
                f"; to solve this, pass the script as one argument "
                f"(the command {_flow_list(command_words)} runs it as a whole): "
            )
            if len(fixed) > _MAX_SCRIPT:
                return f"{why}{intro}write it {block}"
            return f"{why}{intro}{fixed}, or {block}"
        fixed = f"{name}: {_flow_list(items)}"
        if len(fixed) > _MAX_SCRIPT:
            return f'{why}; to solve this, make each line a list item: remove the "|" after "{name}:"'
        return f"{why}; to solve this, write each line as a list item: {fixed}"
    if shell:
        fixed = f"{name}: {_flow_list([text])}"
        if len(fixed) > _MAX_SCRIPT:
            return f"; to solve this, pass the script as one argument, {block}"
        return f"; to solve this, pass the script as one argument: {fixed}"
    if name == "command":
        try:
            words = shlex.split(text)
        except ValueError:
            words = [text]
        fixed = f"{name}: {_flow_list(words)}"
        if len(fixed) > _MAX_SCRIPT:
            return "; to solve this, write one list item per word"
        return f"; to solve this, write one list item per word: {fixed}"
    fixed = f"{name}: {_flow_list([text])}"
    if len(fixed) > _MAX_SCRIPT:
        return '; to solve this, write it as a YAML list (one item per line starting with "- ")'
    return f"; to solve this, write it as a YAML list: {fixed}"


__all__ = ["schema_errors"]
