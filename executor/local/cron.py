"""`trellis cron FILE`: a CronWorkflow's schedule in the foreground, on this machine.

The decisions are executor.scheduling.decide's (pure, shared with the cluster controller): which run is due,
concurrencyPolicy (Allow / Forbid / Replace), suspend, startingDeadlineSeconds, history limits, child names
`<cron>-<unix seconds>`. This shell only keeps the children (each a local run in its own thread), sleeps until
the next scheduled time or a child's end, and applies the decision: start, stop (Replace), forget (history limits).

Time comes from an injectable `Clock` (tests drive it); waiting is `Clock.wait(until, wake)`, which a fake clock
answers at once by jumping to `until`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from executor.scheduling import FINISHED, decide

# Wake this long after a scheduled time: at the exact instant croniter's "previous time" is still the one before.
SETTLE = timedelta(milliseconds=1)

StartRun = Callable[[Mapping[str, Any], threading.Event], Mapping[str, Any]]
"""Runs one child Workflow to its end and returns the final object; stops it when the Event is set."""


class Clock(Protocol):
    def now(self) -> datetime: ...

    def wait(self, until: datetime | None, wake: threading.Event) -> None:
        """Return at `until` (never when None), or earlier when `wake` is set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, until: datetime | None, wake: threading.Event) -> None:
        timeout = None if until is None else max(0.0, (until - self.now()).total_seconds())
        wake.wait(timeout)


@dataclass
class _Child:
    workflow: dict[str, Any]
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class CronRunner:
    """Keeps one CronWorkflow's schedule until `max_runs` children started (None: forever) or `stop()`."""

    def __init__(
        self,
        cron: Mapping[str, Any],
        *,
        start_run: StartRun,
        clock: Clock,
        on_message: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.cron: dict[str, Any] = copy.deepcopy(dict(cron))
        self.cron.setdefault("metadata", {}).setdefault("creationTimestamp", _stamp(clock.now()))
        self.start_run = start_run
        self.clock = clock
        self.on_message = on_message
        self.children: dict[str, _Child] = {}
        self.finished: list[Mapping[str, Any]] = []  # every child that ended, in order
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def run(self, *, max_runs: int | None = None) -> list[Mapping[str, Any]]:
        started = 0
        try:
            while not self._stopped.is_set():
                self._wake.clear()
                decision = decide(self.cron, self._children_objects(), self.clock.now())
                self.cron["status"] = dict(decision.status)
                for name in decision.stop:
                    self._stop_child(name, "Replace")
                with self._lock:
                    for name in decision.delete:
                        self.children.pop(name, None)
                if decision.skipped_reason:
                    self.on_message(decision.skipped_reason)
                if decision.create is not None and (max_runs is None or started < max_runs):
                    self._start(decision.create)
                    started += 1
                    continue
                if max_runs is not None and started >= max_runs:
                    self._join_all()
                    break
                if decision.next_time is None and not self._active():
                    self.on_message("nothing scheduled (suspended or no schedule): stopping")
                    break
                self.clock.wait(decision.next_time + SETTLE if decision.next_time else None, self._wake)
        finally:
            for name in list(self.children):
                self._stop_child(name, "")
            self._join_all()
        return list(self.finished)

    def _children_objects(self) -> list[Mapping[str, Any]]:
        with self._lock:
            return [c.workflow for c in self.children.values()]

    def _active(self) -> bool:
        with self._lock:
            return any((c.workflow.get("status") or {}).get("phase") not in FINISHED for c in self.children.values())

    def _start(self, workflow: Mapping[str, Any]) -> None:
        child = _Child(copy.deepcopy(dict(workflow)))
        child.workflow.setdefault("metadata", {})["creationTimestamp"] = _stamp(self.clock.now())
        child.workflow["status"] = {"phase": "Running"}
        name = child.workflow["metadata"]["name"]
        self.on_message(f"starting {name}")

        def body() -> None:
            final = dict(self.start_run(child.workflow, child.stop))
            final.setdefault("metadata", {})["creationTimestamp"] = child.workflow["metadata"]["creationTimestamp"]
            with self._lock:
                child.workflow = final
                self.finished.append(final)
            self.on_message(f"{name} {(final.get('status') or {}).get('phase', '')}".rstrip())
            self._wake.set()

        child.thread = threading.Thread(target=body, name=f"cron-{name}", daemon=True)
        with self._lock:
            self.children[name] = child
        child.thread.start()

    def _stop_child(self, name: str, why: str) -> None:
        with self._lock:
            child = self.children.get(name)
        if child is not None and not child.stop.is_set():
            if why:
                self.on_message(f"stopping {name} (concurrencyPolicy {why})")
            child.stop.set()

    def _join_all(self) -> None:
        with self._lock:
            threads = [c.thread for c in self.children.values() if c.thread is not None]
        for t in threads:
            t.join()


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
