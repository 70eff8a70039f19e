"""`trellis cron`'s scheduler shell (executor.local.cron) with a clock the test drives.

The runs themselves are the test's own function (the CronRunner's `start_run` seam); what is under test is when
runs start, their names, and concurrencyPolicy/suspend/history handling as executor.scheduling decides them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from executor.local.cron import CronRunner

START = datetime(2026, 1, 5, 8, 0, 30, tzinfo=UTC)


class FakeClock:
    """Time stands still until the scheduler waits; then it jumps to the time it waits for."""

    def __init__(self, start: datetime, settle: Callable[[], None] = lambda: None) -> None:
        self.t = start
        self.waits: list[datetime | None] = []
        self.settle = settle  # called before time jumps (e.g. let finished children be seen first)

    def now(self) -> datetime:
        return self.t

    def wait(self, until: datetime | None, wake: threading.Event) -> None:
        self.waits.append(until)
        if wake.is_set():
            return
        if until is None:
            assert wake.wait(30), "the scheduler waited forever"
            return
        self.settle()
        self.t = max(self.t, until)


def cron(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly", "namespace": "default", "creationTimestamp": "2026-01-05T08:00:00Z"},
        "spec": {"schedules": ["* * * * *"], "workflowSpec": {"entrypoint": "main"}, **spec},
    }


def finished(phase: str) -> Any:
    def start_run(child: Mapping[str, Any], stop: threading.Event) -> Mapping[str, Any]:
        return {**child, "status": {"phase": phase}}

    return start_run


def test_runs_start_at_each_scheduled_minute_named_after_the_unix_time() -> None:
    clock = FakeClock(START)
    runs = CronRunner(cron(), start_run=finished("Succeeded"), clock=clock).run(max_runs=3)
    names = sorted(r["metadata"]["name"] for r in runs)
    expected = [START.replace(second=0) + timedelta(minutes=i) for i in (1, 2, 3)]
    assert names == [f"nightly-{int(t.timestamp())}" for t in expected]
    assert [r["metadata"]["labels"]["workflows.argoproj.io/cron-workflow"] for r in runs] == ["nightly"] * 3


def test_schedules_follow_the_timezone() -> None:
    clock = FakeClock(START)
    spec = cron(schedules=["0 9 * * *"], timezone="Europe/Paris")
    (run,) = CronRunner(spec, start_run=finished("Succeeded"), clock=clock).run(max_runs=1)
    assert run["metadata"]["name"] == f"nightly-{int(datetime(2026, 1, 6, 8, 0, tzinfo=UTC).timestamp())}"


def test_forbid_skips_a_run_while_the_previous_one_is_still_running() -> None:
    clock = FakeClock(START)
    release = threading.Event()
    messages: list[str] = []

    def slow(child: Mapping[str, Any], stop: threading.Event) -> Mapping[str, Any]:
        if child["metadata"]["name"].endswith(str(int(START.replace(second=0).timestamp()) + 60)):
            assert release.wait(30)
        return {**child, "status": {"phase": "Succeeded"}}

    def on_message(text: str) -> None:
        messages.append(text)
        if "concurrencyPolicy is Forbid" in text:
            release.set()

    runner = CronRunner(cron(concurrencyPolicy="Forbid"), start_run=slow, clock=clock, on_message=on_message)
    runs = sorted(runner.run(max_runs=2), key=lambda r: str(r["metadata"]["name"]))
    skipped = next(m for m in messages if "Forbid" in m)
    second_due = START.replace(second=0) + timedelta(minutes=2)
    assert skipped == (
        f"skipped the run scheduled at {second_due.strftime('%Y-%m-%dT%H:%M:%SZ')}: concurrencyPolicy is Forbid"
        " and 1 still run"
    )
    assert len(runs) == 2
    assert runs[1]["metadata"]["name"] != f"nightly-{int(second_due.timestamp())}"


def test_replace_stops_the_running_child_before_starting_the_next() -> None:
    clock = FakeClock(START)
    stopped: list[str] = []

    def until_stopped(child: Mapping[str, Any], stop: threading.Event) -> Mapping[str, Any]:
        name = child["metadata"]["name"]
        if name.endswith(str(int(START.replace(second=0).timestamp()) + 60)):
            assert stop.wait(30)
            stopped.append(name)
            return {**child, "status": {"phase": "Failed", "message": "Stopped with strategy 'Stop'"}}
        return {**child, "status": {"phase": "Succeeded"}}

    finished = CronRunner(cron(concurrencyPolicy="Replace"), start_run=until_stopped, clock=clock).run(max_runs=2)
    runs = sorted(finished, key=lambda r: str(r["metadata"]["name"]))  # in schedule order (they end in any order)
    assert stopped == [runs[0]["metadata"]["name"]]
    assert [r["status"]["phase"] for r in runs] == ["Failed", "Succeeded"]


def test_a_suspended_cron_workflow_starts_nothing() -> None:
    messages: list[str] = []
    runner = CronRunner(
        cron(suspend=True), start_run=finished("Succeeded"), clock=FakeClock(START), on_message=messages.append
    )
    assert runner.run(max_runs=1) == []
    assert messages == ["nothing scheduled (suspended or no schedule): stopping"]


@pytest.mark.parametrize(
    ("phase", "limit_field", "limit", "kept"),
    [
        pytest.param("Succeeded", "successfulJobsHistoryLimit", 1, 1, id="successful-limit"),
        pytest.param("Failed", "failedJobsHistoryLimit", 2, 2, id="failed-limit"),
    ],
)
def test_history_limits_forget_the_oldest_finished_children(
    phase: str, limit_field: str, limit: int, kept: int
) -> None:
    started: list[str] = []
    ended = threading.Semaphore(0)

    def quick(child: Mapping[str, Any], stop: threading.Event) -> Mapping[str, Any]:
        ended.release()
        return {**child, "status": {"phase": phase}}

    def settle() -> None:  # every started child has ended before the clock moves on
        for _ in started:
            assert ended.acquire(timeout=30)
        started.clear()

    runner = CronRunner(
        cron(**{limit_field: limit}),
        start_run=quick,
        clock=FakeClock(START, settle),
        on_message=lambda m: started.append(m) if m.startswith("starting ") else None,
    )
    runs = runner.run(max_runs=4)
    names = sorted(r["metadata"]["name"] for r in runs)
    assert len(names) == 4
    # The last decision saw the newest run running or already finished: either way only it and the `kept`
    # newest finished runs remain, and the oldest are forgotten.
    assert names[-1] in runner.children
    assert set(runner.children) <= set(names[-(kept + 1) :])
    assert set(names[: -(kept + 1)]).isdisjoint(runner.children)
