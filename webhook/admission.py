"""AdmissionReview `admission.k8s.io/v1` in and out, exactly as kube-apiserver speaks it. Pure: no I/O, no Flask.

    body bytes --parse_body--> JSON --decode_review--> Review --admit_validation / admit_defaulting--> response
    response --encode_review--> AdmissionReview dict (the route serialises it and answers HTTP 200)

Invariants:
- A body that is not an AdmissionReview v1 with a `request.uid` raises `MalformedReview` (the route answers HTTP
  400 with a Kubernetes Status); every decodable review gets an AdmissionReview back, with `uid` echoed.
- A denial carries a 422 Status shaped like the API server's own `Invalid` error (k8s.io/apimachinery
  errors.NewInvalid): message `Workflow.argoproj.io "name" is invalid: [path: msg, path: msg]` (no brackets for a
  single error, duplicates dropped), `details.causes[]` = {reason: field error type, message, field}.
- Only the four Argo kinds of group `argoproj.io` are ours; any other kind, subresources, DELETE and CONNECT are
  allowed untouched (the webhook configurations do not send them, but a wider rule must not break the cluster).
- `dryRun` requests are answered exactly like real ones: admission has no side effects (`sideEffects: None`).
- UPDATE passes `oldObject` to the validator, which decides what may change on an existing object.
- The validator sees the object in the request's namespace (`metadata.namespace` filled in when the manifest
  has none, as the API server stores it), so template references resolve where the object will live.
- The validator and defaulter are parameters (webhook.validation.validate, webhook.defaulting.default_patch in
  production), so this module stays independent of how they are built.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

from webhook.errors import FieldError, ValidationResult

API_VERSION = "admission.k8s.io/v1"
GROUP = "argoproj.io"
OWNED_KINDS = frozenset({"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"})
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# JSON nested deeper than this is refused before anything walks it: real Argo manifests stay under ~20 levels
# (pod affinity is the deepest), and recursive code further down must never meet a hostile 10 000-level body.
DEFAULT_MAX_DEPTH = 100

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


# ---------------------------------------------------------------------------------------------------------------
# Wire formats (the subset of k8s.io/api/admission/v1 and apimachinery's metav1.Status we read or write)
# ---------------------------------------------------------------------------------------------------------------


class GroupVersionKind(TypedDict):
    group: str
    version: str
    kind: str


class StatusCause(TypedDict):
    reason: str  # the field error type, e.g. FieldValueInvalid
    message: str
    field: str


class StatusDetails(TypedDict, total=False):
    name: str
    group: str
    kind: str
    causes: list[StatusCause]


class Status(TypedDict, total=False):
    metadata: dict[str, Any]
    status: Literal["Success", "Failure"]
    message: str
    reason: str  # Invalid, BadRequest, InternalError
    code: int
    details: StatusDetails


class AdmissionResponse(TypedDict, total=False):
    uid: str
    allowed: bool
    status: Status
    warnings: list[str]
    patchType: Literal["JSONPatch"]
    patch: str  # base64 of the JSON-encoded RFC 6902 operations


class AdmissionReviewOut(TypedDict):
    apiVersion: str
    kind: Literal["AdmissionReview"]
    response: AdmissionResponse


# ---------------------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------------------


class MalformedReview(ValueError):
    """The body is not an AdmissionReview we can answer: the route replies HTTP 400 with this message."""


@dataclass(frozen=True)
class Review:
    """One decoded admission request: what the API server asks about which object."""

    uid: str
    kind: GroupVersionKind
    operation: Operation
    name: str = ""
    namespace: str = ""
    sub_resource: str = ""
    object: Any = None  # the new object (CREATE/UPDATE), None on DELETE
    old_object: Any = None  # the stored object (UPDATE/DELETE)
    dry_run: bool = False

    @property
    def owned(self) -> bool:
        """True for the four Argo kinds (main resource only): the reviews we validate and default."""
        return self.kind["group"] == GROUP and self.kind["kind"] in OWNED_KINDS and not self.sub_resource

    @property
    def object_name(self) -> str:
        """The name to quote in messages: request.name, else metadata.name, else metadata.generateName."""
        if self.name:
            return self.name
        metadata = self.object.get("metadata") if isinstance(self.object, Mapping) else None
        if isinstance(metadata, Mapping):
            for key in ("name", "generateName"):
                value = metadata.get(key)
                if isinstance(value, str) and value:
                    return value
        return ""


def parse_body(body: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """JSON text -> value. Raises MalformedReview for invalid/truncated JSON, NaN/Infinity or nesting too deep."""

    def reject_constant(name: str) -> Any:
        raise MalformedReview(f"request body is not valid JSON: {name} is not a JSON number")

    try:
        value = json.loads(body, parse_constant=reject_constant)
    except MalformedReview:
        raise
    except RecursionError:
        raise MalformedReview(_too_deep(max_depth)) from None
    except json.JSONDecodeError as exc:
        raise MalformedReview(
            f"request body is not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno}); "
            "send an AdmissionReview (admission.k8s.io/v1) encoded as JSON"
        ) from None
    except ValueError as exc:  # bytes that are not UTF-8/16/32
        raise MalformedReview(f"request body is not valid JSON text: {exc}") from None
    if _depth_exceeds(value, max_depth):
        raise MalformedReview(_too_deep(max_depth))
    return value


def _too_deep(max_depth: int) -> str:
    return f"request body is nested deeper than {max_depth} levels; no Argo manifest needs that many"


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether any container is nested deeper than max_depth: level by level, iterative (never recursive).

    Only containers are queued and exact types are compared (json.loads makes plain dicts and lists), which keeps
    this at ~10 ms for a 5000-task Workflow where a generic walk took ~60 ms.
    """
    level: list[Any] = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        deeper: list[Any] = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                kind = type(child)
                if kind is dict or kind is list:
                    deeper.append(child)
        level = deeper
    return False


