"""webhook.certs and `trellis webhook certs`: certificates, webhook configurations, the reloading TLS context."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from executor.cli import main as trellis
from webhook.certs import (
    MANIFEST_FILES,
    CertificateError,
    ServingContext,
    issue_certificates,
    service_dns_names,
    webhook_manifests,
    write_certificates,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SERVICE_NAMES = [
    "trellis-webhook",
    "trellis-webhook.trellis",
    "trellis-webhook.trellis.svc",
    "trellis-webhook.trellis.svc.cluster.local",
]


def sans(pem: bytes) -> tuple[list[str], list[str]]:
    extension = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return (
        extension.value.get_values_for_type(x509.DNSName),
        [str(ip) for ip in extension.value.get_values_for_type(x509.IPAddress)],
    )


def test_service_dns_names_are_every_name_the_api_server_may_use() -> None:
    assert service_dns_names("trellis-webhook", "trellis") == SERVICE_NAMES


def test_the_serving_certificate_is_signed_by_the_ca_for_the_service_names_and_extras() -> None:
    bundle = issue_certificates(dns_names=[*SERVICE_NAMES, "localhost"], ip_addresses=["127.0.0.1"], now=NOW)
    ca = x509.load_pem_x509_certificate(bundle.ca_cert)
    cert = x509.load_pem_x509_certificate(bundle.tls_cert)
    cert.verify_directly_issued_by(ca)
    assert sans(bundle.tls_cert) == ([*SERVICE_NAMES, "localhost"], ["127.0.0.1"])
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert cert.not_valid_after_utc == NOW + timedelta(days=365)
    assert ca.not_valid_after_utc == NOW + timedelta(days=3650)


def test_reissuing_with_the_existing_ca_keeps_the_ca() -> None:
    first = issue_certificates(dns_names=SERVICE_NAMES, now=NOW)
    second = issue_certificates(dns_names=SERVICE_NAMES, now=NOW, ca=(first.ca_cert, first.ca_key))
    assert second.ca_cert == first.ca_cert
    assert second.tls_cert != first.tls_cert
    x509.load_pem_x509_certificate(second.tls_cert).verify_directly_issued_by(
        x509.load_pem_x509_certificate(first.ca_cert)
    )


def test_certificates_are_written_with_private_keys_readable_only_by_the_owner(tmp_path: Path) -> None:
    write_certificates(issue_certificates(dns_names=SERVICE_NAMES, now=NOW), tmp_path / "certs")
    modes = {path.name: path.stat().st_mode & 0o777 for path in (tmp_path / "certs").iterdir()}
    assert modes == {"ca.crt": 0o644, "ca.key": 0o600, "tls.crt": 0o644, "tls.key": 0o600}


# ----------------------------------------------------------------------------------------------------------------
# Manifests
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc", webhook_manifests(service="s", namespace="n", ca_bundle=b"pem"), ids=lambda d: d["kind"]
)
def test_generated_manifests_pass_kubernetes_strict_validation(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_webhook_configurations_send_only_our_kinds_and_fail_closed() -> None:
    _, validating, mutating = webhook_manifests(service="svc", namespace="ns", ca_bundle=b"PEM")
    for config, name, path in (
        (validating, "validate.webhook.trellis.dev", "/validate"),
        (mutating, "mutate.webhook.trellis.dev", "/mutate"),
    ):
        (hook,) = config["webhooks"]
        assert hook["name"] == name
        assert hook["clientConfig"] == {
            "service": {"name": "svc", "namespace": "ns", "path": path, "port": 443},
            "caBundle": base64.b64encode(b"PEM").decode(),
        }
        assert hook["rules"] == [
            {
                "apiGroups": ["argoproj.io"],
                "apiVersions": ["v1alpha1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["workflows", "workflowtemplates", "clusterworkflowtemplates", "cronworkflows"],
                "scope": "*",
            }
        ]
        assert (
            hook["failurePolicy"],
            hook["sideEffects"],
            hook["admissionReviewVersions"],
            hook["timeoutSeconds"],
        ) == (
            "Fail",
            "None",
            ["v1"],
            5,
        )
        assert hook["namespaceSelector"] == {
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["ns"]}]
        }


@pytest.mark.parametrize("kind", sorted(MANIFEST_FILES))
def test_committed_deploy_manifests_are_what_the_generator_produces(kind: str) -> None:
    generated = {
        doc["kind"]: doc for doc in webhook_manifests(service="trellis-webhook", namespace="trellis", ca_bundle=b"")
    }
    committed = yaml.safe_load((ROOT / "deploy" / "webhook" / MANIFEST_FILES[kind]).read_text())
    assert committed == generated[kind], "regenerate deploy/webhook with webhook.certs.webhook_manifests"


# ----------------------------------------------------------------------------------------------------------------
# `trellis webhook certs`
# ----------------------------------------------------------------------------------------------------------------


def test_the_certs_command_writes_certificates_and_fills_the_ca_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, manifests = tmp_path / "certs", tmp_path / "manifests"
    argv = ["webhook", "certs", "--service", "trellis-webhook", "--namespace", "trellis", "--out", str(out)]
    code = trellis([*argv, "--manifests", str(manifests), "--dns", "localhost", "--ip", "127.0.0.1"])
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {out}/ca.crt, ca.key, tls.crt, tls.key (new CA)",
        f"wrote {manifests}/service.yaml",
        f"wrote {manifests}/validatingwebhookconfiguration.yaml",
        f"wrote {manifests}/mutatingwebhookconfiguration.yaml",
    ]
    ca = (out / "ca.crt").read_bytes()
    assert sans((out / "tls.crt").read_bytes()) == ([*SERVICE_NAMES, "localhost"], ["127.0.0.1"])
    for name in ("validatingwebhookconfiguration.yaml", "mutatingwebhookconfiguration.yaml"):
        doc = yaml.safe_load((manifests / name).read_text())
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
        assert base64.b64decode(doc["webhooks"][0]["clientConfig"]["caBundle"]) == ca

    assert trellis(argv) == 0  # a second run re-issues the serving certificate under the same CA
    assert capsys.readouterr().out == f"wrote {out}/ca.crt, ca.key, tls.crt, tls.key (kept the existing CA)\n"
    assert (out / "ca.crt").read_bytes() == ca


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            ["--ip", "localhost"],
            "trellis webhook certs: --ip 'localhost' is not an IP address; give names with --dns\n",
            id="name-as-ip",
        ),
        pytest.param(["--days", "0"], "trellis webhook certs: --days must be at least 1\n", id="zero-days"),
    ],
)
def test_the_certs_command_refuses_bad_flags_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["webhook", "certs", "--service", "s", "--namespace", "n", "--out", str(tmp_path / "c"), *extra]
    assert trellis(argv) == 2
    assert capsys.readouterr().err == message
    assert not (tmp_path / "c").exists()


# ----------------------------------------------------------------------------------------------------------------
# ServingContext
# ----------------------------------------------------------------------------------------------------------------


def issue_into(directory: Path, name: str) -> bytes:
    bundle = issue_certificates(dns_names=[name], ip_addresses=[], now=datetime.now(UTC))
    write_certificates(bundle, directory)
    return bundle.tls_cert


def served_certificate(context: ssl.SSLContext) -> x509.Certificate:
    """The certificate a client sees, by running a TLS handshake through memory BIOs (no sockets)."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(c_in, c_out, server_hostname="x")
    server_side = context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client_side, server_side):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    der = client_side.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.rfc4514_string())


