"""The Helm chart charts/trellis: lint, render with each option, validate every object against Kubernetes' schemas,
Pod Security "restricted", least-privilege RBAC, webhook configuration policy, and the cert hook run for real
against the API stand-in. Needs a real helm (`bash scripts/get-helm` puts one in .tools/helm)."""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509

from tests.standin import KubeStandin, fixture

kube = fixture.kube

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "trellis"
HELM = str(ROOT / ".tools" / "helm") if (ROOT / ".tools" / "helm").exists() else shutil.which("helm")
K8S_VERSION = "1.30.0"  # the oldest version the chart claims to support well (kubeVersion >=1.27)
CERT_MANAGER_KINDS = {"Issuer", "Certificate"}  # not in kubernetes-validate's schemas
RELEASE, NAMESPACE = "trellis", "trellis-system"

pytestmark = pytest.mark.skipif(HELM is None, reason="helm not found: run `bash scripts/get-helm` (puts it in .tools/)")

OPTIONS = [
    pytest.param([], id="defaults"),
    pytest.param(["--set", "controller.replicas=2", "--set", "controller.leaderElection.enabled=true"], id="ha"),
    pytest.param(["--set", "certManager.enabled=true"], id="cert-manager"),
    pytest.param(
        [
            "--set",
            "certManager.enabled=true",
            "--set",
            "certManager.issuerRef.name=ca",
            "--set",
            "certManager.issuerRef.kind=ClusterIssuer",
        ],
        id="cert-manager-cluster-issuer",
    ),
    pytest.param(["--set", "networkPolicy.enabled=true"], id="network-policy"),
    pytest.param(
        [
            "--set",
            "controller.namespaces={team-a,team-b}",
            "--set",
            "workflowNamespaces[0].namespace=team-a",
            "--set",
            "workflowNamespaces[1].namespace=team-b",
            "--set",
            "workflowNamespaces[1].serviceAccounts={runner}",
            "--set-json",
            'artifactRepository={"s3":{"bucket":"artifacts","endpoint":"minio:9000","insecure":true}}',
            "--set-json",
            'controller.config={"parallelism":"10"}',
        ],
        id="namespaced-with-artifacts",
    ),
    pytest.param(
        [
            "--set-json",
            'controller.extraArgs=["--configmap=my-config"]',
            "--set-json",
            'controller.extraEnv=[{"name":"HTTPS_PROXY","value":"http://proxy:3128"}]',
            "--set",
            "controller.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/r",
            "--set-json",
            'webhook.extraArgs=["--keepalive=5"]',
        ],
        id="extra-args-env-and-service-account-annotations",
    ),
]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    env = {**os.environ, "HELM_CACHE_HOME": "/tmp/helm-cache", "HELM_CONFIG_HOME": "/tmp/helm-config"}
    proc = subprocess.run([HELM, *args], capture_output=True, text=True, env=env, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


@functools.cache
def _rendered(options: tuple[str, ...]) -> str:
    return helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--include-crds", *options).stdout


def render(*options: str) -> list[dict[str, Any]]:
    """The chart's objects (each option set is rendered once per session; callers get fresh copies)."""
    return [doc for doc in yaml.safe_load_all(_rendered(options)) if doc]


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "Job", "DaemonSet", "StatefulSet")
    ]


@pytest.mark.parametrize("options", OPTIONS)
def test_helm_lint_strict_is_clean(options: list[str]) -> None:
    out = helm("lint", "--strict", str(CHART), *options)
    assert "1 chart(s) linted, 0 chart(s) failed" in out.stdout
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout


@pytest.mark.parametrize("options", OPTIONS)
def test_every_rendered_object_validates_strictly(options: list[str]) -> None:
    docs = render(*options)
    kinds = {d["kind"] for d in docs}
    assert {"CustomResourceDefinition", "Deployment", "ValidatingWebhookConfiguration"} <= kinds
    for doc in docs:
        if doc["kind"] in CERT_MANAGER_KINDS:
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("options", OPTIONS)
def test_every_pod_meets_the_restricted_pod_security_profile(options: list[str]) -> None:
    specs = pod_specs(render(*options))
    assert specs
    for where, spec in specs:
        pod = spec.get("securityContext") or {}
        assert pod.get("runAsNonRoot") is True, where
        assert pod.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        assert all("hostPath" not in v for v in spec.get("volumes") or []), where
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            sc = container.get("securityContext") or {}
            name = f"{where} container {container['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, name
            assert sc.get("capabilities") == {"drop": ["ALL"]}, name
            assert sc.get("readOnlyRootFilesystem") is True, name
            assert sc.get("privileged") in (None, False), name
            assert "ports" not in container or all("hostPort" not in p for p in container["ports"]), name


@pytest.mark.parametrize("options", OPTIONS)
def test_rbac_grants_no_wildcards_and_no_secrets_by_default(options: list[str]) -> None:
    docs = render(*options)
    roles = [d for d in docs if d["kind"] in ("Role", "ClusterRole")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for key in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(key, []), f"{role['kind']}/{role['metadata']['name']}: {rule}"
            assert "nonResourceURLs" not in rule
    controller = [r for r in roles if r["metadata"]["name"] == f"{RELEASE}-controller"]
    granted = {res for role in controller for rule in role["rules"] for res in rule["resources"]}
    assert "secrets" not in granted  # no option here names credential Secrets
    assert {"workflows", "workflows/status", "jobs", "pods", "events", "leases"} <= granted
    assert "pods/log" not in granted  # the wait sidecar reads main's log, not the controller
    for role in controller:
        for rule in role["rules"]:
            if "pods" in rule["resources"] or "configmaps" in rule["resources"]:
                assert set(rule["verbs"]) == {"get", "list", "watch"}


def test_the_controller_may_get_only_the_artifact_repositorys_credential_secrets_by_name() -> None:
    repository = {
        "s3": {
            "bucket": "b",
            "accessKeySecret": {"name": "s3-creds", "key": "access"},
            "secretKeySecret": {"name": "s3-creds", "key": "secret"},
        }
    }
    docs = render(
        "--set-json", f"artifactRepository={json.dumps(repository)}", "--set", "controller.secretNames={extra}"
    )
    [role] = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == f"{RELEASE}-controller"]
    secret_rules = [rule for rule in role["rules"] if "secrets" in rule["resources"]]
    assert secret_rules == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["extra", "s3-creds"], "verbs": ["get"]}
    ]


def test_extra_arguments_environment_and_service_account_annotations_reach_the_pods() -> None:
    docs = render(*OPTIONS[6].values[0])
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    controller = by_name[("Deployment", f"{RELEASE}-controller")]["spec"]["template"]["spec"]["containers"][0]
    webhook = by_name[("Deployment", f"{RELEASE}-webhook")]["spec"]["template"]["spec"]["containers"][0]
    assert controller["args"][-1] == "--configmap=my-config"
    assert controller["env"][-1] == {"name": "HTTPS_PROXY", "value": "http://proxy:3128"}
    assert webhook["args"][-1] == "--keepalive=5"
    account = by_name[("ServiceAccount", f"{RELEASE}-controller")]
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}


def test_controller_runs_with_leader_election_when_replicated() -> None:
    [deployment] = [
        d
        for d in render(*OPTIONS[1].values[0])
        if d["metadata"]["name"] == f"{RELEASE}-controller" and d["kind"] == "Deployment"
    ]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 2
    assert "--leader-elect" in container["args"] and f"--lease-namespace={NAMESPACE}" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_replicated_webhook_keeps_one_pod_through_disruptions() -> None:
    docs = render()
    [deployment] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{RELEASE}-webhook"]
    [budget] = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert deployment["spec"]["replicas"] == 2
    assert budget["spec"] == {"minAvailable": 1, "selector": deployment["spec"]["selector"]}
    assert not [d for d in render("--set", "webhook.replicas=1") if d["kind"] == "PodDisruptionBudget"]


def test_replicas_without_leader_election_are_refused_with_the_fix() -> None:
    out = helm("template", RELEASE, str(CHART), "--set", "controller.replicas=2", check=False)
    assert out.returncode == 1
    assert "controller.replicas > 1 needs controller.leaderElection.enabled=true" in out.stderr


def test_values_schema_rejects_unknown_keys() -> None:
    out = helm("template", RELEASE, str(CHART), "--set", "controler.replicas=2", check=False)
    assert out.returncode == 1
    assert "controler" in out.stderr and "additional properties" in out.stderr.lower()


@pytest.mark.parametrize("options", [OPTIONS[0], OPTIONS[2]])
def test_webhook_configurations_cover_our_four_kinds_and_fail_closed(options: list[str]) -> None:
    from webhook.certs import webhook_manifests

    docs = render(*options)
    configs = [d for d in docs if d["kind"].endswith("WebhookConfiguration")]
    assert sorted(d["kind"] for d in configs) == ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
    reference = {
        d["kind"]: d
        for d in webhook_manifests(service=f"{RELEASE}-webhook", namespace=NAMESPACE, ca_bundle=b"")
        if d["kind"].endswith("WebhookConfiguration")
    }
    for config in configs:
        [hook] = config["webhooks"]
        assert (hook["failurePolicy"], hook["sideEffects"], hook["timeoutSeconds"]) == ("Fail", "None", 5)
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["namespaceSelector"] == {
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NAMESPACE]}]
        }
        [expected] = reference[config["kind"]]["webhooks"]
        expected["clientConfig"].pop("caBundle")  # owned by the cert hook / cert-manager, not by Helm
        assert hook == expected  # the same configuration `trellis webhook certs --manifests` writes
        injected = (config["metadata"].get("annotations") or {}).get("cert-manager.io/inject-ca-from")
        assert injected == (f"{NAMESPACE}/{RELEASE}-webhook" if "certManager.enabled=true" in options else None)


