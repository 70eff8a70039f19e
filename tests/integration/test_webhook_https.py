"""The admission webhook over real HTTPS: `trellis webhook serve` (gunicorn gthread + TLS) with the real
validation and defaulting, reviews shaped as kube-apiserver sends them."""

from __future__ import annotations

import base64
import http.client
import json
import select
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import WebhookProcess, issue_certs
from tests.standin.fixture import kube
from tests.standin.server import KubeStandin

__all__ = ["kube"]  # the stand-in's pytest fixture, used by name below

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
UID = "705ab4f5-6393-11e8-b7cc-42010a800002"
GVK = {
    "Workflow": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Workflow"},
    "CronWorkflow": {"group": "argoproj.io", "version": "v1alpha1", "kind": "CronWorkflow"},
    "Pod": {"group": "", "version": "v1", "kind": "Pod"},
}
JSON = {"Content-Type": "application/json"}

HELLO = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "hello", "namespace": "default"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "retryStrategy": {"limit": 2},
                "container": {"image": "alpine:3.20", "command": ["echo", "hello"]},
            }
        ],
    },
}


def review(obj: Any, *, kind: str = "Workflow", operation: str = "CREATE", **request: Any) -> dict[str, Any]:
    """An AdmissionReview as kube-apiserver sends it."""
    name = obj.get("metadata", {}).get("name", "") if isinstance(obj, dict) else ""
    body: dict[str, Any] = {
        "uid": UID,
        "kind": GVK[kind],
        "resource": {"group": GVK[kind]["group"], "version": GVK[kind]["version"], "resource": kind.lower() + "s"},
        "requestKind": GVK[kind],
        "requestResource": {"group": GVK[kind]["group"], "version": GVK[kind]["version"], "resource": kind.lower()},
        "name": name,
        "namespace": "default",
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {
            "apiVersion": "meta.k8s.io/v1",
            "kind": "CreateOptions",
            "fieldManager": "kubectl-client-side-apply",
        },
    }
    body.update(request)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": body}


def admit(server: WebhookProcess, path: str, body: Any) -> dict[str, Any]:
    """POST a review; the answer must be HTTP 200 with an AdmissionReview v1 echoing the uid."""
    reply = server.post(path, data=json.dumps(body), headers=JSON)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert (answer["apiVersion"], answer["kind"], answer["response"]["uid"]) == (
        "admission.k8s.io/v1",
        "AdmissionReview",
        body["request"]["uid"],
    )
    response: dict[str, Any] = answer["response"]
    return response


def patch_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert response["patchType"] == "JSONPatch"
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    return ops


# ----------------------------------------------------------------------------------------------------------------
# Admission
# ----------------------------------------------------------------------------------------------------------------


def test_a_valid_workflow_is_allowed_and_gets_its_defaults_as_a_json_patch(webhook_server: WebhookProcess) -> None:
    assert admit(webhook_server, "/validate", review(HELLO)) == {"uid": UID, "allowed": True}
    mutated = admit(webhook_server, "/mutate", review(HELLO))
    assert mutated["allowed"] is True
    assert patch_of(mutated) == [
        {"op": "add", "path": "/spec/templates/0/retryStrategy/retryPolicy", "value": "OnFailure"}
    ]


@pytest.mark.skipif(not SEED.is_dir(), reason="../shared/seed is not available")
def test_the_seed_data_pipeline_dag_is_allowed_without_a_patch(webhook_server: WebhookProcess) -> None:
    workflow = yaml.safe_load((SEED / "data-pipeline-dag.yaml").read_text())
    assert admit(webhook_server, "/validate", review(workflow)) == {"uid": UID, "allowed": True}
    assert admit(webhook_server, "/mutate", review(workflow)) == {"uid": UID, "allowed": True}


BROKEN = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "broken", "namespace": "default"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "a", "template": "work", "dependencies": ["b"]},
                        {"name": "b", "template": "work", "dependencies": ["a"]},
                        {"name": "c", "template": "missing"},
                    ]
                },
            },
            {"name": "work", "container": {"image": "alpine:3.20", "comand": ["echo"]}},
        ],
    },
}
BROKEN_CAUSES = [
    {
        "reason": "FieldValueInvalid",
        "message": "dependency cycle: a -> b -> a; to solve this, remove one of these dependencies",
        "field": "spec.templates[0].dag.tasks[0].dependencies",
    },
    {
        "reason": "FieldValueNotFound",
        "message": 'template "missing" is not defined in spec.templates; to solve this, add a template with this '
        "name or fix the name",
        "field": "spec.templates[0].dag.tasks[2].template",
    },
    {
        "reason": "FieldValueForbidden",
        "message": 'unknown field "comand"; did you mean "command"?',
        "field": "spec.templates[1].container.comand",
    },
]


