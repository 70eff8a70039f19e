"""Defaults for Argo manifests, as an RFC 6902 JSONPatch computed from the raw object.

Pure: no I/O. The patch only ever *adds* a field that is absent (or null, which YAML writes for `key:` and which
Argo reads as "not set"): nothing the user set is overwritten, and fields this module does not know survive
because the patch never rewrites a parent object. The mutating webhook returns `default_patch(obj)`;
`trellis lint --show-defaults` prints `apply_defaults(obj)`.

Only defaults that make explicit what Argo itself does when the field is absent, so a manifest means the same
on Trellis and on Argo, and the user sees the effective value (`kubectl get -o yaml`):

- CronWorkflow `spec.concurrencyPolicy: Allow`: Argo's cron controller runs concurrently when it is empty
  (workflow/cron/operator.go).
- CronWorkflow `spec.successfulJobsHistoryLimit: 3` and `spec.failedJobsHistoryLimit: 1`: the numbers of
  finished Workflows Argo's cron controller keeps when they are unset.
- `retryStrategy.retryPolicy` (workflow level and each template): `OnFailure`, or `Always` when `expression`
  is set, as Argo's RetryStrategy.RetryPolicyActual() decides.

Deliberately *not* defaulted, and why:
- CronWorkflow `timezone` (absent = the controller's local zone: no value says that), `startingDeadlineSeconds`
  (absent = no deadline), `suspend` (absent = false, adding it is noise in GitOps diffs).
- A template's container `name` (Argo names the pod's container `main` without writing it into the spec),
  `serviceAccountName` (absent means the namespace's default account, which the cluster resolves), DAG
  `failFast` (absent = true), artifact `archive` (absent = tar+gzip): the engine applies these at run time,
  and writing them would show up as drift in Argo CD for every manifest.
- Anything on a Workflow that has started (`status.phase` set, e.g. an UPDATE that only adds a label to a
  Workflow created while the webhook was down): its spec may no longer change, so a default would get the
  update denied.
- `retryPolicy` inside `templateDefaults`, and in any template when `templateDefaults` sets a retryStrategy:
  Argo merges `templateDefaults` into each template, so a value written into one would override the other.
  For the same reason templates of WorkflowTemplate/ClusterWorkflowTemplate are left alone: the Workflow that
  references them may bring its own `templateDefaults`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import jsonpatch

# Inline templates nest through dag.tasks[i].inline / steps[i][j].inline; deeper than this is a hostile document
# (validation refuses it), and the walk stops instead of recursing without bound.
_MAX_POINTER_DEPTH = 200

CRON_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("concurrencyPolicy", "Allow"),
    ("successfulJobsHistoryLimit", 3),
    ("failedJobsHistoryLimit", 1),
)


def escape_pointer_token(token: str | int) -> str:
    """One JSON-pointer reference token (RFC 6901): `~` -> `~0`, then `/` -> `~1`."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """A JSON pointer from unescaped tokens: pointer("metadata", "labels", "app/x") == "/metadata/labels/app~1x"."""
    return "".join("/" + escape_pointer_token(t) for t in tokens)


def default_patch(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSONPatch ops (all `add`) that fill in Argo's defaults on one manifest; [] when nothing is missing.

    Works on any input: parts with the wrong shape are skipped (validation reports them), never an exception.
    """
    if not isinstance(obj, Mapping):
        return []
    kind = obj.get("kind")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return []
    ops: list[dict[str, Any]] = []
    if kind == "CronWorkflow":
        for field, value in CRON_DEFAULTS:
            if spec.get(field) is None:
                ops.append({"op": "add", "path": pointer("spec", field), "value": value})
        workflow_spec = spec.get("workflowSpec")
        if isinstance(workflow_spec, Mapping):
            ops.extend(_workflow_spec_ops(workflow_spec, ("spec", "workflowSpec"), default_templates=True))
    elif kind == "Workflow" and not _started(obj):
        ops.extend(_workflow_spec_ops(spec, ("spec",), default_templates=True))
    elif kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
        ops.extend(_workflow_spec_ops(spec, ("spec",), default_templates=False))
    return ops


def apply_defaults(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `obj` with `default_patch(obj)` applied (the object the API server would store)."""
    document: dict[str, Any] = copy.deepcopy(dict(obj))
    ops = default_patch(document)
    if not ops:
        return document
    patched: dict[str, Any] = jsonpatch.apply_patch(document, ops)
    return patched


def _started(obj: Mapping[str, Any]) -> bool:
    """A Workflow with a `status.phase` has started: its spec is frozen (webhook.validation denies changes)."""
    status = obj.get("status")
    return isinstance(status, Mapping) and bool(status.get("phase"))


def _workflow_spec_ops(
    spec: Mapping[str, Any], at: tuple[str | int, ...], *, default_templates: bool
) -> Iterator[dict[str, Any]]:
    yield from _retry_policy_ops(spec.get("retryStrategy"), (*at, "retryStrategy"))
    if not default_templates or _template_defaults_retry(spec):
        return
    templates = spec.get("templates")
    if isinstance(templates, list):
        for index, template in enumerate(templates):
            yield from _template_ops(template, (*at, "templates", index))


def _template_defaults_retry(spec: Mapping[str, Any]) -> bool:
    defaults = spec.get("templateDefaults")
    return isinstance(defaults, Mapping) and defaults.get("retryStrategy") is not None


def _template_ops(template: Any, at: tuple[str | int, ...]) -> Iterator[dict[str, Any]]:
    """Defaults of one template and of the `inline` templates of its DAG tasks and steps."""
    if not isinstance(template, Mapping) or len(at) > _MAX_POINTER_DEPTH:
        return
    yield from _retry_policy_ops(template.get("retryStrategy"), (*at, "retryStrategy"))
    dag = template.get("dag")
    if isinstance(dag, Mapping) and isinstance(dag.get("tasks"), list):
        for index, task in enumerate(dag["tasks"]):
            if isinstance(task, Mapping):
                yield from _template_ops(task.get("inline"), (*at, "dag", "tasks", index, "inline"))
    steps = template.get("steps")
    if isinstance(steps, list):
        for group_index, group in enumerate(steps):
            if not isinstance(group, list):
                continue
            for index, step in enumerate(group):
                if isinstance(step, Mapping):
                    yield from _template_ops(step.get("inline"), (*at, "steps", group_index, index, "inline"))


def _retry_policy_ops(strategy: Any, at: tuple[str | int, ...]) -> Iterator[dict[str, Any]]:
    # Argo's RetryStrategy.RetryPolicyActual(): an explicit policy wins; with an `expression` the expression
    # alone decides (Always); otherwise OnFailure.
    if not isinstance(strategy, Mapping) or strategy.get("retryPolicy") is not None:
        return
    policy = "Always" if strategy.get("expression") else "OnFailure"
    yield {"op": "add", "path": pointer(*at, "retryPolicy"), "value": policy}
