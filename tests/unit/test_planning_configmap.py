"""Parameters from ConfigMaps (`valueFrom.configMapKeyRef`): the planner resolves them from the ConfigMaps the
shell hands it (PlanContext.config_maps) with Argo's rules: the Parameter label, the key, `valueFrom.default`,
`optional`, tags in name/key; and lists which ConfigMaps a workflow reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from executor.planning.configmaps import config_map_names
from tests.unit.test_planning_support import CONTEXT, Cluster, load
from webhook.lint import lint
from webhook.validation import validate

LABELS = {"workflows.argoproj.io/configmap-type": "Parameter"}


def config_map(data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "params", "namespace": "default", "labels": LABELS if labels is None else labels},
        "data": data,
    }


def main_args(cluster: Cluster, node_name: str) -> list[str]:
    node_id = next(nid for nid, node in cluster.nodes.items() if node["name"] == node_name)
    containers = cluster.manifests[node_id]["spec"]["template"]["spec"]["containers"]
    args: list[str] = next(c for c in containers if c["name"] == "main")["args"]
    return args


GLOBAL = """
metadata: {name: g}
spec:
  entrypoint: print
  arguments:
    parameters:
    - name: message
      valueFrom: {configMapKeyRef: {name: params, key: msg%s}%s}
  templates:
  - name: print
    container: {image: busybox, command: [echo], args: ["{{workflow.parameters.message}}"]}
"""

NOT_FOUND = (
    "ConfigMap 'params' does not exist in namespace 'default'; create it (labelled "
    "workflows.argoproj.io/configmap-type: Parameter) or fix configMapKeyRef.name"
)
NO_KEY = "ConfigMap 'params' does not have the key 'msg'; add it or fix configMapKeyRef.key"
NO_LABEL = (
    "ConfigMap 'params' needs to have the label workflows.argoproj.io/configmap-type: Parameter to load parameters; "
    "add that label to the ConfigMap"
)


@pytest.mark.parametrize(
    ("ref_extra", "value_from_extra", "maps", "printed"),
    [
        pytest.param("", "", {"params": config_map({"msg": "hello"})}, "hello", id="value-from-the-key"),
        pytest.param(
            "", ", default: fallback", {"params": config_map({"msg": "hi"})}, "hi", id="key-wins-over-default"
        ),
        pytest.param("", ", default: fallback", {"params": None}, "fallback", id="missing-map-uses-default"),
        pytest.param("", ", default: fallback", {"params": config_map({})}, "fallback", id="missing-key-uses-default"),
        pytest.param(", optional: true", "", {}, "", id="optional-missing-map-is-empty"),
        pytest.param(
            ", optional: true", "", {"params": config_map({"x": "1"})}, "", id="optional-missing-key-is-empty"
        ),
    ],
)
def test_a_global_parameter_reads_its_value_from_the_config_map(
    ref_extra: str, value_from_extra: str, maps: dict[str, Any], printed: str
) -> None:
    cluster = Cluster(load(GLOBAL % (ref_extra, value_from_extra)), context=replace(CONTEXT, config_maps=maps))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert main_args(cluster, "g") == [printed]


@pytest.mark.parametrize(
    ("value_from_extra", "maps", "reason"),
    [
        pytest.param("", {"params": None}, NOT_FOUND, id="missing-map"),
        pytest.param("", {}, NOT_FOUND, id="map-the-shell-did-not-give"),
        pytest.param("", {"params": config_map({"other": "x"})}, NO_KEY, id="missing-key"),
        pytest.param("", {"params": config_map({"msg": "x"}, labels={})}, NO_LABEL, id="no-label"),
        pytest.param(
            ", default: d",
            {"params": config_map({"msg": "x"}, labels={"workflows.argoproj.io/configmap-type": "Other"})},
            NO_LABEL,
            id="wrong-label-even-with-a-default",
        ),
    ],
)
def test_a_global_parameter_without_a_value_errors_the_workflow_with_argos_message(
    value_from_extra: str, maps: dict[str, Any], reason: str
) -> None:
    cluster = Cluster(load(GLOBAL % ("", value_from_extra)), context=replace(CONTEXT, config_maps=maps))
    status = cluster.run()
    assert status["phase"] == "Error"
    assert status["message"] == (
        f"failed to set global parameter message from configmap with name params and key msg: {reason}"
    )
    assert cluster.created == []


INPUT = """
metadata: {name: i}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: which, value: msg}]
  templates:
  - name: main
    steps:
    - - {name: read, template: print}
    - - name: passed
        template: print
        arguments:
          parameters:
          - name: message
            valueFrom: {configMapKeyRef: {name: params, key: other}}
  - name: print
    inputs:
      parameters:
      - name: message
        valueFrom: {configMapKeyRef: {name: params, key: "{{workflow.parameters.which}}"}}
    container: {image: busybox, command: [echo], args: ["{{inputs.parameters.message}}"]}
