"""`trellis resume NAME [-p name=value]...`: resume a suspended local run from another terminal.

The request goes into the history database; the run's `trellis run` process is woken with SIGUSR1 and applies it
as `argo resume` does (spec.suspend cleared, running Suspend nodes Succeeded, with the given output parameters).
Also `trellis resume NAME --stop|--terminate` to stop a run from elsewhere (as `argo stop` / `argo terminate`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from executor.commands.run import trellis_home
from executor.local.history import History
from executor.local.runner import FINISHED, ManifestError, parse_parameter, pid_alive

HELP = "resume a suspended local run (or --stop / --terminate it) from another terminal"


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="output parameter value for the suspend node",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stop", action="store_true", help="stop the run instead (exit handlers run)")
    group.add_argument("--terminate", action="store_true", help="terminate the run instead (no exit handlers)")


def run(args: argparse.Namespace) -> int:
    history = History(trellis_home(os.environ) / "history.db")
    record = history.get_run(args.name)
    if record is None:
        print(f"trellis resume: no run named {args.name!r} in history; see trellis list", file=sys.stderr)
        return 1
    if record.phase in FINISHED or not pid_alive(record.pid) or record.pid is None:
        print(f"trellis resume: {args.name} is not running (phase {record.phase or 'unknown'})", file=sys.stderr)
        return 1
    try:
        outputs = dict(parse_parameter(p) for p in args.parameter)
    except ManifestError as exc:
        print(f"trellis resume: {exc}", file=sys.stderr)
        return 2
    kind = "stop" if args.stop else "terminate" if args.terminate else "resume"
    history.add_request(args.name, kind, outputs)
    os.kill(record.pid, signal.SIGUSR1)
    verb = {"resume": "resumed", "stop": "stopped", "terminate": "terminated"}[kind]
    print(f"workflow {args.name} {verb}")
    return 0
