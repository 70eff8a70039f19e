"""The controller's work queue: de-duplication, one worker per key, delayed keys, no lost events."""

from __future__ import annotations

import threading

from executor.cluster.workqueue import WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_added_twice_before_it_is_taken_is_processed_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert [queue.get(), queue.get()] == ["a", "b"]
    assert len(queue) == 0


def test_a_key_added_while_it_is_processed_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert queue.get() == "a"
    queue.add("a")  # an event arrives during the pass
    assert len(queue) == 0  # not handed to a second worker meanwhile
    queue.done("a")
    assert queue.get() == "a"


def test_delayed_keys_become_ready_at_their_time_and_the_earliest_wins() -> None:
    clock = FakeClock()
    queue: WorkQueue[str] = WorkQueue(clock=clock)
    queue.add_after("late", 10)
    queue.add_after("soon", 2)
    clock.now = 2
    assert queue.get() == "soon"
    clock.now = 10
    assert queue.get() == "late"


def test_a_blocked_worker_wakes_when_a_key_arrives_and_close_releases_it() -> None:
    queue: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    first = threading.Event()

    def work() -> None:
        got.append(queue.get())
        first.set()
        got.append(queue.get())

    worker = threading.Thread(target=work)
    worker.start()
    queue.add("x")
    assert first.wait(timeout=5)
    queue.close()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert got == ["x", None]
