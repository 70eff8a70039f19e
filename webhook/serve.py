"""Serve the webhook app with gunicorn: gthread workers, keep-alive, TLS that follows rotated certificate files.

gunicorn (27) asks its `ssl_context` hook for a context on every new connection; the hook returns
`ServingContext.context()`, which re-reads the certificate and key only when their files changed. So a rotated
Secret is served on the next connection without a restart, and existing keep-alive connections finish undisturbed.

Hanging clients: each TLS read times out after `io_timeout` and one request's reads end after `request_timeout`
(see webhook.certs), gunicorn parks idle connections on its poller (not on a thread) and closes them after
`keepalive` seconds, and request lines/headers are size-limited; so a slow, silent or trickling client holds at
most one thread for at most `request_timeout` seconds.
"""

from __future__ import annotations

import gc
import json
import logging
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

from webhook.app import WebhookSettings, create_app
from webhook.certs import ServingContext


@dataclass(frozen=True)
class ServeOptions:
    bind: str = "0.0.0.0:8443"
    workers: int = 1  # one per Pod keeps /metrics whole; scale with replicas
    threads: int = 4
    keepalive: int = 30  # seconds an idle connection stays open (the API server reuses them)
    timeout: int = 30  # gunicorn restarts a worker silent for this long
    graceful_timeout: int = 10
    log_level: str = "info"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields` extra."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("trellis")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def freeze_startup_objects() -> None:
    """Move everything built at start-up (Flask, compiled schemas, the warmed-up validator) out of the cyclic
    collector's sight before gunicorn forks: collections stop touching those pages, so forked workers keep sharing
    them. (Raising the collection thresholds as well made no measurable difference: an A/B of alternating
    requests in one process gave p50 363 vs 377 ms for a 5000-task review, within noise; see docs/benchmarks.md.)
    """
    gc.collect()
    gc.freeze()


OPTIONAL_SETTINGS = frozenset({"control_socket_disable"})  # gunicorn 27+


class WebhookServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn application whose config comes from ServeOptions, not from gunicorn's command line."""

    def __init__(self, settings: WebhookSettings, options: ServeOptions) -> None:
        if not (settings.cert_file and settings.key_file):
            raise ValueError("the webhook serves TLS only: pass a certificate and a key")
        self.options = options
        self.application = create_app(settings)  # before forking: fails fast, workers share the warm-up
        freeze_startup_objects()
        tls = self.application.extensions["trellis.tls"]
        assert isinstance(tls, ServingContext)
        self.tls = tls
        super().__init__()

    def load_config(self) -> None:
        tls = self.tls

        def ssl_context(conf: Any, default_factory: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
            return tls.context()

        settings: dict[str, Any] = {
            "bind": [self.options.bind],
            "workers": self.options.workers,
            "worker_class": "gthread",
            "threads": self.options.threads,
            "keepalive": self.options.keepalive,
            "timeout": self.options.timeout,
            "graceful_timeout": self.options.graceful_timeout,
            "certfile": str(tls.cert_file),  # makes gunicorn wrap sockets; the context comes from ssl_context
            "keyfile": str(tls.key_file),
            "ssl_context": ssl_context,
            "limit_request_line": 4094,
            "limit_request_fields": 100,
            "limit_request_field_size": 8190,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": self.options.log_level,
            "proc_name": "trellis-webhook",
            "control_socket_disable": True,  # gunicorn 27's shared ~/.gunicorn socket: unneeded, and collides
        }
        for key, value in settings.items():
            if key in OPTIONAL_SETTINGS and key not in self.cfg.settings:
                continue  # an older gunicorn without this setting (pyproject allows gunicorn >= 22)
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def serve(settings: WebhookSettings, options: ServeOptions) -> None:
    """Run gunicorn in the foreground until SIGTERM/SIGINT."""
    configure_logging(options.log_level)
    WebhookServer(settings, options).run()
