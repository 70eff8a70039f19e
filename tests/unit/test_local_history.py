"""The SQLite run history: its API, and several processes writing at once without corrupting it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from executor.local.history import History

ROOT = Path(__file__).resolve().parents[2]


def wf(name: str, phase: str = "Running", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": f"uid-{name}"}, "status": {"phase": phase, **status}}


def test_a_run_is_recorded_updated_listed_and_deleted(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db")
    h.start_run(wf("one"), pid=123, run_dir="/runs/one", created=1.0)
    h.start_run(wf("two"), pid=124, run_dir="/runs/two", created=2.0)
    h.update_run(wf("one", "Failed", message="Error (exit code 1)"), finished=True)
    h.record_logs("one", [("one-1", "one.a", "main", "/runs/one/a/main.log")])
    h.record_artifact("one", node_id="one-1", name="out", location={"s3": {"key": "one/a/out.tgz"}})
    one = h.get_run("one")
    assert one is not None
    assert (one.phase, one.message, one.pid, one.run_dir) == ("Failed", "Error (exit code 1)", 123, "/runs/one")
    assert one.finished is not None
    assert [r.name for r in h.list_runs()] == ["two", "one"]
    assert [(r.node_id, r.container, r.path) for r in h.logs("one")] == [("one-1", "main", "/runs/one/a/main.log")]
    assert h.artifacts("one") == [("one-1", "out", {"s3": {"key": "one/a/out.tgz"}})]
    assert h.delete_run("one")
    assert h.get_run("one") is None and h.logs("one") == [] and h.artifacts("one") == []
    assert not h.delete_run("one")


def test_requests_are_handed_out_once_in_order(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db")
    h.add_request("run", "resume", {"answer": "yes"})
    h.add_request("run", "stop")
    h.add_request("other", "stop")
    taken = h.take_requests("run")
    assert [(r.kind, dict(r.payload)) for r in taken] == [("resume", {"answer": "yes"}), ("stop", {})]
    assert h.take_requests("run") == []
    assert [r.kind for r in h.take_requests("other")] == ["stop"]


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from executor.local.history import History
    h = History(Path(sys.argv[1]))
    me = sys.argv[2]
    for i in range(40):
        name = f"{me}-{i}"
        h.start_run({"metadata": {"name": name, "uid": name}, "status": {"phase": "Running"}}, pid=1, run_dir="")
        h.record_logs(name, [(name, name, "main", "/dev/null"), (name, name, "wait", "/dev/null")])
        h.update_run({"metadata": {"name": name}, "status": {"phase": "Succeeded"}}, finished=True)
        h.list_runs()
    """
)


def test_parallel_processes_writing_the_same_history_do_not_corrupt_it(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    History(db)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"w{i}"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
    h = History(db)
    runs = h.list_runs()
    assert len(runs) == 160
    assert {r.phase for r in runs} == {"Succeeded"}
    assert sum(len(h.logs(r.name)) for r in runs) == 320
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
