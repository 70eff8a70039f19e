"""Artifact repositories and Kueue on the cluster path (API stand-in + a real S3-compatible server).

The repository comes from the seed's `workflow-controller-configmap` (legacy `data.config` form); credentials
reach the init/wait containers only as Secret references; a step's outputs reported by its `wait` sidecar flow
into the next step's Job; a report too big for a termination message is read back from the repository.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import yaml

from executor.cluster.kube import WORKFLOWS, Kube
from tests.integration.test_controller import NS, Clock, env, load_example, submit
from tests.s3server import S3Server, s3_bucket, s3_server
from tests.standin import KubeStandin, SimKubelet
from tests.standin.fixture import kube

__all__ = ["env", "kube", "s3_bucket", "s3_server"]

Env = tuple[KubeStandin, Kube, Any, SimKubelet, Clock]

# The seed's ConfigMap shape (../shared/seed/workflow-controller-configmap.yaml), pointed at the test's server.
CONTROLLER_CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: workflow-controller-configmap
  namespace: argo
data:
  config: |
    artifactRepository:
      s3:
        bucket: {bucket}
        endpoint: {endpoint}
        insecure: true
        accessKeySecret:
          name: argo-artifacts
          key: accesskey
        secretKeySecret:
          name: argo-artifacts
          key: secretkey
"""


def install_repository(standin: KubeStandin, s3: S3Server, bucket: str) -> None:
    standin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argo"}})
    standin.create(yaml.safe_load(CONTROLLER_CONFIGMAP.format(bucket=bucket, endpoint=s3.endpoint)))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "argo-artifacts", "namespace": NS},
        "data": {
            "accesskey": base64.b64encode(s3.access_key.encode()).decode(),
            "secretkey": base64.b64encode(s3.secret_key.encode()).decode(),
        },
    }
    standin.create(secret)


def pod_config(job: dict[str, Any], container: str) -> dict[str, Any]:
    spec = job["spec"]["template"]["spec"]
    for c in [*spec.get("initContainers", []), *spec["containers"]]:
        if c["name"] == container:
            for env_var in c.get("env", []):
                if env_var["name"] == "TRELLIS_POD_SPEC":
                    config: dict[str, Any] = json.loads(env_var["value"])
                    return config
    raise AssertionError(f"{container} has no TRELLIS_POD_SPEC")


def env_names(job: dict[str, Any], container: str) -> list[str]:
    spec = job["spec"]["template"]["spec"]
    found = [c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == container]
    return [e["name"] for e in found[0].get("env", [])] if found else []


def jobs_by_task(standin: KubeStandin) -> dict[str, dict[str, Any]]:
    return {
        j["metadata"]["annotations"]["workflows.argoproj.io/node-name"].split(".")[-1]: j
        for j in standin.list_objects("batch/v1", "Job", NS)
    }


