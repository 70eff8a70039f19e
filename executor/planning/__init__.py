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
from executor.planning.engine import Expand, run_pass
from executor.status import format_time


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
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        # A manifest shaped in a way the planner did not expect (e.g. a string where a list belongs) ends the
        # workflow with the reason instead of crashing the shell's loop on every pass.
        message = f"invalid workflow: {type(exc).__name__}: {exc}"
        status = dict(workflow.get("status") or {})
        if status.get("phase") in ("Succeeded", "Failed", "Error"):
            return []
        status.update(phase="Error", message=message, finishedAt=format_time(now))
        status.setdefault("startedAt", format_time(now))
        return [UpdateStatus(status), RecordEvent("WorkflowFailed", message, "Warning")]


__all__ = ["plan"]
