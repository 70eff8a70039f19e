"""Structural-schema handling for custom resources, as the API server does it for a CRD version. Pure.

`admit_custom_object(obj, schema)` returns the pruned object, the unknown field paths it removed (what
`fieldValidation=Strict` reports) and the validation causes:
- pruning: fields not declared under `properties` are dropped unless the schema node has
  `x-kubernetes-preserve-unknown-fields: true` or `additionalProperties`; `apiVersion`, `kind` and `metadata` at
  the root (and in `x-kubernetes-embedded-resource` nodes) are always kept; `null` is dropped where the schema
  is not `nullable`.
- validation: the OpenAPI v3 subset CRDs allow (type, properties, required, items, additionalProperties, enum,
  pattern, minimum/maximum, min/max length and items, anyOf/oneOf/allOf/not, `x-kubernetes-int-or-string`) via
  `jsonschema`; `format` and CEL `x-kubernetes-validations` are not checked.
Causes carry the API server's wording (`Invalid value: "integer": spec.x in body must be of type string: ...`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]

JSON = dict[str, Any]
_KEYWORDS = (
    "type",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
)


@dataclass(frozen=True)
class Cause:
    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def as_dict(self) -> JSON:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class Admitted:
    obj: JSON
    unknown_fields: tuple[str, ...]
    causes: tuple[Cause, ...]


def admit_custom_object(obj: Mapping[str, Any], schema: Mapping[str, Any] | None) -> Admitted:
    """Prune then validate `obj` against a CRD version's `openAPIV3Schema` (None: accept anything)."""
    result = copy.deepcopy(dict(obj))
    if not schema:
        return Admitted(result, (), ())
    unknown: list[str] = []
    pruned = _prune(result, schema, "", unknown, root=True)
    causes = _validate(pruned, schema)
    return Admitted(pruned, tuple(unknown), tuple(causes))


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _prune(value: Any, schema: Mapping[str, Any], path: str, unknown: list[str], *, root: bool = False) -> Any:
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        keep_meta = root or bool(schema.get("x-kubernetes-embedded-resource"))
        out: JSON = {}
        for key, item in value.items():
            if keep_meta and key in ("apiVersion", "kind", "metadata"):
                out[key] = item  # ObjectMeta is the API server's, never pruned by the CRD schema
                continue
            sub = props.get(key)
            if sub is None and isinstance(additional, Mapping):
                sub = additional
            if item is None and not (sub or {}).get("nullable") and not (preserve and sub is None):
                continue
            if sub is not None:
                out[key] = _prune(item, sub, _join(path, key), unknown)
            elif preserve or additional is True:
                out[key] = item
            else:
                unknown.append(_join(path, key))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_prune(v, schema["items"], _join(path, n), unknown) for n, v in enumerate(value)]
    return value


def _to_jsonschema(schema: Mapping[str, Any], *, root: bool = False) -> JSON:
    out: JSON = {k: schema[k] for k in _KEYWORDS if k in schema}
    if schema.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["type"] = ["integer", "string"]
    if "properties" in out:
        out["properties"] = {k: _to_jsonschema(v) for k, v in out["properties"].items()}
        if root:
            for meta in ("apiVersion", "kind", "metadata"):
                out["properties"].pop(meta, None)
    if isinstance(out.get("items"), Mapping):
        out["items"] = _to_jsonschema(out["items"])
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = _to_jsonschema(out["additionalProperties"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in out:
            out[key] = [_to_jsonschema(s) for s in out[key]]
    if "not" in out:
        out["not"] = _to_jsonschema(out["not"])
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if isinstance(value, bool):
        return '"boolean"'
    if isinstance(value, int):
        return '"integer"'
    if isinstance(value, float):
        return '"number"'
    return '"string"'


def _validate(obj: JSON, schema: Mapping[str, Any]) -> list[Cause]:
    validator = jsonschema.Draft7Validator(_to_jsonschema(schema, root=True))
    causes: list[Cause] = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ""
        for part in error.absolute_path:
            path = _join(path, part)
        if error.validator == "required":
            missing = str(error.message).split("'")[1]
            causes.append(Cause(_join(path, missing), "Required value", "FieldValueRequired"))
        elif error.validator == "type":
            expected = error.validator_value
            wanted = expected if isinstance(expected, str) else " or ".join(expected)
            found = _describe(error.instance)
            causes.append(
                Cause(
                    path,
                    f"Invalid value: {found}: {path} in body must be of type {wanted}: {found}",
                    "FieldValueTypeInvalid",
                )
            )
        elif error.validator == "enum":
            supported = ", ".join(json.dumps(v) for v in error.validator_value)
            shown = json.dumps(error.instance)
            causes.append(
                Cause(path, f"Unsupported value: {shown}: supported values: {supported}", "FieldValueNotSupported")
            )
        else:
            shown = (
                json.dumps(error.instance)
                if not isinstance(error.instance, (dict, list))
                else _describe(error.instance)
            )
            causes.append(Cause(path, f"Invalid value: {shown}: {error.message}"))
    return causes
