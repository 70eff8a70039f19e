"""validate(obj) -> ValidationResult: the strict schema check plus the semantic checks, every error at once. Pure.

The admission webhook (`/validate`) and `trellis lint` both call this function, so a manifest lint accepts is one
the cluster accepts (given the same WorkflowTemplates).

- Schema errors (unknown fields, types, enums) come from webhook.schema.schema_errors.
- Semantic errors (references, cycles, expressions, schedules, what Trellis does not run yet) come from
  webhook.semantics.check_semantics. When the schema already reported a field, semantic errors on the same
  path are dropped: one message per problem.
- Errors are sorted by field path (list indexes numerically), stably: errors on one path keep their order.

UPDATE of a Workflow that has started (`status.phase` set in the old object; Argo's controller owns `status`):
only `metadata` (labels, annotations, finalizers, ...), `status`, `spec.suspend`, `spec.shutdown` and
`spec.activeDeadlineSeconds` may change, as with Argo (`argo suspend/resume/stop/terminate` and deadline edits).
Any other change under `spec` is denied; the spec itself is not re-validated, so a Workflow admitted while the
webhook was absent can still be labelled, stopped or deleted. An UPDATE of any kind that leaves `spec` unchanged
(labels, annotations, finalizers, a controller writing status) is allowed without re-validation. Every other
UPDATE is validated like a CREATE.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from webhook.errors import FieldError, ValidationResult
from webhook.schema import schema_errors
from webhook.semantics import ValidationContext, check_semantics

__all__ = ["MUTABLE_WHEN_STARTED", "ValidationContext", "path_sort_key", "update_errors", "validate"]

MUTABLE_WHEN_STARTED = ("suspend", "shutdown", "activeDeadlineSeconds")

_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def path_sort_key(path: str) -> tuple[tuple[int, int | str], ...]:
    """Order field paths naturally: spec.templates[2] before spec.templates[10]."""
    return tuple((0, int(m.group(1))) if m.group(1) else (1, m.group(2)) for m in _PATH_PART.finditer(path))


def _started_phase(old: Mapping[str, Any] | None) -> str:
    if old is None:
        return ""
    status = old.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return phase if isinstance(phase, str) else ""


def update_errors(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """Changes not allowed on a Workflow that has started (see the module docstring)."""
    phase = _started_phase(old)
    if obj.get("kind") != "Workflow" or not phase:
        return []
    new_spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    old_spec = old.get("spec") if isinstance(old.get("spec"), Mapping) else {}
    assert isinstance(new_spec, Mapping) and isinstance(old_spec, Mapping)
    errors = []
    allowed = ", ".join(f"spec.{k}" for k in MUTABLE_WHEN_STARTED)
    for key in sorted(set(new_spec) | set(old_spec)):
        if key in MUTABLE_WHEN_STARTED or new_spec.get(key) == old_spec.get(key):
            continue
        errors.append(
            FieldError(
                f"spec.{key}",
                f'cannot be changed once the Workflow has started (status.phase is "{phase}"); only {allowed} '
                "can; to solve this, submit a new Workflow with the change",
                "FieldValueForbidden",
            )
        )
    return errors


def validate(
    obj: Mapping[str, Any],
    *,
    context: ValidationContext | None = None,
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
) -> ValidationResult:
    """Every error and warning of one manifest. Pure: the context carries any templates it may consult."""
    if not isinstance(obj, Mapping):
        return ValidationResult(errors=tuple(schema_errors(obj)))
    if operation == "UPDATE" and isinstance(old, Mapping) and old.get("spec") == obj.get("spec"):
        # Only metadata or status changed (labels, finalizers, the controllers' status writes): the spec was
        # admitted before, or predates the webhook; either way this change cannot make it worse.
        return ValidationResult()
    if operation == "UPDATE" and isinstance(old, Mapping) and obj.get("kind") == "Workflow" and _started_phase(old):
        mutable = tuple(f"spec.{k}" for k in MUTABLE_WHEN_STARTED)
        kept = [e for e in schema_errors(obj) if e.path.startswith(mutable)]
        errors = sorted([*update_errors(obj, old), *kept], key=lambda e: path_sort_key(e.path))
        return ValidationResult(errors=tuple(errors))
    schema = schema_errors(obj)
    reported = {e.path for e in schema}
    semantic, warnings = check_semantics(obj, context=context)
    merged = [*schema, *(e for e in semantic if e.path not in reported)]
    merged.sort(key=lambda e: path_sort_key(e.path))
    return ValidationResult(errors=tuple(merged), warnings=tuple(warnings))