"""


def test_template_inputs_and_step_arguments_read_config_maps_with_tags_in_the_key() -> None:
    maps = {"params": config_map({"msg": "from input", "other": "from argument"})}
    cluster = Cluster(load(INPUT), context=replace(CONTEXT, config_maps=maps))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert main_args(cluster, "i[0].read") == ["from input"]
    assert main_args(cluster, "i[1].passed") == ["from argument"]


def test_a_missing_key_for_a_template_input_errors_that_node_with_argos_message() -> None:
    maps = {"params": config_map({"msg": "from input"})}
    cluster = Cluster(load(INPUT), context=replace(CONTEXT, config_maps=maps))
    status = cluster.run()
    node = cluster.node("i[1].passed")
    assert node["phase"] == "Error"
    assert node["message"] == (
        "unable to retrieve inputs.parameters.message from ConfigMap: ConfigMap 'params' does not have the key "
        "'other'; add it or fix configMapKeyRef.key"
    )
    assert status["phase"] == "Failed"
    assert cluster.created_names() == ["i[0].read"]


def test_a_global_from_a_config_map_reaches_the_entrypoints_input_of_the_same_name() -> None:
    manifest = load(
        """
metadata: {name: local}
spec:
  entrypoint: print
  arguments:
    parameters:
    - name: message
      valueFrom: {configMapKeyRef: {name: params, key: msg}}
  templates:
  - name: print
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [echo], args: ["{{inputs.parameters.message}}"]}
"""
    )
    cluster = Cluster(manifest, context=replace(CONTEXT, config_maps={"params": config_map({"msg": "hello"})}))
    assert cluster.run()["phase"] == "Succeeded"
    assert main_args(cluster, "local") == ["hello"]


@pytest.mark.parametrize(
    ("text", "templates", "names"),
    [
        pytest.param(GLOBAL % ("", ""), {}, ["params"], id="workflow-arguments"),
        pytest.param(INPUT, {}, ["params"], id="inputs-and-step-arguments-once"),
        pytest.param(
            """
metadata: {name: n}
spec:
  entrypoint: t
  arguments: {parameters: [{name: env, value: prod}]}
  templates:
  - name: t
    inputs:
      parameters:
      - {name: a, valueFrom: {configMapKeyRef: {name: "settings-{{workflow.parameters.env}}", key: a}}}
      - {name: b, valueFrom: {configMapKeyRef: {name: "{{workflow.parameters.unknown}}", key: b}}}
    container:
      image: busybox
      env: [{name: E, valueFrom: {configMapKeyRef: {name: env-only, key: e}}}]
""",
            {},
            ["settings-prod"],
            id="tags-resolved-unresolvable-and-env-refs-left-out",
        ),
        pytest.param(
            "metadata: {name: r}\nspec: {workflowTemplateRef: {name: wt}}",
            {
                ("WorkflowTemplate", "wt"): {
                    "spec": {
                        "templates": [
                            {
                                "name": "t",
                                "inputs": {
                                    "parameters": [
                                        {"name": "x", "valueFrom": {"configMapKeyRef": {"name": "b", "key": "k"}}}
                                    ]
                                },
                            }
                        ],
                        "arguments": {
                            "parameters": [{"name": "y", "valueFrom": {"configMapKeyRef": {"name": "a", "key": "k"}}}]
                        },
                    }
                }
            },
            ["a", "b"],
            id="from-workflow-templates",
        ),
        pytest.param(
            """
metadata: {name: c}
spec:
  entrypoint: t
  templates:
  - {name: t, steps: [[{name: s, templateRef: {name: cwt, template: x, clusterScope: true}}]]}