def test_the_serving_context_follows_rotated_files_and_keeps_the_last_good_pair(tmp_path: Path) -> None:
    issue_into(tmp_path, "first.example")
    serving = ServingContext(tmp_path / "tls.crt", tmp_path / "tls.key")
    assert common_name(served_certificate(serving.context())) == "CN=first.example"
    assert serving.context() is serving.context()  # unchanged files: the same context, no reload

    issue_into(tmp_path, "second.example")
    assert common_name(served_certificate(serving.context())) == "CN=second.example"
    assert serving.loads == 2

    (tmp_path / "tls.key").write_bytes(b"not a key")  # a half-finished rotation
    assert common_name(served_certificate(serving.context())) == "CN=second.example"
    issue_into(tmp_path, "third.example")
    assert common_name(served_certificate(serving.context())) == "CN=third.example"


def test_a_missing_certificate_is_reported_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as caught:
        ServingContext(tmp_path / "tls.crt", tmp_path / "tls.key")
    assert str(caught.value) == f"cannot read {tmp_path / 'tls.crt'}: No such file or directory"


def test_a_certificate_with_the_wrong_key_is_reported_with_both_paths(tmp_path: Path) -> None:
    issue_into(tmp_path / "a", "a.example")
    issue_into(tmp_path / "b", "b.example")
    with pytest.raises(CertificateError) as caught:
        ServingContext(tmp_path / "a" / "tls.crt", tmp_path / "b" / "tls.key")
    assert str(caught.value).startswith(
        f"cannot load the serving certificate {tmp_path / 'a' / 'tls.crt'} with key {tmp_path / 'b' / 'tls.key'}: "
    )
    assert str(caught.value).endswith(
        "; check both are PEM and belong together (trellis webhook certs writes a matching pair)"
    )


def test_ip_addresses_in_sans_are_parsed() -> None:
    bundle = issue_certificates(dns_names=["x"], ip_addresses=["::1", "10.0.0.1"], now=NOW)
    assert [ipaddress.ip_address(ip) for ip in sans(bundle.tls_cert)[1]] == [
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.0.0.1"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            [],
            "trellis webhook serve: --cert and --key are required (create them with `trellis webhook certs`)\n",
            id="no-certificate",
        ),
        pytest.param(
            ["--cert", "{tmp}/tls.crt", "--key", "{tmp}/tls.key"],
            "trellis webhook serve: cannot read {tmp}/tls.crt: No such file or directory\n",
            id="missing-files",
        ),
        pytest.param(
            ["--cert", "a", "--key", "b", "--workers", "0"],
            "trellis webhook serve: --workers and --threads must be at least 1\n",
            id="zero-workers",
        ),
    ],
)
def test_serve_refuses_to_start_without_a_usable_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    for name in ("TRELLIS_WEBHOOK_CERT", "TRELLIS_WEBHOOK_KEY"):
        monkeypatch.delenv(name, raising=False)  # flags' defaults come from the environment
    assert trellis(["webhook", "serve", *(arg.format(tmp=tmp_path) for arg in args)]) == 2
    assert capsys.readouterr().err == message.format(tmp=tmp_path)