def decode_review(body: Any) -> Review:
    """An AdmissionReview v1 JSON value -> Review. Raises MalformedReview saying what is wrong and where."""
    if not isinstance(body, dict):
        raise MalformedReview(f"request body must be a JSON object (an AdmissionReview), got {_type_name(body)}")
    if body.get("kind") != "AdmissionReview" or body.get("apiVersion") != API_VERSION:
        raise MalformedReview(
            f"request body must be an AdmissionReview of apiVersion {API_VERSION}, got "
            f"kind={body.get('kind')!r} apiVersion={body.get('apiVersion')!r}; "
            'list "v1" in the webhook configuration\'s admissionReviewVersions'
        )
    request = body.get("request")
    if not isinstance(request, dict):
        raise MalformedReview("AdmissionReview.request must be an object; the API server always sends one")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise MalformedReview("AdmissionReview.request.uid must be a non-empty string; it is echoed in the answer")
    kind = request.get("kind")
    if not (isinstance(kind, dict) and all(isinstance(kind.get(k), str) for k in ("group", "version", "kind"))):
        raise MalformedReview("AdmissionReview.request.kind must be an object with string group, version and kind")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise MalformedReview(
            f"AdmissionReview.request.operation must be one of {', '.join(OPERATIONS)}, got {operation!r}"
        )
    strings = {key: request.get(key) or "" for key in ("name", "namespace", "subResource")}
    for key, value in strings.items():
        if not isinstance(value, str):
            raise MalformedReview(f"AdmissionReview.request.{key} must be a string, got {_type_name(value)}")
    return Review(
        uid=uid,
        kind=GroupVersionKind(group=kind["group"], version=kind["version"], kind=kind["kind"]),
        operation=operation,
        name=strings["name"],
        namespace=strings["namespace"],
        sub_resource=strings["subResource"],
        object=request.get("object"),
        old_object=request.get("oldObject"),
        dry_run=request.get("dryRun") is True,
    )


# ---------------------------------------------------------------------------------------------------------------
# Deciding
# ---------------------------------------------------------------------------------------------------------------


