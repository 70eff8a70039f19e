"""Every manifest in examples/ is valid: `trellis lint examples/` reports no error and no warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.lint import lint

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
HOST_COMMANDS = {"sh", "echo", "sleep", "python", "python3"}


def test_there_is_an_example_per_feature_family() -> None:
    names = {p.stem for p in FILES}
    assert {
        "data-pipeline-dag",
        "artifacts-pipeline",
        "cron-hello-world",
        "parameters",
        "steps",
        "dag-depends",
        "loops",
        "conditionals",
        "retries",
        "exit-handler",
        "scripts",
        "suspend",
        "workflow-template",
        "workflow-template-ref",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_lints_clean(path: Path) -> None:
    report = lint([(str(path), path.read_text(encoding="utf-8"))])
    problems = [f.text() for f in report.findings]
    if path.stem == "workflow-template-ref":  # its WorkflowTemplate lives in workflow-template.yaml
        problems = [p for p in problems if 'WorkflowTemplate "greetings" is not among the linted files' not in p]
    assert problems == []
    assert report.documents, "no Argo manifest in the file"


def test_all_examples_lint_clean_together_with_no_warning() -> None:
    report = lint([(str(p), p.read_text(encoding="utf-8")) for p in FILES])
    assert [f.text() for f in report.findings] == []


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_runs_only_host_commands(path: Path) -> None:
    report = lint([(str(path), path.read_text(encoding="utf-8"))])
    for doc in report.documents:
        spec = doc.obj["spec"].get("workflowSpec", doc.obj["spec"])
        for template in spec.get("templates", []):
            for kind in ("container", "script"):
                if kind in template:
                    command = template[kind].get("command", [])
                    assert command and command[0] in HOST_COMMANDS, (template["name"], command)