def test_chart_crds_are_identical_to_the_generated_ones() -> None:
    generated = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    if not generated:
        pytest.skip("crds/*.yaml not generated yet")
    assert sorted(p.name for p in (CHART / "crds").glob("*.yaml")) == generated
    for name in generated:
        assert (CHART / "crds" / name).read_text() == (ROOT / "crds" / name).read_text(), (
            f"charts/trellis/crds/{name} differs from crds/{name}: copy crds/*.yaml into charts/trellis/crds/"
        )


def test_default_artifact_repository_configmap_follows_argos_format() -> None:
    docs = render(*OPTIONS[5].values[0])
    maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "artifact-repositories"]
    assert sorted(m["metadata"]["namespace"] for m in maps) == ["team-a", "team-b", NAMESPACE]
    for cm in maps:
        key = cm["metadata"]["annotations"]["workflows.argoproj.io/default-artifact-repository"]
        assert yaml.safe_load(cm["data"][key]) == {
            "s3": {"bucket": "artifacts", "endpoint": "minio:9000", "insecure": True}
        }
    bindings = {
        (d["metadata"]["namespace"], s["name"])
        for d in docs
        if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "trellis-workflow-pod"
        for s in d["subjects"]
    }
    assert bindings == {("team-a", "default"), ("team-b", "runner")}


def test_image_runs_as_the_user_the_chart_expects() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    user = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert user, "the Dockerfile must switch to a numeric non-root USER uid:gid"
    assert (int(user[1]), int(user[2])) == (
        values["podSecurityContext"]["runAsUser"],
        values["podSecurityContext"]["runAsGroup"],
    )
    assert re.search(r'^ENTRYPOINT \["trellis"\]$', dockerfile, re.M)
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.M)


def test_the_rendered_chart_applies_with_kubectl(kube: KubeStandin) -> None:
    docs = render()
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    out = kube.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump_all(docs))
    assert out.stdout.count("created") == len(docs)