def test_an_invalid_workflow_is_denied_with_every_cause_in_the_api_servers_format(
    webhook_server: WebhookProcess,
) -> None:
    answer = admit(webhook_server, "/validate", review(BROKEN))
    assert answer == {
        "uid": UID,
        "allowed": False,
        "status": {
            "metadata": {},
            "status": "Failure",
            "message": 'Workflow.argoproj.io "broken" is invalid: ['
            + ", ".join(f"{cause['field']}: {cause['message']}" for cause in BROKEN_CAUSES)
            + "]",
            "reason": "Invalid",
            "code": 422,
            "details": {"name": "broken", "group": "argoproj.io", "kind": "Workflow", "causes": BROKEN_CAUSES},
        },
    }
    assert answer["status"]["message"].startswith(
        'Workflow.argoproj.io "broken" is invalid: [spec.templates[0].dag.tasks[0].dependencies: dependency cycle: '
        "a -> b -> a; to solve this, remove one of these dependencies, spec.templates[0].dag.tasks[2].template: "
    )


def test_advice_travels_as_warnings_on_an_allowed_review(webhook_server: WebhookProcess) -> None:
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "schedule": "*/5 * * * *",
            "workflowSpec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "alpine"}}]},
        },
    }
    assert admit(webhook_server, "/validate", review(cron, kind="CronWorkflow")) == {
        "uid": UID,
        "allowed": True,
        "warnings": [
            'spec.schedule: is deprecated (Argo v4 reads only spec.schedules); write schedules: ["*/5 * * * *"]'
        ],
    }
    assert patch_of(admit(webhook_server, "/mutate", review(cron, kind="CronWorkflow"))) == [
        {"op": "add", "path": "/spec/concurrencyPolicy", "value": "Allow"},
        {"op": "add", "path": "/spec/successfulJobsHistoryLimit", "value": 3},
        {"op": "add", "path": "/spec/failedJobsHistoryLimit", "value": 1},
    ]


def test_an_update_changing_the_spec_of_a_running_workflow_is_denied(webhook_server: WebhookProcess) -> None:
    running = {**HELLO, "status": {"phase": "Running"}}
    changed = {**running, "spec": {**HELLO["spec"], "entrypoint": "other"}}  # type: ignore[dict-item]
    answer = admit(webhook_server, "/validate", review(changed, operation="UPDATE", oldObject=running))
    assert answer["allowed"] is False
    assert answer["status"]["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": 'cannot be changed once the Workflow has started (status.phase is "Running"); only '
            "spec.suspend, spec.shutdown, spec.activeDeadlineSeconds can; to solve this, submit a new Workflow "
            "with the change",
            "field": "spec.entrypoint",
        }
    ]
    suspended = {**running, "spec": {**HELLO["spec"], "suspend": True}}  # type: ignore[dict-item]
    body = review(suspended, operation="UPDATE", oldObject=running)
    assert admit(webhook_server, "/validate", body) == {"uid": UID, "allowed": True}


def test_dry_run_gets_the_same_answer(webhook_server: WebhookProcess) -> None:
    assert admit(webhook_server, "/validate", review(HELLO, dryRun=True)) == {"uid": UID, "allowed": True}
    assert admit(webhook_server, "/validate", review(BROKEN, dryRun=True)) == admit(
        webhook_server, "/validate", review(BROKEN)
    )
    assert patch_of(admit(webhook_server, "/mutate", review(HELLO, dryRun=True))) == patch_of(
        admit(webhook_server, "/mutate", review(HELLO))
    )


