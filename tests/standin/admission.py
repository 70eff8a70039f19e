"""Calling admission webhooks the way kube-apiserver does: match rules, POST an AdmissionReview v1 over HTTPS
verified with the configuration's `caBundle`, apply a mutating webhook's JSONPatch, turn a denial into the
Status the API server returns (`admission webhook "NAME" denied the request: ...`).

A webhook given as `clientConfig.service` is reached at the address the stand-in's `service_hosts` maps
`(namespace, name)` to, while TLS verifies the certificate against `NAME.NAMESPACE.svc` (as in a cluster).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .patches import JSON, PatchError, json_patch, match_label_selector


class WebhookCallError(Exception):
    """The webhook could not be called or answered badly; the message is the API server's wording."""


@dataclass(frozen=True)
class AdmissionRequest:
    operation: str  # CREATE, UPDATE, DELETE
    group: str
    version: str
    kind: str
    resource: str
    subresource: str
    namespace: str
    name: str
    obj: JSON | None
    old: JSON | None
    dry_run: bool
    namespace_labels: Mapping[str, str]


@dataclass(frozen=True)
class Verdict:
    obj: JSON | None
    denied: JSON | None  # the Status to return when denied
    warnings: tuple[str, ...]


def _rule_matches(rule: Mapping[str, Any], req: AdmissionRequest) -> bool:
    ops = rule.get("operations") or []
    if "*" not in ops and req.operation not in ops:
        return False
    if not _in(rule.get("apiGroups"), req.group) or not _in(rule.get("apiVersions"), req.version):
        return False
    wanted = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    resources = rule.get("resources") or []
    ok = any(
        r == wanted
        or r == "*/*"
        or (r == "*" and not req.subresource)
        or (r == f"{req.resource}/*")
        or (req.subresource and r == f"*/{req.subresource}")
        for r in resources
    )
    scope = rule.get("scope", "*")
    if scope == "Namespaced" and not req.namespace:
        return False
    if scope == "Cluster" and req.namespace:
        return False
    return ok


def _in(values: Any, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)


