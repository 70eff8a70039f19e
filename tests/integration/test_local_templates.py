"""`trellis run` finds WorkflowTemplates nobody passed beside the manifest or in a sibling folder (as Argo's
examples are laid out), and says which file it used."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_local_run import run_json, trellis

LIBRARY = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: greeter}
spec:
  templates:
  - name: hello
    inputs: {parameters: [{name: who}]}
    container: {image: alpine, command: [echo, "hello {{inputs.parameters.who}}"]}
"""

CALLER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: caller-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: greet
        templateRef: {name: greeter, template: hello}
        arguments: {parameters: [{name: who, value: world}]}
"""


def test_a_template_in_a_sibling_folder_is_found_and_announced(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "greeter.yaml").write_text(LIBRARY)
    (tmp_path / "flows").mkdir()
    caller = tmp_path / "flows" / "caller.yaml"
    caller.write_text(CALLER)
    code, workflow, stderr = run_json(tmp_path / "home", caller)
    assert (code, workflow["status"]["phase"]) == (0, "Succeeded"), stderr
    where = tmp_path / "library" / "greeter.yaml"
    assert (
        f'note: using WorkflowTemplate "greeter" from {where} (pass --templates DIR to choose)' in stderr.splitlines()
    )
    pods = [n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod"]
    assert [n["templateRef"] for n in pods] == [{"name": "greeter", "template": "hello"}]


def test_a_template_found_nowhere_fails_with_the_reference_named(tmp_path: Path) -> None:
    caller = tmp_path / "caller.yaml"
    caller.write_text(CALLER)
    done = trellis(tmp_path / "home", "run", caller)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f'{caller}: WorkflowTemplate "greeter" referenced but not given (and not found beside it); pass the file '
        "that defines it after the workflow's, or use --templates DIR\n",
    )