def test_an_update_is_validated_against_the_stored_object(webhook_server: WebhookProcess) -> None:
    old = {**HELLO, "metadata": {**HELLO["metadata"], "resourceVersion": "41"}}  # type: ignore[dict-item]
    body = review(HELLO, operation="UPDATE", oldObject=old)
    assert admit(webhook_server, "/validate", body) == {"uid": UID, "allowed": True}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(review({"apiVersion": "v1", "kind": "Pod", "spec": []}, kind="Pod"), id="a-core-pod"),
        pytest.param(review(None, operation="DELETE", oldObject=HELLO), id="delete"),
        pytest.param(review({"status": "anything"}, subResource="status"), id="status-subresource"),
    ],
)
def test_requests_we_do_not_own_pass_through(webhook_server: WebhookProcess, body: dict[str, Any]) -> None:
    assert admit(webhook_server, "/validate", body) == {"uid": UID, "allowed": True}
    assert admit(webhook_server, "/mutate", body) == {"uid": UID, "allowed": True}


def test_an_object_that_is_not_a_mapping_is_denied_with_a_message(webhook_server: WebhookProcess) -> None:
    assert admit(webhook_server, "/validate", review(["not", "a", "workflow"])) == {
        "uid": UID,
        "allowed": False,
        "status": {
            "metadata": {},
            "status": "Failure",
            "message": "AdmissionReview.request.object must be a Workflow manifest (a JSON object), got a list",
            "reason": "BadRequest",
            "code": 400,
        },
    }


# ----------------------------------------------------------------------------------------------------------------
# Bad requests: a 4xx Status, never a 500
# ----------------------------------------------------------------------------------------------------------------


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


VALID_BODY = json.dumps(review(HELLO)).encode()
TRUNCATED = VALID_BODY[:100]
TRUNCATED_STRING_COLUMN = TRUNCATED.rindex(b'"') + 1  # where the cut-off string starts


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "expected"),
    [
        pytest.param(
            "POST",
            "/validate",
            JSON,
            b"{not json",
            status(
                400,
                "BadRequest",
                "request body is not valid JSON (Expecting property name enclosed in double quotes: line 1 "
                "column 2); send an AdmissionReview (admission.k8s.io/v1) encoded as JSON",
            ),
            id="malformed-json",
        ),
        pytest.param(
            "POST",
            "/mutate",
            JSON,
            TRUNCATED,
            status(
                400,
                "BadRequest",
                "request body is not valid JSON (Unterminated string starting at: line 1 column "
                f"{TRUNCATED_STRING_COLUMN}); send an AdmissionReview (admission.k8s.io/v1) encoded as JSON",
            ),
            id="truncated-body",
        ),
        pytest.param(
            "POST",
            "/validate",
            JSON,
            b'{"a":' * 50_000 + b"{}" + b"}" * 50_000,
            status(
                400, "BadRequest", "request body is nested deeper than 100 levels; no Argo manifest needs that many"
            ),
            id="deeply-nested-json",
        ),
        pytest.param(
            "POST",
            "/validate",
            JSON,
            json.dumps({"apiVersion": "v1", "kind": "Pod"}).encode(),
            status(
                400,
                "BadRequest",
                "request body must be an AdmissionReview of apiVersion admission.k8s.io/v1, got kind='Pod' "
                "apiVersion='v1'; list \"v1\" in the webhook configuration's admissionReviewVersions",
            ),
            id="not-an-admission-review",
        ),
        pytest.param(
            "POST",
            "/validate",
            JSON,
            json.dumps(review(HELLO, uid=None)).encode(),
            status(
                400, "BadRequest", "AdmissionReview.request.uid must be a non-empty string; it is echoed in the answer"
            ),
            id="missing-uid",
        ),
        pytest.param(
            "POST",
            "/validate",
            {"Content-Type": "application/yaml"},
            VALID_BODY,
            status(
                415,
                "UnsupportedMediaType",
                "Content-Type must be application/json, got 'application/yaml'; the API server sends "
                "AdmissionReviews as JSON",
            ),
            id="wrong-content-type",
        ),
        pytest.param(
            "GET",
            "/validate",
            {},
            b"",
            status(405, "MethodNotAllowed", "GET is not allowed on /validate; the API server POSTs AdmissionReviews"),
            id="wrong-method",
        ),
        pytest.param(
            "POST",
            "/admit",
            JSON,
            VALID_BODY,
            status(404, "NotFound", "no such endpoint /admit; use /validate, /mutate, /healthz, /readyz or /metrics"),
            id="unknown-path",
        ),
    ],
)
def test_bad_requests_get_a_kubernetes_status_saying_what_is_wrong(
    webhook_server: WebhookProcess,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    expected: dict[str, Any],
) -> None:
    reply = requests.request(
        method, webhook_server.url + path, data=body, headers=headers, verify=webhook_server.ca, timeout=10
    )
    assert (reply.status_code, reply.headers["Content-Type"]) == (expected["code"], "application/json")
    assert reply.json() == expected


