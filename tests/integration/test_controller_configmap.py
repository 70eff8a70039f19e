"""Parameters from ConfigMaps on the cluster path: the reconciler reads the ConfigMaps a workflow's parameters name
(valueFrom.configMapKeyRef) from its namespace on the Kubernetes API stand-in, with the real `kubernetes` client,
and the planner resolves them with Argo's rules (Parameter label, key, default)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from executor.cluster.kube import WORKFLOWS
from executor.cluster.reconciler import Reconciler, ReconcilerSettings
from tests.integration.test_controller import NS, env, jobs_of, run_to_completion, submit
from tests.standin.fixture import kube

__all__ = ["env", "kube"]

LABELS = {"workflows.argoproj.io/configmap-type": "Parameter"}
SECRET_LOOKING_VALUE = "s3cr3t-value-7f2a"


def config_map(labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": NS, "labels": LABELS if labels is None else labels},
        "data": data,
    }


def workflow(key: str = "message") -> dict[str, Any]:
    """Argo's global-parameters-from-configmap and arguments-parameters-from-configmap shapes in one workflow."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "cm-"},
        "spec": {
            "entrypoint": "main",
            "arguments": {
                "parameters": [{"name": "message", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": key}}}]
            },
            "templates": [
                {"name": "main", "steps": [[{"name": "say", "template": "say"}]]},
                {
                    "name": "say",
                    "inputs": {
                        "parameters": [
                            {"name": "who", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "who"}}},
                            {
                                "name": "mark",
                                "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mark"}, "default": "!"},
                            },
                        ]
                    },
                    "container": {
                        "image": "busybox",
                        "command": ["echo"],
                        "args": [
                            "{{workflow.parameters.message}}",
                            "{{inputs.parameters.who}}{{inputs.parameters.mark}}",
                        ],
                    },
                },
            ],
        },
    }


def main_args(job: dict[str, Any]) -> list[str]:
    containers = job["spec"]["template"]["spec"]["containers"]
    args: list[str] = next(c for c in containers if c["name"] == "main")["args"]
    return args


def test_values_come_from_a_real_config_map_in_the_workflows_namespace(env: Any) -> None:
    standin, client, _, _, _ = env
    standin.create(config_map(message="hello", who="cluster"))
    name = submit(client, workflow(), "cm-values")
    final, waves = run_to_completion(env, name)
    assert final["status"]["phase"] == "Succeeded"
    assert waves == [["cm-values[0].say"]]
    (job,) = jobs_of(standin, name)
    assert main_args(job) == ["hello", "cluster!"]


def test_the_reconciler_reads_parameter_config_maps_even_when_its_cache_holds_only_repository_ones(
    env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    standin, client, _, kubelet, clock = env
    standin.create(config_map(message=SECRET_LOOKING_VALUE, who="cache"))
    cached_only = Reconciler(
        client, ReconcilerSettings(controller_namespace="argo"), clock=clock, configmaps=lambda ns, name: None
    )
    name = submit(client, workflow(), "cm-cache")
    with caplog.at_level(logging.DEBUG):
        final, _ = run_to_completion((standin, client, cached_only, kubelet, clock), name)
    assert final["status"]["phase"] == "Succeeded"
    (job,) = jobs_of(standin, name)
    assert main_args(job) == [SECRET_LOOKING_VALUE, "cache!"]
    assert SECRET_LOOKING_VALUE not in caplog.text  # values are never logged


PREFIX = "failed to set global parameter message from configmap with name settings and key "


@pytest.mark.parametrize(
    ("config_maps", "key", "message"),
    [
        pytest.param(
            [config_map(labels={"app": "x"}, message="hello", who="w")],
            "message",
            PREFIX + "message: ConfigMap 'settings' needs to have the label workflows.argoproj.io/configmap-type: "
            "Parameter to load parameters; add that label to the ConfigMap",
            id="without-the-parameter-label",
        ),
        pytest.param(
            [config_map(message="hello", who="w")],
            "greeting",
            PREFIX + "greeting: ConfigMap 'settings' does not have the key 'greeting'; add it or fix "
            "configMapKeyRef.key",
            id="without-the-key",
        ),
        pytest.param(
            [],
            "message",
            PREFIX + "message: ConfigMap 'settings' does not exist in namespace 'default'; create it (labelled "
            "workflows.argoproj.io/configmap-type: Parameter) or fix configMapKeyRef.name",
            id="without-the-config-map",
        ),
    ],
)
def test_a_config_map_that_gives_no_value_errors_the_workflow_with_argos_message_and_starts_nothing(
    env: Any, config_maps: list[dict[str, Any]], key: str, message: str
) -> None:
    standin, client, reconciler, _, _ = env
    for obj in config_maps:
        standin.create(obj)
    name = submit(client, workflow(key), "cm-bad")
    reconciler.reconcile(NS, name)
    stored = client.get(WORKFLOWS, NS, name)
    assert stored is not None
    assert (stored["status"]["phase"], stored["status"]["message"]) == ("Error", message)
    assert jobs_of(standin, name) == []


def test_a_missing_key_for_a_step_input_errors_that_step(env: Any) -> None:
    standin, client, _, _, _ = env
    standin.create(config_map(message="hello"))
    name = submit(client, workflow(), "cm-input")
    final, waves = run_to_completion(env, name)
    step = next(n for n in final["status"]["nodes"].values() if n["displayName"] == "say")
    assert (final["status"]["phase"], step["phase"]) == ("Failed", "Error")
    assert step["message"] == (
        "unable to retrieve inputs.parameters.who from ConfigMap: ConfigMap 'settings' does not have the key 'who'; "
        "add it or fix configMapKeyRef.key"
    )
    assert (waves, jobs_of(standin, name)) == ([], [])


def test_a_workflow_template_referenced_by_the_workflow_reads_its_config_map_too(env: Any) -> None:
    standin, client, _, _, _ = env
    standin.create(config_map(message="from template", who="ref"))
    template = {**workflow(), "kind": "WorkflowTemplate", "metadata": {"name": "cm-template", "namespace": NS}}
    standin.create(template)
    ref = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "cm-ref-"},
        "spec": {"workflowTemplateRef": {"name": "cm-template"}},
    }
    name = submit(client, ref, "cm-ref")
    final, _ = run_to_completion(env, name)
    assert final["status"]["phase"] == "Succeeded"
    (job,) = jobs_of(standin, name)
    assert main_args(job) == ["from template", "ref!"]
