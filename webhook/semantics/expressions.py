"""Syntax checks of `when`, `depends`, `{{= expr}}` and `expression:` fields, through webhook.expressions. Pure.

The planner evaluates these with webhook.expressions too, so what admission accepts is exactly what runs. Each
function returns "" when the text is fine, else "<what> at position N; <hint>" for the caller's message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webhook import expressions as lang


def _problem(check: Callable[[str], Any], text: str) -> str:
    try:
        check(text)
    except lang.ExpressionError as exc:
        where = f" at position {exc.position}" if exc.position is not None else ""
        hint = f"; {exc.hint}" if exc.hint else ""
        return f"{exc.detail}{where}{hint}"
    except (RecursionError, ValueError) as exc:  # hostile input: report, never crash admission
        return f"cannot be read ({type(exc).__name__})"
    return ""


def expression_problem(text: str) -> str:
    """An expr-lang expression: the body of `{{= ...}}`, `retryStrategy.expression`."""
    return _problem(lang.compile_expression, text)


def expression_with_tags_problem(text: str) -> str:
    """An expr-lang `expression:` field that may contain simple `{{...}}` tags (valueFrom.expression)."""
    return _problem(lang.check_expression_syntax, text)


def when_problem(text: str) -> str:
    """A `when` condition (govaluate syntax after substitution); `{{= ...}}` bodies inside are compiled too."""
    return _problem(lang.check_when_syntax, text)


def depends_problem(text: str) -> str:
    """A DAG task's `depends` as the planner parses it."""
    return _problem(lang.parse_depends, text)
