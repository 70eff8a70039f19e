"""The controller's only door to the Kubernetes API.

Everything goes through `Kube.request`, built on the official client's `ApiClient` (its configuration, auth,
TLS and connection pool): objects travel as plain dicts (the engine works on dicts, and skipping the generated
models keeps unknown fields intact). Two error families, as STYLE.md asks:

- transient (429, 500-504, connection errors, timeouts): retried here with exponential backoff and full jitter,
  honouring `Retry-After`; after `max_attempts` a `TransientError` tells the caller to requeue;
- permanent (400, 403, 404, 409, 422): returned to the caller as `ApiError` (404 on get returns None, 409 on
  create is `AlreadyExists`, 409 on update is `Conflict`), never retried blindly.

A token bucket (qps, burst) bounds the request rate as client-go does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger("trellis.kube")

JSON = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


WORKFLOWS = Resource("argoproj.io", "v1alpha1", "workflows")
CRON_WORKFLOWS = Resource("argoproj.io", "v1alpha1", "cronworkflows")
WORKFLOW_TEMPLATES = Resource("argoproj.io", "v1alpha1", "workflowtemplates")
CLUSTER_WORKFLOW_TEMPLATES = Resource("argoproj.io", "v1alpha1", "clusterworkflowtemplates", namespaced=False)
JOBS = Resource("batch", "v1", "jobs")
PODS = Resource("", "v1", "pods")
CONFIG_MAPS = Resource("", "v1", "configmaps")
SECRETS = Resource("", "v1", "secrets")
EVENTS = Resource("", "v1", "events")
LEASES = Resource("coordination.k8s.io", "v1", "leases")
PERSISTENT_VOLUME_CLAIMS = Resource("", "v1", "persistentvolumeclaims")

RETRYABLE = {429, 500, 502, 503, 504}


class ApiError(Exception):
    """A permanent answer from the API server, with its Status object."""

    def __init__(self, status: int, body: Mapping[str, Any], what: str) -> None:
        self.status = status
        self.body = dict(body)
        self.reason = str(body.get("reason", ""))
        super().__init__(f"{what}: HTTP {status} {self.reason}: {body.get('message', '')}".rstrip(": "))


class AlreadyExists(ApiError):
    pass


class Conflict(ApiError):
    pass


class Gone(ApiError):
    """410: the watch's resourceVersion is too old; list again."""


class TransientError(Exception):
    """The API kept failing with retryable errors; the caller should requeue and try later."""


