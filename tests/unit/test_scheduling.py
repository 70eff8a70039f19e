"""CronWorkflow decisions (executor.scheduling): table tests over a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from executor.scheduling import child_workflow, decide, latest_scheduled, next_scheduled

NOW = datetime(2026, 11, 28, 18, 5, 7, tzinfo=UTC)


def cron(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"workflowSpec": {"entrypoint": "main", "templates": [{"name": "main"}]}}
    base.update(spec)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "hello", "namespace": "ns", "uid": "u-1", "creationTimestamp": "2026-11-28T17:00:00Z"},
        "spec": base,
        "status": {},
    }


def child(name: str, phase: str, created: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": name, "creationTimestamp": created},
        "status": {"phase": phase},
    }


def test_a_due_schedule_starts_one_child_named_after_the_scheduled_unix_time() -> None:
    decision = decide(cron(schedules=["*/5 * * * *"]), [], NOW)
    assert decision.create is not None
    scheduled = datetime(2026, 11, 28, 18, 5, tzinfo=UTC)
    assert decision.scheduled_time == scheduled
    assert decision.create["metadata"]["name"] == f"hello-{int(scheduled.timestamp())}"
    assert decision.create["metadata"]["labels"] == {"workflows.argoproj.io/cron-workflow": "hello"}
    assert decision.create["metadata"]["annotations"] == {
        "workflows.argoproj.io/scheduled-time": "2026-11-28T18:05:00Z"
    }
    assert decision.create["metadata"]["ownerReferences"][0]["kind"] == "CronWorkflow"
    assert decision.status["lastScheduledTime"] == "2026-11-28T18:05:00Z"
    assert decision.next_time == datetime(2026, 11, 28, 18, 10, tzinfo=UTC)


def test_the_deprecated_singular_schedule_is_honoured() -> None:
    decision = decide(cron(schedule="*/5 * * * *"), [], NOW)
    assert decision.create is not None


def test_a_schedule_already_recorded_does_not_fire_twice() -> None:
    c = cron(schedules=["*/5 * * * *"])
    c["status"]["lastScheduledTime"] = "2026-11-28T18:05:00Z"
    decision = decide(c, [], NOW)
    assert decision.create is None
    assert decision.skipped_reason == ""


def test_a_run_missed_while_the_controller_was_down_is_skipped_without_a_starting_deadline() -> None:
    late = datetime(2026, 11, 28, 18, 9, 0, tzinfo=UTC)
    decision = decide(cron(schedules=["*/5 * * * *"]), [], late)
    assert decision.create is None
    assert decision.skipped_reason == "missed the run scheduled at 2026-11-28T18:05:00Z: it is more than 60s late"


def test_runs_missed_within_the_starting_deadline_start_once_for_the_latest_time() -> None:
    c = cron(schedules=["* * * * *"], startingDeadlineSeconds=600)
    c["status"]["lastScheduledTime"] = "2026-11-28T18:00:00Z"
    decision = decide(c, [], NOW)
    assert decision.create is not None
    assert decision.scheduled_time == datetime(2026, 11, 28, 18, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("policy", "creates", "stops", "reason"),
    [
        pytest.param("Allow", True, (), "", id="allow"),
        pytest.param(
            "Forbid",
            False,
            (),
            "skipped the run scheduled at 2026-11-28T18:05:00Z: concurrencyPolicy is Forbid and 1 still run",
            id="forbid",
        ),
        pytest.param("Replace", True, ("hello-1",), "", id="replace"),
    ],
)
def test_concurrency_policy_decides_what_happens_to_a_running_child(
    policy: str, creates: bool, stops: tuple[str, ...], reason: str
) -> None:
    running = child("hello-1", "Running", "2026-11-28T18:00:00Z")
    decision = decide(cron(schedules=["*/5 * * * *"], concurrencyPolicy=policy), [running], NOW)
    assert (decision.create is not None) is creates
    assert decision.stop == stops
    assert decision.skipped_reason == reason
    assert [a["name"] for a in decision.status["active"]] == ["hello-1"]


def test_a_suspended_cron_workflow_schedules_nothing() -> None:
    decision = decide(cron(schedules=["*/5 * * * *"], suspend=True), [], NOW)
    assert decision.create is None
    assert decision.next_time is None
    assert decision.status["phase"] == "Stopped"


def test_history_limits_delete_the_oldest_finished_children() -> None:
    children = [child(f"ok-{i}", "Succeeded", f"2026-11-28T1{i}:00:00Z") for i in range(5)]
    children += [child(f"bad-{i}", "Failed", f"2026-11-28T1{i}:30:00Z") for i in range(3)]
    decision = decide(cron(schedules=["0 0 1 1 *"], successfulJobsHistoryLimit=2), children, NOW)
    assert decision.delete == ("ok-0", "ok-1", "ok-2", "bad-0", "bad-1")
    assert (decision.status["succeeded"], decision.status["failed"]) == (5, 3)


def test_schedules_are_evaluated_in_the_cron_workflows_timezone() -> None:
    spec = {"schedules": ["0 9 * * *"], "timezone": "America/New_York"}
    assert next_scheduled(spec, NOW) == datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
    assert latest_scheduled(spec, NOW) == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def test_the_earliest_of_several_schedules_is_next() -> None:
    spec = {"schedules": ["0 * * * *", "30 18 * * *"]}
    assert next_scheduled(spec, NOW) == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)


def test_child_carries_workflow_metadata_from_the_cron_workflow() -> None:
    c = cron(schedules=["* * * * *"], workflowMetadata={"labels": {"team": "a"}, "annotations": {"x": "y"}})
    made = child_workflow(c, datetime(2026, 11, 28, 18, 5, tzinfo=UTC))
    assert made["metadata"]["labels"] == {"team": "a", "workflows.argoproj.io/cron-workflow": "hello"}
    assert made["metadata"]["annotations"]["x"] == "y"
    assert made["spec"] == c["spec"]["workflowSpec"]


def test_every_descriptors_tick_on_epoch_multiples_so_restarts_agree() -> None:
    spec = {"schedules": ["@every 1h30m"]}
    assert latest_scheduled(spec, NOW) == datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert next_scheduled(spec, NOW) == datetime(2026, 11, 28, 19, 30, tzinfo=UTC)
    decision = decide(cron(schedules=["@every 2s"]), [], NOW)
    assert decision.scheduled_time == datetime(2026, 11, 28, 18, 5, 6, tzinfo=UTC)
    assert decision.next_time == datetime(2026, 11, 28, 18, 5, 8, tzinfo=UTC)


def test_a_cron_tz_prefix_sets_the_zone_of_that_schedule() -> None:
    spec = {"schedules": ["CRON_TZ=America/New_York 0 9 * * *"], "timezone": "Asia/Tokyo"}
    assert next_scheduled(spec, NOW) == datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


def test_an_unreadable_schedule_schedules_nothing_instead_of_crashing() -> None:
    decision = decide(cron(schedules=["not a schedule"]), [], NOW)
    assert (decision.create, decision.next_time) == (None, None)
