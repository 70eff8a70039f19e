"""`trellis run` with parameters from ConfigMaps (valueFrom.configMapKeyRef): the ConfigMap comes from the same
file, an extra file, `--templates DIR`, `--secrets FILE` or beside the workflow's file, and the label rule applies
as on a cluster. Real `trellis` processes running real Jobs on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_local_run import ROOT, run_json, write

ARGO_EXAMPLES = ROOT.parent / "shared" / "argo-examples"

LABELS = {"workflows.argoproj.io/configmap-type": "Parameter"}


def config_map(name: str = "settings", labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": LABELS if labels is None else labels},
        "data": data,
    }


def echo_workflow(ref: dict[str, Any]) -> dict[str, Any]:
    """A workflow whose global `message` and whose template input `who` read the ConfigMap."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "cm-"},
        "spec": {
            "entrypoint": "say",
            "arguments": {"parameters": [{"name": "message", "valueFrom": {"configMapKeyRef": ref}}]},
            "templates": [
                {
                    "name": "say",
                    "inputs": {
                        "parameters": [
                            {"name": "who", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "who"}}}
                        ]
                    },
                    "container": {
                        "image": "alpine",
                        "command": ["echo"],
                        "args": ["{{workflow.parameters.message}} {{inputs.parameters.who}}"],
                    },
                }
            ],
        },
    }


def result_of(wf: dict[str, Any]) -> str:
    (pod,) = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"]
    return str(pod["outputs"]["result"])


REF = {"name": "settings", "key": "message"}
GOOD = config_map(message="hello", who="there")


@pytest.mark.parametrize(
    ("layout", "note"),
    [
        pytest.param("same-file", "", id="a-second-document-of-the-workflows-file"),
        pytest.param("extra-file", "", id="an-extra-file-after-the-workflow"),
        pytest.param("templates-dir", "", id="a-file-in-templates-dir"),
        pytest.param("secrets-file", "", id="the-secrets-file"),
        pytest.param("beside", 'note: using ConfigMap "settings" from ', id="beside-the-workflow-announced"),
        pytest.param("sub-folder", 'note: using ConfigMap "settings" from ', id="one-folder-down-announced"),
    ],
)
def test_a_config_map_given_any_way_serves_the_parameters(tmp_path: Path, layout: str, note: str) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    args: list[str | Path] = []
    if layout == "same-file":
        args.append(write(flows / "wf.yaml", [echo_workflow(REF), GOOD]))
    else:
        args.append(write(flows / "wf.yaml", echo_workflow(REF)))
    if layout == "extra-file":
        args.append(write(tmp_path / "cm.yaml", GOOD))
    elif layout == "templates-dir":
        (tmp_path / "dir").mkdir()
        write(tmp_path / "dir" / "cm.yaml", GOOD)
        args += ["--templates", tmp_path / "dir"]
    elif layout == "secrets-file":
        args += ["--secrets", write(tmp_path / "cm.yaml", GOOD)]
    elif layout == "beside":
        write(flows / "settings.yaml", GOOD)
        write(flows / "other.yaml", config_map("unrelated", message="not this one"))
    elif layout == "sub-folder":
        (flows / "configmaps").mkdir()
        write(flows / "configmaps" / "settings.yaml", GOOD)
    code, wf, stderr = run_json(tmp_path / "home", *args)
    assert (code, wf["status"]["phase"]) == (0, "Succeeded"), stderr
    assert result_of(wf) == "hello there"
    if note:
        found = flows / ("configmaps/settings.yaml" if layout == "sub-folder" else "settings.yaml")
        assert f"{note}{found} (pass the file to choose)" in stderr
    else:
        assert "note: using ConfigMap" not in stderr


@pytest.mark.parametrize(
    ("ref", "maps", "message"),
    [
        pytest.param(
            REF,
            [config_map(message="hello", who="there", labels={})],
            "failed to set global parameter message from configmap with name settings and key message: ConfigMap "
            "'settings' needs to have the label workflows.argoproj.io/configmap-type: Parameter to load parameters; "
            "add that label to the ConfigMap",
            id="no-parameter-label",
        ),
        pytest.param(
            {"name": "absent", "key": "message"},
            [GOOD],
            "failed to set global parameter message from configmap with name absent and key message: ConfigMap "
            "'absent' does not exist in namespace 'default'; create it (labelled "
            "workflows.argoproj.io/configmap-type: Parameter) or fix configMapKeyRef.name",
            id="no-such-config-map",
        ),
        pytest.param(
            {"name": "settings", "key": "nope"},
            [GOOD],
            "failed to set global parameter message from configmap with name settings and key nope: ConfigMap "
            "'settings' does not have the key 'nope'; add it or fix configMapKeyRef.key",
            id="no-such-key",
        ),
    ],
)
def test_a_config_map_that_gives_no_value_errors_the_run_with_the_reason(
    tmp_path: Path, ref: dict[str, Any], maps: list[dict[str, Any]], message: str
) -> None:
    wf_file = write(tmp_path / "wf.yaml", [echo_workflow(ref), *maps])
    code, wf, stderr = run_json(tmp_path / "home", wf_file)
    assert code == 1
    assert (wf["status"]["phase"], wf["status"]["message"]) == ("Error", message), stderr
    assert "hello" not in stderr  # values never reach the output


def test_a_missing_key_for_a_template_input_errors_that_node_and_the_run(tmp_path: Path) -> None:
    wf_file = write(tmp_path / "wf.yaml", [echo_workflow(REF), config_map(message="hello")])
    code, wf, _ = run_json(tmp_path / "home", wf_file)
    message = (
        "unable to retrieve inputs.parameters.who from ConfigMap: ConfigMap 'settings' does not have the key 'who'; "
        "add it or fix configMapKeyRef.key"
    )
    (node,) = wf["status"]["nodes"].values()
    assert (code, wf["status"]["phase"], wf["status"]["message"]) == (1, "Error", message)
    assert (node["phase"], node["message"]) == ("Error", message)


def test_the_example_runs_with_the_config_map_in_its_own_file(tmp_path: Path) -> None:
    code, wf, stderr = run_json(tmp_path / "home", ROOT / "examples" / "configmap-parameters.yaml")
    assert (code, wf["status"]["phase"]) == (0, "Succeeded"), stderr
    assert result_of(wf) == "Hello, ConfigMap!"


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="Argo's example corpus (../shared) is not present")
@pytest.mark.parametrize(
    "name",
    [
        "arguments-parameters-from-configmap.yaml",
        "global-parameters-from-configmap.yaml",
        "global-parameters-from-configmap-referenced-as-local-variable.yaml",
    ],
)
def test_argos_config_map_examples_succeed_with_their_config_map_from_the_configmaps_folder(
    tmp_path: Path, name: str
) -> None:
    path = ARGO_EXAMPLES / name
    code, wf, stderr = run_json(tmp_path / "home", path)
    assert (code, wf["status"]["phase"]) == (0, "Succeeded"), stderr
    assert result_of(wf) == "hello world"
    found = ARGO_EXAMPLES / "configmaps" / "simple-parameters-configmap.yaml"
    assert f'note: using ConfigMap "simple-parameters" from {found} (pass the file to choose)' in stderr
    # a generateName too long for a 63-character name is cut to 58 characters, as the API server cuts it
    prefix = str((yaml.safe_load(path.read_text(encoding="utf-8"))["metadata"])["generateName"])
    generated = str(wf["metadata"]["name"])
    assert (len(generated), generated[:-5]) == (min(len(prefix), 58) + 5, prefix[:58])
