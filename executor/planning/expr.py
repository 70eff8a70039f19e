"""Substitution and `when` evaluation as the planner uses them (pure).

The project's one templating module is `executor.templating` (`substitute`, `build_expression_env`) and the
one expression module is `webhook.expressions` (`evaluate_when`). This adapter calls them when they are
installed; until then (and as a safety net for manifests their parsers reject) it falls back to a small
evaluator of Argo's `when` subset: comparisons `== != < > <= >=`, regex `=~ !~`, `&& || !`, parentheses,
numbers, quoted strings, `true`/`false`, and bare words taken as strings (govaluate's behaviour that
Argo's `when` relies on, e.g. `heads == heads`).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

_TAG = re.compile(r"\{\{\s*([^{}=][^{}]*?)\s*\}\}")


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_TEMPLATING = _optional_module("executor.templating")
_EXPRESSIONS = _optional_module("webhook.expressions")


def _fallback_substitute(value: Any, scope: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        if "{{" not in value:
            return value
        return _TAG.sub(lambda m: scope.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fallback_substitute(v, scope) for v in value]
    if isinstance(value, Mapping):
        return {k: _fallback_substitute(v, scope) for k, v in value.items()}
    return value


def substitute(value: Any, scope: Mapping[str, str]) -> Any:
    """Replace `{{name}}` (and `{{= expr}}` when executor.templating is present); unknown names stay as written."""
    if not _contains_tag(value):
        return value
    if _TEMPLATING is not None:
        function: Callable[..., Any] = _TEMPLATING.substitute
        return function(value, scope, strict=False)
    return _fallback_substitute(value, scope)


def _contains_tag(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, list):
        return any(_contains_tag(v) for v in value)
    if isinstance(value, Mapping):
        return any(_contains_tag(v) for v in value.values())
    return False


class WhenError(ValueError):
    """A `when` expression that cannot be evaluated; the message is Argo's wording."""


def evaluate_when(text: str) -> bool:
    """Evaluate a substituted `when` expression with Argo's semantics."""
    if _EXPRESSIONS is not None:
        function: Callable[[str], Any] = _EXPRESSIONS.evaluate_when
        try:
            return bool(function(text))
        except Exception as exc:  # the expressions module's own error types; the node shows the message
            raise WhenError(f"Invalid 'when' expression '{text}': {exc}") from exc
    return _WhenParser(text).parse()


_WHEN_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?(?![\w.]))|(?P<str>'[^']*'|\"[^\"]*\")|"
    r"(?P<op>==|!=|<=|>=|=~|!~|&&|\|\||[<>!()])|(?P<word>[^\s()=!<>&|'\"]+))"
)


class _WhenParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        stripped = text.strip()
        while pos < len(stripped):
            match = _WHEN_TOKEN.match(stripped, pos)
            if match is None or match.end() == pos:
                raise WhenError(f"Invalid 'when' expression '{text}': unexpected character at {pos}")
            kind = match.lastgroup or ""
            raw = match.group(kind)
            if kind == "num":
                self.tokens.append(("val", float(raw)))
            elif kind == "str":
                self.tokens.append(("val", raw[1:-1]))
            elif kind == "word":
                self.tokens.append(("val", {"true": True, "false": False}.get(raw, raw)))
            else:
                self.tokens.append(("op", raw))
            pos = match.end()
        self.index = 0

    def parse(self) -> bool:
        if not self.tokens:
            raise WhenError(f"Invalid 'when' expression '{self.text}': empty")
        value = self._or()
        if self.index != len(self.tokens):
            raise WhenError(f"Invalid 'when' expression '{self.text}': unexpected {self.tokens[self.index][1]!r}")
        if not isinstance(value, bool):
            raise WhenError(f"Expected boolean evaluation for '{self.text}'. Got {value}")
        return value

    def _peek(self) -> str | None:
        if self.index < len(self.tokens) and self.tokens[self.index][0] == "op":
            return str(self.tokens[self.index][1])
        return None

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self.index += 1
            right = self._and()
            left = _truth(left, self.text) or _truth(right, self.text)
        return left

    def _and(self) -> Any:
        left = self._cmp()
        while self._peek() == "&&":
            self.index += 1
            right = self._cmp()
            left = _truth(left, self.text) and _truth(right, self.text)
        return left

    def _cmp(self) -> Any:
        left = self._unary()
        op = self._peek()
        if op in ("==", "!=", "<", ">", "<=", ">=", "=~", "!~"):
            self.index += 1
            right = self._unary()
            return _compare(op, left, right, self.text)
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self.index += 1
            return not _truth(self._unary(), self.text)
        if self._peek() == "(":
            self.index += 1
            value = self._or()
            if self._peek() != ")":
                raise WhenError(f"Invalid 'when' expression '{self.text}': missing ')'")
            self.index += 1
            return value
        if self.index >= len(self.tokens):
            raise WhenError(f"Invalid 'when' expression '{self.text}': unexpected end")
        kind, value = self.tokens[self.index]
        if kind != "val":
            raise WhenError(f"Invalid 'when' expression '{self.text}': unexpected {value!r}")
        self.index += 1
        return value


def _truth(value: Any, text: str) -> bool:
    if isinstance(value, bool):
        return value
    raise WhenError(f"Invalid 'when' expression '{text}': {value!r} is not a boolean")


def _compare(op: str, left: Any, right: Any, text: str) -> bool:
    if op in ("=~", "!~"):
        found = re.search(str(right), str(left)) is not None
        return found if op == "=~" else not found
    if op in ("==", "!="):
        equal = left == right if type(left) is type(right) else str(_plain(left)) == str(_plain(right))
        return equal if op == "==" else not equal
    if isinstance(left, float) and isinstance(right, float):
        a: Any = left
        b: Any = right
    elif isinstance(left, str) and isinstance(right, str):
        a, b = left, right
    else:
        raise WhenError(f"Invalid 'when' expression '{text}': cannot compare {left!r} {op} {right!r}")
    return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
