"""`trellis webhook serve|certs`: run the admission webhook, or make its certificates and configurations.

    trellis webhook serve --cert tls.crt --key tls.key [--bind 0.0.0.0:8443] [--workers 1] [--threads 4]
    trellis webhook certs --service trellis-webhook --namespace trellis --out DIR [--manifests DIR]
                          [--dns NAME]... [--ip ADDR]... [--days 365]

The composition root: reads flags (and TRELLIS_WEBHOOK_* environment variables as flag defaults), builds frozen
settings, hands them to webhook.serve / webhook.certs.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

HELP = "serve the admission webhook over TLS, or create its certificates and webhook configurations"


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="{serve,certs}")
    env = os.environ.get

    serve = sub.add_parser("serve", help="serve /validate, /mutate, /healthz, /readyz, /metrics over TLS")
    serve.add_argument("--cert", type=Path, default=env("TRELLIS_WEBHOOK_CERT"), help="serving certificate (PEM)")
    serve.add_argument("--key", type=Path, default=env("TRELLIS_WEBHOOK_KEY"), help="its private key (PEM)")
    serve.add_argument("--bind", default=env("TRELLIS_WEBHOOK_BIND", "0.0.0.0:8443"), help="HOST:PORT to listen on")
    serve.add_argument("--workers", type=int, default=int(env("TRELLIS_WEBHOOK_WORKERS", "1")))
    serve.add_argument("--threads", type=int, default=int(env("TRELLIS_WEBHOOK_THREADS", "4")))
    serve.add_argument("--keepalive", type=int, default=30, help="seconds an idle connection stays open")
    serve.add_argument("--io-timeout", type=float, default=10.0, help="seconds a stalled TLS read may take")
    serve.add_argument(
        "--request-timeout", type=float, default=30.0, help="seconds reading one request may take in all"
    )
    serve.add_argument("--max-body-bytes", type=int, default=3 * 1024 * 1024)
    serve.add_argument("--log-level", default=env("TRELLIS_WEBHOOK_LOG_LEVEL", "info"))
    serve.add_argument(
        "--templates-from-cluster",
        action="store_true",
        default=env("TRELLIS_WEBHOOK_TEMPLATES_FROM_CLUSTER", "") == "true",
        help="look up referenced WorkflowTemplates/ClusterWorkflowTemplates in the cluster and deny references "
        "to ones that do not exist (needs get on both resources)",
    )
    serve.add_argument("--kubeconfig", type=Path, help="with --templates-from-cluster outside a Pod")

    certs = sub.add_parser("certs", help="create a CA + serving certificate and the webhook configurations")
    certs.add_argument("--service", required=True, help="the webhook's Service name")
    certs.add_argument("--namespace", required=True, help="the Service's namespace (the release namespace)")
    certs.add_argument("--out", type=Path, required=True, help="directory for ca.crt, ca.key, tls.crt, tls.key")
    certs.add_argument("--manifests", type=Path, help="also write the Service and webhook configurations here")
    certs.add_argument("--dns", action="append", default=[], help="extra DNS name in the certificate (repeatable)")
    certs.add_argument("--ip", action="append", default=[], help="extra IP address in the certificate (repeatable)")
    certs.add_argument("--days", type=int, default=365, help="serving certificate validity")
    certs.add_argument("--new-ca", action="store_true", help="make a new CA even if --out holds one")


def run(args: argparse.Namespace) -> int:
    if args.action == "serve":
        return _serve(args)
    return _certs(args)


def _fail(message: str) -> int:
    print(f"trellis webhook {message}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from webhook.app import WebhookSettings
    from webhook.certs import CertificateError
    from webhook.serve import ServeOptions, serve

    if args.cert is None or args.key is None:
        return _fail("serve: --cert and --key are required (create them with `trellis webhook certs`)")
    if args.workers < 1 or args.threads < 1:
        return _fail("serve: --workers and --threads must be at least 1")
    context = None
    if args.templates_from_cluster:
        from webhook.validation import ValidationContext

        context = ValidationContext(resolve_template=ClusterTemplates(args.kubeconfig), authoritative=True)
    settings = WebhookSettings(
        cert_file=args.cert,
        key_file=args.key,
        max_body_bytes=args.max_body_bytes,
        io_timeout=args.io_timeout,
        request_timeout=args.request_timeout,
        validation_context=context,
    )
    options = ServeOptions(
        bind=args.bind, workers=args.workers, threads=args.threads, keepalive=args.keepalive, log_level=args.log_level
    )
    try:
        serve(settings, options)
    except CertificateError as exc:
        return _fail(f"serve: {exc}")
    return 0


def _certs(args: argparse.Namespace) -> int:
    from webhook.certs import (
        MANIFEST_FILES,
        issue_certificates,
        read_existing_ca,
        service_dns_names,
        webhook_manifests,
        write_atomically,
        write_certificates,
    )

    for ip in args.ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return _fail(f"certs: --ip {ip!r} is not an IP address; give names with --dns")
    if args.days < 1:
        return _fail("certs: --days must be at least 1")
    existing = None if args.new_ca else read_existing_ca(args.out)
    try:
        bundle = issue_certificates(
            dns_names=[*service_dns_names(args.service, args.namespace), *args.dns],
            ip_addresses=args.ip,
            now=datetime.now(UTC),
            days=args.days,
            ca=existing,
        )
    except ValueError as exc:
        return _fail(f"certs: {exc}")
    write_certificates(bundle, args.out)
    print(f"wrote {args.out}/ca.crt, ca.key, tls.crt, tls.key ({'kept the existing CA' if existing else 'new CA'})")
    if args.manifests is not None:
        args.manifests.mkdir(parents=True, exist_ok=True)
        docs = webhook_manifests(service=args.service, namespace=args.namespace, ca_bundle=bundle.ca_cert)
        for doc in docs:
            path = args.manifests / MANIFEST_FILES[doc["kind"]]
            write_atomically(path, yaml.safe_dump(doc, sort_keys=False).encode(), mode=0o644)
            print(f"wrote {path}")
    return 0


class ClusterTemplates:
    """The webhook's template lookup (ValidationContext.resolve_template): GET WorkflowTemplates and
    ClusterWorkflowTemplates from the API server, found ones cached for `ttl` seconds.

    Not-found answers are never cached, so `kubectl apply -f dir/` holding a template and the Workflow using it
    succeeds. Any other API error raises: the review is denied as an internal error (failurePolicy Fail), never
    allowed unchecked. The client is built on first use in each gunicorn worker (not before the fork).
    """

    def __init__(self, kubeconfig: Path | None, *, ttl: float = 5.0, clock: Any = time.monotonic) -> None:
        self.kubeconfig = kubeconfig
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._api: Any = None
        self._pid = 0
        self._cache: dict[tuple[str, str, str], tuple[float, Mapping[str, Any]]] = {}

    def _custom_objects(self) -> Any:
        from kubernetes import client, config

        with self._lock:
            if self._api is None or self._pid != os.getpid():
                configuration = client.Configuration()
                if self.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                    config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                else:
                    config.load_kube_config(  # type: ignore[no-untyped-call]  # the client ships no annotations
                        config_file=str(self.kubeconfig) if self.kubeconfig else None,
                        client_configuration=configuration,
                    )
                self._api = client.CustomObjectsApi(client.ApiClient(configuration))
                self._pid = os.getpid()
                self._cache.clear()
            return self._api

    def __call__(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        key = (kind, namespace, name)
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        api = self._custom_objects()
        try:
            if kind == "ClusterWorkflowTemplate":
                found = api.get_cluster_custom_object("argoproj.io", "v1alpha1", "clusterworkflowtemplates", name)
            elif namespace:
                found = api.get_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", namespace, "workflowtemplates", name
                )
            else:
                return None
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(found, Mapping):
            return None
        self._cache[key] = (now, found)
        return found
