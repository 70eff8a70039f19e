"""Admission through the stand-in: real AdmissionReview v1 calls over HTTPS (caBundle-verified), JSONPatch
mutations, denials as kube-apiserver reports them, failure policies; end to end with `trellis webhook serve`."""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.standin import KubeStandin
from webhook.certs import issue_certificates

ROOT = Path(__file__).resolve().parents[2]
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {verdict: %s}\ndata: {k: v}\n"


class TestWebhook:
    """An HTTPS admission webhook: mutate adds label `mutated: "yes"`; validate denies label verdict=deny with a
    422 Status carrying two causes and warns on verdict=warn. Records every AdmissionReview it receives."""

    __test__ = False

    def __init__(self, tmp: Path) -> None:
        bundle = issue_certificates(dns_names=["hooks.webhooks.svc"], now=datetime.now(UTC))
        (tmp / "tls.crt").write_bytes(bundle.tls_cert)
        (tmp / "tls.key").write_bytes(bundle.tls_key)
        self.ca = bundle.ca_cert
        self.reviews: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.reviews.append(review)
                answer = hook.answer(self.path.split("?")[0], review["request"])
                data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp / "tls.crt", tmp / "tls.key")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def answer(self, path: str, request: dict[str, Any]) -> dict[str, Any]:
        labels = (request["object"] or {}).get("metadata", {}).get("labels") or {}
        if path == "/mutate":
            patch = [{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}]
            encoded = base64.b64encode(json.dumps(patch).encode()).decode()
            return {"uid": request["uid"], "allowed": True, "patchType": "JSONPatch", "patch": encoded}
        if labels.get("verdict") == "deny":
            causes = [
                {"reason": "FieldValueInvalid", "field": "metadata.labels.verdict", "message": "must not be deny"},
                {"reason": "FieldValueRequired", "field": "data.mode", "message": "Required value: set a mode"},
            ]
            status = {
                "status": "Failure",
                "code": 422,
                "reason": "Invalid",
                "message": 'ConfigMap "settings" is invalid: [metadata.labels.verdict: must not be deny, data.mode: '
                "Required value: set a mode]",
                "details": {"name": "settings", "kind": "ConfigMap", "causes": causes},
            }
            return {"uid": request["uid"], "allowed": False, "status": status}
        warnings = ["verdict=warn is deprecated; remove the label"] if labels.get("verdict") == "warn" else []
        return {"uid": request["uid"], "allowed": True, "warnings": warnings}

    def configurations(self, *, ca: bytes | None = None, failure_policy: str = "Fail") -> list[dict[str, Any]]:
        def webhook(name: str, path: str) -> dict[str, Any]:
            return {
                "name": name,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": failure_policy,
                "timeoutSeconds": 5,
                "clientConfig": {
                    "service": {"namespace": "webhooks", "name": "hooks", "path": path, "port": 443},
                    "caBundle": base64.b64encode(ca or self.ca).decode(),
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["webhooks"]}
                    ]
                },
            }

        meta = {"name": "test-hooks"}
        return [
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": meta,
                "webhooks": [webhook("mutate.test.dev", "/mutate")],
            },
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": meta,
                "webhooks": [webhook("validate.test.dev", "/validate")],
            },
        ]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hooks(kube: KubeStandin, tmp_path: Path) -> Iterator[TestWebhook]:
    hook = TestWebhook(tmp_path)
    kube.map_service("webhooks", "hooks", "127.0.0.1", hook.port)
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "webhooks"}})
    try:
        yield hook
    finally:
        hook.stop()


def register(kube: KubeStandin, configurations: list[dict[str, Any]]) -> None:
    kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(configurations))


def test_kubectl_apply_of_a_denied_object_prints_the_webhooks_causes(kube: KubeStandin, hooks: TestWebhook) -> None:
    register(kube, hooks.configurations())
    out = kube.kubectl("apply", "-f", "-", stdin=CONFIG_MAP % "deny", check=False)
    assert out.returncode == 1
    assert out.stderr == (
        'The ConfigMap "settings" is invalid: \n'
        "* metadata.labels.verdict: must not be deny\n"
        "* data.mode: Required value: set a mode\n"
    )
    assert kube.list_objects("v1", "ConfigMap", "default") == []


