"""webhook.app through Flask's test client, with a validator/defaulter that fail: a bug in Trellis becomes an
InternalError Status inside an HTTP 200 AdmissionReview, never a 500 or a traceback to the client."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from webhook.app import WebhookSettings, create_app
from webhook.errors import ValidationResult

UID = "b0b3c5a1-0000-4000-8000-000000000001"
REVIEW = {
    "apiVersion": "admission.k8s.io/v1",
    "kind": "AdmissionReview",
    "request": {
        "uid": UID,
        "kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Workflow"},
        "operation": "CREATE",
        "name": "hello",
        "namespace": "default",
        "object": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "hello"}},
    },
}


class Broken:
    """A validator and defaulter that raise once warm-up is over (as a bug would on some input)."""

    def __init__(self) -> None:
        self.calls = 0

    def validate(self, obj: Mapping[str, Any], *, operation: str, old: Mapping[str, Any] | None) -> ValidationResult:
        self.calls += 1
        if self.calls > 1:
            raise KeyError("secret-looking-value")
        return ValidationResult()

    def default(self, obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        if self.calls > 1:
            raise KeyError("secret-looking-value")
        return []


@pytest.mark.parametrize("path", ["/validate", "/mutate"])
def test_a_failing_check_is_denied_as_an_internal_error_without_details(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Broken()
    app = create_app(WebhookSettings(), validator=broken.validate, defaulter=broken.default)
    broken.calls = 2  # warm-up is over
    reply = app.test_client().post(path, data=json.dumps(REVIEW), content_type="application/json")
    assert reply.status_code == 200
    assert reply.get_json()["response"] == {
        "uid": UID,
        "allowed": False,
        "status": {
            "metadata": {},
            "status": "Failure",
            "message": "Trellis could not check this Workflow (an internal error, logged by the webhook with uid "
            f"{UID}); please report it",
            "reason": "InternalError",
            "code": 500,
        },
    }
    assert b"secret-looking-value" not in reply.data
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    fields = record.fields  # type: ignore[attr-defined]
    assert (record.getMessage(), fields["uid"], fields["error"]) == (
        "admission failed inside Trellis; denying the request",
        UID,
        "KeyError",
    )
    assert 'raise KeyError("secret-looking-value")' in fields["traceback"]  # the source line, not the value
    assert "secret-looking-value')" not in str(fields)


def test_readiness_reports_a_validator_that_fails_to_warm_up() -> None:
    def failing(obj: Mapping[str, Any], *, operation: str, old: Mapping[str, Any] | None) -> ValidationResult:
        raise RuntimeError("schemas missing")

    app = create_app(WebhookSettings(), validator=failing, defaulter=lambda obj: [])
    reply = app.test_client().get("/readyz")
    assert (reply.status_code, reply.get_json()) == (
        503,
        {"status": "not ready", "reason": "warm-up validation failed: RuntimeError"},
    )
    assert app.test_client().get("/healthz").status_code == 200


def test_metrics_are_per_app() -> None:
    first = create_app(WebhookSettings(), validator=Broken().validate, defaulter=lambda obj: [])
    second = create_app(WebhookSettings(), validator=Broken().validate, defaulter=lambda obj: [])
    first.test_client().get("/healthz")
    text = second.test_client().get("/metrics").get_data(as_text=True)
    assert 'trellis_webhook_requests_total{code="200",endpoint="/healthz"}' not in text
