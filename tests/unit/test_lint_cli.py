"""`trellis lint`: files, directories, stdin, exit codes, the text and JSON reports, --show-defaults."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor.cli import main
from webhook.lint import display_path, lint, parse

ROOT = Path(__file__).resolve().parents[2]

VALID = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine:3.20, command: [echo, hi]}
"""

BROKEN = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: broken
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: echo, dependencies: [b]}
      - {name: b, template: echo, dependencies: [a]}
  - name: echo
    container: {image: alpine:3.20, command: [echo]}
"""

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: shared
spec:
  templates:
  - name: hello
    container: {image: alpine:3.20, command: [echo, hello]}
"""

USES_TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: uses-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: s
        templateRef: {name: shared, template: hello}
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str], stdin: str = "") -> tuple[int, str, str]:
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(["lint", *args])
    finally:
        sys.stdin = old
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_exits_zero_and_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(write(tmp_path, "ok.yaml", VALID))], capsys) == (0, "", "")


def test_each_error_is_one_line_with_source_kind_name_and_named_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "broken.yaml", BROKEN)
    code, out, err = run([str(path)], capsys)
    assert code == 1
    assert out == (
        f'{path}: Workflow/broken: spec.templates[0] ("main").dag.tasks[0] ("a").dependencies: dependency cycle: '
        "a -> b -> a; to solve this, remove one of these dependencies\n"
    )
    assert err == ""


def test_directories_are_searched_recursively_and_other_kinds_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "a/ok.yaml", VALID)
    write(tmp_path, "a/b/also.yml", VALID.replace("hello-", "also-"))
    write(tmp_path, "a/b/c/ok.json", json.dumps(yaml.safe_load(VALID)))
    write(tmp_path, "a/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    write(tmp_path, "a/notes.txt", "not a manifest: [")
    report = lint([(str(p), p.read_text()) for p in sorted(tmp_path.rglob("*.y*ml"))])
    assert len(report.documents) == 2 and [d.kind for d in report.skipped] == ["ConfigMap"]
    assert run([str(tmp_path / "a")], capsys) == (0, "", "")


def test_multi_document_files_form_one_context_for_template_refs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    together = write(tmp_path, "both.yaml", TEMPLATE + "---\n" + USES_TEMPLATE)
    assert run([str(together)], capsys) == (0, "", "")
    alone = write(tmp_path, "alone.yaml", USES_TEMPLATE)
    code, out, err = run([str(alone)], capsys)
    assert (code, out) == (0, "")
    assert err == (
        f'warning: {alone}: Workflow/uses-*: spec.templates[0] ("main").steps[0][0] ("s").templateRef.name: '
        'WorkflowTemplate "shared" is not among the linted files; it must exist in the cluster\n'
    )
    wrong = write(tmp_path, "wrong.yaml", TEMPLATE + "---\n" + USES_TEMPLATE.replace("hello}", "helo}"))
    code, out, _ = run([str(wrong)], capsys)
    assert code == 1
    assert out == (
        f'{wrong}: Workflow/uses-*: spec.templates[0] ("main").steps[0][0] ("s").templateRef.template: '
        'WorkflowTemplate "shared" has no template "helo"; did you mean "hello"?\n'
    )


def test_stdin_is_read_for_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["-"], capsys, stdin=BROKEN)
    assert code == 1
    assert out.startswith('<stdin>: Workflow/broken: spec.templates[0] ("main").dag.tasks[0] ("a").dependencies: ')


SYNTAX = [
    pytest.param(
        "x.yaml",
        "kind: Workflow\nspec:\n  templates: [a, b\n",
        "x.yaml:4:1: YAML syntax error: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)",
        id="yaml-unclosed-flow",
    ),
    pytest.param(
        "x.yaml",
        "kind: Workflow\nspec:\n\tentrypoint: main\n",
        "x.yaml:3:1: YAML syntax error: found character '\\t' that cannot start any token (while scanning for the "
        "next token)",
        id="yaml-tab",
    ),
    pytest.param(
        "x.yaml",
        "kind: Workflow\nspec: " + "[" * 1200 + "]" * 1200 + "\n",
        "x.yaml:1:1: YAML nesting is too deep to be a Kubernetes manifest",
        id="yaml-hostile-nesting",
    ),
    pytest.param(
        "x.json",
        '{"kind": "Workflow",\n "spec": }',
        "x.json:2:10: JSON syntax error: Expecting value",
        id="json",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), SYNTAX)
def test_syntax_errors_give_line_and_column_never_a_traceback(
    name: str, text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, name, text)
    code, out, err = run([str(path)], capsys)
    assert (code, out, err) == (1, f"{tmp_path}/{expected}\n", "")


def test_a_duplicate_key_is_a_warning_with_its_line() -> None:
    docs, findings = parse("d.yaml", VALID.replace("  entrypoint: main\n", "  entrypoint: main\n  entrypoint: main\n"))
    assert len(docs) == 1
    assert [f.text() for f in findings] == [
        'warning: d.yaml:7:3: the key "entrypoint" appears twice in one mapping; only the last one counts, so '
        "remove the other"
    ]


def test_usage_errors_exit_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(tmp_path / "missing.yaml")], capsys)
    assert (code, out) == (2, "")
    assert err == f"trellis lint: {tmp_path}/missing.yaml: no such file or directory\n"
    with pytest.raises(SystemExit) as exc:
        main(["lint"])
    assert exc.value.code == 2
    capsys.readouterr()


