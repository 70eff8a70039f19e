"""The planner: `plan(workflow, observed, now, context=...) -> list[Action]` (pure).

See executor/planning/engine.py for how a pass walks the template tree, and docs/architecture.md ("Planner and
status") for the status format, resumption and the rules the shells rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from executor import jobspec
from executor.contract import Action, Observed, PlanContext, RecordEvent, UpdateStatus
from executor.planning.core import Expand
from executor.planning.engine import run_pass
from executor.status import format_time
from webhook.validation import validate


def plan(
    workflow: Mapping[str, Any],
    observed: Observed,
    now: datetime,
    *,
    context: PlanContext,
    expand: Expand | None = None,
) -> list[Action]:
    """Decide this pass's actions. Pure and deterministic; never raises for a bad workflow.

    `expand` defaults to executor.jobspec.expand (the shells never pass it); it exists so a test of planning alone
    can see the StepSpec the planner produced.
    """
    try:
        return run_pass(
            workflow,
            observed,
            now,
            context=context,
            expand=expand or jobspec.expand,
            job_name=jobspec.job_name,
        )
    except Exception as exc:
        # A manifest shaped in a way the planner did not expect (e.g. a string where a list belongs, a value too
        # large to substitute) ends the workflow with the reason instead of failing every pass with a traceback.
        message = _invalid_workflow_message(workflow, exc)
        status = dict(workflow.get("status") or {})
        if status.get("phase") in ("Succeeded", "Failed", "Error"):
            return []
        status.update(phase="Error", message=message, finishedAt=format_time(now))
        status.setdefault("startedAt", format_time(now))
        return [UpdateStatus(status), RecordEvent("WorkflowFailed", message, "Warning")]


def _invalid_workflow_message(workflow: Mapping[str, Any], exc: Exception) -> str:
    """What `trellis lint` would say about this manifest (DESIGN decision 2: the reconciler fails an object admitted
    without the webhook with the validation message); the planner's own error when validation finds nothing."""
    try:
        errors = validate(workflow).errors
    except Exception:
        errors = ()
    if errors:
        shown = "; ".join(str(error) for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return f"invalid workflow: {shown}{more}"
    return f"invalid workflow: {type(exc).__name__}: {exc}"


__all__ = ["plan"]
