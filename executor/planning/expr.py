"""The planner's view of substitution and expressions: thin wrappers over the project's one templating module
(executor.templating) and one expression module (webhook.expressions). Pure.

What the wrappers add is only the planner's wording of failures (Argo's messages) and a quick "any tag here?" check
so the common tag-free template costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from executor import templating
from webhook.expressions import ExpressionError, format_value
from webhook.expressions import evaluate_when as _evaluate_when


class WhenError(ValueError):
    """A `when` expression that cannot be evaluated; the message is Argo's wording plus the reason."""


class ExpressionFailed(ValueError):
    """A `valueFrom.expression`, `retryStrategy.expression` or hook expression that cannot be evaluated."""


def substitute(value: Any, scope: Mapping[str, str]) -> Any:
    """Replace `{{name}}` and `{{= expr}}`; what cannot be resolved yet stays as written (Argo's allowUnresolved)."""
    if not _contains_tag(value):
        return value
    return templating.substitute(value, scope, strict=False)


def _contains_tag(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, list):
        return any(_contains_tag(v) for v in value)
    if isinstance(value, Mapping):
        return any(_contains_tag(v) for v in value.values())
    return False


def evaluate_when(text: str) -> bool:
    """Evaluate a substituted `when` with Argo's (govaluate) semantics."""
    try:
        return _evaluate_when(text)
    except ExpressionError as exc:
        raise WhenError(f"Invalid 'when' expression '{text}': {exc}") from exc


def evaluate(text: str, scope: Mapping[str, str]) -> Any:
    """Evaluate a bare expr-lang `expression:` field over a flat scope (`lastRetry.exitCode`, `tasks.a.status`)."""
    try:
        return templating.evaluate_expression(text, scope)
    except (ExpressionError, templating.TemplatingError) as exc:
        raise ExpressionFailed(f"expression '{text}' failed: {exc}") from exc


def evaluate_bool(text: str, scope: Mapping[str, str]) -> bool:
    result = evaluate(text, scope)
    if not isinstance(result, bool):
        raise ExpressionFailed(f"expression '{text}' gave {format_value(result)}, not a boolean")
    return result


def evaluate_string(text: str, scope: Mapping[str, str]) -> str:
    """An expression's value as Argo prints it into a parameter (Go's %v)."""
    result = evaluate(text, scope)
    return result if isinstance(result, str) else format_value(result)
