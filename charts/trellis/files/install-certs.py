"""Store the webhook's certificates in a Secret and patch caBundle into its webhook configurations.

Run by the chart's cert hook Job after `trellis webhook certs --out $CERT_DIR`. Environment:
  CERT_DIR                 directory with ca.crt, tls.crt, tls.key
  SECRET_NAMESPACE, SECRET_NAME   the Secret the webhook Deployment mounts
  WEBHOOK_CONFIGURATION    name of the Validating- and MutatingWebhookConfiguration
An existing Secret whose certificate is valid for 30 more days is kept (so upgrades do not rotate the CA under running
pods); configurations that do not exist yet (before install) are skipped: the post-install run patches them.
Uses the in-cluster service account, or KUBECONFIG outside a cluster.
"""

from __future__ import annotations

import base64
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from kubernetes import client, config
from kubernetes.client.rest import ApiException

KEYS = ("ca.crt", "tls.crt", "tls.key")
MIN_VALIDITY = timedelta(days=30)


def still_valid(data: dict[str, str]) -> bool:
    if not all(data.get(key) for key in KEYS):
        return False
    try:
        cert = x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"]))
    except ValueError:
        return False
    return cert.not_valid_after_utc - datetime.now(UTC) > MIN_VALIDITY


def store_secret(core: client.CoreV1Api, namespace: str, name: str, cert_dir: Path) -> bytes:
    """Returns the CA (PEM) the webhook's serving certificate chains to."""
    try:
        existing = core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
        existing = None
    if existing is not None and still_valid(existing.data or {}):
        print(f"secret {namespace}/{name}: kept (certificate valid for more than {MIN_VALIDITY.days} days)")
        return base64.b64decode(existing.data["ca.crt"])
    data = {key: base64.b64encode((cert_dir / key).read_bytes()).decode() for key in KEYS}
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels={"app.kubernetes.io/part-of": "trellis"}),
        type="kubernetes.io/tls",
        data=data,
    )
    if existing is None:
        core.create_namespaced_secret(namespace, body)
        print(f"secret {namespace}/{name}: created")
    else:
        body.metadata.resource_version = existing.metadata.resource_version
        core.replace_namespaced_secret(name, namespace, body)
        print(f"secret {namespace}/{name}: replaced (certificate missing or expiring)")
    return (cert_dir / "ca.crt").read_bytes()


def patch_ca_bundle(api: client.AdmissionregistrationV1Api, name: str, ca: bytes) -> None:
    bundle = base64.b64encode(ca).decode()
    for kind, read, patch in (
        ("validatingwebhookconfiguration", api.read_validating_webhook_configuration,
         api.patch_validating_webhook_configuration),
        ("mutatingwebhookconfiguration", api.read_mutating_webhook_configuration,
         api.patch_mutating_webhook_configuration),
    ):
        try:
            current = read(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            print(f"{kind} {name}: not created yet; the post-install run patches it")
            continue
        ops = [
            {"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": bundle}
            for index in range(len(current.webhooks or []))
        ]
        patch(name, ops)
        print(f"{kind} {name}: caBundle set on {len(ops)} webhook(s)")


def main() -> int:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    env = os.environ
    try:
        cert_dir = Path(env["CERT_DIR"])
        namespace, name, configuration = env["SECRET_NAMESPACE"], env["SECRET_NAME"], env["WEBHOOK_CONFIGURATION"]
    except KeyError as exc:
        print(f"install-certs: environment variable {exc.args[0]} is required", file=sys.stderr)
        return 2
    ca = store_secret(client.CoreV1Api(), namespace, name, cert_dir)
    patch_ca_bundle(client.AdmissionregistrationV1Api(), configuration, ca)
    return 0


if __name__ == "__main__":
    sys.exit(main())
