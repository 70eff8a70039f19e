"""The webhook's HTTP face: `create_app(settings)` -> Flask app with /validate, /mutate, /healthz, /readyz, /metrics.

Routes only decode, call webhook.admission's pure functions with the real validator and defaulter, and encode.
Invariants:
- Every AdmissionReview that decodes is answered with HTTP 200 (a validator bug becomes a 500 Status inside an
  `allowed: false` answer). Anything else gets a JSON `metav1.Status` with a 4xx code: 400 bad JSON / not an
  AdmissionReview / nested too deep, 405 wrong method, 413 body over `max_body_bytes` (3 MiB, the API server's
  own request limit), 415 not `application/json`. Never a traceback to the client.
- Log lines are JSON, one per admission, with uid/kind/namespace/name/operation/outcome: never object contents.
- Metrics live in a registry per app (so tests and several apps in one process do not share counters); with
  several gunicorn workers each worker reports its own counters, so run one worker per Pod and scale replicas.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from werkzeug.exceptions import ClientDisconnected, HTTPException

from webhook.admission import (
    DEFAULT_MAX_DEPTH,
    AdmissionResponse,
    Defaulter,
    MalformedReview,
    Review,
    Status,
    Validator,
    admit_defaulting,
    admit_validation,
    decode_review,
    deny,
    encode_review,
    failure_status,
    parse_body,
)
from webhook.certs import ServingContext
from webhook.defaulting import default_patch
from webhook.errors import ValidationResult
from webhook.validation import ValidationContext, validate

log = logging.getLogger("trellis.webhook")

ENDPOINTS = frozenset({"/validate", "/mutate", "/healthz", "/readyz", "/metrics"})
HTTP_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    500: "InternalError",
}
# A minimal valid Workflow run through validation and defaulting before the app reports ready, so schemas are
# compiled and imports done before the first real request.
WARM_UP_OBJECT: Mapping[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "warm-up-"},
    "spec": {
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "busybox", "command": ["true"]}}],
    },
}


@dataclass(frozen=True)
class WebhookSettings:
    """Everything the app needs, decided at the composition root (`trellis webhook serve`)."""

    cert_file: Path | None = None  # serving certificate (PEM); with key_file, reloaded when the files change
    key_file: Path | None = None
    max_body_bytes: int = 3 * 1024 * 1024
    max_json_depth: int = DEFAULT_MAX_DEPTH
    io_timeout: float = 10.0  # seconds a TLS read may stall before the connection is dropped
    request_timeout: float = 30.0  # seconds all reads of one request may take (trickling clients)
    # What validation may consult beyond the object (e.g. a WorkflowTemplate lookup against the cluster); None:
    # references to templates outside the object are reported as warnings, as `trellis lint` does.
    validation_context: ValidationContext | None = None


@dataclass
class _Metrics:
    registry: CollectorRegistry
    requests: Counter
    duration: Histogram
    denials: Counter

    @classmethod
    def create(cls) -> _Metrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            requests=Counter(
                "trellis_webhook_requests",
                "HTTP requests by endpoint and status code",
                ["endpoint", "code"],
                registry=registry,
            ),
            duration=Histogram(
                "trellis_webhook_request_duration_seconds",
                "Time to answer a request, by endpoint",
                ["endpoint"],
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
                registry=registry,
            ),
            denials=Counter(
                "trellis_webhook_denials",
                "Admission requests denied, by object kind and Status reason",
                ["kind", "reason"],
                registry=registry,
            ),
        )


def _real_validator(settings: WebhookSettings) -> Validator:
    context = settings.validation_context

    def bound(obj: Mapping[str, Any], *, operation: str, old: Mapping[str, Any] | None) -> ValidationResult:
        return validate(obj, context=context, operation=operation, old=old)

    return bound


def _real_defaulter() -> Defaulter:
    return default_patch


def create_app(
    settings: WebhookSettings,
    *,
    validator: Validator | None = None,
    defaulter: Defaulter | None = None,
) -> Flask:
    """The webhook app. `validator`/`defaulter` default to webhook.validation / webhook.defaulting."""
    check = validator or _real_validator(settings)
    default = defaulter or _real_defaulter()
    tls = (
        ServingContext(
            settings.cert_file,
            settings.key_file,
            io_timeout=settings.io_timeout,
            request_timeout=settings.request_timeout,
        )
        if (settings.cert_file and settings.key_file)
        else None
    )
    metrics = _Metrics.create()

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["trellis.tls"] = tls
    app.extensions["trellis.metrics"] = metrics

    not_ready = _warm_up(check, default)

    def admit(endpoint: str, decide: Callable[[Review], AdmissionResponse]) -> Response:
        if request.mimetype != "application/json":
            return _status_response(
                failure_status(
                    415,
                    "UnsupportedMediaType",
                    f"Content-Type must be application/json, got {request.mimetype or 'none'!r}; "
                    "the API server sends AdmissionReviews as JSON",
                )
            )
        try:
            body = request.get_data(cache=False)
        except (OSError, ClientDisconnected) as exc:  # the client stalled mid-body past io_timeout, or went away
            log.info("request body did not arrive: %r", exc, extra={"fields": {"endpoint": endpoint}})
            return _status_response(
                failure_status(
                    400,
                    "BadRequest",
                    f"request body is shorter than its Content-Length ({request.content_length} bytes): the client "
                    f"closed the connection, sent nothing for {settings.io_timeout:g} s or took over "
                    f"{settings.request_timeout:g} s",
                )
            )
        try:
            review = decode_review(parse_body(body, max_depth=settings.max_json_depth))
        except MalformedReview as exc:
            log.info("rejected a malformed request: %s", exc, extra={"fields": {"endpoint": endpoint}})
            return _status_response(failure_status(400, "BadRequest", str(exc)))
        started = time.perf_counter()
        try:
            answer = decide(review)
        except Exception as exc:
            # The exception's text may quote the object (a value, a key): log its type and frames only.
            fields = _review_fields(review, endpoint)
            fields.update(error=type(exc).__name__, traceback="".join(traceback.format_tb(exc.__traceback__)))
            log.error("admission failed inside Trellis; denying the request", extra={"fields": fields})
            answer = deny(
                review,
                failure_status(
                    500,
                    "InternalError",
                    f"Trellis could not check this {review.kind['kind']} (an internal error, logged by the webhook "
                    f"with uid {review.uid}); please report it",
                ),
            )
        if not answer["allowed"]:
            metrics.denials.labels(kind=review.kind["kind"], reason=answer.get("status", {}).get("reason", "")).inc()
        fields = _review_fields(review, endpoint)
        fields.update(
            allowed=answer["allowed"],
            causes=len(answer.get("status", {}).get("details", {}).get("causes", [])),
            warnings=len(answer.get("warnings", [])),
            patched="patch" in answer,
            decide_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        log.info("admission", extra={"fields": fields})
        return _json_response(encode_review(answer), 200)

    @app.post("/validate")
    def validate_route() -> Response:
        return admit("/validate", lambda review: admit_validation(review, validate=check))

    @app.post("/mutate")
    def mutate_route() -> Response:
        return admit("/mutate", lambda review: admit_defaulting(review, default=default))

    @app.get("/healthz")
    def healthz() -> Response:
        return _json_response({"status": "ok"}, 200)

    @app.get("/readyz")
    def readyz() -> Response:
        if not_ready:
            return _json_response({"status": "not ready", "reason": not_ready}, 503)
        return _json_response({"status": "ready"}, 200)

    @app.get("/metrics")
    def metrics_route() -> Response:
        return Response(generate_latest(metrics.registry), 200, {"Content-Type": CONTENT_TYPE_LATEST})

    @app.before_request
    def start_clock() -> None:
        request.environ["trellis.started"] = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        endpoint = request.path if request.path in ENDPOINTS else "unmatched"  # bounded label values
        started = request.environ.get("trellis.started")
        metrics.requests.labels(endpoint=endpoint, code=str(response.status_code)).inc()
        if isinstance(started, float):
            metrics.duration.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 413:
            _drain(request.environ, limit=2 * settings.max_body_bytes)
        message = {
            405: f"{request.method} is not allowed on {request.path}; the API server POSTs AdmissionReviews",
            413: f"request body is larger than {settings.max_body_bytes} bytes, the most the API server sends",
            404: f"no such endpoint {request.path}; use /validate, /mutate, /healthz, /readyz or /metrics",
        }.get(code, exc.description or exc.name)
        return _status_response(failure_status(code, HTTP_REASONS.get(code, exc.name.replace(" ", "")), message))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return _status_response(failure_status(500, "InternalError", "internal error; see the webhook's logs"))

    return app


def _drain(environ: Mapping[str, Any], *, limit: int) -> None:
    """Read and drop an unread request body (up to `limit` bytes) so the client, still sending, reads our answer.

    Without it gunicorn closes the connection mid-upload and the client sees a broken pipe instead of the 413.
    Each read is bounded by the TLS I/O timeout; a larger body is left to the connection close.
    """
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ.get("wsgi.input")
    if not length.isdigit() or int(length) > limit or stream is None:
        return
    try:
        while stream.read(64 * 1024):
            pass
    except OSError:
        pass


def _warm_up(validate: Validator, default: Defaulter) -> str:
    """Run the validator and defaulter once; returns why the app is not ready ("" when it is)."""
    try:
        result = validate(WARM_UP_OBJECT, operation="CREATE", old=None)
        default(WARM_UP_OBJECT)
    except Exception as exc:
        log.exception("warm-up validation failed; /readyz will report not ready")
        return f"warm-up validation failed: {type(exc).__name__}"
    if not result.ok:
        log.warning("warm-up workflow was denied: %s", "; ".join(map(str, result.errors)))
    return ""


def _review_fields(review: Review, endpoint: str) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "uid": review.uid,
        "kind": review.kind["kind"],
        "namespace": review.namespace,
        "name": review.object_name,
        "operation": review.operation,
        "dryRun": review.dry_run,
    }


def _status_response(status: Status) -> Response:
    body = {"kind": "Status", "apiVersion": "v1", **status}
    return _json_response(body, status.get("code", 500))


def _json_response(body: Mapping[str, Any] | Any, code: int) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), code, mimetype="application/json")