def webhook_matches(webhook: Mapping[str, Any], req: AdmissionRequest) -> bool:
    if not any(_rule_matches(rule, req) for rule in webhook.get("rules") or []):
        return False
    if req.namespace and not match_label_selector(webhook.get("namespaceSelector"), req.namespace_labels):
        return False
    target = req.obj if req.obj is not None else req.old or {}
    labels = (target.get("metadata") or {}).get("labels") or {}
    return match_label_selector(webhook.get("objectSelector"), labels)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to (address, port) but verifies the certificate for `server_name`, like a cluster Service."""

    def __init__(self, address: str, port: int, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(address, port, context=context, timeout=timeout)
        self._server_name = server_name
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._server_name)


def call_webhook(
    webhook: Mapping[str, Any],
    req: AdmissionRequest,
    *,
    resolve_service: Callable[[str, str, int], tuple[str, int]],
) -> JSON:
    """POST one AdmissionReview and return its `response`; raises WebhookCallError."""
    client_config = webhook.get("clientConfig") or {}
    timeout = float(webhook.get("timeoutSeconds") or 10)
    context = ssl.create_default_context()
    if client_config.get("caBundle"):
        try:
            context = ssl.create_default_context(cadata=base64.b64decode(client_config["caBundle"]).decode())
        except (ValueError, ssl.SSLError) as exc:
            raise WebhookCallError(f"invalid caBundle: {exc}") from exc
    if client_config.get("url"):
        from urllib.parse import urlsplit

        url = str(client_config["url"])
        parts = urlsplit(url)
        host, port, path = parts.hostname or "", parts.port or 443, parts.path or "/"
        server_name = host
    elif client_config.get("service"):
        svc = client_config["service"]
        port = int(svc.get("port") or 443)
        path = svc.get("path") or "/"
        server_name = f"{svc['name']}.{svc['namespace']}.svc"
        url = f"https://{server_name}:{port}{path}"
        host, port = resolve_service(svc["namespace"], svc["name"], port)
    else:
        raise WebhookCallError("webhook has neither clientConfig.url nor clientConfig.service")
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": req.group, "version": req.version, "kind": req.kind},
            "resource": {"group": req.group, "version": req.version, "resource": req.resource},
            "requestKind": {"group": req.group, "version": req.version, "kind": req.kind},
            "requestResource": {"group": req.group, "version": req.version, "resource": req.resource},
            "name": req.name,
            "namespace": req.namespace,
            "operation": req.operation,
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": req.obj,
            "oldObject": req.old,
            "dryRun": req.dry_run,
            "options": {
                "apiVersion": "meta.k8s.io/v1",
                "kind": {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions"}.get(req.operation, "DeleteOptions"),
            },
        },
    }
    if req.subresource:
        review["request"]["subResource"] = req.subresource  # type: ignore[index]
    conn = PinnedHTTPSConnection(host, port, server_name, context, timeout)
    try:
        conn.request(
            "POST", f"{path}?timeout={int(timeout)}s", json.dumps(review), {"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        raise WebhookCallError(f'failed to call webhook: Post "{url}?timeout={int(timeout)}s": {exc}') from exc
    finally:
        conn.close()
    if resp.status != 200:
        raise WebhookCallError(f"received invalid webhook response: HTTP {resp.status}: {body[:200]!r}")
    try:
        answer = json.loads(body)
        response = answer["response"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookCallError(f"received invalid webhook response: {exc}") from exc
    if not isinstance(response, dict):
        raise WebhookCallError("received invalid webhook response: response is not an object")
    return response


def denial_status(webhook_name: str, result: Mapping[str, Any] | None) -> JSON:
    """The Status the API server returns for a denial (k8s.io/apiserver webhookerrors.ToStatusErr)."""
    status: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, **(dict(result or {}))}
    denied_by = f'admission webhook "{webhook_name}" denied the request'
    if int(status.get("code") or 0) < 400:
        status["code"] = 400
    if status.get("status") in (None, "", "Success"):
        status["status"] = "Failure"
    if status.get("message"):
        status["message"] = f"{denied_by}: {status['message']}"
    elif status.get("reason"):
        status["message"] = f"{denied_by}: {status['reason']}"
    else:
        status["message"] = f"{denied_by} without explanation"
    return status


def run_webhooks(
    mutating: list[JSON],
    validating: list[JSON],
    req: AdmissionRequest,
    *,
    resolve_service: Callable[[str, str, int], tuple[str, int]],
) -> Verdict:
    """Mutating configurations (by name) first, each patch applied in turn; then the validating ones."""
    obj = req.obj
    warnings: list[str] = []
    for kind, configs in (("mutating", mutating), ("validating", validating)):
        for config in sorted(configs, key=lambda c: str(c["metadata"]["name"])):
            for webhook in config.get("webhooks") or []:
                current = AdmissionRequest(**{**req.__dict__, "obj": obj})
                if not webhook_matches(webhook, current):
                    continue
                try:
                    response = call_webhook(webhook, current, resolve_service=resolve_service)
                except WebhookCallError as exc:
                    if webhook.get("failurePolicy", "Fail") == "Ignore":
                        continue
                    message = f'Internal error occurred: failed calling webhook "{webhook["name"]}": {exc}'
                    return Verdict(None, _internal(message), tuple(warnings))
                warnings.extend(str(w) for w in response.get("warnings") or [])
                if not response.get("allowed"):
                    return Verdict(None, denial_status(str(webhook["name"]), response.get("status")), tuple(warnings))
                if kind == "mutating" and response.get("patch") and obj is not None:
                    if response.get("patchType") != "JSONPatch":
                        return Verdict(None, _internal(f"unsupported patchType {response.get('patchType')!r}"), ())
                    try:
                        obj = json_patch(obj, json.loads(base64.b64decode(response["patch"])))
                    except (PatchError, ValueError) as exc:
                        message = f'Internal error occurred: JSONPatch from webhook "{webhook["name"]}": {exc}'
                        return Verdict(None, _internal(message), tuple(warnings))
    return Verdict(obj, None, tuple(warnings))


def _internal(message: str) -> JSON:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }
