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


def _as_variable(path: tuple[str | int, ...]) -> str:
    """The `{{...}}` variable an expression's access path reads, cut where the variable ends ("" to skip)."""
    words: list[str] = []
    for part in path:
        if not isinstance(part, str) or "." in part:
            break
        words.append(part)
    if not words:
        return ""
    root = words[0]
    if root in ("tasks", "steps"):
        if len(words) < 2:
            return ""
        if len(words) < 4 or words[2] != "outputs" or (words[3] == "parameters" and len(words) == 4):
            return f"{root}.{words[1]}.id"  # the sibling itself (outputs as a whole, aggregated parameters)
        return ".".join(words[:5])
    if root == "inputs":
        return ".".join(words[:3]) if len(words) >= 3 or words[1:] == ["parameters"] else ""
    if root == "workflow":
        if len(words) < 2 or (words[1] == "outputs" and len(words) < 4):
            return ""
        if words[1] in ("labels", "annotations", "creationTimestamp"):
            return ".".join(words[:3])
        return ".".join(words[:4] if words[1] == "outputs" else words[:3])
    if root == "outputs":
        return ".".join(words[:3]) if len(words) >= 3 else ""
    if root in ("item", "retries", "lastRetry", "pod"):
        return ".".join(words[:2])
    return ""


def expression_variables(text: str, *, tagged: bool = False) -> list[str]:
    """The checked `{{...}}` variables an expr-lang expression reads (constant access paths only); `tagged`: the
    expression may contain simple tags (an `expression:` field), which are checked as tags elsewhere."""
    try:
        compiled = lang.check_expression_syntax(text) if tagged else lang.compile_expression(text)
        paths = compiled.references()
    except (lang.ExpressionError, RecursionError, ValueError):
        return []
    return list(dict.fromkeys(v for v in map(_as_variable, paths) if v))
