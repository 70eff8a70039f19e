"""One module per `trellis` subcommand. Each exposes:

    HELP: str | dict[str, str]                  one line for `trellis --help` (per name if shared)
    add_arguments(parser: argparse.ArgumentParser, command: str) -> None   (command: the name used)
    run(args: argparse.Namespace) -> int        the exit code

Commands are the composition roots: they read flags and environment, build frozen settings and call the
engine. Nothing below them reads the environment.
"""
