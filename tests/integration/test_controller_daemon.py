"""Daemon steps through the cluster reconciler on the Kubernetes API stand-in (real `kubernetes` client).

The kubelet is simulated explicitly: the test makes the daemon's Pod run (podIP 10.244.0.10, containers ready or
not), reconciles, and checks what the reconciler did: the node turns daemoned only once main is ready, the
dependent step's Job carries the daemon's IP, and the daemon's Job is deleted when its scope ends."""

from __future__ import annotations

import json
from typing import Any

import yaml

from executor.cluster.kube import WORKFLOWS
from tests.integration.test_controller import NS, env, jobs_of, load_example, node_of, submit, succeed
from tests.standin.fixture import kube

__all__ = ["env", "kube"]

POD_IP = "10.244.0.10"  # what the stand-in's kubelet gives a running Pod

DAG = yaml.safe_load(
    """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: dg}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: server, template: server}
      - name: client
        depends: server.Daemoned
        template: client
        arguments: {parameters: [{name: ip, value: "{{tasks.server.ip}}"}]}
  - name: server
    daemon: true
    container:
      image: nginx:1.27
      readinessProbe: {httpGet: {path: /, port: 80}}
  - name: client
    inputs: {parameters: [{name: ip}]}
    container: {image: curlimages/curl:8.10.1, command: [curl, "http://{{inputs.parameters.ip}}/"]}
"""
)


def job_for(standin: Any, workflow: str, node_name: str) -> dict[str, Any] | None:
    found = [j for j in jobs_of(standin, workflow) if node_of(j) == node_name]
    return found[0] if found else None


def node(client: Any, workflow: str, name: str) -> dict[str, Any]:
    wf = client.get(WORKFLOWS, NS, workflow)
    nodes: dict[str, Any] = wf["status"]["nodes"]
    return next(dict(n) for n in nodes.values() if n["name"] == name)


def main_argv(job: dict[str, Any]) -> list[str]:
    containers = job["spec"]["template"]["spec"]["containers"]
    main = next(c for c in containers if c["name"] == "main")
    return [*main.get("command", []), *main.get("args", [])]


def set_main_ready(standin: Any, kubelet: Any, job_name: str, ready: bool) -> None:
    """The readiness probe's verdict, as the kubelet records it in the Pod's container status."""
    pod = kubelet.pods_of(NS, job_name)[-1]
    statuses = [dict(s, ready=ready) if s["name"] == "main" else s for s in pod["status"]["containerStatuses"]]
    standin.patch(
        "v1",
        "Pod",
        pod["metadata"]["name"],
        {"status": {"containerStatuses": statuses}},
        namespace=NS,
        subresource="status",
    )


def test_a_dag_daemon_is_daemoned_once_ready_its_dependent_gets_its_ip_and_its_job_is_deleted_at_the_end(
    env: Any,
) -> None:
    standin, client, reconciler, kubelet, clock = env
    name = submit(client, DAG, "dg")
    reconciler.reconcile(NS, name)
    server_job = job_for(standin, name, "dg.server")
    assert server_job is not None
    job_name = server_job["metadata"]["name"]

    kubelet.run(NS, job_name)
    set_main_ready(standin, kubelet, job_name, False)  # running, readiness probe not passed yet
    clock.tick()
    reconciler.reconcile(NS, name)
    server = node(client, name, "dg.server")
    assert server["phase"] == "Running"
    assert "daemoned" not in server
    assert job_for(standin, name, "dg.client") is None

    set_main_ready(standin, kubelet, job_name, True)
    clock.tick()
    reconciler.reconcile(NS, name)
    server = node(client, name, "dg.server")
    assert (server["phase"], server["daemoned"], server["podIP"]) == ("Running", True, POD_IP)
    client_job = job_for(standin, name, "dg.client")
    assert client_job is not None
    assert main_argv(client_job) == ["curl", f"http://{POD_IP}/"]

    succeed(kubelet, client_job)
    clock.tick()
    reconciler.reconcile(NS, name)
    workflow = client.get(WORKFLOWS, NS, name)
    assert workflow["status"]["phase"] == "Succeeded"
    server = node(client, name, "dg.server")
    assert server["phase"] == "Succeeded"
    assert "daemoned" not in server
    assert job_for(standin, name, "dg.server") is None  # the daemon's Job was deleted with its scope
    assert job_for(standin, name, "dg.client") is not None


def test_the_daemon_example_on_the_cluster_passes_the_pod_ip_to_the_next_step(env: Any) -> None:
    standin, client, reconciler, kubelet, clock = env
    name = submit(client, load_example("daemon-service.yaml"), "ds")
    reconciler.reconcile(NS, name)
    server_job = job_for(standin, name, "ds[0].server")
    assert server_job is not None
    kubelet.run(NS, server_job["metadata"]["name"])  # the stand-in's kubelet: running and ready
    clock.tick()
    reconciler.reconcile(NS, name)
    client_job = job_for(standin, name, "ds[1].client")
    assert client_job is not None
    assert main_argv(client_job)[-1] == f"http://{POD_IP}:38917/"
    kubelet.succeed(NS, client_job["metadata"]["name"], messages={"wait": json.dumps({"v": 1})})
    clock.tick()
    reconciler.reconcile(NS, name)
    assert client.get(WORKFLOWS, NS, name)["status"]["phase"] == "Succeeded"
    assert job_for(standin, name, "ds[0].server") is None
    assert node(client, name, "ds[0].server")["podIP"] == POD_IP