def test_a_body_over_3_mib_is_refused_with_413(webhook_server: WebhookProcess) -> None:
    padded = review({**HELLO, "metadata": {"name": "hello", "annotations": {"pad": "x" * (3 * 1024 * 1024)}}})
    reply = webhook_server.post("/validate", data=json.dumps(padded), headers=JSON)
    assert reply.status_code == 413
    assert reply.json() == status(
        413, "RequestEntityTooLarge", "request body is larger than 3145728 bytes, the most the API server sends"
    )


# ----------------------------------------------------------------------------------------------------------------
# Hanging clients
# ----------------------------------------------------------------------------------------------------------------


def tls_connect(server: WebhookProcess) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=server.ca)
    return context.wrap_socket(
        socket.create_connection((server.host, server.port), timeout=10), server_hostname=server.host
    )


def closed_by_peer(sock: ssl.SSLSocket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ssl.SSLError, ConnectionResetError):
        return True


def closed_now(sock: ssl.SSLSocket) -> bool:
    """Without blocking: has the server closed? (Readable may only mean a TLS 1.3 session ticket arrived.)"""
    sock.settimeout(0.0)
    try:
        return sock.recv(1) == b""
    except ssl.SSLWantReadError:
        return False
    except (ssl.SSLError, ConnectionResetError):
        return True
    finally:
        sock.settimeout(10)