def test_the_denial_status_says_which_webhook_denied(kube: KubeStandin, hooks: TestWebhook) -> None:
    register(kube, hooks.configurations())
    manifest = yaml.safe_load(CONFIG_MAP % "deny")
    with pytest.raises(Exception) as caught:
        kube.create(manifest)
    assert caught.value.status["message"] == (  # type: ignore[attr-defined]
        'admission webhook "validate.test.dev" denied the request: ConfigMap "settings" is invalid: '
        "[metadata.labels.verdict: must not be deny, data.mode: Required value: set a mode]"
    )


def test_mutations_are_applied_and_reviews_are_real_admission_reviews(kube: KubeStandin, hooks: TestWebhook) -> None:
    register(kube, hooks.configurations())
    out = kube.kubectl("apply", "-f", "-", stdin=CONFIG_MAP % "warn")
    assert out.stderr == "Warning: verdict=warn is deprecated; remove the label\n"
    stored = kube.get("v1", "ConfigMap", "settings")
    assert stored["metadata"]["labels"] == {"verdict": "warn", "mutated": "yes"}
    mutate, validate = hooks.reviews
    request = validate["request"]
    assert (validate["apiVersion"], validate["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert (request["operation"], request["namespace"], request["name"]) == ("CREATE", "default", "settings")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert request["object"]["metadata"]["labels"]["mutated"] == "yes"  # validation sees the mutated object
    assert mutate["request"]["object"]["metadata"]["labels"] == {"verdict": "warn"}


def test_objects_in_namespaces_the_selector_excludes_are_not_sent(kube: KubeStandin, hooks: TestWebhook) -> None:
    register(kube, hooks.configurations())
    kube.kubectl("apply", "-n", "webhooks", "-f", "-", stdin=CONFIG_MAP % "deny")
    assert hooks.reviews == []


@pytest.mark.parametrize(
    ("policy", "expect_created"),
    [pytest.param("Fail", False, id="fail-closed"), pytest.param("Ignore", True, id="ignore")],
)
def test_a_webhook_with_an_untrusted_certificate_follows_its_failure_policy(
    kube: KubeStandin, hooks: TestWebhook, policy: str, expect_created: bool
) -> None:
    other_ca = issue_certificates(dns_names=["x"], now=datetime.now(UTC)).ca_cert
    register(kube, hooks.configurations(ca=other_ca, failure_policy=policy))
    out = kube.kubectl("apply", "-f", "-", stdin=CONFIG_MAP % "ok", check=False)
    created = bool(kube.list_objects("v1", "ConfigMap", "default"))
    assert created is expect_created
    if not expect_created:
        assert out.stderr.startswith(
            'Error from server (InternalError): error when creating "STDIN": Internal error occurred: failed '
            'calling webhook "mutate.test.dev": failed to call webhook: Post '
            '"https://hooks.webhooks.svc:443/mutate?timeout=5s": [SSL: CERTIFICATE_VERIFY_FAILED]'
        ), out.stderr


# ---------------------------------------------------------------------------------------------------------------
# End to end with the real webhook: `trellis webhook certs` + `trellis webhook serve` (gunicorn, TLS).
# ---------------------------------------------------------------------------------------------------------------

BAD_WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: broken
spec:
  entrypoint: missing
  templates:
  - name: build
    container: {image: alpine}
    script: {image: alpine, source: echo}
"""


@pytest.fixture
def trellis_webhook(kube: KubeStandin, tmp_path: Path) -> Iterator[Path]:
    """The real webhook on a free port, its Service mapped, its configurations registered in the stand-in."""
    from tests.integration.conftest import WebhookProcess, free_port, stop_webhook, wait_until_ready

    certs, manifests = tmp_path / "certs", tmp_path / "manifests"
    trellis = [sys.executable, "-m", "executor.cli", "webhook"]
    subprocess.run(
        [
            *trellis,
            "certs",
            "--service",
            "trellis-webhook",
            "--namespace",
            "trellis",
            "--out",
            str(certs),
            "--manifests",
            str(manifests),
            "--ip",
            "127.0.0.1",
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    port = free_port()
    log = tmp_path / "webhook.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *trellis,
                "serve",
                "--cert",
                str(certs / "tls.crt"),
                "--key",
                str(certs / "tls.key"),
                "--bind",
                f"127.0.0.1:{port}",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    server = WebhookProcess(
        url=f"https://127.0.0.1:{port}", host="127.0.0.1", port=port, certs=certs, process=process, log=log
    )
    try:
        wait_until_ready(server)
        kube.map_service("trellis", "trellis-webhook", "127.0.0.1", port)
        kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "trellis"}})
        for crd in sorted((ROOT / "crds").glob("*.yaml")):
            kube.kubectl("apply", "-f", str(crd))
        kube.kubectl("apply", "-f", str(manifests))
        yield manifests
    finally:
        stop_webhook(server)


@pytest.mark.slow
def test_kubectl_apply_of_a_bad_workflow_fails_through_the_real_webhook_with_every_cause(
    kube: KubeStandin, trellis_webhook: Path
) -> None:
    from webhook.validation import validate

    out = kube.kubectl("apply", "-f", "-", stdin=BAD_WORKFLOW, check=False)
    expected = validate(yaml.safe_load(BAD_WORKFLOW)).errors
    assert len(expected) >= 2
    assert out.returncode == 1
    assert out.stderr == 'The Workflow "broken" is invalid: \n' + "".join(f"* {e}\n" for e in expected)
    assert kube.list_objects("argoproj.io/v1alpha1", "Workflow", "default") == []


@pytest.mark.slow
def test_a_valid_workflow_is_admitted_and_defaulted_by_the_real_webhook(
    kube: KubeStandin, trellis_webhook: Path
) -> None:
    from webhook.defaulting import apply_defaults

    good = BAD_WORKFLOW.replace("entrypoint: missing", "entrypoint: build").replace(
        "    script: {image: alpine, source: echo}\n", "    retryStrategy: {limit: 2}\n"
    )
    dry = kube.kubectl("apply", "--dry-run=server", "-f", "-", stdin=good)
    assert dry.stdout == "workflow.argoproj.io/broken created (server dry run)\n"
    assert kube.list_objects("argoproj.io/v1alpha1", "Workflow", "default") == []
    out = kube.kubectl("apply", "-f", "-", stdin=good)
    assert out.stdout == "workflow.argoproj.io/broken created\n"
    stored = kube.get("argoproj.io/v1alpha1", "Workflow", "broken")
    expected = apply_defaults(yaml.safe_load(good))["spec"]
    assert expected != yaml.safe_load(good)["spec"], "the manifest should need a default"
    assert stored["spec"] == expected


SEED = ROOT.parent / "shared" / "seed"


@pytest.mark.slow
@pytest.mark.skipif(not SEED.is_dir(), reason="../shared/seed is not on this machine")
def test_the_seed_manifests_are_admitted_or_denied_with_every_cause(kube: KubeStandin, trellis_webhook: Path) -> None:
    """Each seed file through kubectl and the real webhook: valid ones are created; the invalid one
    (artifacts-pipeline.yaml, see the seed's README) fails with exactly the causes validation finds."""
    from webhook.validation import validate

    for path in sorted(SEED.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for namespace in {(d.get("metadata") or {}).get("namespace") for d in docs} - {None, "default"}:
            if not kube.list_objects("v1", "Namespace", label_selector=f"kubernetes.io/metadata.name={namespace}"):
                kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        verb = "create" if any((d.get("metadata") or {}).get("generateName") for d in docs) else "apply"
        out = kube.kubectl(verb, "-f", str(path), check=False)
        errors = [e for d in docs if d.get("apiVersion", "").startswith("argoproj.io/") for e in validate(d).errors]
        if not errors:
            assert (out.returncode, out.stdout.count(" created")) == (0, len(docs)), f"{path.name}: {out.stderr}"
            continue
        assert out.returncode == 1, path.name
        first, *causes = out.stderr.splitlines()
        assert re.fullmatch(r'The Workflow "[a-z0-9.-]+" is invalid: ', first), first
        assert causes == [f"* {e}" for e in errors], path.name
