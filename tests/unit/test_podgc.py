"""spec.podGC applied to step Jobs (executor.podgc): Argo's strategies, label selectors and delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from executor.podgc import delete_at, selector_matches

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
NODE_END = T0
WF_END = T0 + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("strategy", "node_phase", "workflow_phase", "expected"),
    [
        pytest.param("OnPodCompletion", "Succeeded", "Running", NODE_END, id="pod-completion-succeeded-running-wf"),
        pytest.param("OnPodCompletion", "Failed", "Running", NODE_END, id="pod-completion-failed"),
        pytest.param("OnPodCompletion", "Error", "Failed", NODE_END, id="pod-completion-error-finished-wf"),
        pytest.param("OnPodCompletion", "Running", "Running", None, id="pod-completion-still-running"),
        pytest.param("OnPodCompletion", "Pending", "Running", None, id="pod-completion-pending"),
        pytest.param("OnPodSuccess", "Succeeded", "Running", NODE_END, id="pod-success-succeeded"),
        pytest.param("OnPodSuccess", "Succeeded", "Failed", NODE_END, id="pod-success-in-a-failed-workflow"),
        pytest.param("OnPodSuccess", "Failed", "Failed", None, id="pod-success-keeps-failed-steps"),
        pytest.param("OnWorkflowCompletion", "Succeeded", "Running", None, id="wf-completion-waits-for-the-end"),
        pytest.param("OnWorkflowCompletion", "Failed", "Failed", WF_END, id="wf-completion-failed-wf"),
        pytest.param("OnWorkflowCompletion", "Running", "Failed", WF_END, id="wf-completion-any-job"),
        pytest.param("OnWorkflowSuccess", "Succeeded", "Succeeded", WF_END, id="wf-success"),
        pytest.param("OnWorkflowSuccess", "Succeeded", "Failed", None, id="wf-success-keeps-a-failed-wf"),
        pytest.param("", "Succeeded", "Succeeded", None, id="no-strategy-keeps-everything"),
        pytest.param("Sometimes", "Succeeded", "Succeeded", None, id="unknown-strategy-keeps-everything"),
    ],
)
def test_each_strategy_deletes_jobs_when_argo_deletes_pods(
    strategy: str, node_phase: str, workflow_phase: str, expected: datetime | None
) -> None:
    finished = workflow_phase in ("Succeeded", "Failed", "Error")
    due = delete_at(
        {"strategy": strategy},
        delay=timedelta(0),
        labels={},
        node_phase=node_phase,
        node_finished=NODE_END if node_phase in ("Succeeded", "Failed", "Error") else None,
        workflow_phase=workflow_phase,
        workflow_finished=WF_END if finished else None,
    )
    assert due == expected


def test_the_delay_counts_from_the_moment_the_rule_applied() -> None:
    common: dict[str, Any] = {"labels": {}, "node_phase": "Succeeded", "node_finished": NODE_END}
    delay = timedelta(minutes=5)
    pod = delete_at(
        {"strategy": "OnPodSuccess"}, delay=delay, workflow_phase="Running", workflow_finished=None, **common
    )
    workflow = delete_at(
        {"strategy": "OnWorkflowSuccess"}, delay=delay, workflow_phase="Succeeded", workflow_finished=WF_END, **common
    )
    assert (pod, workflow) == (NODE_END + delay, WF_END + delay)


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        pytest.param(None, True, id="absent"),
        pytest.param({}, True, id="empty"),
        pytest.param({"matchLabels": {"gc": "yes"}}, True, id="match-labels"),
        pytest.param({"matchLabels": {"gc": "no"}}, False, id="match-labels-other-value"),
        pytest.param({"matchLabels": {"missing": "x"}}, False, id="match-labels-missing-key"),
        pytest.param({"matchExpressions": [{"key": "gc", "operator": "In", "values": ["yes", "y"]}]}, True, id="in"),
        pytest.param({"matchExpressions": [{"key": "gc", "operator": "In", "values": ["no"]}]}, False, id="not-in-set"),
        pytest.param({"matchExpressions": [{"key": "gc", "operator": "NotIn", "values": ["no"]}]}, True, id="notin"),
        pytest.param(
            {"matchExpressions": [{"key": "gc", "operator": "NotIn", "values": ["yes"]}]}, False, id="notin-hit"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["a"]}]}, True, id="notin-absent"
        ),
        pytest.param({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True, id="exists"),
        pytest.param({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, False, id="exists-absent"),
        pytest.param({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, True, id="does-not-exist"),
        pytest.param({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False, id="does-exist"),
        pytest.param(
            {"matchLabels": {"gc": "yes"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b"]}]},
            False,
            id="all-terms-must-hold",
        ),
    ],
)
def test_label_selectors_follow_kubernetes_semantics(selector: dict[str, Any] | None, matches: bool) -> None:
    assert selector_matches(selector, {"gc": "yes", "tier": "a"}) is matches


def test_a_job_the_label_selector_does_not_match_is_kept_whatever_the_strategy() -> None:
    due = delete_at(
        {"strategy": "OnPodCompletion", "labelSelector": {"matchLabels": {"gc": "yes"}}},
        delay=timedelta(0),
        labels={"gc": "no"},
        node_phase="Succeeded",
        node_finished=NODE_END,
        workflow_phase="Succeeded",
        workflow_finished=WF_END,
    )
    assert due is None
