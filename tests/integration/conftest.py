"""Integration fixtures: a real `trellis webhook serve` (gunicorn, gthread, TLS) on a free loopback port.

Certificates come from `trellis webhook certs` in a temporary directory (SANs include 127.0.0.1); clients verify
against that CA by passing `verify=` on every request, because REQUESTS_CA_BUNDLE (set on these machines) would
override a Session's `verify`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 30.0  # seconds for gunicorn to boot and warm up validation (2 slow cores, cold imports)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class WebhookProcess:
    """A running webhook: its URL, the CA to trust, the certificate directory, the process and its log."""

    url: str
    host: str
    port: int
    certs: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ca(self) -> str:
        return str(self.certs / "ca.crt")

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url + path, verify=self.ca, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.post(self.url + path, verify=self.ca, **kwargs)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def issue_certs(directory: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "executor.cli",
            "webhook",
            "certs",
            "--service",
            "trellis-webhook",
            "--namespace",
            "trellis",
            "--out",
            str(directory),
            "--ip",
            "127.0.0.1",
            "--dns",
            "localhost",
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )


def start_webhook(directory: Path, *extra_args: str) -> WebhookProcess:
    """Issue certificates into `directory`, start the server and wait (with a deadline) until /readyz says 200."""
    certs = directory / "certs"
    issue_certs(certs)
    port = free_port()
    log = directory / "webhook.log"
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    command = [sys.executable, "-m", "executor.cli", "webhook", "serve"]
    command += ["--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key"), "--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, *extra_args], stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True
        )
    server = WebhookProcess(
        url=f"https://127.0.0.1:{port}", host="127.0.0.1", port=port, certs=certs, process=process, log=log
    )
    try:
        wait_until_ready(server)
    except BaseException:
        stop_webhook(server)
        raise
    return server


def wait_until_ready(server: WebhookProcess) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while True:
        if server.process.poll() is not None:
            raise AssertionError(f"webhook exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            if server.get("/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook not ready after {START_DEADLINE} s:\n{server.log_text()}")
        time.sleep(0.05)  # poll interval, bounded by the deadline above


def stop_webhook(server: WebhookProcess) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)  # gunicorn's arbiter and its workers: our own session
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=15)


@pytest.fixture(scope="module")
def webhook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookProcess]:
    """One server per test module: 1 worker, 4 threads; 2 s per TLS read, 4 s per request (slow-client tests)."""
    server = start_webhook(
        tmp_path_factory.mktemp("webhook"),
        *("--workers", "1", "--threads", "4", "--io-timeout", "2", "--request-timeout", "4"),
    )
    yield server
    stop_webhook(server)


@pytest.fixture
def start_webhook_server(tmp_path: Path) -> Iterator[Callable[..., WebhookProcess]]:
    """Start a private server (for tests that change its certificate files); stopped at teardown."""
    started: list[WebhookProcess] = []

    def start(*extra_args: str) -> WebhookProcess:
        server = start_webhook(tmp_path / f"server{len(started)}", *extra_args)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_webhook(server)
