"""Semantic (cross-field) validation of the four Argo kinds. Pure: no I/O.

`check_semantics(obj, context=...)` -> (errors, warnings). Schema checks (unknown fields, types) live in
webhook.schema; `webhook.validation.validate` combines both.
"""

from webhook.semantics.checker import ARGO_KINDS, check_semantics
from webhook.semantics.context import TemplateResolver, ValidationContext

__all__ = ["ARGO_KINDS", "TemplateResolver", "ValidationContext", "check_semantics"]
