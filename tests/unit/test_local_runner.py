"""The local runner's pure helpers: the Workflow object a run starts from, resume, and the summary it prints."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from executor.local.progress import long_duration, node_tree, short_duration, summary
from executor.local.runner import ManifestError, parse_parameter, workflow_from
from executor.operations import resume_workflow
from executor.status import nodes_of, pack_nodes

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
SPEC = {"entrypoint": "main", "arguments": {"parameters": [{"name": "who", "value": "world"}]}, "templates": []}


def start(obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return workflow_from(
        obj,
        parameters=kw.get("parameters", {}),
        entrypoint=kw.get("entrypoint"),
        now=NOW,
        rng=random.Random(7),
        taken=kw.get("taken", lambda _n: False),
    )


def test_a_workflow_gets_a_generated_name_uid_namespace_and_creation_time() -> None:
    wf = start({"kind": "Workflow", "metadata": {"generateName": "hello-"}, "spec": SPEC})
    meta = wf["metadata"]
    assert meta["name"].startswith("hello-") and len(meta["name"]) == len("hello-") + 5
    assert meta["name"][6:].isalnum() and meta["name"][6:].lower() == meta["name"][6:]
    assert "generateName" not in meta
    assert (meta["namespace"], meta["creationTimestamp"]) == ("default", "2026-03-04T05:06:07Z")
    assert len(meta["uid"]) == 36


def test_a_generated_name_avoids_names_in_history() -> None:
    first = start({"kind": "Workflow", "metadata": {"generateName": "x-"}, "spec": SPEC})["metadata"]["name"]
    again = start({"kind": "Workflow", "metadata": {"generateName": "x-"}, "spec": SPEC}, taken=lambda n: n == first)
    assert again["metadata"]["name"] != first


def test_parameters_override_arguments_and_entrypoint_replaces_the_spec_one() -> None:
    wf = start(
        {"kind": "Workflow", "metadata": {"name": "fixed"}, "spec": SPEC},
        parameters={"who": "you", "extra": "1"},
        entrypoint="other",
    )
    assert wf["metadata"]["name"] == "fixed"
    assert wf["spec"]["entrypoint"] == "other"
    assert wf["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "you"}, {"name": "extra", "value": "1"}]
    assert SPEC["arguments"]["parameters"] == [{"name": "who", "value": "world"}], "the input is not changed"


def test_a_cron_workflow_runs_its_workflow_spec_with_argo_labels() -> None:
    cron = {
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly", "namespace": "team"},
        "spec": {"schedules": ["0 1 * * *"], "workflowSpec": SPEC, "workflowMetadata": {"labels": {"a": "b"}}},
    }
    wf = start(cron)
    assert wf["kind"] == "Workflow" and wf["spec"] == SPEC
    assert wf["metadata"]["name"].startswith("nightly-")
    assert wf["metadata"]["namespace"] == "team"
    assert wf["metadata"]["labels"] == {"a": "b", "workflows.argoproj.io/cron-workflow": "nightly"}


@pytest.mark.parametrize(
    ("kind", "ref"),
    [
        pytest.param("WorkflowTemplate", {"name": "tmpl"}, id="namespaced"),
        pytest.param("ClusterWorkflowTemplate", {"name": "tmpl", "clusterScope": True}, id="cluster"),
    ],
)
def test_a_template_is_submitted_as_a_workflow_referring_to_it(kind: str, ref: dict[str, Any]) -> None:
    wf = start({"kind": kind, "metadata": {"name": "tmpl"}, "spec": SPEC})
    assert wf["spec"] == {"workflowTemplateRef": ref}
    assert wf["metadata"]["name"].startswith("tmpl-")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(
            {"kind": "ConfigMap", "metadata": {"name": "x"}},
            "cannot run a ConfigMap: give a Workflow, CronWorkflow or WorkflowTemplate",
            id="other-kind",
        ),
        pytest.param(
            {"kind": "Workflow", "metadata": {}, "spec": SPEC}, "metadata: set name or generateName", id="no-name"
        ),
        pytest.param(
            {"kind": "CronWorkflow", "metadata": {"name": "c"}, "spec": {}},
            "CronWorkflow c: spec.workflowSpec is missing; add the Workflow spec",
            id="cron-without-spec",
        ),
        pytest.param(
            {"kind": "ClusterWorkflowTemplate", "metadata": {"name": "lib"}, "spec": {"templates": []}},
            "ClusterWorkflowTemplate lib has no spec.entrypoint: give the Workflow that uses it (with this file"
            " alongside or in --templates DIR), or --entrypoint TEMPLATE to submit it as `argo submit --from` does",
            id="template-library-without-entrypoint",
        ),
    ],
)
def test_what_cannot_run_says_why(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as err:
        start(obj)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        pytest.param("a=b", ("a", "b"), id="simple"),
        pytest.param("a=b=c", ("a", "b=c"), id="value-with-equals"),
        pytest.param("a=", ("a", ""), id="empty-value"),
    ],
)
def test_parameters_parse_as_name_equals_value(text: str, pair: tuple[str, str]) -> None:
    assert parse_parameter(text) == pair


def test_a_parameter_without_equals_is_an_error() -> None:
    with pytest.raises(ManifestError) as err:
        parse_parameter("oops")
    assert str(err.value) == "-p 'oops': expected name=value"


def suspended_status() -> dict[str, Any]:
    return {
        "phase": "Running",
        "nodes": {
            "wf": {"id": "wf", "name": "wf", "type": "Steps", "phase": "Running"},
            "wf-1": {
                "id": "wf-1",
                "name": "wf[0].approve",
                "type": "Suspend",
                "phase": "Running",
                "outputs": {"parameters": [{"name": "answer"}]},
            },
        },
    }


@pytest.mark.parametrize("compressed", [False, True], ids=["plain-nodes", "compressed-nodes"])
def test_resume_marks_suspend_nodes_succeeded_with_supplied_values_as_argo_resume(compressed: bool) -> None:
    status = suspended_status()
    if compressed:
        pack_nodes(status, status["nodes"], threshold=0)
        assert "nodes" not in status
    wf = {"metadata": {"name": "wf"}, "spec": {"suspend": True}, "status": status}
    resume_workflow(wf, NOW, {"answer": "yes"})
    nodes = nodes_of(wf["status"])
    assert "suspend" not in wf["spec"]
    assert nodes["wf-1"]["phase"] == "Succeeded"
    assert nodes["wf-1"]["finishedAt"] == "2026-03-04T05:06:07Z"
    assert nodes["wf-1"]["outputs"] == {"parameters": [{"name": "answer", "value": "yes"}]}
    assert nodes["wf"]["phase"] == "Running", "only Suspend nodes are resumed"


@pytest.mark.parametrize(
    ("seconds", "short", "long"),
    [
        pytest.param(0, "0s", "0 seconds", id="zero"),
        pytest.param(1, "1s", "1 second", id="one"),
        pytest.param(75, "1m15s", "1 minute 15 seconds", id="minutes"),
        pytest.param(3660, "1h1m", "1 hour 1 minute", id="hours"),
    ],
)
def test_durations_read_as_argo_prints_them(seconds: float, short: str, long: str) -> None:
    assert (short_duration(seconds), long_duration(seconds)) == (short, long)


def dag_workflow() -> dict[str, Any]:
    def pod(name: str, start: str, end: str, children: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        node = {
            "id": f"wf-{name}",
            "name": f"wf.{name}",
            "displayName": name,
            "type": "Pod",
            "templateName": "echo",
            "phase": "Succeeded",
            "boundaryID": "wf",
            "startedAt": start,
            "finishedAt": end,
            "children": children or [],
            **extra,
        }
        return node

    nodes = {
        "wf": {
            "id": "wf",
            "name": "wf",
            "displayName": "wf",
            "type": "DAG",
            "templateName": "diamond",
            "phase": "Failed",
            "startedAt": "2026-03-04T05:00:00Z",
            "finishedAt": "2026-03-04T05:00:09Z",
            "children": ["wf-A"],
        },
        "wf-A": pod("A", "2026-03-04T05:00:00Z", "2026-03-04T05:00:02Z", ["wf-B", "wf-C"]),
        "wf-B": pod("B", "2026-03-04T05:00:02Z", "2026-03-04T05:00:05Z"),
        "wf-C": pod("C", "2026-03-04T05:00:03Z", "2026-03-04T05:00:09Z", phase="Failed", message="Error (exit code 1)"),
    }
    return {
        "metadata": {"name": "wf", "namespace": "default", "creationTimestamp": "2026-03-04T04:59:59Z"},
        "spec": {},
        "status": {
            "phase": "Failed",
            "message": "Error (exit code 1)",
            "startedAt": "2026-03-04T05:00:00Z",
            "finishedAt": "2026-03-04T05:00:09Z",
            "progress": "2/3",
            "nodes": nodes,
        },
    }


def test_a_dag_lists_its_tasks_flat_under_it_in_start_order() -> None:
    rows = node_tree(dag_workflow())
    assert [(r.prefix, r.node["displayName"]) for r in rows] == [("", "wf"), ("├─", "A"), ("├─", "B"), ("└─", "C")]


def test_the_summary_reads_like_argo_get() -> None:
    text = summary(dag_workflow(), pod_names={"wf-A": "wf-a-pod", "wf-C": "wf-c-pod"})
    assert text.splitlines() == [
        "Name:                wf",
        "Namespace:           default",
        "Status:              Failed",
        "Message:             Error (exit code 1)",
        "Created:             2026-03-04T04:59:59Z",
        "Started:             2026-03-04T05:00:00Z",
        "Finished:            2026-03-04T05:00:09Z",
        "Duration:            9 seconds",
        "Progress:            2/3",
        "",
        "STEP   TEMPLATE  PODNAME   DURATION  MESSAGE",
        "✖ wf   diamond",
        "├─✔ A  echo      wf-a-pod  2s",
        "├─✔ B  echo                3s",
        "└─✖ C  echo      wf-c-pod  6s        Error (exit code 1)",
    ]
