"""pytest fixtures for the Kubernetes API stand-in.

    from tests.standin import fixture
    kube = fixture.kube          # (or put `from tests.standin.fixture import kube, kube_client` in a conftest.py)

    def test_x(kube: KubeStandin) -> None:
        kube.kubectl("get", "ns")                    # kubeconfig already written (kube.kubeconfig)
        core = kubernetes.client.CoreV1Api(kube.client())

`kube` is a fresh, running stand-in per test (bookmarks every 0.2 s), stopped afterwards.
`kube_client` is a `kubernetes.client.ApiClient` bound to it, closed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import KubeStandin


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeStandin]:
    standin = KubeStandin(bookmark_interval=0.2).start()
    standin.write_kubeconfig(tmp_path / "kubeconfig")
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def kube_client(kube: KubeStandin) -> Iterator[Any]:
    api = kube.client()
    try:
        yield api
    finally:
        api.close()