""",
            {
                ("ClusterWorkflowTemplate", "cwt"): {
                    "spec": {
                        "templates": [
                            {"name": "x", "steps": [[{"name": "y", "templateRef": {"name": "wt", "template": "z"}}]]}
                        ]
                    }
                },
                ("WorkflowTemplate", "wt"): {
                    "spec": {
                        "templates": [
                            {
                                "name": "z",
                                "inputs": {
                                    "parameters": [
                                        {"name": "p", "valueFrom": {"configMapKeyRef": {"name": "deep", "key": "k"}}}
                                    ]
                                },
                            }
                        ]
                    }
                },
                ("WorkflowTemplate", "unused"): {
                    "spec": {
                        "arguments": {
                            "parameters": [
                                {"name": "q", "valueFrom": {"configMapKeyRef": {"name": "never", "key": "k"}}}
                            ]
                        }
                    }
                },
            },
            ["deep"],
            id="through-template-refs-transitively-not-unreferenced-templates",
        ),
        pytest.param("metadata: {name: none}\nspec: {entrypoint: t}", {}, [], id="none"),
    ],
)
def test_config_map_names_lists_what_the_parameters_read_so_the_shell_knows_what_to_fetch(
    text: str, templates: dict[tuple[str, str], Any], names: list[str]
) -> None:
    assert config_map_names(load(text), templates) == names


# ----------------------------------------------------------------------------------------------------------------
# Admission (the webhook and `trellis lint`): configMapKeyRef is accepted; name and key are checked
# ----------------------------------------------------------------------------------------------------------------

ARGO_EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "argo-examples"
CORPUS_FILES = [
    "arguments-parameters-from-configmap.yaml",
    "global-parameters-from-configmap.yaml",
    "global-parameters-from-configmap-referenced-as-local-variable.yaml",
]


def admission_errors(global_ref: Any, input_ref: Any) -> list[str]:
    manifest = load(
        """
metadata: {name: v}
spec:
  entrypoint: t
  arguments: {parameters: [{name: g, valueFrom: {}}]}
  templates:
  - name: t
    inputs: {parameters: [{name: i, valueFrom: {}}]}
    container: {image: busybox}
"""
    )
    manifest["spec"]["arguments"]["parameters"][0]["valueFrom"]["configMapKeyRef"] = global_ref
    manifest["spec"]["templates"][0]["inputs"]["parameters"][0]["valueFrom"]["configMapKeyRef"] = input_ref
    return [str(error) for error in validate(manifest).errors]


GLOBAL_PATH = "spec.arguments.parameters[0].valueFrom.configMapKeyRef"
INPUT_PATH = "spec.templates[0].inputs.parameters[0].valueFrom.configMapKeyRef"
NAME_RULE = "use a ConfigMap name: lowercase letters, digits, '-' and '.', at most 253"
KEY_RULE = "use a ConfigMap key: letters, digits, '-', '_' and '.', at most 253"


@pytest.mark.parametrize(
    ("global_ref", "input_ref", "errors"),
    [
        pytest.param(
            {"name": "params", "key": "msg"},
            {"name": "settings-{{workflow.parameters.g}}", "key": "{{workflow.parameters.g}}", "optional": True},
            [],
            id="valid-and-tagged-refs-are-accepted",
        ),
        pytest.param(
            {"key": "msg"},
            {"name": "", "key": "msg"},
            [
                f"{GLOBAL_PATH}.name: is required; give the name of the ConfigMap to read from",
                f"{INPUT_PATH}.name: is required; give the name of the ConfigMap to read from",
            ],
            id="name-missing-or-empty",
        ),
        pytest.param(
            {"name": "params", "key": ""},
            {"name": "params"},
            [
                f"{GLOBAL_PATH}.key: is required; give the key in the ConfigMap to read from",
                f'{INPUT_PATH}.key: required field "key" of this ConfigMapKeySelector is missing; add it',
            ],
            id="key-empty-or-missing",
        ),
        pytest.param(
            {"name": "Params_1", "key": "a key"},
            {"name": "params", "key": 7},
            [
                f'{GLOBAL_PATH}.key: "a key" is not valid; {KEY_RULE}',
                f'{GLOBAL_PATH}.name: "Params_1" is not valid; {NAME_RULE}',
                f'{INPUT_PATH}.key: must be a string, got an integer (7); to solve this, quote it: key: "7"',
            ],
            id="invalid-name-and-key",
        ),
        pytest.param(
            {"name": "p", "key": "k"},
            "params",
            [f'{INPUT_PATH}: must be an object (ConfigMapKeySelector), got a string ("params")'],
            id="not-an-object",
        ),
    ],
)
def test_admission_accepts_config_map_refs_and_checks_their_name_and_key(
    global_ref: Any, input_ref: Any, errors: list[str]
) -> None:
    assert admission_errors(global_ref, input_ref) == errors


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="Argo's example corpus (../shared) is not present")
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_argos_config_map_parameter_examples_lint_clean(name: str) -> None:
    path = ARGO_EXAMPLES / name
    report = lint([(str(path), path.read_text(encoding="utf-8"))])
    assert [f.text() for f in report.findings] == []
