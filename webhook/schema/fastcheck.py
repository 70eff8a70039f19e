"""A compiled yes/no check of a document against the strict schema: the fast path of `schema_errors`.

Pure. jsonschema interprets the schema for every node it visits (keyword dispatch, `$ref` lookups through the
registry), which costs ~60 ms for a 500-task DAG; the webhook's budget for the whole admission is 100 ms at
p99. This module compiles the *same rendered schema* (webhook.schema.strict) once into nested closures that
answer only "valid or not" (~10x faster). `schema_errors` runs it first and calls jsonschema only when the
answer is no, to find and explain every error. The two agree by construction: only the keywords the strict
schema uses are compiled, with jsonschema's semantics, and any other keyword is refused at compile time;
tests/unit/test_schema.py checks the agreement over Argo's examples, every invalid case and random mutations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never reject anything.
_ANNOTATIONS = {"title", "description", "format", "$schema", "$id", "$defs"}
_HANDLED = {
    "$ref",
    "type",
    "enum",
    "anyOf",
    "not",
    "pattern",
    "properties",
    "additionalProperties",
    "required",
    "items",
    "minimum",
    "maximum",
}


def _is_integer(value: Any) -> bool:
    # Stricter than plain JSON Schema, which counts 3.0 as an integer: Argo's Go decoder and the API server's
    # integer fields refuse 3.0, so STRICT_TYPES (webhook.schema.validator) refuses it too. A bool is no integer.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPE_CHECKS: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


class Compiler:
    """Compiles schemas that `$ref` into one shared `$defs` table (recursion through `Template` is fine)."""

    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._defs = defs
        self._compiled: dict[str, Check] = {}

    def ref(self, target: str) -> Check:
        if not target.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {target!r}")
        name = target[len("#/$defs/") :]
        if name not in self._compiled:
            cell: list[Check] = []
            self._compiled[name] = lambda v: cell[0](v)  # stands in while `name` compiles (recursive types)
            cell.append(self.compile(self._defs[name]))
            self._compiled[name] = cell[0]
        return self._compiled[name]

    def compile(self, schema: Mapping[str, Any]) -> Check:
        unknown = {k for k in schema if k not in _HANDLED and k not in _ANNOTATIONS and not k.startswith("x-")}
        if unknown:
            raise ValueError(f"fastcheck does not implement {sorted(unknown)}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
        if "enum" in schema:
            checks.append(_enum_check(schema["enum"]))
        if "pattern" in schema:
            regex = re.compile(schema["pattern"])
            checks.append(lambda v: not isinstance(v, str) or regex.search(v) is not None)
        if "not" in schema:
            if schema["not"] == {"type": "null"}:  # the common case: a required field or a list item
                checks.append(lambda v: v is not None)
            else:
                negated = self.compile(schema["not"])
                checks.append(lambda v: not negated(v))
        if "anyOf" in schema:
            options = [self.compile(option) for option in schema["anyOf"]]
            checks.append(lambda v: any(option(v) for option in options))
        if any(k in schema for k in ("properties", "additionalProperties", "required")):
            checks.append(self._object_check(schema))
        if "items" in schema:
            item = self.compile(schema["items"])
            checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
        if "minimum" in schema or "maximum" in schema:
            checks.append(_range_check(schema.get("minimum"), schema.get("maximum")))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda v: first(v) and second(v)
        return lambda v: all(c(v) for c in checks)

    def _object_check(self, schema: Mapping[str, Any]) -> Check:
        properties = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        closed = extra is False
        extra_check: Check | None = None if isinstance(extra, bool) else self.compile(extra)
        required = tuple(schema.get("required", ()))

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, sub in value.items():
                prop = properties.get(key)
                if prop is not None:
                    if not prop(sub):
                        return False
                elif closed or (extra_check is not None and not extra_check(sub)):
                    return False
            return all(r in value for r in required)

        return check


def _type_check(declared: str | list[str]) -> Check:
    types = [declared] if isinstance(declared, str) else list(declared)
    nullable = "null" in types
    others = [t for t in types if t != "null"]
    if others == ["string"]:
        return (lambda v: v is None or isinstance(v, str)) if nullable else (lambda v: isinstance(v, str))
    if others == ["object"]:
        return (lambda v: v is None or isinstance(v, dict)) if nullable else (lambda v: isinstance(v, dict))
    if others == ["array"]:
        return (lambda v: v is None or isinstance(v, list)) if nullable else (lambda v: isinstance(v, list))
    checks = [_TYPE_CHECKS[t] for t in types]
    if len(checks) == 1:
        return checks[0]
    return lambda v: any(c(v) for c in checks)


def _enum_check(values: list[Any]) -> Check:
    if all(v is None or isinstance(v, str) for v in values):
        strings = frozenset(v for v in values if isinstance(v, str))
        allows_null = None in values
        return lambda v: (v is None and allows_null) or (isinstance(v, str) and v in strings)
    # General case, with jsonschema's rule that true is not 1.
    return lambda v: any(type(v) is type(e) and v == e for e in values)


def _range_check(minimum: float | None, maximum: float | None) -> Check:
    def check(value: Any) -> bool:
        if not _is_number(value):
            return True
        if minimum is not None and value < minimum:
            return False
        return maximum is None or value <= maximum

    return check
