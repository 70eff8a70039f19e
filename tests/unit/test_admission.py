"""webhook.admission: AdmissionReview v1 decoding and answers, with small validators/defaulters passed in."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from webhook.admission import (
    MalformedReview,
    Review,
    admit_defaulting,
    admit_validation,
    decode_review,
    encode_review,
    parse_body,
)
from webhook.errors import FieldError, ValidationResult

WORKFLOW = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Workflow"}


def review_body(**request: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": WORKFLOW,
        "resource": {"group": "argoproj.io", "version": "v1alpha1", "resource": "workflows"},
        "requestKind": WORKFLOW,
        "name": "hello",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "hello"}},
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    base.update(request)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": base}


VALID = ValidationResult()


class RecordingValidator:
    """Returns a fixed result and remembers what it was asked (a seam standing in for webhook.validation)."""

    def __init__(self, result: ValidationResult = VALID) -> None:
        self.result = result
        self.calls: list[tuple[Mapping[str, Any], str, Mapping[str, Any] | None]] = []

    def __call__(self, obj: Mapping[str, Any], *, operation: str, old: Mapping[str, Any] | None) -> ValidationResult:
        self.calls.append((obj, operation, old))
        return self.result


def no_defaults(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    return []


# review_body()'s object as validation sees it: in the request's namespace.
IN_DEFAULT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "hello", "namespace": "default"},
}

TWO_ERRORS = (
    FieldError("spec.entrypoint", 'template "mian" not found; use one of: main', "FieldValueNotFound"),
    FieldError("spec.templates[1].dag.tasks[0].dependencies", 'task "b" is not a task of this DAG'),
)


# ----------------------------------------------------------------------------------------------------------------
# parse_body / decode_review
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            b'{"apiVersion": "admission.k8s.io/v1", "kind": ',
            "request body is not valid JSON (Expecting value: line 1 column 47); "
            "send an AdmissionReview (admission.k8s.io/v1) encoded as JSON",
            id="truncated",
        ),
        pytest.param(
            b"not json",
            "request body is not valid JSON (Expecting value: line 1 column 1); "
            "send an AdmissionReview (admission.k8s.io/v1) encoded as JSON",
            id="not-json",
        ),
        pytest.param(b'{"a": NaN}', "request body is not valid JSON: NaN is not a JSON number", id="nan-is-not-json"),
        pytest.param(
            b"[" * 101 + b"]" * 101,
            "request body is nested deeper than 100 levels; no Argo manifest needs that many",
            id="nested-101",
        ),
        pytest.param(
            b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
            "request body is nested deeper than 100 levels; no Argo manifest needs that many",
            id="nested-beyond-the-parser-recursion-limit",
        ),
    ],
)
def test_bodies_that_are_not_json_are_refused_with_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(MalformedReview) as caught:
        parse_body(body)
    assert str(caught.value) == message


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse_body(b"[" * 100 + b"]" * 100, max_depth=100) is not None


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(MalformedReview) as caught:
        parse_body(b'{"a": "\xff\xfe\xfa"}')
    assert str(caught.value) == (
        "request body is not valid JSON text: 'utf-8' codec can't decode byte 0xff in position 7: invalid start byte"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param([], "request body must be a JSON object (an AdmissionReview), got a list", id="list"),
        pytest.param(
            {"apiVersion": "v1", "kind": "Pod"},
            "request body must be an AdmissionReview of apiVersion admission.k8s.io/v1, got kind='Pod' "
            "apiVersion='v1'; list \"v1\" in the webhook configuration's admissionReviewVersions",
            id="not-an-admission-review",
        ),
        pytest.param(
            {**review_body(), "apiVersion": "admission.k8s.io/v1beta1"},
            "request body must be an AdmissionReview of apiVersion admission.k8s.io/v1, got kind='AdmissionReview' "
            "apiVersion='admission.k8s.io/v1beta1'; list \"v1\" in the webhook configuration's "
            "admissionReviewVersions",
            id="v1beta1",
        ),
        pytest.param(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
            "AdmissionReview.request must be an object; the API server always sends one",
            id="no-request",
        ),
        pytest.param(
            review_body(uid=""),
            "AdmissionReview.request.uid must be a non-empty string; it is echoed in the answer",
            id="empty-uid",
        ),
        pytest.param(
            review_body(uid=7),
            "AdmissionReview.request.uid must be a non-empty string; it is echoed in the answer",
            id="uid-not-a-string",
        ),
        pytest.param(
            review_body(kind={"group": "argoproj.io", "kind": "Workflow"}),
            "AdmissionReview.request.kind must be an object with string group, version and kind",
            id="kind-without-version",
        ),
        pytest.param(
            review_body(operation="PATCH"),
            "AdmissionReview.request.operation must be one of CREATE, UPDATE, DELETE, CONNECT, got 'PATCH'",
            id="unknown-operation",
        ),
        pytest.param(
            review_body(namespace=["default"]),
            "AdmissionReview.request.namespace must be a string, got a list",
            id="namespace-not-a-string",
        ),
    ],
)
def test_bodies_that_are_not_admission_reviews_are_refused_with_what_is_wrong(body: Any, message: str) -> None:
    with pytest.raises(MalformedReview) as caught:
        decode_review(body)
    assert str(caught.value) == message


def test_a_review_decodes_as_the_api_server_sends_it() -> None:
    review = decode_review(parse_body(json.dumps(review_body(dryRun=True)).encode()))
    assert review == Review(
        uid="705ab4f5-6393-11e8-b7cc-42010a800002",
        kind={"group": "argoproj.io", "version": "v1alpha1", "kind": "Workflow"},
        operation="CREATE",
        name="hello",
        namespace="default",
        object={"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "hello"}},
        old_object=None,
        dry_run=True,
    )


# ----------------------------------------------------------------------------------------------------------------
# /validate
# ----------------------------------------------------------------------------------------------------------------


def test_a_valid_object_is_allowed_with_its_uid_and_warnings() -> None:
    validator = RecordingValidator(ValidationResult(warnings=("spec.schedule is deprecated; use schedules",)))
    answer = encode_review(admit_validation(decode_review(review_body()), validate=validator))
    assert answer == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "allowed": True,
            "warnings": ["spec.schedule is deprecated; use schedules"],
        },
    }
    assert validator.calls == [(IN_DEFAULT, "CREATE", None)]


def test_a_denial_is_the_api_servers_422_invalid_status_with_every_cause() -> None:
    validator = RecordingValidator(ValidationResult(errors=TWO_ERRORS, warnings=("w",)))
    answer = admit_validation(decode_review(review_body()), validate=validator)
    assert answer == {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "allowed": False,
        "warnings": ["w"],
        "status": {
            "metadata": {},
            "status": "Failure",
            "message": 'Workflow.argoproj.io "hello" is invalid: ['
            'spec.entrypoint: template "mian" not found; use one of: main, '
            'spec.templates[1].dag.tasks[0].dependencies: task "b" is not a task of this DAG]',
            "reason": "Invalid",
            "code": 422,
            "details": {
                "name": "hello",
                "group": "argoproj.io",
                "kind": "Workflow",
                "causes": [
                    {
                        "reason": "FieldValueNotFound",
                        "message": 'template "mian" not found; use one of: main',
                        "field": "spec.entrypoint",
                    },
                    {
                        "reason": "FieldValueInvalid",
                        "message": 'task "b" is not a task of this DAG',
                        "field": "spec.templates[1].dag.tasks[0].dependencies",
                    },
                ],
            },
        },
    }


@pytest.mark.parametrize(
    ("errors", "name_fields", "message"),
    [
        pytest.param(
            TWO_ERRORS[:1],
            {"name": "hello"},
            'Workflow.argoproj.io "hello" is invalid: spec.entrypoint: template "mian" not found; use one of: main',
            id="one-error-has-no-brackets",
        ),
        pytest.param(
            (TWO_ERRORS[0], TWO_ERRORS[0]),
            {"name": "hello"},
            'Workflow.argoproj.io "hello" is invalid: spec.entrypoint: template "mian" not found; use one of: main',
            id="duplicates-are-dropped-from-the-message",
        ),
        pytest.param(
            (FieldError("", "manifest is empty"),),
            {"name": ""},
            'Workflow.argoproj.io "data-pipeline-" is invalid: manifest is empty',
            id="generate-name-when-there-is-no-name",
        ),
    ],
)
def test_denial_messages_read_like_the_api_servers(
    errors: tuple[FieldError, ...], name_fields: dict[str, str], message: str
) -> None:
    body = review_body(
        name="",
        object={"kind": "Workflow", "metadata": {**name_fields, "generateName": "data-pipeline-"}},
    )
    answer = admit_validation(decode_review(body), validate=RecordingValidator(ValidationResult(errors=errors)))
    assert answer["status"]["message"] == message
    assert answer["status"]["details"]["name"] == message.split('"')[1]
    assert len(answer["status"]["details"]["causes"]) == len(errors)


@pytest.mark.parametrize(
    ("metadata", "request_namespace", "seen"),
    [
        pytest.param({"name": "a"}, "team-a", {"name": "a", "namespace": "team-a"}, id="filled-from-the-request"),
        pytest.param({"name": "a", "namespace": "x"}, "x", {"name": "a", "namespace": "x"}, id="kept"),
        pytest.param({"name": "a"}, "", {"name": "a"}, id="cluster-scoped"),
    ],
)
def test_the_validator_sees_the_object_in_the_namespace_it_will_be_stored_in(
    metadata: dict[str, str], request_namespace: str, seen: dict[str, str]
) -> None:
    obj = {"kind": "Workflow", "metadata": metadata}
    validator = RecordingValidator()
    admit_validation(decode_review(review_body(object=obj, namespace=request_namespace)), validate=validator)
    assert validator.calls == [({"kind": "Workflow", "metadata": seen}, "CREATE", None)]
    assert obj == {"kind": "Workflow", "metadata": metadata}  # the review's object is left as it came


def test_update_passes_the_stored_object_to_the_validator() -> None:
    old = {"kind": "Workflow", "metadata": {"name": "hello", "resourceVersion": "1"}}
    validator = RecordingValidator()
    body = review_body(operation="UPDATE", oldObject=old)
    assert admit_validation(decode_review(body), validate=validator)["allowed"] is True
    assert validator.calls == [(IN_DEFAULT, "UPDATE", old)]


@pytest.mark.parametrize(
    "request_fields",
    [
        pytest.param({"operation": "DELETE", "object": None, "oldObject": {"kind": "Workflow"}}, id="delete"),
        pytest.param({"operation": "CONNECT", "object": None}, id="connect"),
        pytest.param({"kind": {"group": "", "version": "v1", "kind": "Pod"}, "object": []}, id="core-pod"),
        pytest.param({"kind": {"group": "batch", "version": "v1", "kind": "Job"}}, id="batch-job"),
        pytest.param({"kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Sensor"}}, id="argo-events"),
        pytest.param({"subResource": "status"}, id="status-subresource"),
    ],
)
def test_requests_we_do_not_own_are_allowed_untouched(request_fields: dict[str, Any]) -> None:
    validator = RecordingValidator(ValidationResult(errors=TWO_ERRORS))

    def defaulter(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        raise AssertionError("the defaulter must not be called")

    review = decode_review(review_body(**request_fields))
    expected = {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}
    assert admit_validation(review, validate=validator) == expected
    assert admit_defaulting(review, default=defaulter) == expected
    assert validator.calls == []


@pytest.mark.parametrize(
    ("obj", "got"),
    [
        pytest.param(["a"], "a list", id="list"),
        pytest.param("apiVersion: v1", "a string", id="string"),
        pytest.param(None, "null", id="missing"),
    ],
)
def test_an_object_that_is_not_a_mapping_is_denied_with_a_message(obj: Any, got: str) -> None:
    review = decode_review(review_body(object=obj))
    expected = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "allowed": False,
        "status": {
            "metadata": {},
            "status": "Failure",
            "message": f"AdmissionReview.request.object must be a Workflow manifest (a JSON object), got {got}",
            "reason": "BadRequest",
            "code": 400,
        },
    }
    assert admit_validation(review, validate=RecordingValidator()) == expected
    assert admit_defaulting(review, default=no_defaults) == expected


def test_dry_run_is_answered_like_a_real_request() -> None:
    validator = RecordingValidator(ValidationResult(errors=TWO_ERRORS))
    real = admit_validation(decode_review(review_body(dryRun=False)), validate=validator)
    dry = admit_validation(decode_review(review_body(dryRun=True)), validate=validator)
    assert dry == real


# ----------------------------------------------------------------------------------------------------------------
# /mutate
# ----------------------------------------------------------------------------------------------------------------


def test_defaults_travel_as_a_base64_json_patch() -> None:
    ops = [{"op": "add", "path": "/spec/serviceAccountName", "value": "default"}]

    def defaulter(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        return ops

    answer = admit_defaulting(decode_review(review_body()), default=defaulter)
    assert answer["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(answer["patch"])) == ops
    assert set(answer) == {"uid", "allowed", "patchType", "patch"}


def test_no_defaults_means_no_patch_fields() -> None:
    answer = admit_defaulting(decode_review(review_body(operation="UPDATE")), default=no_defaults)
    assert answer == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}