class TokenBucket:
    """client-go's flowcontrol: `qps` tokens per second, at most `burst` saved up."""

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps, self.burst, self.clock = qps, burst, clock
        self.tokens = float(burst)
        self.stamp = clock()
        self.lock = threading.Lock()

    def take(self) -> float:
        """Take one token; return how long the caller must wait before using it (0 when available)."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.qps)
            self.stamp = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.qps


@dataclass(frozen=True)
class KubeSettings:
    qps: float = 50.0
    burst: int = 100
    max_attempts: int = 5
    base_delay: float = 0.05
    max_delay: float = 5.0
    timeout: float = 30.0


class Kube:
    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        settings: KubeSettings = KubeSettings(),
        *,
        registry: CollectorRegistry | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.api = api_client
        self.settings = settings
        self.bucket = TokenBucket(settings.qps, settings.burst)
        self.stop = stop or threading.Event()
        self.streams: set[Any] = set()  # open watch responses, closed by close()
        self.streams_lock = threading.Lock()
        self.calls = Counter(
            "trellis_api_requests_total",
            "Kubernetes API requests by verb, resource and HTTP code",
            ["verb", "resource", "code"],
            registry=registry,
        )

    # -- transport -------------------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        stream: bool = False,
        timeout: float | None = None,
    ) -> Any:
        wait = self.bucket.take()
        if wait:
            self.stop.wait(wait)
        ser = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(*ser, _request_timeout=timeout or self.settings.timeout)

    def request(
        self,
        verb: str,
        resource: Resource,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, JSON]:
        """One API call with retries for transient failures. Returns (status, decoded body)."""
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = self._send(method, path, query=query, body=body, content_type=content_type)
                code = int(response.status)
                raw = response.read()
                self.calls.labels(verb, resource.plural, str(code)).inc()
                data: JSON = json.loads(raw) if raw else {}
                if code not in RETRYABLE:
                    return code, data
                header = response.getheader("Retry-After")
                retry_after = float(header) if header and header.isdigit() else None
                problem = f"HTTP {code} {data.get('reason', '')}".strip()
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                self.calls.labels(verb, resource.plural, "error").inc()
                problem = f"{type(exc).__name__}: {exc}"
            if attempt >= self.settings.max_attempts or self.stop.is_set():
                raise TransientError(f"{verb} {path} failed {attempt} times, last: {problem}")
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            log.info("%s %s: %s; will try again in %.2fs (attempt %d)", verb, path, problem, delay, attempt + 1)
            self.stop.wait(delay)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.settings.max_delay, self.settings.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, cap)  # full jitter: spreads a thundering herd of workers

    @staticmethod
    def _raise(code: int, data: JSON, what: str) -> None:
        if code == 409 and data.get("reason") == "AlreadyExists":
            raise AlreadyExists(code, data, what)
        if code == 409:
            raise Conflict(code, data, what)
        if code == 410:
            raise Gone(code, data, what)
        raise ApiError(code, data, what)

    # -- verbs -----------------------------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON | None:
        path = resource.path(namespace, name)
        code, data = self.request("get", resource, "GET", path)
        if code == 404:
            return None
        if code != 200:
            self._raise(code, data, f"get {path}")
        return data

    def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str = "") -> JSON:
        path = resource.path(namespace)
        query = [("labelSelector", label_selector)] if label_selector else []
        code, data = self.request("list", resource, "GET", path, query=query)
        if code != 200:
            self._raise(code, data, f"list {path}")
        return data

    def create(self, resource: Resource, namespace: str | None, body: Mapping[str, Any]) -> JSON:
        path = resource.path(namespace)
        code, data = self.request("create", resource, "POST", path, body=dict(body))
        if code not in (200, 201):
            self._raise(code, data, f"create {path}")
        return data

    def replace(
        self, resource: Resource, namespace: str | None, name: str, body: Mapping[str, Any], *, subresource: str = ""
    ) -> JSON:
        path = resource.path(namespace, name, subresource or None)
        code, data = self.request("update", resource, "PUT", path, body=dict(body))
        if code != 200:
            self._raise(code, data, f"update {path}")
        return data

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = "application/merge-patch+json",
        subresource: str = "",
    ) -> JSON:
        path = resource.path(namespace, name, subresource or None)
        code, data = self.request("patch", resource, "PATCH", path, body=patch, content_type=content_type)
        if code != 200:
            self._raise(code, data, f"patch {path}")
        return data

    def delete(self, resource: Resource, namespace: str | None, name: str, *, propagation: str = "Background") -> bool:
        """Delete; False when it was already gone."""
        path = resource.path(namespace, name)
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        code, data = self.request("delete", resource, "DELETE", path, body=body)
        if code == 404:
            return False
        if code not in (200, 202):
            self._raise(code, data, f"delete {path}")
        return True

    def watch(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        resource_version: str,
        label_selector: str = "",
        timeout_seconds: int = 300,
    ) -> Iterator[JSON]:
        """Yield watch events ({type, object}) from `resource_version`; raises Gone when it is too old.

        The server ends the stream after `timeout_seconds`; the caller resumes from the last version it saw.
        """
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        path = resource.path(namespace)
        response = self._send("GET", path, query=query, timeout=timeout_seconds + 30)
        code = int(response.status)
        self.calls.labels("watch", resource.plural, str(code)).inc()
        if code != 200:
            raw = response.read()
            data = json.loads(raw) if raw else {}
            if code in RETRYABLE:
                raise TransientError(f"watch {path}: HTTP {code}")
            self._raise(code, data, f"watch {path}")
        buffer = b""
        with self.streams_lock:
            self.streams.add(response.response)
        try:
            for chunk in response.response.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event: JSON = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object", {})
                        self._raise(int(status.get("code", 500)), status, f"watch {path}")
                    yield event
                if self.stop.is_set():
                    return
        finally:
            with self.streams_lock:
                self.streams.discard(response.response)
            response.response.release_conn()

    def close(self) -> None:
        """Stop: end open watch streams (their threads see the connection end) and close the connection pool."""
        self.stop.set()
        with self.streams_lock:
            streams = list(self.streams)
        for stream in streams:
            with contextlib.suppress(RuntimeError):  # it ended and went back to the pool meanwhile
                stream.shutdown()
        self.api.close()  # type: ignore[no-untyped-call]  # kubernetes ApiClient.close is untyped