def test_slow_clients_neither_block_others_nor_hold_a_thread_forever(webhook_server: WebhookProcess) -> None:
    """Two clients stall mid-headers and one mid-body on a 4-thread server; others are answered meanwhile, and
    the server drops the stalled connections after its 2 s I/O timeout."""
    slow = [tls_connect(webhook_server) for _ in range(2)]
    for sock in slow:
        sock.sendall(b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic")
    stalled_body = tls_connect(webhook_server)
    stalled_body.sendall(
        b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000\r\n\r\n" + VALID_BODY[:200]
    )
    for _ in range(3):
        assert admit(webhook_server, "/validate", review(HELLO))["allowed"] is True
    # Answered while the stalled clients were still connected: nobody waited for the server to drop them.
    assert [closed_now(sock) for sock in slow] == [False, False]

    for sock in slow:
        sock.settimeout(10)  # the deadline: the server must close well before
        assert closed_by_peer(sock)
        sock.close()
    stalled_body.settimeout(10)
    reply = b""
    while not reply.endswith(b"}"):
        reply += stalled_body.recv(4096)
    stalled_body.close()
    assert reply.startswith(b"HTTP/1.1 400 "), reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == status(
        400,
        "BadRequest",
        "request body is shorter than its Content-Length (5000 bytes): the client closed the connection, sent "
        "nothing for 2 s or took over 4 s",
    )


def test_a_client_trickling_its_headers_is_cut_off_at_the_request_timeout(webhook_server: WebhookProcess) -> None:
    """One byte every 0.25 s never trips the 2 s read timeout; the 4 s request timeout ends it."""
    sock = tls_connect(webhook_server)
    header = b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 1000
    started = time.monotonic()
    closed_after = None
    for byte in header:
        try:
            sock.sendall(bytes([byte]))
        except (ssl.SSLError, OSError):
            closed_after = time.monotonic() - started
            break
        readable, _, _ = select.select([sock], [], [], 0.25)  # the trickle interval, and a close check
        if readable and closed_now(sock):
            closed_after = time.monotonic() - started
            break
    sock.close()
    assert closed_after is not None, "the server kept a trickling client for 250 s"
    assert 3.5 < closed_after < 8


def test_reviews_share_one_kept_alive_connection(webhook_server: WebhookProcess) -> None:
    connection = http.client.HTTPSConnection(
        webhook_server.host, webhook_server.port, context=ssl.create_default_context(cafile=webhook_server.ca)
    )
    try:
        sockets = []
        for path in ("/validate", "/mutate", "/validate"):
            connection.request("POST", path, body=VALID_BODY, headers=JSON)
            reply = connection.getresponse()
            assert (reply.status, json.loads(reply.read())["response"]["allowed"]) == (200, True)
            assert reply.getheader("Connection", "keep-alive").lower() == "keep-alive"
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets == [sockets[0]] * 3
    finally:
        connection.close()


# ----------------------------------------------------------------------------------------------------------------
# Health, readiness, metrics
# ----------------------------------------------------------------------------------------------------------------


def test_health_and_readiness_answer_200(webhook_server: WebhookProcess) -> None:
    assert (webhook_server.get("/healthz").status_code, webhook_server.get("/healthz").json()) == (
        200,
        {"status": "ok"},
    )
    assert (webhook_server.get("/readyz").status_code, webhook_server.get("/readyz").json()) == (
        200,
        {"status": "ready"},
    )


def scrape(server: WebhookProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = server.get("/metrics")
    assert reply.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
        if sample.name.startswith("trellis_webhook_")
    }


def test_metrics_count_requests_by_endpoint_and_code_and_denials_by_reason(webhook_server: WebhookProcess) -> None:
    before = scrape(webhook_server)
    admit(webhook_server, "/validate", review(HELLO))
    admit(webhook_server, "/validate", review("not an object"))
    admit(webhook_server, "/validate", review(BROKEN))
    admit(webhook_server, "/mutate", review(HELLO))
    webhook_server.post("/validate", data=b"{", headers=JSON)
    after = scrape(webhook_server)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("trellis_webhook_requests_total", endpoint="/validate", code="200") == 3
    assert delta("trellis_webhook_requests_total", endpoint="/mutate", code="200") == 1
    assert delta("trellis_webhook_requests_total", endpoint="/validate", code="400") == 1
    assert delta("trellis_webhook_denials_total", kind="Workflow", reason="BadRequest") == 1
    assert delta("trellis_webhook_denials_total", kind="Workflow", reason="Invalid") == 1
    assert delta("trellis_webhook_request_duration_seconds_count", endpoint="/validate") == 4
    assert delta("trellis_webhook_request_duration_seconds_bucket", endpoint="/validate", le="+Inf") == 4


# ----------------------------------------------------------------------------------------------------------------
# Certificates
# ----------------------------------------------------------------------------------------------------------------


def served_serial(server: WebhookProcess) -> int:
    with tls_connect(server) as sock:
        der = sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_a_rotated_certificate_is_served_on_new_connections_without_a_restart(
    start_webhook_server: Callable[..., WebhookProcess],
) -> None:
    server = start_webhook_server("--workers", "2", "--threads", "2")
    pid = server.process.pid
    first = served_serial(server)
    with requests.Session() as kept_alive:
        assert kept_alive.get(server.url + "/healthz", verify=server.ca, timeout=10).status_code == 200

        issue_certs(server.certs)  # same CA, new serving certificate and key, files replaced atomically
        rotated = x509.load_pem_x509_certificate((server.certs / "tls.crt").read_bytes()).serial_number
        assert rotated != first
        deadline = time.monotonic() + 10
        while served_serial(server) != rotated:  # every new connection re-checks the files; both workers too
            assert time.monotonic() < deadline, "the rotated certificate was not served within 10 s"
        assert [served_serial(server) for _ in range(6)] == [rotated] * 6
        assert kept_alive.get(server.url + "/healthz", verify=server.ca, timeout=10).status_code == 200
    assert server.process.poll() is None and server.process.pid == pid
    assert admit(server, "/validate", review(HELLO)) == {"uid": UID, "allowed": True}


# ----------------------------------------------------------------------------------------------------------------
# Template references checked against the cluster (the Kubernetes API stand-in)
# ----------------------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def uses_template(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "from-template-"},  # no namespace: it comes from the request
        "spec": {"workflowTemplateRef": {"name": name}},
    }


