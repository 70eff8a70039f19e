"""Render the CustomResourceDefinitions of the four Argo kinds from the one schema source (webhook.schema.argo).

Pure: no I/O (webhook.schema.generate writes the files). The CRD schemas are structural but shallow: the object,
`spec` and `status` are typed field by field, and everything below a spec field keeps only its JSON type with
`x-kubernetes-preserve-unknown-fields: true`. Why:
- size: Argo v4's fully expanded CRDs are megabytes and break client-side `kubectl apply`, Helm and Argo CD;
  these stay a few KiB each;
- messages: the API server checks the CRD schema *before* the validating webhook runs, so every type the CRD
  enforces is reported in the API server's terse words; leaving templates untyped lets the webhook explain
  mistakes such as `args: |` with the path and the fix;
- survival: `spec` and `status` preserve unknown fields, so a manifest written for a newer Argo is stored as
  written (never silently pruned) and the webhook, or the reconciler when the webhook was absent, says what is
  wrong with it.
"""

from __future__ import annotations

from typing import Any

from webhook.schema.argo import ALL_DEFINITIONS, API_VERSION, GROUP, KINDS, VERSION, kind_root
from webhook.schema.dsl import K8s, ListOf, MapOf, Node, Object, Ref, Scalar

# Depths: 0 the object, 1 spec/status, 2 their fields (typed), 3 what those fields hold (JSON type only).
_TYPED_DEPTH = 1
_PRESERVE = {"x-kubernetes-preserve-unknown-fields": True}

_SCALAR_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}

_DESCRIPTIONS = {
    "Workflow": "Workflow is the definition of a workflow resource (Argo Workflows API, run by Trellis)",
    "WorkflowTemplate": "WorkflowTemplate is the definition of a workflow template resource",
    "ClusterWorkflowTemplate": "ClusterWorkflowTemplate is the definition of a cluster-scoped workflow template",
    "CronWorkflow": "CronWorkflow is the definition of a scheduled workflow resource",
}

# The columns `kubectl get` shows. Workflow's are Argo's own (Age is when the workflow *started*, as in Argo).
# Argo defines none for CronWorkflow; these answer what people ask of a cron job.
_PRINTER_COLUMNS: dict[str, list[dict[str, Any]]] = {
    "Workflow": [
        {"name": "Status", "type": "string", "description": "Status of the workflow", "jsonPath": ".status.phase"},
        {
            "name": "Age",
            "type": "date",
            "format": "date-time",
            "description": "When the workflow was started",
            "jsonPath": ".status.startedAt",
        },
        {
            "name": "Message",
            "type": "string",
            "description": "Human readable message indicating details about why the workflow is in this condition.",
            "jsonPath": ".status.message",
        },
    ],
    "CronWorkflow": [
        {"name": "Schedules", "type": "string", "description": "Cron schedules", "jsonPath": ".spec.schedules"},
        {
            "name": "Suspended",
            "type": "boolean",
            "description": "Whether scheduling is suspended",
            "jsonPath": ".spec.suspend",
        },
        {
            "name": "Last Scheduled",
            "type": "date",
            "description": "When a workflow was last started",
            "jsonPath": ".status.lastScheduledTime",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
}

# Kinds whose status is written through the /status subresource (only the reconciler writes status).
_STATUS_SUBRESOURCE = {"Workflow", "CronWorkflow"}


def _shallow(node: Node) -> dict[str, Any]:
    """A node below the typed depth: its JSON type only, contents preserved as written."""
    node = _resolve(node)
    if isinstance(node, Scalar):
        if node.kind in _SCALAR_TYPES:
            return {"type": _SCALAR_TYPES[node.kind]}
        if node.kind == "int-or-string":
            return {"x-kubernetes-int-or-string": True}
        return dict(_PRESERVE)
    if isinstance(node, ListOf):
        return {"type": "array", "items": _shallow_item(node.item)}
    return {"type": "object", **_PRESERVE}


def _shallow_item(node: Node) -> dict[str, Any]:
    node = _resolve(node)
    if isinstance(node, ListOf):
        return {"type": "array", "items": dict(_PRESERVE)}
    return _shallow(node)


def _resolve(node: Node) -> Node:
    while isinstance(node, Ref):
        node = ALL_DEFINITIONS[node.name]
    return node


def render(node: Node, depth: int) -> dict[str, Any]:
    """The structural schema of `node` found at `depth` (see the depth notes above)."""
    node = _resolve(node)
    if depth > _TYPED_DEPTH + 1:
        return _shallow(node)
    if isinstance(node, Object) and depth <= _TYPED_DEPTH:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {name: render(field, depth + 1) for name, field in node.fields.items()},
        }
        if depth >= 1:
            out.update(_PRESERVE)
        return out
    if isinstance(node, ListOf):
        return {"type": "array", "items": _shallow_item(node.item)}
    if isinstance(node, MapOf):
        return {"type": "object", "additionalProperties": _shallow(node.value)}
    if isinstance(node, K8s):
        return {"type": "object", **_PRESERVE}
    return _shallow(node)


def crd(kind: str) -> dict[str, Any]:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) of one of the four kinds."""
    info = KINDS[kind]
    root = kind_root(kind)
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    for name, field in root.fields.items():
        if name not in properties:
            properties[name] = render(field, 1)
    version: dict[str, Any] = {"name": VERSION, "served": True, "storage": True}
    if kind in _PRINTER_COLUMNS:
        version["additionalPrinterColumns"] = _PRINTER_COLUMNS[kind]
    version["schema"] = {
        "openAPIV3Schema": {
            "description": _DESCRIPTIONS[kind],
            "type": "object",
            "required": ["metadata", "spec"],
            "properties": properties,
        }
    }
    version["subresources"] = {"status": {}} if kind in _STATUS_SUBRESOURCE else {}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{info['plural']}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": info["listKind"],
                "plural": info["plural"],
                "singular": info["singular"],
                "shortNames": list(info["shortNames"]),
            },
            "scope": info["scope"],
            "versions": [version],
        },
    }


def crd_file_name(kind: str) -> str:
    return f"{KINDS[kind]['plural']}.{GROUP}.yaml"


__all__ = ["API_VERSION", "crd", "crd_file_name"]