def test_outputs_reported_by_one_step_become_the_next_steps_inputs_with_credentials_by_reference(
    env: Env, s3_server: S3Server, s3_bucket: str
) -> None:
    standin, client, reconciler, kubelet, clock = env
    install_repository(standin, s3_server, s3_bucket)
    name = submit(client, load_example("artifacts-pipeline.yaml"), "arts")
    reconciler.reconcile(NS, name)
    producer = jobs_by_task(standin)["generate-data"]
    outputs = pod_config(producer, "wait")["artifacts"]
    assert [(o["name"], o["location"]["s3"]["bucket"]) for o in outputs] == [("raw-data", s3_bucket)]
    assert outputs[0]["location"]["s3"]["key"].startswith(f"{name}/")
    # credentials: Secret references on wait only; nothing secret in the Job manifest; no token in main
    assert env_names(producer, "main") == []
    assert any(n.startswith("TRELLIS_SECRET_") for n in env_names(producer, "wait"))
    assert s3_server.secret_key not in json.dumps(producer)
    main = next(c for c in producer["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert not any("serviceaccount" in m["mountPath"] for m in main.get("volumeMounts", []))

    report = {
        "v": 1,
        "artifacts": [
            {"name": "raw-data", "path": "/tmp/output", "location": outputs[0]["location"], "archive": "none"}
        ],
    }
    kubelet.succeed(NS, producer["metadata"]["name"], messages={"wait": json.dumps(report)})
    clock.tick()
    reconciler.reconcile(NS, name)
    consumer = jobs_by_task(standin)["process-data"]
    (fetched,) = pod_config(consumer, "init")["inputs"]
    assert fetched["location"]["s3"]["key"] == outputs[0]["location"]["s3"]["key"]
    status = client.get(WORKFLOWS, NS, name)["status"]  # type: ignore[index]
    assert s3_server.secret_key not in json.dumps(status)
    producer_node = next(n for n in status["nodes"].values() if n.get("displayName") == "generate-data")
    assert producer_node["outputs"]["artifacts"][0]["s3"]["key"] == outputs[0]["location"]["s3"]["key"]


def test_a_report_offloaded_to_the_repository_is_read_back_with_the_secrets_credentials(
    env: Env, s3_server: S3Server, s3_bucket: str
) -> None:
    standin, client, reconciler, kubelet, clock = env
    install_repository(standin, s3_server, s3_bucket)
    manifest = load_example("parameters.yaml")
    name = submit(client, manifest, "offload")
    reconciler.reconcile(NS, name)
    (job,) = standin.list_objects("batch/v1", "Job", NS)
    location = pod_config(job, "wait")["report_location"]
    big = "x" * 10_000
    full = {"v": 1, "result": big, "parameters": {}}
    data = json.dumps(full).encode()
    s3_server.client().put_object(s3_bucket, location["s3"]["key"], io.BytesIO(data), len(data))
    kubelet.succeed(NS, job["metadata"]["name"], messages={"wait": json.dumps({"v": 1, "offloaded": location})})
    clock.tick()
    reconciler.reconcile(NS, name)
    nodes = client.get(WORKFLOWS, NS, name)["status"]["nodes"]  # type: ignore[index]
    pod_nodes = [n for n in nodes.values() if n.get("type") == "Pod"]
    assert pod_nodes[0]["outputs"]["result"] == big


def test_a_missing_artifact_repository_ref_errors_the_workflow_with_the_reason(env: Env) -> None:
    _, client, reconciler, _, _ = env
    manifest = load_example("data-pipeline-dag.yaml")
    manifest["spec"]["artifactRepositoryRef"] = {"configMap": "my-repos", "key": "main"}
    name = submit(client, manifest, "norepo")
    reconciler.reconcile(NS, name)
    status = client.get(WORKFLOWS, NS, name)["status"]  # type: ignore[index]
    assert (status["phase"], status["message"]) == (
        "Error",
        'spec.artifactRepositoryRef: ConfigMap "my-repos" not found in the workflow\'s namespace; create it or fix '
        "spec.artifactRepositoryRef.configMap",
    )


def test_kueue_queue_name_lands_on_every_job_and_a_suspended_job_keeps_its_step_pending(env: Env) -> None:
    standin, client, reconciler, _, clock = env
    manifest = load_example("data-pipeline-dag.yaml")
    manifest["spec"]["podMetadata"] = {"labels": {"kueue.x-k8s.io/queue-name": "team-a"}}
    name = submit(client, manifest, "queued")
    reconciler.reconcile(NS, name)
    (job,) = standin.list_objects("batch/v1", "Job", NS)
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    # Kueue suspends a Job until its quota is admitted: the step must wait, not fail.
    standin.patch("batch/v1", "Job", job["metadata"]["name"], {"spec": {"suspend": True}}, namespace=NS)
    for _ in range(3):
        clock.tick(600)
        reconciler.reconcile(NS, name)
    status = client.get(WORKFLOWS, NS, name)["status"]  # type: ignore[index]
    node = status["nodes"][job["metadata"]["annotations"]["workflows.argoproj.io/node-id"]]
    assert (status["phase"], node["phase"]) == ("Running", "Pending")
