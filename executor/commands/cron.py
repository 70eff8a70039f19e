"""`trellis cron FILE`: run a CronWorkflow's schedule in the foreground on this machine (Ctrl-C ends it).

    trellis cron FILE [FILE...] [--max-runs N] [run options: --parallelism, --artifact-repo, --secrets, ...]

Each scheduled run is a local run like `trellis run` (history, logs), named `<cron>-<unix seconds>`. The schedule
logic (schedules, timezone, concurrencyPolicy, suspend, startingDeadlineSeconds, history limits) is
executor.scheduling's, shared with the cluster controller.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from executor.commands import run as run_command
from executor.local.cron import CronRunner, SystemClock
from executor.local.progress import PlainListener
from executor.local.runner import ManifestError
from executor.local.sandbox import SandboxUnavailable

HELP = "run a CronWorkflow's schedule in the foreground (each run is a local run, kept in history)"


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    run_command.add_arguments(parser, command)
    parser.add_argument("--max-runs", type=int, help="stop after starting this many runs (default: never)")


def run(args: argparse.Namespace) -> int:
    wakers = run_command.Wakers()  # `trellis resume` of a scheduled run signals this process
    try:
        return _run(args, wakers)
    finally:
        wakers.restore()


def _run(args: argparse.Namespace, wakers: run_command.Wakers) -> int:
    err = sys.stderr
    try:
        session = run_command.open_session(args, err)
    except ManifestError as exc:
        print(str(exc), file=err)
        return 1
    except SandboxUnavailable as exc:
        print(f"trellis cron: {exc}", file=err)
        return 1
    except run_command.UsageError as exc:
        print(f"trellis cron: {exc}", file=err)
        return 2
    cron = session.inputs.runnable
    if cron.get("kind") != "CronWorkflow":
        print(f"trellis cron: expected a CronWorkflow, found a {cron.get('kind')}; use trellis run for it", file=err)
        return 2
    from webhook.defaulting import apply_defaults

    cron = apply_defaults(cron)
    cron.setdefault("metadata", {}).setdefault("namespace", "default")

    def say(message: str) -> None:
        print(f"{datetime.now(UTC).strftime('%H:%M:%S')} {message}", file=err, flush=True)

    def start_run(child: Mapping[str, Any], stop: threading.Event) -> Mapping[str, Any]:
        try:
            workflow = run_command.new_workflow(session, child, parameters={}, entrypoint=None)
            runner = run_command.make_runner(session, workflow, PlainListener(err, logs=session.logs))
        except (ManifestError, run_command.SetupError) as exc:
            say(f"cannot start {child['metadata']['name']}: {exc}")
            return {**child, "status": {"phase": "Error", "message": str(exc)}}
        wakers.runners.append(runner)

        def stop_when_asked() -> None:
            stop.wait()
            runner.request_shutdown("Stop")

        threading.Thread(target=stop_when_asked, daemon=True).start()
        try:
            return run_command.run_to_end(runner)
        finally:
            wakers.runners.remove(runner)

    scheduler = CronRunner(cron, start_run=start_run, clock=SystemClock(), on_message=say)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        say("stopping the schedule; running workflows are stopped (exit handlers run)")
        scheduler.stop()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        say(f"scheduling {cron['metadata'].get('name')}: {', '.join(_schedules(cron))}")
        finished = scheduler.run(max_runs=args.max_runs)
    finally:
        signal.signal(signal.SIGINT, previous)
    phases = [str((f.get("status") or {}).get("phase")) for f in finished]
    return 0 if all(p == "Succeeded" for p in phases) else 1


def _schedules(cron: Mapping[str, Any]) -> list[str]:
    from executor.scheduling import schedules_of

    spec = cron.get("spec") or {}
    zone = spec.get("timezone") or "UTC"
    return [f"{s} ({zone})" for s in schedules_of(spec)]
