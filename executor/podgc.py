"""When a workflow's step Jobs are garbage-collected: Argo's `spec.podGC`, applied to the Jobs that replace its pods.

Pure: no I/O, no clock (the caller passes `now`). The cluster reconciler asks on every pass, while the workflow
runs (the OnPod* strategies delete each finished Job as its node finishes) and after it finished.

Argo's rules (workflow/controller pod cleanup), in order:
- a Job whose labels (the Job's and its pod template's) do not match `labelSelector` is kept;
- OnWorkflowCompletion: every Job, once the workflow has finished; OnWorkflowSuccess: once it has Succeeded;
- OnPodCompletion: each Job once its node has finished; OnPodSuccess: once its node has Succeeded
  (failed steps are kept for debugging, whatever the workflow's outcome);
- the deletion waits `deleteDelayDuration` from the moment the rule applied (the node's or the workflow's end).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

FINISHED = frozenset({"Succeeded", "Failed", "Error", "Skipped", "Omitted"})
STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes LabelSelector (matchLabels and matchExpressions: In, NotIn, Exists, DoesNotExist) against a
    label set; an absent or empty selector matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = set(expression.get("values") or [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def delete_at(
    pod_gc: Mapping[str, Any] | None,
    *,
    delay: timedelta,
    labels: Mapping[str, str],
    node_phase: str,
    node_finished: datetime | None,
    workflow_phase: str,
    workflow_finished: datetime | None,
) -> datetime | None:
    """When this step's Job should be deleted under `pod_gc`, or None to keep it (for now or for good).

    `node_phase`/`node_finished` are the Job's node as the workflow status records it; `workflow_finished` is
    None while the workflow runs."""
    strategy = (pod_gc or {}).get("strategy") or ""
    if strategy not in STRATEGIES or not selector_matches((pod_gc or {}).get("labelSelector"), labels):
        return None
    if strategy.startswith("OnWorkflow"):
        if workflow_finished is None or (strategy == "OnWorkflowSuccess" and workflow_phase != "Succeeded"):
            return None
        return workflow_finished + delay
    if node_phase not in FINISHED or (strategy == "OnPodSuccess" and node_phase != "Succeeded"):
        return None
    ended = node_finished or workflow_finished
    return None if ended is None else ended + delay
