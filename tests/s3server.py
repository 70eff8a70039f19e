"""A real S3-compatible server on 127.0.0.1 for tests: moto in server mode, one process per test session.

Use it from any test module:

    from tests.s3server import S3Server, s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

    def test_upload(s3_server: S3Server, s3_bucket: str) -> None:
        s3_server.client().put_object(s3_bucket, "k", io.BytesIO(b"x"), 1)

`s3_server.repository(bucket)` is an Argo `artifactRepository` ({s3: {...}}) whose credentials are Secret
references; `s3_server.secret_env()` gives the env vars (TRELLIS_SECRET_*) that jobspec would wire from those
Secrets, for running `trellis-exec` as a subprocess. moto accepts any credentials; the values are still checked
to arrive (a missing one is an error in the driver).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_DEADLINE = 30.0
SECRET_NAME = "s3-credentials"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port, as Argo's s3.endpoint
    access_key: str = "trellis-access"
    secret_key: str = "trellis-secret-value"
    region: str = "us-east-1"

    def client(self) -> Any:
        from minio import Minio

        return Minio(self.endpoint, self.access_key, self.secret_key, secure=False, region=self.region)

    def make_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client().make_bucket(name)
        return name

    def repository(self, bucket: str) -> dict[str, Any]:
        return {
            "s3": {
                "bucket": bucket,
                "endpoint": self.endpoint,
                "insecure": True,
                "region": self.region,
                "accessKeySecret": {"name": SECRET_NAME, "key": "accesskey"},
                "secretKeySecret": {"name": SECRET_NAME, "key": "secretkey"},
            }
        }

    def secret_env(self) -> dict[str, str]:
        from executor.artifacts.repository import secret_env_name

        return {
            secret_env_name(SECRET_NAME, "accesskey"): self.access_key,
            secret_env_name(SECRET_NAME, "secretkey"): self.secret_key,
        }


def _ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    exe = Path(sys.executable).with_name("moto_server")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID="trellis-access", AWS_SECRET_ACCESS_KEY="trellis-secret-value")
    with log.open("wb") as sink:
        proc = subprocess.Popen([*argv, "-H", "127.0.0.1", "-p", str(port)], stdout=sink, stderr=sink, env=env)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start on port {port}: {log.read_text()[-2000:]}")
            time.sleep(0.05)  # polling for readiness with a deadline, not a fixed wait
        yield S3Server(endpoint=f"127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket for one test."""
    return s3_server.make_bucket()
