"""A de-duplicating, delaying work queue, as client-go's workqueue.

- a key queued twice before a worker takes it is processed once;
- a key being processed is never handed to a second worker; if it is queued meanwhile, it is processed again
  after the current pass ends (so no event is lost);
- `add_after(key, when)` schedules a key (timers: suspend durations, retry backoff, deadlines, requeue on
  transient errors); the earliest time wins.
Workers block on a condition variable; nothing polls.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.cond = threading.Condition()
        self.ready: list[K] = []
        self.queued: set[K] = set()
        self.active: set[K] = set()
        self.dirty: set[K] = set()
        self.timers: list[tuple[float, int, K]] = []
        self.seq = 0
        self.closed = False

    def __len__(self) -> int:
        with self.cond:
            return len(self.ready) + len(self.timers)

    def add(self, key: K) -> None:
        with self.cond:
            if key in self.active:
                self.dirty.add(key)
            elif key not in self.queued:
                self.queued.add(key)
                self.ready.append(key)
                self.cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self.cond:
            self.seq += 1
            heapq.heappush(self.timers, (self.clock() + delay, self.seq, key))
            self.cond.notify()

    def get(self) -> K | None:
        """Block until a key is ready (or the queue is closed: None)."""
        with self.cond:
            while True:
                if self.closed:
                    return None
                self._promote_due()
                if self.ready:
                    key = self.ready.pop(0)
                    self.queued.discard(key)
                    self.active.add(key)
                    return key
                timeout = self.timers[0][0] - self.clock() if self.timers else None
                self.cond.wait(timeout)

    def done(self, key: K) -> None:
        with self.cond:
            self.active.discard(key)
            if key in self.dirty:
                self.dirty.discard(key)
                if key not in self.queued:
                    self.queued.add(key)
                    self.ready.append(key)
                    self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _promote_due(self) -> None:
        now = self.clock()
        while self.timers and self.timers[0][0] <= now:
            _, _, key = heapq.heappop(self.timers)
            if key in self.active:
                self.dirty.add(key)
            elif key not in self.queued:
                self.queued.add(key)
                self.ready.append(key)