class Validator(Protocol):
    """webhook.validation.validate with its context bound: (obj, operation, old) -> ValidationResult."""

    def __call__(
        self, obj: Mapping[str, Any], *, operation: str, old: Mapping[str, Any] | None
    ) -> ValidationResult: ...


Defaulter = Callable[[Mapping[str, Any]], Sequence[Mapping[str, Any]]]


def admit_validation(review: Review, *, validate: Validator) -> AdmissionResponse:
    """/validate: allow, or deny with every field error as a 422 Status; validation warnings pass through."""
    if not _needs_review(review):
        return allow(review)
    obj = review.object
    if not isinstance(obj, dict):
        return deny(review, bad_object_status(review))
    old = review.old_object if review.operation == "UPDATE" and isinstance(review.old_object, dict) else None
    result = validate(_in_namespace(obj, review.namespace), operation=review.operation, old=old)
    response = allow(review) if result.ok else deny(review, invalid_status(review, result.errors))
    if result.warnings:
        response["warnings"] = list(result.warnings)
    return response


def admit_defaulting(review: Review, *, default: Defaulter) -> AdmissionResponse:
    """/mutate: allow with the defaults as a base64 JSONPatch (no patch when there is nothing to add).

    A non-object is denied here already, with the same message /validate would give.
    """
    if not _needs_review(review):
        return allow(review)
    if not isinstance(review.object, dict):
        return deny(review, bad_object_status(review))
    ops = list(default(review.object))
    response = allow(review)
    if ops:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode("ascii")
    return response


def _in_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object as it will be stored: in the request's namespace, even if the manifest names none.

    Validation resolves `workflowTemplateRef`/`templateRef` in metadata.namespace. A shallow copy: the review's
    object is not changed (and the defaulting patch is computed from the raw object).
    """
    metadata = obj.get("metadata")
    if not namespace or not isinstance(metadata, dict) or metadata.get("namespace"):
        return obj
    return {**obj, "metadata": {**metadata, "namespace": namespace}}


def _needs_review(review: Review) -> bool:
    return review.owned and review.operation in ("CREATE", "UPDATE")


def allow(review: Review) -> AdmissionResponse:
    return AdmissionResponse(uid=review.uid, allowed=True)


def deny(review: Review, status: Status) -> AdmissionResponse:
    return AdmissionResponse(uid=review.uid, allowed=False, status=status)


def invalid_status(review: Review, errors: Sequence[FieldError]) -> Status:
    """The 422 Status kube-apiserver builds with errors.NewInvalid(kind, name, fieldErrors)."""
    qualified = f"{review.kind['kind']}.{review.kind['group']}" if review.kind["group"] else review.kind["kind"]
    name = review.object_name
    unique = list(dict.fromkeys(str(error) for error in errors))  # apimachinery's ToAggregate drops duplicates
    summary = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    message = f"{qualified} {_go_quote(name)} is invalid"
    if unique:
        message += f": {summary}"
    return Status(
        metadata={},
        status="Failure",
        message=message,
        reason="Invalid",
        code=422,
        details=StatusDetails(
            name=name,
            group=review.kind["group"],
            kind=review.kind["kind"],
            causes=[StatusCause(reason=e.type, message=e.message, field=e.path) for e in errors],
        ),
    )


def bad_object_status(review: Review) -> Status:
    return failure_status(
        400,
        "BadRequest",
        f"AdmissionReview.request.object must be a {review.kind['kind']} manifest (a JSON object), "
        f"got {_type_name(review.object)}",
    )


def failure_status(code: int, reason: str, message: str) -> Status:
    """A plain metav1.Status failure (BadRequest, InternalError, ...), also the body of the routes' HTTP errors."""
    return Status(metadata={}, status="Failure", message=message, reason=reason, code=code)


def encode_review(response: AdmissionResponse) -> AdmissionReviewOut:
    return AdmissionReviewOut(apiVersion=API_VERSION, kind="AdmissionReview", response=response)


def _go_quote(text: str) -> str:
    """Go's %q for the names Kubernetes allows (JSON string escaping matches it for printable text)."""
    return json.dumps(text, ensure_ascii=False)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