@pytest.mark.slow
def test_the_cert_hook_stores_the_secret_and_patches_ca_bundles(kube: KubeStandin, tmp_path: Path) -> None:
    """What the hook Job's two containers do, run here against the stand-in (before and after install)."""
    docs = render()
    [job] = [d for d in docs if d["kind"] == "Job"]
    spec = job["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in spec["containers"][0]["env"]}
    certs = tmp_path / "certs"
    args = [a.replace("/certs", str(certs)) for a in spec["initContainers"][0]["args"]]
    subprocess.run([sys.executable, "-m", "executor.cli", *args], check=True, capture_output=True, cwd=ROOT)
    script = CHART / "files" / "install-certs.py"
    run_env = {**os.environ, **env, "CERT_DIR": str(certs), "KUBECONFIG": str(kube.kubeconfig)}

    def run_hook() -> str:
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=run_env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    before = run_hook()  # pre-install: no configurations yet
    assert before == (
        f"secret {NAMESPACE}/{env['SECRET_NAME']}: created\n"
        f"validatingwebhookconfiguration {env['WEBHOOK_CONFIGURATION']}: not created yet; the post-install run "
        "patches it\n"
        f"mutatingwebhookconfiguration {env['WEBHOOK_CONFIGURATION']}: not created yet; the post-install run "
        "patches it\n"
    )
    for doc in docs:
        if doc["kind"].endswith("WebhookConfiguration"):
            kube.create(doc)
    after = run_hook()  # post-install
    assert (
        after.splitlines()[0] == f"secret {NAMESPACE}/{env['SECRET_NAME']}: kept (certificate valid for more "
        "than 30 days)"
    )
    secret = kube.get("v1", "Secret", env["SECRET_NAME"], NAMESPACE)
    assert secret["type"] == "kubernetes.io/tls"
    ca = base64.b64decode(secret["data"]["ca.crt"])
    assert ca == (certs / "ca.crt").read_bytes()
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        config = kube.get("admissionregistration.k8s.io/v1", kind, env["WEBHOOK_CONFIGURATION"], "")
        assert [base64.b64decode(w["clientConfig"]["caBundle"]) for w in config["webhooks"]] == [ca]
    served = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    assert f"{RELEASE}-webhook.{NAMESPACE}.svc" in names
    assert served.not_valid_after_utc > datetime.now(UTC)
    json.dumps(secret)  # stays a plain JSON document


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


@pytest.mark.slow
def test_an_installed_chart_denies_a_bad_workflow_through_its_own_webhook_and_certificates(
    kube: KubeStandin, tmp_path: Path
) -> None:
    """`helm install` in miniature on the stand-in: the cert hook before install, every rendered object, the hook
    after install, then the real webhook serving the Secret's certificate behind the chart's Service."""
    from tests.integration.conftest import WebhookProcess, free_port, stop_webhook
    from webhook.validation import validate

    docs = render()
    [job] = [d for d in docs if d["kind"] == "Job"]
    spec = job["spec"]["template"]["spec"]
    hook_env = {e["name"]: e["value"] for e in spec["containers"][0]["env"]}
    certs = tmp_path / "hook-certs"
    certs_args = [a.replace("/certs", str(certs)) for a in spec["initContainers"][0]["args"]]
    subprocess.run([sys.executable, "-m", "executor.cli", *certs_args], check=True, capture_output=True, cwd=ROOT)
    env = {**os.environ, **hook_env, "CERT_DIR": str(certs), "KUBECONFIG": str(kube.kubeconfig)}
    script = [sys.executable, str(CHART / "files" / "install-certs.py")]
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    subprocess.run(script, check=True, capture_output=True, env=env, timeout=60)  # pre-install
    hooks = [d for d in docs if "helm.sh/hook" in (d["metadata"].get("annotations") or {})]
    installed = [d for d in docs if d not in hooks]
    kube.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump_all(installed))
    subprocess.run(script, check=True, capture_output=True, env=env, timeout=60)  # post-install

    secret = kube.get("v1", "Secret", hook_env["SECRET_NAME"], NAMESPACE)
    served = tmp_path / "served"
    served.mkdir()
    for key in ("tls.crt", "tls.key", "ca.crt"):
        (served / key).write_bytes(base64.b64decode(secret["data"][key]))
    [deployment] = [d for d in installed if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-webhook")]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    port = free_port()
    args = [a.replace("/etc/trellis/tls", str(served)).replace("0.0.0.0:8443", f"127.0.0.1:{port}") for a in args]
    log = tmp_path / "webhook.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "executor.cli", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    server = WebhookProcess(
        url=f"https://127.0.0.1:{port}", host="127.0.0.1", port=port, certs=served, process=process, log=log
    )
    [service] = [d for d in installed if d["kind"] == "Service" and d["metadata"]["name"].endswith("-webhook")]
    try:
        # the certificate names only the Service (as in a cluster): check readiness as the API server would
        wait_until_serving(server, f"{service['metadata']['name']}.{NAMESPACE}.svc", served / "ca.crt")
        kube.map_service(NAMESPACE, service["metadata"]["name"], "127.0.0.1", port)
        denied = kube.kubectl("apply", "-n", "default", "-f", "-", stdin=BAD_WORKFLOW, check=False)
        expected = validate(yaml.safe_load(BAD_WORKFLOW)).errors
        assert len(expected) >= 2  # kubectl lists two or more causes one per line
        assert denied.returncode == 1
        assert denied.stderr == 'The Workflow "broken" is invalid: \n' + "".join(f"* {e}\n" for e in expected)
        # the release namespace is not sent to the webhook: a broken webhook can always be repaired there
        exempt = kube.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=BAD_WORKFLOW)
        assert exempt.stdout == "workflow.argoproj.io/broken created\n"
    finally:
        stop_webhook(server)


def wait_until_serving(server: Any, server_name: str, ca: Path, deadline_seconds: float = 30.0) -> None:
    """Poll /readyz over TLS verified for `server_name` (not the address) until 200, with a deadline."""
    import ssl
    import time

    from tests.standin.admission import PinnedHTTPSConnection

    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + deadline_seconds
    while True:
        if server.process.poll() is not None:
            raise AssertionError(f"webhook exited with {server.process.returncode}:\n{server.log_text()}")
        conn = PinnedHTTPSConnection(server.host, server.port, server_name, context, timeout=2)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook not ready after {deadline_seconds} s:\n{server.log_text()}")
        time.sleep(0.05)  # poll interval, bounded by the deadline above


@pytest.mark.parametrize("options", OPTIONS)
def test_every_container_command_line_parses_with_the_trellis_cli(options: list[str]) -> None:
    """The chart's args against the real argument parsers, so a renamed flag fails here, not in a cluster."""
    import argparse
    import importlib

    from executor.cli import COMMANDS

    for where, spec in pod_specs(render(*options)):
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            if container.get("command"):  # the cert hook's install step runs a script, not the CLI
                continue
            command, *args = container["args"]
            module = importlib.import_module(f"executor.commands.{COMMANDS[command]}")
            parser = argparse.ArgumentParser(prog=f"trellis {command}", exit_on_error=False)
            module.add_arguments(parser, command)
            try:
                parser.parse_args(args)
            except (argparse.ArgumentError, SystemExit) as exc:
                raise AssertionError(f"{where} container {container['name']}: trellis {command} {args}: {exc}") from exc