def test_json_output_lists_errors_and_warnings_for_machines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "b.yaml", BROKEN + "---\n" + USES_TEMPLATE)
    code, out, err = run(["--output", "json", str(path)], capsys)
    assert code == 1 and err == ""
    report: dict[str, Any] = json.loads(out)
    assert report == {
        "ok": False,
        "documents": 2,
        "errors": [
            {
                "severity": "error",
                "source": str(path),
                "kind": "Workflow",
                "name": "broken",
                "path": "spec.templates[0].dag.tasks[0].dependencies",
                "message": "dependency cycle: a -> b -> a; to solve this, remove one of these dependencies",
                "reason": "FieldValueInvalid",
            }
        ],
        "warnings": [
            {
                "severity": "warning",
                "source": str(path),
                "kind": "Workflow",
                "name": "uses-*",
                "path": "spec.templates[0].steps[0][0].templateRef.name",
                "message": 'WorkflowTemplate "shared" is not among the linted files; it must exist in the cluster',
            }
        ],
    }


def test_show_defaults_prints_the_documents_as_they_would_be_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from webhook.defaulting import apply_defaults

    code, out, _ = run(["--show-defaults", str(write(tmp_path, "ok.yaml", VALID))], capsys)
    assert code == 0
    assert list(yaml.safe_load_all(out)) == [apply_defaults(yaml.safe_load(VALID))]


def test_display_paths_name_templates_tasks_and_steps() -> None:
    obj = yaml.safe_load(BROKEN)
    assert display_path(obj, "spec.templates[0].dag.tasks[1].dependencies[0]") == (
        'spec.templates[0] ("main").dag.tasks[1] ("b").dependencies[0]'
    )
    assert display_path(obj, "spec.templates[7].name") == "spec.templates[7].name"
    assert display_path(obj, "") == ""


def test_a_workflow_template_defined_twice_is_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = write(tmp_path, "a/one.yaml", TEMPLATE), write(tmp_path, "b/two.yaml", TEMPLATE)
    code, out, err = run([str(tmp_path)], capsys)
    assert (code, out) == (0, "")
    assert err == (
        f"warning: {two}: WorkflowTemplate/shared: metadata.name: WorkflowTemplate shared is also defined in {one}; "
        "references use that one\n"
    )


def test_a_byte_order_mark_is_ignored() -> None:
    docs, findings = parse("<stdin>", "\ufeff" + json.dumps(yaml.safe_load(VALID)))
    assert findings == [] and [d.kind for d in docs] == ["Workflow"]


def test_the_trellis_command_lints_in_its_own_process(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", BROKEN)
    ok = subprocess.run(
        [sys.executable, "-m", "executor.cli", "lint", str(ROOT / "examples")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    bad = subprocess.run(
        [sys.executable, "-m", "executor.cli", "lint", "--output", "json", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert [e["path"] for e in json.loads(bad.stdout)["errors"]] == ["spec.templates[0].dag.tasks[0].dependencies"]


def test_list_objects_and_json_arrays_are_flattened_into_documents() -> None:
    wf = yaml.safe_load(VALID)
    as_list = json.dumps({"apiVersion": "v1", "kind": "List", "items": [wf, yaml.safe_load(TEMPLATE)]})
    docs, findings = parse("list.json", as_list)
    assert findings == [] and [d.kind for d in docs] == ["Workflow", "WorkflowTemplate"]
    docs, findings = parse("array.json", json.dumps([wf, wf]))
    assert findings == [] and [d.index for d in docs] == [0, 1]
    docs, _ = parse("multi.yaml", VALID + "---\n---\n" + TEMPLATE)
    assert [(d.kind, d.line) for d in docs] == [("Workflow", 1), ("WorkflowTemplate", 12)]


def test_an_unquoted_date_is_read_as_the_string_kubectl_would_send() -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: d}\nspec:\n  entrypoint: main\n"
        "  arguments: {parameters: [{name: day, value: 2024-01-01}]}\n"
        "  templates:\n  - name: main\n    container: {image: alpine, command: [echo, '{{workflow.parameters.day}}']}\n"
    )
    documents, findings = parse("d.yaml", text)
    assert findings == []
    assert documents[0].obj["spec"]["arguments"]["parameters"][0]["value"] == "2024-01-01"
    assert lint([("d.yaml", text)]).errors == ()


def test_output_piped_into_a_reader_that_leaves_early_is_not_a_traceback(tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"
    bad = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: b}\nspec: {entrypoint: x, templates: []}\n"
    )
    many.write_text("---\n".join([bad] * 2000))
    pipeline = f"{sys.executable} -m executor.cli lint {many} | head -1"
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith(f"{many}: Workflow/b: ")
