"""The `trellis` command: a thin dispatcher over executor.commands.<name>.

Only the chosen command's module is imported, so `trellis lint` does not pay for the controller's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> module under executor.commands. Order is the order shown by --help.
COMMANDS: dict[str, str] = {
    "lint": "lint",
    "run": "run",
    "list": "history",
    "get": "history",
    "logs": "history",
    "delete": "history",
    "cron": "cron",
    "resume": "resume",
    "webhook": "webhook",
    "controller": "controller",
    "stop": "cluster_ops",
    "terminate": "cluster_ops",
    "suspend": "cluster_ops",
    "retry": "cluster_ops",
    "resubmit": "cluster_ops",
    "ui": "ui",
}


def _load(name: str) -> object | None:
    try:
        return importlib.import_module(f"executor.commands.{COMMANDS[name]}")
    except ModuleNotFoundError as exc:
        if exc.name == f"executor.commands.{COMMANDS[name]}":
            return None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"} or args[0] not in COMMANDS:
        lines = ["usage: trellis COMMAND [ARGS...]", "", "commands:"]
        for name in COMMANDS:
            module = _load(name)
            if module is not None:
                helps = getattr(module, "HELP", "")
                text = helps.get(name, "") if isinstance(helps, dict) else helps
                lines.append(f"  {name:<11} {text}")
        out = sys.stdout if (args and args[0] in {"-h", "--help"}) else sys.stderr
        if args and args[0] not in {"-h", "--help"}:
            lines.insert(0, f"trellis: unknown command {args[0]!r}")
        print("\n".join(lines), file=out)
        return 0 if out is sys.stdout else 2
    name = args[0]
    module = _load(name)
    if module is None:
        print(f"trellis {name}: not available in this build", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"trellis {name}")
    add_arguments = getattr(module, "add_arguments")  # noqa: B009 - commands are duck-typed modules
    run = getattr(module, "run")  # noqa: B009
    add_arguments(parser, name)
    ns = parser.parse_args(args[1:])
    ns.command = name
    try:
        return int(run(ns))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `trellis ... | head`: the reader left; nothing more to say
        sys.stderr.close()
        return 141


if __name__ == "__main__":
    sys.exit(main())
