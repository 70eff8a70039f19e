"""Run history of `trellis run`: one SQLite database in the user's data dir.

Tables: `runs` (one row per Workflow run: name, uid, phase, the whole Workflow object with its status as JSON,
times, the runner's pid), `logs` (per node and container: the log file's path), `artifacts` (per node: output
artifacts and where they were stored) and `requests` (`trellis resume`/`stop` from another terminal, consumed by the
runner).

Concurrency: WAL journal and a busy timeout, so several `trellis run` processes and a `trellis list` can use the
database at once; each call opens its own short transaction. Connections are per thread (sqlite3 objects are not
shared between threads).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 30_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    namespace TEXT NOT NULL DEFAULT 'default',
    phase TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    workflow TEXT NOT NULL,
    created REAL NOT NULL,
    finished REAL,
    pid INTEGER,
    run_dir TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS logs (
    run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    node_name TEXT NOT NULL,
    container TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (run, node_id, container)
);
CREATE TABLE IF NOT EXISTS artifacts (
    run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    PRIMARY KEY (run, node_id, name)
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    consumed REAL
);
"""


@dataclass(frozen=True)
class RunRecord:
    name: str
    uid: str
    namespace: str
    phase: str
    message: str
    workflow: Mapping[str, Any]
    created: float
    finished: float | None
    pid: int | None
    run_dir: str


@dataclass(frozen=True)
class LogRecord:
    node_id: str
    node_name: str
    container: str
    path: str


@dataclass(frozen=True)
class Request:
    id: int
    run: str
    kind: str  # "resume" | "stop"
    payload: Mapping[str, Any]


class History:
    """The history database at `path` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().executescript(SCHEMA)  # idempotent; executescript manages its own transaction

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- runs ---------------------------------------------------------------------------------------------------

    def name_taken(self, name: str) -> bool:
        return self._conn().execute("SELECT 1 FROM runs WHERE name = ?", (name,)).fetchone() is not None

    def start_run(self, workflow: Mapping[str, Any], *, pid: int, run_dir: str, created: float | None = None) -> None:
        meta = workflow.get("metadata") or {}
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (name, uid, namespace, phase, message, workflow, created, pid, run_dir)"
                " VALUES (?, ?, ?, ?, '', ?, ?, ?, ?)",
                (
                    meta["name"],
                    meta.get("uid", ""),
                    meta.get("namespace", "default"),
                    ((workflow.get("status") or {}).get("phase")) or "Pending",
                    json.dumps(workflow),
                    time.time() if created is None else created,
                    pid,
                    run_dir,
                ),
            )

    def update_run(self, workflow: Mapping[str, Any], *, finished: bool = False) -> None:
        status = workflow.get("status") or {}
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET phase = ?, message = ?, workflow = ?, finished = COALESCE(finished, ?) WHERE name = ?",
                (
                    status.get("phase") or "",
                    status.get("message") or "",
                    json.dumps(workflow),
                    time.time() if finished else None,
                    workflow["metadata"]["name"],
                ),
            )

    def get_run(self, name: str) -> RunRecord | None:
        row = self._conn().execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE name = ?", (name,)).fetchone()
        return _run(row) if row else None

    def list_runs(self) -> list[RunRecord]:
        rows = self._conn().execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created DESC, name").fetchall()
        return [_run(r) for r in rows]

    def delete_run(self, name: str) -> bool:
        with self._tx() as db:
            for table in ("logs", "artifacts"):
                db.execute(f"DELETE FROM {table} WHERE run = ?", (name,))
            db.execute("DELETE FROM requests WHERE run = ?", (name,))
            return db.execute("DELETE FROM runs WHERE name = ?", (name,)).rowcount > 0

    # -- logs and artifacts -------------------------------------------------------------------------------------

    def record_logs(self, run: str, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """(node ID, node name, container, log file path) rows of one Pod."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO logs (run, node_id, node_name, container, path) VALUES (?, ?, ?, ?, ?)",
                [(run, *row) for row in rows],
            )

    def logs(self, run: str) -> list[LogRecord]:
        rows = self._conn().execute(
            "SELECT node_id, node_name, container, path FROM logs WHERE run = ? ORDER BY rowid", (run,)
        )
        return [LogRecord(*r) for r in rows.fetchall()]

    def record_artifact(self, run: str, *, node_id: str, name: str, location: Mapping[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO artifacts (run, node_id, name, location) VALUES (?, ?, ?, ?)",
                (run, node_id, name, json.dumps(location)),
            )

    def artifacts(self, run: str) -> list[tuple[str, str, dict[str, Any]]]:
        rows = self._conn().execute(
            "SELECT node_id, name, location FROM artifacts WHERE run = ? ORDER BY rowid", (run,)
        )
        return [(n, a, json.loads(loc)) for n, a, loc in rows.fetchall()]

    # -- requests from other terminals --------------------------------------------------------------------------

    def add_request(self, run: str, kind: str, payload: Mapping[str, Any] | None = None) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO requests (run, kind, payload, created) VALUES (?, ?, ?, ?)",
                (run, kind, json.dumps(dict(payload or {})), time.time()),
            )
            return int(cur.lastrowid or 0)

    def take_requests(self, run: str) -> list[Request]:
        """The run's unconsumed requests, marked consumed (each is handed out once)."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, run, kind, payload FROM requests WHERE run = ? AND consumed IS NULL ORDER BY id", (run,)
            ).fetchall()
            db.execute("UPDATE requests SET consumed = ? WHERE run = ? AND consumed IS NULL", (time.time(), run))
        return [Request(i, r, k, json.loads(p)) for i, r, k, p in rows]


_RUN_COLUMNS = "name, uid, namespace, phase, message, workflow, created, finished, pid, run_dir"


def _run(row: tuple[Any, ...]) -> RunRecord:
    name, uid, namespace, phase, message, workflow, created, finished, pid, run_dir = row
    return RunRecord(name, uid, namespace, phase, message, json.loads(workflow), created, finished, pid, run_dir)
