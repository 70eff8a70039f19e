"""Parameters from ConfigMaps (`valueFrom.configMapKeyRef`, in `spec.arguments.parameters`, in a template's
`inputs.parameters` and in the arguments a step or task passes). Pure: no I/O.

The shells read the ConfigMaps `config_map_names` lists from the workflow's namespace and hand them to the planner
(PlanContext.config_maps, whole manifests by name, None when not found); `resolve` turns one `valueFrom` into a
value with Argo's rules:
- the ConfigMap must carry the label `workflows.argoproj.io/configmap-type: Parameter` (else an error, whatever
  the defaults say: the map exists but may not be read);
- a missing ConfigMap or key falls back to `valueFrom.default`, else to "" when `configMapKeyRef.optional` is true,
  else it is an error;
- `name` and `key` may hold `{{workflow.parameters.x}}`-style tags, substituted from the global scope first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from executor import templating
from executor.planning.helpers import direct_template_refs, to_str

PARAMETER_LABEL = "workflows.argoproj.io/configmap-type"
PARAMETER_LABEL_VALUE = "Parameter"


class ConfigMapValueError(Exception):
    """A configMapKeyRef that gives no value; the message says what and how to fix it."""


def config_map_names(
    workflow: Mapping[str, Any], templates: Mapping[Any, Mapping[str, Any]] | None = None
) -> list[str]:
    """Names of the ConfigMaps the parameters of `workflow` read, sorted, including those of the WorkflowTemplates /
    ClusterWorkflowTemplates it references (through templateRef / workflowTemplateRef, transitively) among
    `templates` (whole manifests by (kind, name)); unreferenced templates are not looked at. Names made of
    `{{workflow.parameters.x}}` tags are resolved from the workflow's literal argument values; a name that still
    holds a tag is left out (the planner reports it)."""
    spec = workflow.get("spec") if isinstance(workflow.get("spec"), Mapping) else {}
    scope: dict[str, str | None] = {}
    for param in ((spec or {}).get("arguments") or {}).get("parameters") or []:
        if isinstance(param, Mapping) and "value" in param:
            scope[f"workflow.parameters.{param.get('name')}"] = to_str(param["value"])
    available = templates or {}
    visited: set[tuple[str, str]] = set()
    names: set[str] = set()
    stack: list[Any] = [workflow]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for target in direct_template_refs(item):
                if target not in visited and target in available:
                    visited.add(target)
                    stack.append(available[target])
            for key, child in item.items():
                if key == "parameters" and isinstance(child, list):
                    for param in child:
                        value_from = (param.get("valueFrom") or {}) if isinstance(param, Mapping) else {}
                        ref = value_from.get("configMapKeyRef") if isinstance(value_from, Mapping) else None
                        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str) and ref["name"]:
                            name = _substituted(ref["name"], scope)
                            if "{{" not in name:
                                names.add(name)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(names)


def resolve(
    value_from: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, Any] | None],
    namespace: str,
    scope: Mapping[str, str | None],
) -> str:
    """The value a `valueFrom` holding `configMapKeyRef` gives. Raises ConfigMapValueError (Argo's reason plus the
    fix) when there is none."""
    ref = value_from.get("configMapKeyRef")
    if not isinstance(ref, Mapping):
        raise ConfigMapValueError("valueFrom.configMapKeyRef must be an object with name and key")
    name = _substituted(to_str(ref.get("name") or ""), scope)
    key = _substituted(to_str(ref.get("key") or ""), scope)
    if not name or not key or "{{" in name + key:
        raise ConfigMapValueError(
            f"configMapKeyRef needs a ConfigMap name and key (got name '{name}', key '{key}'); set both "
            "(tags may only use workflow.parameters)"
        )
    cm = config_maps.get(name)
    missing = ""
    if cm is None:
        missing = (
            f"ConfigMap '{name}' does not exist in namespace '{namespace}'; create it (labelled "
            f"{PARAMETER_LABEL}: {PARAMETER_LABEL_VALUE}) or fix configMapKeyRef.name"
        )
    else:
        labels = (cm.get("metadata") or {}).get("labels") or {}
        if labels.get(PARAMETER_LABEL) != PARAMETER_LABEL_VALUE:
            raise ConfigMapValueError(
                f"ConfigMap '{name}' needs to have the label {PARAMETER_LABEL}: {PARAMETER_LABEL_VALUE} to load "
                "parameters; add that label to the ConfigMap"
            )
        data = cm.get("data") or {}
        if key in data:
            return to_str(data[key])
        missing = f"ConfigMap '{name}' does not have the key '{key}'; add it or fix configMapKeyRef.key"
    if "default" in value_from and value_from["default"] is not None:
        return to_str(value_from["default"])
    if ref.get("optional") is True:
        return ""
    raise ConfigMapValueError(missing)


def _substituted(text: str, scope: Mapping[str, str | None]) -> str:
    if "{{" not in text:
        return text
    try:
        return templating.substitute_string(text, scope, strict=False)
    except templating.TemplatingError:
        return text