def test_template_references_are_checked_against_the_cluster(
    kube: KubeStandin, start_webhook_server: Callable[..., WebhookProcess]
) -> None:
    for crd in ("workflowtemplates", "clusterworkflowtemplates"):
        kube.create(yaml.safe_load((ROOT / "crds" / f"{crd}.argoproj.io.yaml").read_text()))
    for namespace in ("team-a", "team-b"):
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.create(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "build", "namespace": "team-a"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "alpine:3.20"}}]},
        },
        namespace="team-a",
    )
    assert kube.kubeconfig is not None
    server = start_webhook_server("--templates-from-cluster", "--kubeconfig", str(kube.kubeconfig))

    found = review(uses_template("build"), namespace="team-a")
    assert admit(server, "/validate", found) == {"uid": UID, "allowed": True}
    missing = admit(server, "/validate", review(uses_template("build"), namespace="team-b"))
    assert missing["status"]["message"] == (
        'Workflow.argoproj.io "from-template-" is invalid: spec.workflowTemplateRef.name: WorkflowTemplate "build" '
        'does not exist in namespace "team-b"; to solve this, create it first or fix the name'
    )
    assert missing["status"]["details"]["causes"] == [
        {
            "reason": "FieldValueNotFound",
            "message": 'WorkflowTemplate "build" does not exist in namespace "team-b"; to solve this, create it '
            "first or fix the name",
            "field": "spec.workflowTemplateRef.name",
        }
    ]


class FakeClock:
    """Injected time for the lookup cache."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cluster_lookups_cache_found_templates_briefly_and_never_a_miss(kube: KubeStandin) -> None:
    from kubernetes.client.exceptions import ApiException

    from executor.commands.webhook import ClusterTemplates

    kube.create(yaml.safe_load((ROOT / "crds" / "workflowtemplates.argoproj.io.yaml").read_text()))
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "build", "namespace": "default"},
        "spec": {"templates": [{"name": "main", "container": {"image": "alpine:3.20"}}]},
    }
    clock = FakeClock()
    assert kube.kubeconfig is not None
    lookup = ClusterTemplates(kube.kubeconfig, ttl=5.0, clock=clock)

    def gets() -> int:
        return sum(1 for r in kube.requests if r.verb == "get" and r.resource == "workflowtemplates")

    assert lookup("WorkflowTemplate", "default", "build") is None  # not there yet: a miss is not remembered
    kube.create(template, namespace="default")
    found = lookup("WorkflowTemplate", "default", "build")
    assert found is not None and found["metadata"]["name"] == "build"
    assert lookup("WorkflowTemplate", "default", "build") == found
    assert gets() == 2
    clock.now += 5.0  # the cached copy expires
    assert lookup("WorkflowTemplate", "default", "build") == found
    assert gets() == 3

    kube.inject_fault("get", "workflowtemplates", 500, name="other")
    with pytest.raises(ApiException) as caught:  # the review becomes an InternalError denial, never an allow
        lookup("WorkflowTemplate", "default", "other")
    assert caught.value.status == 500


# ----------------------------------------------------------------------------------------------------------------
# The webhook and `trellis lint` give the same verdict
# ----------------------------------------------------------------------------------------------------------------

ARGO_EXAMPLES = ROOT.parent / "shared" / "argo-examples"
OUR_KINDS = {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}


def argo_documents(*directories: Path) -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
                if isinstance(doc, dict) and doc.get("kind") in OUR_KINDS:
                    documents.append((f"{path.relative_to(directory.parent)}#{index}", doc))
    return documents


def test_every_example_gets_the_same_verdict_over_https_as_from_validate(webhook_server: WebhookProcess) -> None:
    from webhook.validation import validate

    documents = argo_documents(ROOT / "examples", ARGO_EXAMPLES)
    # every example file holds at least one document; the top level of Argo's corpus (../shared, when present)
    # holds 191
    expected = len(list((ROOT / "examples").glob("*.yaml"))) + (180 if ARGO_EXAMPLES.is_dir() else 0)
    assert len(documents) >= expected
    mismatches = []
    with requests.Session() as session:
        for name, doc in documents:
            kind = doc["kind"]
            body = review(doc, namespace="" if kind == "ClusterWorkflowTemplate" else "default")
            body["request"]["kind"] = {"group": "argoproj.io", "version": "v1alpha1", "kind": kind}
            reply = session.post(
                webhook_server.url + "/validate", json=body, verify=webhook_server.ca, timeout=30
            ).json()["response"]
            stored = (
                doc
                if kind == "ClusterWorkflowTemplate"
                else {**doc, "metadata": {"namespace": "default", **doc.get("metadata", {})}}
            )
            offline = validate(stored)
            expected_causes = [{"reason": e.type, "message": e.message, "field": e.path} for e in offline.errors]
            got = (
                reply["allowed"],
                reply.get("status", {}).get("details", {}).get("causes", []),
                reply.get("warnings", []),
            )
            if got != (offline.ok, expected_causes, list(offline.warnings)):
                mismatches.append(name)
    assert mismatches == []
