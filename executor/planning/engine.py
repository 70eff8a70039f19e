"""One planning pass: the Workflow (spec + status) and observed Jobs in, actions out (pure).

The pass walks the template tree from the entrypoint exactly as Argo's operator does (`executeTemplate`):
every node that is not yet fulfilled is visited, fulfilled nodes are read back from `status.nodes`, new nodes are
created as their turn comes. The planner's only memory between passes is `status`, so a restarted controller
resumes from status + observed Jobs: level-based and idempotent.

Invariants:
- No I/O, no clock: `now` is an argument; timers are returned as `RequeueAt`.
- Each leaf attempt (container/script template) is one Pod node and one Job, created by `CreateJob` at most once
  per pass; a Pending node without an observed Job gets its (deterministic, idempotent) `CreateJob` again.
- Work per pass is linear in nodes + edges: children are linked once, when a node is created; DAG order, target
  ancestry and branch phases are computed once per DAG per pass; scopes are shared, never copied per task.
- Invalid workflows never raise: the node (or the workflow) ends Error/Failed with the reason as its message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from executor.contract import Action, Observed, PlanContext
from executor.planning.core import Expand, Opts, PassCore, TemplateScope
from executor.planning.dag import DagMixin
from executor.planning.helpers import PlanError
from executor.planning.retry import RetryMixin
from executor.planning.steps import StepsMixin
from executor.status import fnv32a


class _Pass(StepsMixin, DagMixin, RetryMixin, PassCore):
    """One pass: the core plus the steps, DAG and retry behaviour."""


def _default_job_name(workflow_name: str, node_name: str) -> str:
    """Used only when executor.jobspec is absent (planner-only tests): `<workflow>-<fnv32a(node name)>`."""
    return f"{workflow_name[:50].rstrip('-.')}-{fnv32a(node_name)}"


def run_pass(
    workflow: Mapping[str, Any],
    observed: Observed,
    now: datetime,
    *,
    context: PlanContext,
    expand: Expand,
    job_name: Callable[[str, str], str] | None = None,
) -> list[Action]:
    state = _Pass(workflow, observed, now, context, expand, job_name or _default_job_name)
    return state.run()


__all__ = ["Opts", "PlanError", "TemplateScope", "run_pass"]
