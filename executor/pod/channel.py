"""The main-exit channel: how `wait` learns that `main` ended, its exit code, and main's stdout.

- kube: watch our own Pod through the API (token projected into `wait` only) until main's containerStatus is
  terminated; stdout comes from `pods/log` of main (docs/architecture.md, "The main-exit channel").
- local: the local kubelet created the FIFO `main.exit` in /var/run/trellis/local and captures main's stdout to
  `main.stdout` there; opening the FIFO for reading blocks until the kubelet writes main's exit code.
No polling loop, no sleep: both wait on a blocking read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol

from executor.pod import config as pc


class ChannelError(Exception):
    """The channel broke (FIFO garbage, API refused); the message says what and where."""


class MainExit(NamedTuple):  # not a dataclass: importing dataclasses costs ~50 ms of every step's start-up
    exit_code: int


class Channel(Protocol):
    def wait_for_main(self) -> MainExit: ...

    def open_stdout(self) -> Any: ...  # a context manager yielding a binary stream (or None: no stdout)


class LocalChannel:
    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def wait_for_main(self) -> MainExit:
        fifo = self._dir / "main.exit"
        try:
            with fifo.open("rb") as f:  # blocks until the kubelet opens it for writing
                text = f.read(64).decode(errors="replace").strip()
        except OSError as exc:
            raise ChannelError(f"cannot read main's exit code from {fifo}: {exc.strerror or exc}") from exc
        try:
            return MainExit(int(text))
        except ValueError as exc:
            raise ChannelError(f"{fifo}: expected main's exit code as decimal text, read {text!r}") from exc

    @contextmanager
    def open_stdout(self) -> Iterator[BinaryIO | None]:
        path = self._dir / "main.stdout"
        if not path.exists():
            yield None
            return
        with path.open("rb") as f:
            yield f


class KubeChannel:
    """Watches this pod with the official client; in-cluster config from the token projected into `wait`."""

    WATCH_TIMEOUT = 300  # seconds per watch call; the loop re-watches from the last resourceVersion

    def __init__(self, api: Any, *, pod: str, namespace: str) -> None:
        """`api`: a kubernetes.client.CoreV1Api (the transport seam: in_cluster() in pods, any client in tests)."""
        self._api = api
        self._pod = pod
        self._namespace = namespace

    @classmethod
    def in_cluster(cls, *, pod: str, namespace: str, token_dir: Path, environ: Mapping[str, str]) -> KubeChannel:
        """Configured from the token projected into `wait` and KUBERNETES_SERVICE_HOST/PORT."""
        from kubernetes import client
        from kubernetes.config.incluster_config import InClusterConfigLoader

        configuration = client.Configuration()
        loader: Any = InClusterConfigLoader
        loader(
            token_filename=str(token_dir / "token"),
            cert_filename=str(token_dir / "ca.crt"),
            environ=dict(environ),
        ).load_and_set(configuration)
        return cls(client.CoreV1Api(client.ApiClient(configuration)), pod=pod, namespace=namespace)

    def wait_for_main(self) -> MainExit:
        """Read the Pod, then watch it from that resourceVersion until main is terminated. Objects are read as
        plain JSON (no model deserialization: a status field the client's models don't expect can't break us)."""
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        try:
            pod = self._read_pod()
            while True:
                code = _main_exit_code(pod)
                if code is not None:
                    return MainExit(code)
                watch_class: Any = watch.Watch
                stream = watch_class().stream(
                    self._api.list_namespaced_pod,
                    self._namespace,
                    field_selector=f"metadata.name={self._pod}",
                    resource_version=(pod.get("metadata") or {}).get("resourceVersion"),
                    timeout_seconds=self.WATCH_TIMEOUT,
                    deserialize=False,
                )
                try:
                    changed = self._first_exit(stream)
                except ApiException as exc:
                    if exc.status != 410:  # 410 Gone: our resourceVersion was compacted away; read again
                        raise
                    changed = None
                pod = changed if changed is not None else self._read_pod()
        except ApiException as exc:
            raise ChannelError(
                f"cannot watch pod {self._namespace}/{self._pod}: {exc.status} {exc.reason}; the pod's service "
                "account needs get/watch on pods and get on pods/log in its namespace"
            ) from exc

    def _first_exit(self, stream: Any) -> dict[str, Any] | None:
        """The Pod from the first watch event in which main is terminated; None when the watch ends first."""
        for event in stream:
            if event.get("type") == "DELETED":
                raise ChannelError(f"pod {self._namespace}/{self._pod} was deleted while main ran")
            obj = event.get("object")
            if (
                event.get("type") in ("ADDED", "MODIFIED")
                and isinstance(obj, dict)
                and _main_exit_code(obj) is not None
            ):
                return obj
        return None

    def _read_pod(self) -> dict[str, Any]:
        response: Any = self._api.read_namespaced_pod(self._pod, self._namespace, _preload_content=False)
        try:
            data: dict[str, Any] = json.loads(response.data)
        finally:
            response.release_conn()
        return data

    @contextmanager
    def open_stdout(self) -> Iterator[Any]:
        from kubernetes.client.exceptions import ApiException

        # stream=Stdout keeps stderr out of outputs.result where the API server supports split streams
        # (Kubernetes 1.32+, PodLogsQuerySplitStreams); a server that refuses the option gets asked without it.
        response: Any = None
        for extra in ({"stream": "Stdout"}, {}):
            try:
                response = self._api.read_namespaced_pod_log(
                    self._pod,
                    self._namespace,
                    container="main",
                    limit_bytes=pc.RESULT_LIMIT + 1,
                    _preload_content=False,
                    **extra,
                )
                break
            except ApiException as exc:
                if extra and exc.status in (400, 422):
                    continue
                raise ChannelError(
                    f"cannot read main's log of pod {self._namespace}/{self._pod}: {exc.status} {exc.reason}"
                ) from exc
        try:
            yield response
        finally:
            response.release_conn()


def _main_exit_code(pod: Mapping[str, Any]) -> int | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == "main":
            terminated = (status.get("state") or {}).get("terminated")
            if isinstance(terminated, Mapping):
                return int(terminated.get("exitCode") or 0)
    return None
