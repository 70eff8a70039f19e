"""`trellis lint PATH...`: the webhook's checks, offline.

    trellis lint FILE|DIR|- ... [--output text|json] [--show-defaults]

Directories are searched recursively for *.yaml, *.yml and *.json; `-` reads stdin. Documents of kinds other
than Workflow, WorkflowTemplate, ClusterWorkflowTemplate and CronWorkflow are skipped. Exit status: 0 when
everything is valid, 1 when something is not, 2 for usage errors (no such file, nothing to lint).
The composition root: reads files, then calls the pure webhook.lint.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from webhook.lint import lint, with_defaults

HELP = "check Argo manifests (files, directories, -) with the admission webhook's rules"
SUFFIXES = (".yaml", ".yml", ".json")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (searched recursively) or -")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="report format")
    parser.add_argument(
        "--show-defaults",
        action="store_true",
        help="print the valid documents with the defaults the mutating webhook would add",
    )


class UsageError(Exception):
    pass


def _sources(paths: list[str]) -> Iterator[tuple[str, str]]:
    for raw in paths:
        if raw == "-":
            yield "<stdin>", sys.stdin.read()
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            files = [path]
        else:
            raise UsageError(f"trellis lint: {raw}: no such file or directory")
        for file in files:
            try:
                yield str(file), file.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as exc:
                yield str(file), f"# not UTF-8 text\n\x00 {exc.reason}"
            except OSError as exc:
                raise UsageError(f"trellis lint: {file}: {exc.strerror}") from exc


def run(args: argparse.Namespace) -> int:
    try:
        texts = list(_sources(list(args.paths)))
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    report = lint(texts)
    if args.output == "json":
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for finding in report.errors:
            print(finding.text())
        for finding in report.warnings:
            print(finding.text(), file=sys.stderr)
        if not report.documents and not report.errors:
            print(
                "trellis lint: no Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow found",
                file=sys.stderr,
            )
    if args.show_defaults and report.ok:
        print(yaml.safe_dump_all(with_defaults(report.documents), sort_keys=False, allow_unicode=True), end="")
    return 0 if report.ok else 1
