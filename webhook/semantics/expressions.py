"""Syntax check of `when`, `{{= expr}}` and retry expressions. Pure: no I/O.

Delegates to `webhook.expressions` (the project's expression module) when it offers `expression_problem`-like
checking; until then a minimal structural check: not empty, quotes closed, brackets balanced.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import lru_cache
from typing import cast

_PAIRS = {")": "(", "]": "[", "}": "{"}


@lru_cache(maxsize=1)
def _delegate() -> Callable[[str], str] | None:
    try:
        module = importlib.import_module("webhook.expressions")
    except ImportError:
        return None
    check = getattr(module, "expression_problem", None)
    return cast("Callable[[str], str]", check) if callable(check) else None


def structural_problem(text: str) -> str:
    """Why `text` cannot be an expression for structural reasons ("" when none is found)."""
    if not text.strip():
        return "it is empty"
    stack: list[tuple[str, int]] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
            start = i
        elif ch in "([{":
            stack.append((ch, i))
        elif ch in ")]}":
            if not stack or stack[-1][0] != _PAIRS[ch]:
                return f"unexpected {ch!r} at position {i}"
            stack.pop()
        i += 1
    if quote:
        return f"the string opened at position {start} is not closed"
    if stack:
        ch, at = stack[-1]
        return f"the {ch!r} at position {at} is not closed"
    return ""


def expression_problem(text: str) -> str:
    """Why `text` is not a valid expression ("" when it is one, as far as can be told)."""
    delegate = _delegate()
    if delegate is not None:
        return delegate(text)
    return structural_problem(text)
