"""Level-based and idempotent at every pass, not just at the start: for several workflows, before each pass the
planner is asked twice (same answer), and after the pass's actions are applied, asking again with the same
observations creates no Job the shell already has and no second status change."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from executor.contract import CreateJob, UpdateStatus
from executor.planning import plan
from tests.unit.test_planning import DIAMOND, STEPS
from tests.unit.test_planning_control import COINFLIP, EXIT, GEN, RETRY, WHALE
from tests.unit.test_planning_support import Cluster, Outcome, load


def outcome(node_name: str) -> Outcome:
    if node_name.endswith("generate"):
        return Outcome(result="[1, 2]")
    if node_name.endswith("flip"):
        return Outcome(result="heads")
    if node_name.endswith("(0)"):
        return Outcome(exit_code=1)
    if "fan(" in node_name:
        return Outcome(parameters={"sq": "1"})
    return Outcome()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(DIAMOND, id="diamond-dag"),
        pytest.param(STEPS, id="steps"),
        pytest.param(GEN + WHALE, id="with-param"),
        pytest.param(COINFLIP + WHALE, id="when"),
        pytest.param(RETRY, id="retry"),
        pytest.param(EXIT, id="exit-handler"),
    ],
)
def test_every_pass_is_deterministic_and_replanning_after_it_changes_nothing(text: str) -> None:
    cluster = Cluster(load(text), script=outcome)
    for _ in range(100):
        first = cluster.plan()
        assert first == cluster.plan()
        cluster.apply(first)
        again = plan(copy.deepcopy(cluster.workflow), dict(cluster.jobs), cluster.now, context=cluster.context)
        assert not any(isinstance(a, UpdateStatus) for a in again), "a second pass over the same world changed status"
        assert all(a.node_id in cluster.jobs for a in again if isinstance(a, CreateJob))
        if cluster.status.get("phase") in ("Succeeded", "Failed", "Error"):
            break
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    assert cluster.status["phase"] in ("Succeeded", "Failed")
    assert len(cluster.created) == len(set(cluster.created))


def test_a_pass_later_with_nothing_new_writes_no_status() -> None:
    cluster = Cluster(load(DIAMOND), script=lambda n: Outcome(seconds=100))
    for _ in range(3):
        cluster.step()
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    cluster.step()
    cluster.now += timedelta(seconds=30)
    later = cluster.plan()
    assert [type(a).__name__ for a in later] == []
