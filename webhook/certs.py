"""Webhook certificates: a CA and a serving certificate, the webhook configurations carrying the caBundle, and the
serving TLS context that follows certificate files as they are rotated.

- `issue_certificates` makes an ECDSA P-256 CA and a serving certificate whose SANs are the Service's DNS names
  (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`) plus any extra DNS names / IP addresses. Pure
  apart from key generation (randomness); `now` is a parameter.
- `write_certificates` writes `ca.crt`, `ca.key`, `tls.crt`, `tls.key` (keys mode 0600), each atomically.
- `webhook_manifests` builds the Service and the Validating/MutatingWebhookConfiguration for our four kinds
  (pure); `trellis webhook certs --manifests DIR` writes them with the caBundle filled in.
- `ServingContext` hands gunicorn an `ssl.SSLContext` per connection and rebuilds it when the certificate or key
  file changes (Kubernetes updates Secret volumes by swapping a symlink: a new inode). A half-written pair that
  does not load keeps the previous context until the files are consistent again.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger("trellis.webhook.certs")

RESOURCES = ("workflows", "workflowtemplates", "clusterworkflowtemplates", "cronworkflows")
WEBHOOK_CONFIGURATION_NAME = "trellis-webhook"
VALIDATING_WEBHOOK_NAME = "validate.webhook.trellis.dev"
MUTATING_WEBHOOK_NAME = "mutate.webhook.trellis.dev"
# File names `trellis webhook certs --manifests DIR` writes (and deploy/webhook/ holds), by kind.
MANIFEST_FILES = {
    "Service": "service.yaml",
    "ValidatingWebhookConfiguration": "validatingwebhookconfiguration.yaml",
    "MutatingWebhookConfiguration": "mutatingwebhookconfiguration.yaml",
}
SERVICE_LABELS = {"app.kubernetes.io/name": "trellis-webhook", "app.kubernetes.io/part-of": "trellis"}


@dataclass(frozen=True)
class CertificateBundle:
    """PEM-encoded CA and serving certificate with their keys."""

    ca_cert: bytes
    ca_key: bytes
    tls_cert: bytes
    tls_key: bytes


def service_dns_names(service: str, namespace: str) -> list[str]:
    """The names the API server may use to reach a Service (it uses `svc.ns.svc`)."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def issue_certificates(
    *,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str] = (),
    now: datetime,
    ca_days: int = 3650,
    days: int = 365,
    ca: tuple[bytes, bytes] | None = None,
) -> CertificateBundle:
    """A CA (or the given (ca_cert_pem, ca_key_pem)) and a serving certificate for dns_names + ip_addresses."""
    if not dns_names:
        raise ValueError("at least one DNS name is needed for the serving certificate")
    start = now - timedelta(minutes=5)  # tolerate clocks slightly behind ours
    if ca is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trellis-webhook-ca")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(now + timedelta(days=ca_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
    else:
        ca_cert = x509.load_pem_x509_certificate(ca[0])
        loaded = serialization.load_pem_private_key(ca[1], password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError("the existing CA key is not an ECDSA key; remove ca.crt and ca.key to make a new CA")
        ca_key = loaded
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(now + timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return CertificateBundle(
        ca_cert=ca_cert.public_bytes(serialization.Encoding.PEM),
        ca_key=_key_pem(ca_key),
        tls_cert=cert.public_bytes(serialization.Encoding.PEM),
        tls_key=_key_pem(key),
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def read_existing_ca(out: Path) -> tuple[bytes, bytes] | None:
    """(ca.crt, ca.key) from a previous run in `out`, so re-issuing keeps the caBundle the cluster trusts."""
    cert, key = out / "ca.crt", out / "ca.key"
    if cert.is_file() and key.is_file():
        return cert.read_bytes(), key.read_bytes()
    return None


def write_certificates(bundle: CertificateBundle, out: Path) -> None:
    """Write ca.crt, ca.key, tls.crt, tls.key into `out`; keys 0600. Each file is replaced atomically."""
    out.mkdir(parents=True, exist_ok=True)
    # The key goes in before the certificate: a reader seeing the new tls.crt finds its key already there.
    for name, data, mode in (
        ("ca.key", bundle.ca_key, 0o600),
        ("ca.crt", bundle.ca_cert, 0o644),
        ("tls.key", bundle.tls_key, 0o600),
        ("tls.crt", bundle.tls_cert, 0o644),
    ):
        write_atomically(out / name, data, mode=mode)


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------------------------
# Manifests
# ---------------------------------------------------------------------------------------------------------------


def webhook_manifests(
    *,
    service: str,
    namespace: str,
    ca_bundle: bytes,
    port: int = 443,
    target_port: int = 8443,
    timeout_seconds: int = 5,
) -> list[dict[str, Any]]:
    """Service + ValidatingWebhookConfiguration + MutatingWebhookConfiguration for the four Argo kinds.

    `ca_bundle` is the CA's PEM (b"" leaves caBundle empty: the committed deploy/webhook/ templates). Objects in
    the webhook's own namespace are not sent to it, so a broken webhook can always be repaired; cluster-scoped
    ClusterWorkflowTemplates are always sent (namespaceSelector does not apply to them).
    """
    rule = {
        "apiGroups": ["argoproj.io"],
        "apiVersions": ["v1alpha1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": list(RESOURCES),
        "scope": "*",
    }

    def webhook(name: str, path: str) -> dict[str, Any]:
        return {
            "name": name,
            "admissionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {"name": service, "namespace": namespace, "path": path, "port": port},
                "caBundle": base64.b64encode(ca_bundle).decode("ascii"),
            },
            "rules": [rule],
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "sideEffects": "None",
            "timeoutSeconds": timeout_seconds,
            "namespaceSelector": {
                "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [namespace]}]
            },
        }

    metadata = {"name": WEBHOOK_CONFIGURATION_NAME, "labels": dict(SERVICE_LABELS)}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": namespace, "labels": dict(SERVICE_LABELS)},
            "spec": {
                "selector": dict(SERVICE_LABELS),
                "ports": [{"name": "https", "port": port, "targetPort": target_port, "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": metadata,
            "webhooks": [webhook(VALIDATING_WEBHOOK_NAME, "/validate")],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": metadata,
            "webhooks": [{**webhook(MUTATING_WEBHOOK_NAME, "/mutate"), "reinvocationPolicy": "Never"}],
        },
    ]


# ---------------------------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------------------------


class CertificateError(Exception):
    """The serving certificate or key cannot be loaded: the message says which file and why."""


class _DeadlineSSLSocket(ssl.SSLSocket):
    """An SSLSocket whose "blocking" mode still times out, so a silent or trickling client frees its thread.

    gunicorn's gthread worker puts a connection in blocking mode (no timeout) when a thread starts reading a
    request. Here blocking means: each read waits at most `io_timeout` seconds, and all reads of one request
    end `request_timeout` seconds after the thread took it (a client trickling a byte a second cannot hold the
    thread for longer).
    """

    io_timeout: float = 10.0
    request_timeout: float = 30.0
    _deadline: float | None = None

    def start_request_clock(self) -> None:
        self._deadline = time.monotonic() + self.request_timeout

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.start_request_clock()
        else:
            self._deadline = None
        self.settimeout(self.io_timeout if flag else 0.0)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the request did not arrive within {self.request_timeout:g} s")
            self.settimeout(min(self.io_timeout, remaining))
        return super().recv(buflen, flags)


class _DeadlineContext(ssl.SSLContext):
    io_timeout: float = 10.0

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        sock.settimeout(self.io_timeout)  # bounds each read of the TLS handshake too
        wrapped = super().wrap_socket(sock, *args, **kwargs)
        if isinstance(wrapped, _DeadlineSSLSocket):
            # gunicorn set the raw socket blocking before wrapping it: the first request's clock starts here
            wrapped.start_request_clock()
        return wrapped


class ServingContext:
    """The current server-side SSLContext for cert_file/key_file, rebuilt when either file changes.

    Thread-safe; `context()` costs two stat() calls when nothing changed. Raises CertificateError at construction
    when the files do not load; later failures keep the last good context and log a warning.
    """

    def __init__(
        self, cert_file: Path, key_file: Path, *, io_timeout: float = 10.0, request_timeout: float = 30.0
    ) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.io_timeout = io_timeout
        self.request_timeout = request_timeout
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._context = self._load()
        self.loads = 1

    def _file_stamp(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for path in (self.cert_file, self.key_file):
            try:
                st = path.stat()
            except OSError as exc:
                raise CertificateError(f"cannot read {path}: {exc.strerror}") from None
            stamps.append((st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def _load(self) -> ssl.SSLContext:
        socket_class = type(
            "DeadlineSSLSocket",
            (_DeadlineSSLSocket,),
            {"io_timeout": self.io_timeout, "request_timeout": self.request_timeout},
        )
        context = _DeadlineContext(ssl.PROTOCOL_TLS_SERVER)
        context.io_timeout = self.io_timeout
        context.sslsocket_class = socket_class
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        try:
            context.load_cert_chain(certfile=str(self.cert_file), keyfile=str(self.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise CertificateError(
                f"cannot load the serving certificate {self.cert_file} with key {self.key_file}: {exc}; "
                "check both are PEM and belong together (trellis webhook certs writes a matching pair)"
            ) from None
        return context

    def context(self) -> ssl.SSLContext:
        try:
            stamp = self._file_stamp()
        except CertificateError as exc:
            log.warning("%s; keeping the certificate loaded earlier", exc)
            return self._context
        if stamp == self._stamp:
            return self._context
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._context = self._load()
                except CertificateError as exc:
                    log.warning("%s; keeping the certificate loaded earlier and retrying on the next connection", exc)
                    return self._context
                self._stamp = stamp
                self.loads += 1
                log.info("reloaded the serving certificate from %s", self.cert_file)
        return self._context
