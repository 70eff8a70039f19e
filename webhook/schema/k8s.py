"""Kubernetes core/v1 (and meta/v1, policy/v1) schemas, as shipped by the `kubernetes_validate` package.

Reads one package data file (`kubernetes-json-schema/v<version>-local-strict/_definitions.json`) once, on first
use, and caches it; everything else in `webhook.schema` is pure. The strict variant closes every object with
`additionalProperties: false`, which is how unknown fields inside container specs are rejected.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from importlib import resources
from typing import Any

# The newest Kubernetes version kubernetes_validate ships when this was written; newer packages fall back to their
# newest strict schema.
PREFERRED_VERSION = "1.37.0"

# Kubernetes writes these two as `oneOf` of string/number; a plain type union says the same thing and gives
# jsonschema one error ("must be an integer or a string") instead of a oneOf with sub-errors.
_SIMPLIFIED: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": ["integer", "string", "null"]},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": ["string", "number", "null"]},
}

_REF = re.compile(r'"\$ref": "#/\$defs/([^"]+)"')


def _schema_dir() -> Any:
    base = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    preferred = base.joinpath(f"v{PREFERRED_VERSION}-local-strict")
    if preferred.joinpath("_definitions.json").is_file():
        return preferred

    def version_key(name: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", name.split("-")[0]))

    strict = sorted((d for d in base.iterdir() if d.name.endswith("-local-strict")), key=lambda d: version_key(d.name))
    return strict[-1]


@functools.cache
def all_definitions() -> dict[str, Any]:
    """Every definition in the strict `_definitions.json`, keyed like `io.k8s.api.core.v1.Container`."""
    with _schema_dir().joinpath("_definitions.json").open("rb") as f:
        defs: dict[str, Any] = json.load(f)["$defs"]
    return defs


def _strip_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_descriptions(v) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        return [_strip_descriptions(v) for v in value]
    return value


def definition(name: str) -> dict[str, Any]:
    """One definition without descriptions, titled with its short name (`Container`) for error messages."""
    defs = all_definitions()
    if name in _SIMPLIFIED:
        return copy.deepcopy(_SIMPLIFIED[name])
    if name not in defs:
        raise KeyError(f"kubernetes_validate has no definition {name!r}")
    out: dict[str, Any] = _strip_descriptions(defs[name])
    if "properties" in out:
        out.setdefault("title", name.rsplit(".", 1)[-1])
    return out


def closure(names: set[str]) -> dict[str, dict[str, Any]]:
    """The named definitions plus every definition they reference, transitively."""
    result: dict[str, dict[str, Any]] = {}
    todo = sorted(names)
    while todo:
        name = todo.pop()
        if name in result:
            continue
        result[name] = definition(name)
        for referenced in _REF.findall(json.dumps(result[name])):
            if referenced not in result:
                todo.append(referenced)
    return result
