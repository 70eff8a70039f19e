"""Field errors in Kubernetes form: the one error type validation, admission and `trellis lint` share.

A FieldError says where (`spec.templates[1].dag.tasks[0].dependencies`), what was wrong, and how to fix it.
`type` follows k8s.io/apimachinery's field error types (FieldValueInvalid, FieldValueRequired,
FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden, FieldValueTypeInvalid, FieldValueTooLong);
the AdmissionReview encoder copies it into `details.causes[].reason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldErrorType = Literal[
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueNotSupported",
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueTypeInvalid",
    "FieldValueTooLong",
    "FieldValueNotFound",
]


@dataclass(frozen=True, order=True)
class FieldError:
    """One problem with a manifest. `message` already contains the fix ("...; use ... instead")."""

    path: str
    message: str
    type: FieldErrorType = "FieldValueInvalid"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class ValidationResult:
    """Everything validation found: errors deny admission, warnings are returned as AdmissionReview warnings."""

    errors: tuple[FieldError, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def join_path(base: str, *parts: str | int) -> str:
    """Build a Kubernetes field path: join_path("spec.templates", 2, "dag") == "spec.templates[2].dag"."""
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif path:
            path += f".{part}"
        else:
            path = part
    return path
