"""Render the Argo types (webhook.schema.argo) as one strict JSON Schema (Draft 2020-12) per kind.

Pure apart from the cached read of kubernetes_validate's definitions (webhook.schema.k8s). Every object is
closed (`additionalProperties: false`) except the engine-written status objects marked `open`; Kubernetes types
are `$ref`s into `$defs`, which holds the Argo definitions under their Argo names (`Template`) and the
Kubernetes ones under theirs (`io.k8s.api.core.v1.Container`), so the kubernetes_validate `$ref`s resolve as-is.
"""

from __future__ import annotations

import functools
from typing import Any

from webhook.schema import k8s as k8s_defs
from webhook.schema.argo import ALL_DEFINITIONS, KINDS, kind_root
from webhook.schema.dsl import K8s, ListOf, MapOf, Node, Object, Ref, Scalar

TEMPLATE_PATTERN = r"\{\{.*\}\}"

_SCALAR_TYPES: dict[str, list[str]] = {
    "string": ["string", "null"],
    "integer": ["integer", "null"],
    "number": ["number", "null"],
    "boolean": ["boolean", "null"],
    "int-or-string": ["integer", "string", "null"],
    "any-string": ["string", "number", "boolean", "null"],
}


def render(node: Node, k8s_used: set[str]) -> dict[str, Any]:
    """One node as JSON Schema; collects the Kubernetes definitions it references into `k8s_used`."""
    if isinstance(node, Scalar):
        if node.kind == "any":
            return {}
        out: dict[str, Any] = {"type": list(_SCALAR_TYPES[node.kind])}
        if node.enum and not node.placeholders:
            out["enum"] = [*node.enum, None]
        elif node.enum:
            # Argo substitutes `{{...}}` in every string of a spec before reading it, so a placeholder is as
            # good as a listed value here (Argo's own schema has no enums at all).
            out["anyOf"] = [{"enum": [*node.enum, None]}, {"pattern": TEMPLATE_PATTERN}]
        if node.minimum is not None:
            out["minimum"] = node.minimum
        if node.maximum is not None:
            out["maximum"] = node.maximum
        return out
    if isinstance(node, ListOf):
        # A list item or map value written empty (`- ` or `key:`) is a mistake, not "unset": the API server
        # keeps it as null and the CRD's item type refuses it.
        return {"type": ["array", "null"], "items": _not_null(node.item, render(node.item, k8s_used))}
    if isinstance(node, MapOf):
        return {"type": ["object", "null"], "additionalProperties": _not_null(node.value, render(node.value, k8s_used))}
    if isinstance(node, Object):
        out = {
            "type": ["object", "null"],
            "title": node.title,
            "properties": {name: render(field, k8s_used) for name, field in node.fields.items()},
        }
        for name in node.required:
            # Kubernetes prunes nulls before it checks `required`, so a required field written as `name:`
            # (null) is missing: here it must not accept null.
            out["properties"][name] = _not_null(node.fields[name], out["properties"][name])
        if not node.open:
            out["additionalProperties"] = False
        if node.required:
            out["required"] = list(node.required)
        return out
    if isinstance(node, Ref):
        return {"$ref": f"#/$defs/{node.name}"}
    if isinstance(node, K8s):
        name = node.definition
        if not node.extra and not node.optional and not node.title:
            k8s_used.add(name)
            return {"$ref": f"#/$defs/{name}"}
        base = k8s_defs.definition(name)
        base["properties"] = {
            **base["properties"],
            **{field: render(sub, k8s_used) for field, sub in node.extra.items()},
        }
        required = [r for r in base.get("required", []) if r not in node.optional]
        if required:
            base["required"] = required
        else:
            base.pop("required", None)
        if node.title:
            base["title"] = node.title
        # Its own properties may reference other Kubernetes definitions.
        k8s_used.update(k8s_defs.closure({name}).keys() - {name})
        return base
    raise TypeError(f"not a schema node: {node!r}")


def _json_types(node: Node) -> list[str]:
    while isinstance(node, Ref):
        node = ALL_DEFINITIONS[node.name]
    if isinstance(node, Scalar):
        return [t for t in _SCALAR_TYPES.get(node.kind, []) if t != "null"]
    if isinstance(node, ListOf):
        return ["array"]
    return ["object"]


def _not_null(node: Node, rendered: dict[str, Any]) -> dict[str, Any]:
    """`rendered` without null: the type narrowed in place, or `not: {type: null}` beside a `$ref` (a second
    `type` there would report a wrong type twice)."""
    types = _json_types(node)
    if not types:  # any value: nothing to narrow
        return rendered
    if "$ref" in rendered:
        return {**rendered, "not": {"type": "null"}}
    out = dict(rendered)
    out["type"] = types
    if "enum" in out:
        out["enum"] = [v for v in out["enum"] if v is not None]
    if "anyOf" in out:
        out["anyOf"] = [
            {**o, "enum": [v for v in o["enum"] if v is not None]} if "enum" in o else o for o in out["anyOf"]
        ]
    return out


@functools.cache
def _definitions() -> dict[str, Any]:
    used: set[str] = set()
    defs = {name: render(node, used) for name, node in ALL_DEFINITIONS.items()}
    roots = {kind: render(kind_root(kind), used) for kind in KINDS}
    defs.update(k8s_defs.closure(used))
    defs.update({f"kind.{kind}": root for kind, root in roots.items()})
    return defs


def schema_for(kind: str) -> dict[str, Any]:
    """The strict JSON Schema of one kind (`Workflow`, ...), self-contained. Raises KeyError for other kinds."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise KeyError(kind)
    defs = _definitions()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://trellis.invalid/schemas/{kind}.json",
        "$defs": defs,
        **defs[f"kind.{kind}"],
    }
