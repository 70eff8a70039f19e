"""A step whose outputs are too big for a termination message: the `wait` sidecar offloads its report to the
artifact repository and `trellis run` reads it back, so the next step still gets the whole value."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_local_run import run_json

BIG_RESULT = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: big-result-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - name: use
        template: use
        arguments: {parameters: [{name: n, value: "{{steps.make.outputs.result}}"}]}
  - name: make
    script:
      image: python:3
      command: [python]
      source: |
        print("x" * 5000)
  - name: use
    inputs: {parameters: [{name: n}]}
    container:
      image: alpine
      command: [sh, -c, 'test "${#N}" -eq 5000']
      env: [{name: N, value: "{{inputs.parameters.n}}"}]
"""


def test_an_offloaded_report_reaches_the_next_step_whole(tmp_path: Path) -> None:
    manifest = tmp_path / "big.yaml"
    manifest.write_text(BIG_RESULT)
    code, workflow, stderr = run_json(tmp_path / "home", manifest)
    assert (code, workflow["status"]["phase"]) == (0, "Succeeded"), stderr
    pods = {n["displayName"]: n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod"}
    assert pods["make"]["outputs"]["result"] == "x" * 5000
    assert pods["use"]["phase"] == "Succeeded"
