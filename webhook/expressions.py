"""Argo's expression languages, parsed and evaluated by a small evaluator of our own. Pure: no I/O, no clock, no `eval`.

Used at admission (webhook validation: syntax checks and reference scanning) and at run time (executor.planning and
executor.templating: `depends`, `when`, `{{= ...}}` and `expression:` fields). Everything here is deterministic and
bounded: expressions are at most MAX_EXPRESSION_LENGTH characters (a substituted `when` MAX_STRING_LENGTH), MAX_DEPTH
levels deep and MAX_HEIGHT operations on any path of the parse tree, results at most MAX_STRING_LENGTH characters /
MAX_LIST_LENGTH items (refused before they are built), loops at most MAX_STEPS steps, and regular expressions run
on RE2 (linear time, Go's syntax, as Argo's Go code uses), so a hostile manifest cannot hang or exhaust the engine.

API (stable):

Errors
    ExpressionError(detail, position=, language=, text=, hint=, code=)
        .message == str(error), e.g. 'depends "a && (b" : unexpected end of expression at 7; expected ")"'
        .position: 0-based offset into .text (None when it is about the whole text); .detail, .hint
        .code: "syntax" | "unsupported" | "evaluation" | "unresolved" | "limit"
        .problem: the message without `language "text" :` (for callers that quote the text themselves)
    UnresolvedVariable(ExpressionError)   .name: a top-level variable the environment does not have

Tags ({{...}} in any string field)
    find_tags(text) -> list[Tag]          Tag(kind "simple"|"expression", body, start, end); simple bodies are
                                          stripped ("{{ item }}" -> "item"), expression bodies are the text after "="
    find_unclosed_tag(text) -> int | None offset of a "{{" with no "}}" after it (Argo rejects such templates)

depends (DAG task `depends`, Argo's enhanced depends logic)
    parse_depends(text) -> DependsExpr    cached; a blank text means "no dependencies" (evaluates to True)
    DependsExpr.references() -> [(task, result | None)], .task_names() -> set[str],
    DependsExpr.evaluate(outcome: (task, result) -> bool) -> bool   bare `A` = A.Succeeded || A.Skipped || A.Daemoned
    depends_from_dependencies(["a", "b"]) -> "a && b"
    DEPENDS_RESULTS: the task results a depends expression may name

when (govaluate semantics, evaluated after substitution)
    evaluate_when(text) -> bool           raises ExpressionError (syntax, types, non-boolean result)
    check_when_syntax(text_with_tags)     admission: tags become placeholders; `{{= ...}}` bodies are compiled too
    check_expression_syntax(text_with_tags) -> Expression
                                          admission check of a bare `expression:` field that contains simple tags
    expression_problem(text, language="any"|"expression"|"when") -> str
                                          "" when valid, else ExpressionError.problem ("... at 4; expected ...")

expr-lang ({{= ...}}, valueFrom.expression, retryStrategy.expression, hooks' expression)
    compile_expression(text, *, language="expression") -> Expression
                                          cached; raises ExpressionError(code "syntax"/"unsupported"/"limit")
    Expression.evaluate(env, *, now=None) -> Any    env: nested plain data (dicts, lists, str, int, float, bool, None)
    Expression.identifiers() -> frozenset[str]      top-level variable names read ("inputs", "tasks", ...)
    Expression.references() -> tuple[tuple[str | int, ...], ...]  constant access paths from a variable, e.g.
                                          ("inputs", "parameters", "week-temps") for inputs.parameters['week-temps']
    format_result(value) -> str           how Argo writes a {{= }} result into a string: strings as they are, anything
                                          else as JSON (2.0 -> "2", ["a"] -> '["a"]', {"k": 1} -> '{"k":1}')
    format_value(value) -> str            Go's %v, as expr-lang's string() prints (2.0 -> "2", [1 2], map[a:1])
    to_json(value) -> str                 Argo's toJson (Go's encoding/json: compact, sorted keys, <>& escaped)
    jsonpath(document, path) -> Any       Argo's jsonpath() (a JSONPath subset, below)

Language decisions (docs/architecture.md, "Expressions and templating", has the full grammar):
- `when` follows govaluate as Argo uses it: bare words are strings (`heads == heads`), numbers are floats, `==`
  compares type and value, `=~`/`!~` search with RE2. Trellis accepts a superset: words with dots or leading digits
  (`1.2.3`, `3abc`) are strings where govaluate errors.
- `{{= }}` follows expr-lang with Argo's environment (asInt, asFloat, jsonpath, toJson, sprig.*). A missing map key
  yields nil; a missing top-level variable raises UnresolvedVariable. Inside the left side of `??` every missing
  lookup yields nil, so `tasks.x.outputs.parameters.p ?? 'fallback'` works whether or not x ran.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import re2

MAX_EXPRESSION_LENGTH = 10 * 1024  # characters of one expression / when / depends text
MAX_DEPTH = 64  # nesting of parentheses, brackets, calls and unary operators
MAX_HEIGHT = 200  # operations on the longest path of a parsed expression (e.g. a chain of 200 "+")
MAX_STRING_LENGTH = 1024 * 1024  # characters of any string an expression builds
MAX_LIST_LENGTH = 100_000  # items of any list an expression builds
MAX_STEPS = 1_000_000  # loop iterations x body size, over one evaluation
MAX_REGEX_LENGTH = 4 * 1024  # characters of a regular expression pattern

ErrorCode = Literal["syntax", "unsupported", "evaluation", "unresolved", "limit"]


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------


def _shown(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."


class ExpressionError(Exception):
    """A problem with an expression: what, where (0-based offset into `text`) and how to fix it."""

    def __init__(
        self,
        detail: str,
        *,
        position: int | None = None,
        language: str = "expression",
        text: str = "",
        hint: str = "",
        code: ErrorCode = "syntax",
    ) -> None:
        self.detail = detail
        self.position = position
        self.language = language
        self.text = text
        self.hint = hint
        self.code: ErrorCode = code
        message = f'{language} "{_shown(text)}" : {detail}'
        if position is not None:
            message += f" at {position}"
        if hint:
            message += f"; {hint}"
        self.message = message
        super().__init__(message)

    @property
    def problem(self) -> str:
        """The message without the quoted text: 'unexpected end of expression at 7; expected ")"'."""
        problem = self.detail
        if self.position is not None:
            problem += f" at {self.position}"
        return f"{problem}; {self.hint}" if self.hint else problem


class UnresolvedVariable(ExpressionError):
    """The expression reads a top-level variable the environment does not have (Argo: `unknown name x`)."""

    def __init__(self, name: str, *, position: int | None, language: str, text: str) -> None:
        self.name = name
        super().__init__(
            f"unknown variable {name}",
            position=position,
            language=language,
            text=text,
            hint="it is not defined here; check the spelling and that it is in scope",
            code="unresolved",
        )


class _Fail(Exception):
    """Internal: an evaluation problem at a position; turned into ExpressionError with the text attached."""

    def __init__(self, detail: str, position: int | None, hint: str = "", code: ErrorCode = "evaluation") -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position
        self.hint = hint
        self.code: ErrorCode = code


def _check_length(text: str, language: str) -> None:
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"is {len(text)} characters long",
            language=language,
            text=text,
            hint=f"the limit is {MAX_EXPRESSION_LENGTH}; move data into a parameter or an artifact",
            code="limit",
        )


# ---------------------------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tag:
    """One `{{...}}` tag: `text[start:end]` is the whole tag including the braces."""

    kind: Literal["simple", "expression"]
    body: str  # simple: the variable name, stripped; expression: the text after "{{="
    start: int
    end: int


def find_tags(text: str) -> list[Tag]:
    """Every tag in `text`, in order. A tag ends at the first "}}" after its "{{" (as Argo's fasttemplate); when
    another "{{" comes before that "}}", the innermost one starts the tag and the earlier "{{" is literal text.
    An unclosed "{{" is literal text here; find_unclosed_tag reports it."""
    if "{{" not in text:
        return []
    # Only short strings are cached (templates repeat them per node); a long one is scanned again, in O(n).
    return list(_find_tags_cached(text) if len(text) <= _CACHED_TEXT_LENGTH else _find_tags(text))


_CACHED_TEXT_LENGTH = 64 * 1024  # longer texts are never kept in a cache (memory stays bounded)


@functools.lru_cache(maxsize=8192)
def _find_tags_cached(text: str) -> tuple[Tag, ...]:
    return _find_tags(text)


def _find_tags(text: str) -> tuple[Tag, ...]:
    tags: list[Tag] = []
    index = 0
    while True:
        start = text.find("{{", index)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            break
        inner = text.rfind("{{", start + 2, end)
        if inner >= 0:
            start = inner
        body = text[start + 2 : end]
        if body.startswith("="):
            tags.append(Tag("expression", body[1:], start, end + 2))
        else:
            tags.append(Tag("simple", body.strip(), start, end + 2))
        index = end + 2
    return tuple(tags)


def find_unclosed_tag(text: str) -> int | None:
    """Offset of the first "{{" that has no "}}" after it, or None. Argo fails such a template as a whole."""
    index = 0
    while True:
        start = text.find("{{", index)
        if start < 0:
            return None
        end = text.find("}}", start + 2)
        if end < 0:
            return start
        index = end + 2


# ---------------------------------------------------------------------------------------------------------------
# depends
# ---------------------------------------------------------------------------------------------------------------

DEPENDS_RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
_BARE_RESULTS = ("Succeeded", "Skipped", "Daemoned")  # Argo: a bare `A` means (A.Succeeded || A.Skipped || A.Daemoned)

_DEPENDS_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<op>&&|\|\||!|\(|\))|(?P<name>[A-Za-z0-9_][A-Za-z0-9_-]*)(?:(?P<dot>\.)(?P<result>[A-Za-z]*))?"
)
_RESULTS_HINT = "use one of " + ", ".join(DEPENDS_RESULTS)


@dataclass(frozen=True)
class DependsRef:
    task: str
    result: str | None  # None for a bare task name
    position: int  # offset of the task name


# A node is ("ref", DependsRef) | ("not", node) | ("and", (nodes)) | ("or", (nodes))
_DependsNode = tuple[Any, ...]


@dataclass(frozen=True)
class DependsExpr:
    """A parsed `depends` expression; evaluate it once every task it names has completed."""

    text: str
    refs: tuple[DependsRef, ...] = ()
    _root: _DependsNode | None = field(default=None, repr=False, compare=False)

    def references(self) -> list[tuple[str, str | None]]:
        """(task, result or None) for every operand, in order of appearance (duplicates kept)."""
        return [(ref.task, ref.result) for ref in self.refs]

    def task_names(self) -> set[str]:
        return {ref.task for ref in self.refs}

    def evaluate(self, outcome: Callable[[str, str], bool]) -> bool:
        """True when the task may run. `outcome(task, result)` says whether `task` ended with `result` (one of
        DEPENDS_RESULTS); a bare name asks for Succeeded, Skipped and Daemoned."""
        if self._root is None:
            return True
        return _depends_eval(self._root, outcome)


def _depends_eval(node: _DependsNode, outcome: Callable[[str, str], bool]) -> bool:
    kind = node[0]
    if kind == "ref":
        ref: DependsRef = node[1]
        if ref.result is None:
            return any(outcome(ref.task, result) for result in _BARE_RESULTS)
        return outcome(ref.task, ref.result)
    if kind == "not":
        return not _depends_eval(node[1], outcome)
    if kind == "and":
        return all(_depends_eval(child, outcome) for child in node[1])
    return any(_depends_eval(child, outcome) for child in node[1])


def depends_from_dependencies(names: Iterable[str]) -> str:
    """The `depends` equivalent of a legacy `dependencies` list: ["a", "b"] -> "a && b"."""
    return " && ".join(names)


@functools.lru_cache(maxsize=4096)
def parse_depends(text: str) -> DependsExpr:
    """Parse a `depends` expression; raises ExpressionError naming what was expected where."""
    _check_length(text, "depends")
    if not text.strip():
        return DependsExpr(text)
    tokens: list[tuple[str, str, int]] = []  # (kind, value, position); kinds: op, ref
    refs: list[DependsRef] = []
    pos = 0
    while pos < len(text):
        m = _DEPENDS_TOKEN.match(text, pos)
        if m is None:
            char = text[pos]
            hint = 'use "&&" for and, "||" for or, "!" for not'
            if char == ".":
                hint = "a task result follows a task name, e.g. A.Succeeded"
            raise ExpressionError(f'unexpected "{char}"', position=pos, language="depends", text=text, hint=hint)
        if m.group("op"):
            tokens.append(("op", m.group("op"), pos))
        elif m.group("name"):
            result: str | None = None
            if m.group("dot"):
                result = m.group("result")
                result_pos = m.start("result")
                if not result:
                    raise ExpressionError(
                        'expected a task result after "."',
                        position=result_pos,
                        language="depends",
                        text=text,
                        hint=_RESULTS_HINT,
                    )
                if result not in DEPENDS_RESULTS:
                    raise ExpressionError(
                        f'unknown task result "{result}"',
                        position=result_pos,
                        language="depends",
                        text=text,
                        hint=_RESULTS_HINT,
                    )
            ref = DependsRef(m.group("name"), result, pos)
            refs.append(ref)
            tokens.append(("ref", str(len(refs) - 1), pos))
        pos = m.end()
    parser = _DependsParser(text, tokens, refs)
    root = parser.parse()
    return DependsExpr(text, tuple(refs), root)


class _DependsParser:
    def __init__(self, text: str, tokens: list[tuple[str, str, int]], refs: list[DependsRef]) -> None:
        self.text = text
        self.tokens = tokens
        self.refs = refs
        self.index = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int]:
        if self.index < len(self.tokens):
            return self.tokens[self.index]
        return ("end", "", len(self.text))

    def fail(self, token: tuple[str, str, int], expected: str) -> ExpressionError:
        kind, value, pos = token
        if kind == "end":
            found = "unexpected end of expression"
        elif kind == "ref":
            found = f'unexpected task "{self.refs[int(value)].task}"'
        else:
            found = f'unexpected "{value}"'
        return ExpressionError(found, position=pos, language="depends", text=self.text, hint=f"expected {expected}")

    def parse(self) -> _DependsNode:
        node = self.parse_or()
        token = self.peek()
        if token[0] != "end":
            raise self.fail(token, '"&&", "||" or the end')
        return node

    def parse_or(self) -> _DependsNode:
        children = [self.parse_and()]
        while self.peek()[1] == "||" and self.peek()[0] == "op":
            self.index += 1
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else ("or", tuple(children))

    def parse_and(self) -> _DependsNode:
        children = [self.parse_unary()]
        while self.peek()[1] == "&&" and self.peek()[0] == "op":
            self.index += 1
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else ("and", tuple(children))

    def parse_unary(self) -> _DependsNode:
        token = self.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                "nests too deeply",
                position=token[2],
                language="depends",
                text=self.text,
                hint=f"the limit is {MAX_DEPTH} levels",
                code="limit",
            )
        try:
            if token[0] == "op" and token[1] == "!":
                self.index += 1
                return ("not", self.parse_unary())
            if token[0] == "op" and token[1] == "(":
                self.index += 1
                node = self.parse_or()
                closing = self.peek()
                if closing[0] != "op" or closing[1] != ")":
                    raise self.fail(closing, '")"')
                self.index += 1
                return node
            if token[0] == "ref":
                self.index += 1
                return ("ref", self.refs[int(token[1])])
            raise self.fail(token, 'a task name, "!" or "("')
        finally:
            self.depth -= 1


# ---------------------------------------------------------------------------------------------------------------
# Regular expressions (RE2: Go's syntax, linear time)
# ---------------------------------------------------------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> Any:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise _Fail(
            f"regular expression is {len(pattern)} characters long",
            None,
            f"the limit is {MAX_REGEX_LENGTH}",
            "limit",
        )
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _Fail(
            f"invalid regular expression {json.dumps(pattern)}: {reason}",
            None,
            "use RE2 (Go) regular expression syntax",
        ) from None


def _regex_search(pattern: str, subject: str, position: int | None) -> bool:
    try:
        return _regex(pattern).search(subject) is not None
    except _Fail as fail:
        raise _Fail(fail.detail, position, fail.hint, fail.code) from None


# ---------------------------------------------------------------------------------------------------------------
# when: govaluate's grammar and semantics, as Argo evaluates `when` after substitution
# ---------------------------------------------------------------------------------------------------------------

_WHEN_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<word>[\w.]+)"
    r"|(?P<bracket>\[[^\]]*\])"
    r"|(?P<op>\*\*|==|!=|>=|<=|=~|!~|&&|\|\||\?\?|<<|>>|[-+*/%<>!?:(),&|^~=\[\]])"
)
_WHEN_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_WHEN_BINARY = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    ">": 3,
    "<=": 3,
    ">=": 3,
    "=~": 3,
    "!~": 3,
    "in": 3,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
    "**": 7,
}
_WHEN_UNSUPPORTED = {
    "&": 'bitwise operators are not supported; use "&&" for and',
    "|": 'bitwise operators are not supported; use "||" for or',
    "^": "bitwise operators are not supported",
    "~": "bitwise operators are not supported",
    "<<": "bitwise operators are not supported",
    ">>": "bitwise operators are not supported",
    "=": 'use "==" to compare',
    "[": 'a "[" starts a bracketed word and needs a closing "]"',
    "]": 'a "]" closes a bracketed word opened by "["',
}

# AST: ("lit", value, pos) | ("list", (nodes), pos) | ("unary", op, node, pos) | ("bin", op, l, r, pos)
#      | ("cond", c, t, f, pos) | ("coalesce", l, r, pos)
_WhenNode = tuple[Any, ...]


def _when_tokens(text: str) -> list[tuple[str, Any, int]]:
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char in "\"'":
            # govaluate: a string ends at the next quote of either kind; a backslash keeps the next character.
            buffer: list[str] = []
            index = pos + 1
            while index < length and text[index] not in "\"'":
                if text[index] == "\\" and index + 1 < length:
                    index += 1
                buffer.append(text[index])
                index += 1
            if index >= length:
                raise ExpressionError(
                    "unclosed string literal",
                    position=pos,
                    language="when",
                    text=text,
                    hint=f"add the closing {char}",
                )
            tokens.append(("lit", "".join(buffer), pos))
            pos = index + 1
            continue
        m = _WHEN_TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(
                f'unexpected character "{char}"',
                position=pos,
                language="when",
                text=text,
                hint="quote values that contain it, e.g. 'a;b' == 'a;b'",
            )
        if m.group("word") is not None:
            word = m.group("word")
            if _WHEN_NUMBER.fullmatch(word):
                tokens.append(("lit", float(word), pos))
            elif word == "true":
                tokens.append(("lit", True, pos))
            elif word == "false":
                tokens.append(("lit", False, pos))
            elif word in ("in", "IN"):
                tokens.append(("op", "in", pos))
            else:
                tokens.append(("lit", word, pos))  # a bare word is a string (Argo turns variables into strings)
        elif m.group("bracket") is not None:
            tokens.append(("lit", m.group("bracket")[1:-1], pos))
        elif m.group("op") is not None:
            op = m.group("op")
            if op in _WHEN_UNSUPPORTED:
                raise ExpressionError(
                    f'unexpected "{op}"', position=pos, language="when", text=text, hint=_WHEN_UNSUPPORTED[op]
                )
            tokens.append(("op", op, pos))
        pos = m.end()
    tokens.append(("end", None, length))
    return tokens


class _WhenParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _when_tokens(text)
        self.index = 0
        self.depth = 0
        self.heights: dict[int, int] = {}  # id(node) -> operations on its longest path

    def error(self, detail: str, position: int, hint: str = "", code: ErrorCode = "syntax") -> ExpressionError:
        return ExpressionError(detail, position=position, language="when", text=self.text, hint=hint, code=code)

    def grow(self, node: _WhenNode, *kids: _WhenNode) -> _WhenNode:
        height = 1 + max((self.heights.get(id(kid), 1) for kid in kids), default=0)
        if height > MAX_HEIGHT:
            raise self.error("nests too deeply", node[-1], f"the limit is {MAX_HEIGHT} operations deep", "limit")
        self.heights[id(node)] = height
        return node

    def unexpected(self, token: tuple[str, Any, int], expected: str) -> ExpressionError:
        kind, value, pos = token
        if kind == "end":
            found = "unexpected end of expression"
        elif kind == "lit":
            found = f"unexpected {_when_repr(value)}"
        else:
            found = f'unexpected "{value}"'
        return self.error(found, pos, f"expected {expected}")

    def peek(self) -> tuple[str, Any, int]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, Any, int]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("nests too deeply", position, f"the limit is {MAX_DEPTH} levels", "limit")

    def parse(self) -> _WhenNode:
        if self.peek()[0] == "end":
            raise self.error("is empty", 0, "write a condition such as {{steps.a.outputs.result}} == heads")
        node = self.ternary()
        token = self.peek()
        if token[0] != "end":
            raise self.unexpected(token, "an operator or the end")
        return node

    def ternary(self) -> _WhenNode:
        self.enter(self.peek()[2])
        node = self.binary(1)
        while True:
            kind, value, pos = self.peek()
            if kind == "op" and value == "??":
                self.take()
                right = self.binary(1)
                node = self.grow(("coalesce", node, right, pos), node, right)
            elif kind == "op" and value == "?":
                self.take()
                then = self.ternary()
                colon = self.peek()
                if colon[0] != "op" or colon[1] != ":":
                    raise self.unexpected(colon, '":"')
                self.take()
                otherwise = self.ternary()
                node = self.grow(("cond", node, then, otherwise, pos), node, then, otherwise)
            else:
                break
        self.depth -= 1
        return node

    def binary(self, min_prec: int) -> _WhenNode:
        left = self.unary()
        while True:
            kind, value, pos = self.peek()
            if kind != "op" or value not in _WHEN_BINARY:
                return left
            prec = _WHEN_BINARY[value]
            if prec < min_prec:
                return left
            self.take()
            self.enter(pos)
            right = self.binary(prec if value == "**" else prec + 1)
            self.depth -= 1
            left = self.grow(("bin", value, left, right, pos), left, right)

    def unary(self) -> _WhenNode:
        kind, value, pos = self.peek()
        if kind == "op" and value in ("!", "-"):
            self.take()
            self.enter(pos)
            operand = self.unary()
            self.depth -= 1
            return self.grow(("unary", value, operand, pos), operand)
        return self.primary()

    def primary(self) -> _WhenNode:
        token = self.take()
        kind, value, pos = token
        if kind == "lit":
            return ("lit", value, pos)
        if kind == "op" and value == "(":
            self.enter(pos)
            items = [self.ternary()]
            while self.peek()[0] == "op" and self.peek()[1] == ",":
                self.take()
                items.append(self.ternary())
            closing = self.peek()
            if closing[0] != "op" or closing[1] != ")":
                raise self.unexpected(closing, '")"' if len(items) == 1 else '"," or ")"')
            self.take()
            self.depth -= 1
            return items[0] if len(items) == 1 else ("list", tuple(items), pos)
        raise self.unexpected(token, 'a value, "(", "!" or "-"')


def _when_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_value(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_when_repr(item) for item in value) + ")"
    return json.dumps(value)


def _when_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        return "number"
    if isinstance(value, tuple):
        return "list"
    return "string"


def _when_eval(node: _WhenNode) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "list":
        return tuple(_when_eval(item) for item in node[1])
    if kind == "unary":
        _, op, operand, pos = node
        value = _when_eval(operand)
        if op == "!":
            if not isinstance(value, bool):
                raise _Fail(f'"!" needs a boolean, got {_when_type(value)} {_when_repr(value)}', pos)
            return not value
        if not isinstance(value, float):
            raise _Fail(f'"-" needs a number, got {_when_type(value)} {_when_repr(value)}', pos)
        return -value
    if kind == "coalesce":
        left = _when_eval(node[1])
        return _when_eval(node[2]) if left is None else left
    if kind == "cond":
        _, cond, then, otherwise, pos = node
        test = _when_eval(cond)
        if not isinstance(test, bool):
            raise _Fail(f'"?" needs a boolean condition, got {_when_type(test)} {_when_repr(test)}', pos)
        return _when_eval(then) if test else _when_eval(otherwise)
    _, op, left_node, right_node, pos = node
    left = _when_eval(left_node)
    if op in ("&&", "||"):
        if not isinstance(left, bool):
            raise _Fail(f'"{op}" needs booleans, got {_when_type(left)} {_when_repr(left)}', pos)
        if (op == "&&" and not left) or (op == "||" and left):
            return left
        right = _when_eval(right_node)
        if not isinstance(right, bool):
            raise _Fail(f'"{op}" needs booleans, got {_when_type(right)} {_when_repr(right)}', pos)
        return right
    right = _when_eval(right_node)
    if isinstance(left, tuple) or (isinstance(right, tuple) and op != "in"):
        raise _Fail(f'a list is only allowed after "in", not with "{op}"', pos)
    if op == "==":
        return type(left) is type(right) and left == right
    if op == "!=":
        return not (type(left) is type(right) and left == right)
    if op == "in":
        items = right if isinstance(right, tuple) else (right,)
        return any(type(left) is type(item) and left == item for item in items)
    if op in ("=~", "!~"):
        if not isinstance(left, str) or not isinstance(right, str) or isinstance(left, bool):
            bad = left if not isinstance(left, str) else right
            raise _Fail(
                f'"{op}" needs strings, got {_when_type(bad)} {_when_repr(bad)}',
                pos,
                "quote the value, e.g. '5' =~ '^[0-9]+$'",
            )
        found = _regex_search(right, left, pos)
        return found if op == "=~" else not found
    if op in ("<", ">", "<=", ">="):
        if not (
            (isinstance(left, float) and isinstance(right, float)) or (isinstance(left, str) and isinstance(right, str))
        ):
            raise _Fail(
                f"cannot compare {_when_type(left)} {_when_repr(left)} with {_when_type(right)} "
                f'{_when_repr(right)} using "{op}"',
                pos,
                "compare two numbers or two strings",
            )
        return _compare(op, left, right)
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return _when_text(left) + _when_text(right)
    if not isinstance(left, float) or not isinstance(right, float):
        bad = right if isinstance(left, float) else left
        hint = "quote values that contain it, e.g. 'my-value'" if op == "-" else "use numbers on both sides"
        raise _Fail(f'"{op}" needs numbers, got {_when_type(bad)} {_when_repr(bad)}', pos, hint)
    try:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return left / right if right else math.copysign(math.inf, left) if left else math.nan
        if op == "%":
            return math.fmod(left, right) if right else math.nan
        return float(left**right)
    except (OverflowError, ZeroDivisionError, ValueError):
        raise _Fail(f'"{op}" overflows', pos) from None


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _when_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_value(value)
    return str(value)


def _parse_when(text: str) -> _WhenNode:
    if len(text) <= MAX_EXPRESSION_LENGTH:
        return _parse_when_cached(text)
    # A long `when` is usually a long substituted value (an output compared with something): parse it, uncached.
    if len(text) > MAX_STRING_LENGTH:
        raise ExpressionError(
            f"is {len(text)} characters long",
            language="when",
            text=text,
            hint=f"the limit is {MAX_STRING_LENGTH} after substitution; compare a shorter value",
            code="limit",
        )
    return _WhenParser(text).parse()


@functools.lru_cache(maxsize=4096)
def _parse_when_cached(text: str) -> _WhenNode:
    return _WhenParser(text).parse()


def evaluate_when(text: str) -> bool:
    """Evaluate an already-substituted `when`. An empty text is true (no condition)."""
    if not text.strip():
        return True
    node = _parse_when(text)
    try:
        result = _when_eval(node)
    except _Fail as fail:
        raise ExpressionError(
            fail.detail, position=fail.position, language="when", text=text, hint=fail.hint, code=fail.code
        ) from None
    if not isinstance(result, bool):
        raise ExpressionError(
            f"evaluates to {_when_type(result)} {_when_repr(result)}, not a boolean",
            language="when",
            text=text,
            hint="compare it with something, e.g. {{steps.flip.outputs.result}} == heads",
            code="evaluation",
        )
    return result


def check_when_syntax(text: str) -> None:
    """Admission check of a `when` that may still contain tags: each tag is replaced by a placeholder word of the
    same length (so error positions point into the original text); `{{= ...}}` bodies are compiled too.
    Raises ExpressionError (for an expression tag, the error is about the tag's body)."""
    _check_length(text, "when")
    placeholder = list(text)
    for tag in find_tags(text):
        if tag.kind == "expression":
            compile_expression(tag.body)
        for index in range(tag.start, tag.end):
            placeholder[index] = "x"
    unclosed = find_unclosed_tag(text)
    if unclosed is not None:
        raise ExpressionError(
            'unclosed "{{"', position=unclosed, language="when", text=text, hint='close the tag with "}}"'
        )
    stripped = "".join(placeholder)
    try:
        _parse_when(stripped)
    except ExpressionError as error:
        raise ExpressionError(
            error.detail, position=error.position, language="when", text=text, hint=error.hint, code=error.code
        ) from None


def check_expression_syntax(text: str, *, language: str = "expression") -> Expression:
    """Admission check of a bare `expression:` field that may contain simple tags (Argo substitutes them before
    evaluating, e.g. `{{inputs.parameters.safe-to-retry}} == true`): each tag becomes a placeholder name of the same
    length, so positions point into the original text; `{{= ...}}` bodies are compiled too. Returns the compiled
    placeholder expression (its references() are the variables read directly); raises ExpressionError."""
    _check_length(text, language)
    unclosed = find_unclosed_tag(text)
    if unclosed is not None:
        raise ExpressionError(
            'unclosed "{{"', position=unclosed, language=language, text=text, hint='close the tag with "}}"'
        )
    placeholder = list(text)
    for tag in find_tags(text):
        if tag.kind == "expression":
            compile_expression(tag.body)
        placeholder[tag.start] = "x"
        for index in range(tag.start + 1, tag.end):
            placeholder[index] = "_"
    try:
        return compile_expression("".join(placeholder), language=language)
    except ExpressionError as error:
        raise ExpressionError(
            error.detail, position=error.position, language=language, text=text, hint=error.hint, code=error.code
        ) from None


def expression_problem(text: str, *, language: Literal["expression", "when", "any"] = "any") -> str:
    """Admission helper: "" when `text` is valid, else what is wrong, where and how to fix it (ExpressionError.problem,
    without the text itself). `language="expression"` checks expr-lang (simple tags allowed, as in `expression:`
    fields), `"when"` checks a govaluate `when` (tags allowed), `"any"` accepts either (for callers that do not know
    which language a field uses) and reports the expr-lang problem."""
    try:
        if language == "when":
            check_when_syntax(text)
        else:
            check_expression_syntax(text)
        return ""
    except ExpressionError as error:
        if language == "any":
            try:
                check_when_syntax(text)
                return ""
            except ExpressionError:
                pass
        return error.problem


# ---------------------------------------------------------------------------------------------------------------
# Values: how Go (and so Argo) prints and encodes them
# ---------------------------------------------------------------------------------------------------------------


def _float_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite non-zero |value| and its decimal exponent (d.ddd x 10^exp)."""
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(str(d) for d in digits).rstrip("0") or "0"
    assert isinstance(exponent, int)
    return text, len(digits) + exponent - 1


def _format_float(value: float, *, json_mode: bool) -> str:
    """Go's strconv formatting: "%v" (shortest digits, exponent when exp < -4 or >= 21... see below) or JSON."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    digits, exp = _float_digits(value)
    sign = "-" if value < 0 else ""
    # fmt's %v is %g with the shortest precision, which switches to an exponent when exp < -4 || exp >= 6
    # (fmt.Println(1e6) prints 1e+06); encoding/json switches below 1e-6 and from 1e21 on.
    use_exp = (abs(value) < 1e-6 or abs(value) >= 1e21) if json_mode else (exp < -4 or exp >= 6)
    if use_exp:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_sign = "-" if exp < 0 else "+"
        return f"{sign}{mantissa}e{exp_sign}{abs(exp)}" if json_mode else f"{sign}{mantissa}e{exp_sign}{abs(exp):02d}"
    if exp >= 0:
        whole = digits[: exp + 1].ljust(exp + 1, "0")
        frac = digits[exp + 1 :]
    else:
        whole = "0"
        frac = "0" * (-exp - 1) + digits
    return sign + whole + ("." + frac if frac else "")


def format_result(value: Any) -> str:
    """An expression result as Argo writes it into a template string: a string as it is, anything else as
    json.Marshal encodes it (2.0 -> "2", true -> "true", ["a"] -> '["a"]', maps with sorted keys). Argo treats a
    nil result as unresolved; callers check for None first (this returns "null")."""
    return value if isinstance(value, str) else to_json(value)


def format_value(value: Any) -> str:
    """A value as Go's fmt "%v" prints it (expr-lang's string(), messages): 2.0 -> "2", true -> "true",
    nil -> "<nil>", lists "[a b]", maps "map[k:v]" with sorted keys."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value, json_mode=False)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{key}:{format_value(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, timedelta):
        return _format_duration(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    return str(value)


def _format_duration(value: timedelta) -> str:
    total = value.total_seconds()
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = ""
    if hours:
        text += f"{int(hours)}h"
    if hours or minutes:
        text += f"{int(minutes)}m"
    return sign + text + _format_float(round(seconds, 9), json_mode=False) + "s"


def _json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return (
        encoded.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _to_json(value: Any, indent: str | None, level: int, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _Fail(f"json: unsupported value: {format_value(value)}", None)
        out.append(_format_float(value, json_mode=True))
    elif isinstance(value, str):
        out.append(_json_string(value))
    elif isinstance(value, list | tuple | Mapping):
        is_map = isinstance(value, Mapping)
        items: list[Any] = sorted(value) if isinstance(value, Mapping) else list(value)
        if not items:
            out.append("{}" if is_map else "[]")
            return
        out.append("{" if is_map else "[")
        for number, item in enumerate(items):
            if number:
                out.append(",")
            if indent is not None:
                out.append("\n" + indent * (level + 1))
            if isinstance(value, Mapping):
                out.append(_json_string(str(item)))
                out.append(": " if indent is not None else ":")
                _to_json(value[item], indent, level + 1, out)
            else:
                _to_json(item, indent, level + 1, out)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("}" if is_map else "]")
    elif isinstance(value, datetime):
        out.append(_json_string(value.isoformat().replace("+00:00", "Z")))
    elif isinstance(value, timedelta):
        out.append(str(int(value.total_seconds() * 1e9)))
    else:
        raise _Fail(f"json: unsupported value of type {_type_name(value)}", None)


def to_json(value: Any, *, indent: str | None = None) -> str:
    """Go's encoding/json Marshal (indent=None) or MarshalIndent("", indent): sorted keys, <>& escaped."""
    out: list[str] = []
    try:
        _to_json(value, indent, 0, out)
    except RecursionError:
        raise _Fail("json: value nests too deeply", None, code="limit") from None
    text = "".join(out)
    _check_string(text, None)
    return text


def _from_json(text: Any, position: int | None) -> Any:
    if not isinstance(text, str):
        raise _Fail(f"expected a JSON string, got {_type_name(text)}", position)
    _check_string(text, position)
    try:
        return json.loads(text)
    except RecursionError:
        raise _Fail("JSON nests too deeply", position, code="limit") from None
    except ValueError as error:
        raise _Fail(f"invalid JSON: {error}", position, "pass a JSON document, e.g. '{\"a\": 1}'") from None


def _type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, datetime):
        return "time"
    if isinstance(value, timedelta):
        return "duration"
    return type(value).__name__


def _check_string(value: str, position: int | None) -> str:
    if len(value) > MAX_STRING_LENGTH:
        raise _Fail(
            f"builds a string of {len(value)} characters",
            position,
            f"the limit is {MAX_STRING_LENGTH}",
            "limit",
        )
    return value


def _check_list(value: list[Any], position: int | None) -> list[Any]:
    if len(value) > MAX_LIST_LENGTH:
        raise _Fail(f"builds a list of {len(value)} items", position, f"the limit is {MAX_LIST_LENGTH}", "limit")
    return value


# ---------------------------------------------------------------------------------------------------------------
# JSONPath (Argo's jsonpath(): evilmonkeyinc/jsonpath semantics for the subset people use)
# ---------------------------------------------------------------------------------------------------------------
# path      := "$" segment*
# segment   := "." name | "." "*" | ".." (name | "*" | bracket) | bracket
# bracket   := "[" ( "*" | index ("," index)* | slice | quoted ("," quoted)* | "?(" filter ")" ) "]"
# filter    := an expr-lang expression where "@" is the current element (e.g. @.age > 42 && @.name == "Mo")
# A path of names and single indexes only returns one value; any wildcard, slice, union, filter or ".." a list.

_JSONPATH_NAME = re.compile(r"[A-Za-z0-9_$-]+")
_JSONPATH_INT = re.compile(r"\s*-?\d+\s*")


def _jsonpath_split_bracket(path: str, start: int) -> int:
    """Index of the "]" closing the bracket opened at `start`, skipping quotes and nested brackets."""
    depth = 0
    quote = ""
    index = start
    while index < len(path):
        char = path[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0 and char == "]":
                return index
        index += 1
    raise _Fail(f'jsonpath "{path}": unclosed "[" at {start}', None, 'close it with "]"')


def _jsonpath_children(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [value[key] for key in sorted(value)]
    if isinstance(value, list):
        return list(value)
    return []


def _jsonpath_descendants(value: Any, out: list[Any], budget: list[int]) -> None:
    out.append(value)
    budget[0] -= 1
    if budget[0] < 0:
        raise _Fail("jsonpath: the document is too large to search with ..", None, code="limit")
    for child in _jsonpath_children(value):
        _jsonpath_descendants(child, out, budget)


def jsonpath(document: Any, path: str) -> Any:
    """Query a JSON document (a JSON string, or already-parsed data) like Argo's jsonpath() function."""
    data = _from_json(document, None) if isinstance(document, str) else document
    try:
        return _jsonpath(data, path)
    except RecursionError:
        raise _Fail("jsonpath: the document nests too deeply", None, code="limit") from None


def _jsonpath(data: Any, path: Any) -> Any:
    if not isinstance(path, str):
        raise _Fail(f"jsonpath() needs a path string, got {_type_name(path)}", None, "e.g. jsonpath(json, '$.a')")
    path = path.strip()
    if not path.startswith("$"):
        raise _Fail(f'jsonpath "{path}": a path starts with "$"', None, "e.g. $.items[0].name")
    current: list[Any] = [data]
    definite = True
    index = 1
    while index < len(path):
        char = path[index]
        if path.startswith("..", index):
            definite = False
            found: list[Any] = []
            budget = [MAX_LIST_LENGTH]
            for value in current:
                _jsonpath_descendants(value, found, budget)
            current = found
            index += 2
            if index < len(path) and path[index] == "[":
                continue
            descended: list[Any] = []
            index = _jsonpath_dot_name(path, index, current, descended)
            current = descended
            continue
        if char == ".":
            index += 1
            out = []
            if index < len(path) and path[index] == "*":
                definite = False
                for value in current:
                    out.extend(_jsonpath_children(value))
                current = out
                index += 1
                continue
            index = _jsonpath_dot_name(path, index, current, out, strict=definite)
            current = out
            continue
        if char == "[":
            end = _jsonpath_split_bracket(path, index)
            inner = path[index + 1 : end].strip()
            current, single = _jsonpath_bracket(path, inner, current, strict=definite)
            definite = definite and single
            index = end + 1
            continue
        if char.isspace():
            index += 1
            continue
        raise _Fail(f'jsonpath "{path}": unexpected "{char}" at {index}', None, 'use ".name" or "[...]"')
    if definite:
        if not current:
            raise _Fail(f'jsonpath "{path}": nothing matches', None)
        return current[0]
    return _check_list(current, None)


def _jsonpath_dot_name(path: str, index: int, current: list[Any], out: list[Any], *, strict: bool = False) -> int:
    if index < len(path) and path[index] == "*":
        for value in current:
            out.extend(_jsonpath_children(value))
        return index + 1
    m = _JSONPATH_NAME.match(path, index)
    if m is None:
        raise _Fail(f'jsonpath "{path}": expected a key name at {index}', None)
    _jsonpath_keys(path, [m.group()], current, out, strict=strict)
    return m.end()


def _jsonpath_keys(path: str, keys: list[str], current: list[Any], out: list[Any], *, strict: bool) -> None:
    for value in current:
        for key in keys:
            if isinstance(value, Mapping) and key in value:
                out.append(value[key])
            elif strict:
                raise _Fail(f'jsonpath "{path}": key "{key}" not found', None)


def _jsonpath_bracket(path: str, inner: str, current: list[Any], *, strict: bool) -> tuple[list[Any], bool]:
    out: list[Any] = []
    if inner == "*":
        for value in current:
            out.extend(_jsonpath_children(value))
        return out, False
    if inner.startswith("?"):
        body = inner[1:].strip()
        if body.startswith("(") and body.endswith(")"):
            body = body[1:-1]
        predicate = _compile_expression(body, "jsonpath filter", True)
        for value in current:
            for child in _jsonpath_children(value):
                try:
                    keep = predicate.evaluate({}, pointer=child)
                except ExpressionError as error:
                    if error.code in ("syntax", "unsupported", "limit"):
                        raise
                    keep = False
                if keep is True:
                    out.append(child)
        return out, False
    parts = _split_top_level(inner, ",")
    if all(part.strip()[:1] in ("'", '"') for part in parts):
        keys = [_unquote_jsonpath(path, part.strip()) for part in parts]
        _jsonpath_keys(path, keys, current, out, strict=strict and len(keys) == 1)
        return out, len(keys) == 1
    if ":" in inner and len(parts) == 1:
        bounds = [piece.strip() for piece in inner.split(":")]
        if len(bounds) > 3 or not all(not piece or _JSONPATH_INT.fullmatch(piece) for piece in bounds):
            raise _Fail(f'jsonpath "{path}": bad slice [{inner}]', None, "use [start:end] or [start:end:step]")
        start = int(bounds[0]) if bounds[0] else None
        stop = int(bounds[1]) if len(bounds) > 1 and bounds[1] else None
        step = int(bounds[2]) if len(bounds) > 2 and bounds[2] else None
        if step == 0:
            raise _Fail(f'jsonpath "{path}": a slice step cannot be 0', None)
        for value in current:
            if isinstance(value, list):
                out.extend(value[start:stop:step])
        return out, False
    if all(_JSONPATH_INT.fullmatch(part) for part in parts):
        indexes = [int(part) for part in parts]
        for value in current:
            for number in indexes:
                if isinstance(value, list) and -len(value) <= number < len(value):
                    out.append(value[number])
                elif strict and len(indexes) == 1:
                    size = len(value) if isinstance(value, list) else 0
                    raise _Fail(f'jsonpath "{path}": index {number} out of range (length {size})', None)
        return out, len(indexes) == 1
    raise _Fail(f'jsonpath "{path}": cannot read [{inner}]', None, "use [0], ['key'], [*], [1:3] or [?(@.x == 1)]")


def _unquote_jsonpath(path: str, quoted: str) -> str:
    if len(quoted) < 2 or quoted[-1] != quoted[0]:
        raise _Fail(f'jsonpath "{path}": unclosed quote in {quoted}', None)
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


def _split_top_level(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quote = ""
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and index + 1 < len(text):
                current.append(char)
                index += 1
                char = text[index]
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


# ---------------------------------------------------------------------------------------------------------------
# expr-lang: lexer
# ---------------------------------------------------------------------------------------------------------------

_EXPR_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<comment>//[^\n]*|/\*.*?\*/)"
    r"|(?P<num>0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:\d[\d_]*(?:\.(?!\.)[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)"
    r'|(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')'
    r"|(?P<raw>`[^`]*`)"
    r"|(?P<ptr>[#@][A-Za-z0-9_]*)"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)"
    r"|(?P<op>\?\?|\?\.|\.\.|==|!=|<=|>=|&&|\|\||\*\*|[-+*/%^<>!?:.,|()\[\]{}])",
    re.S,
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_WORD_OPERATORS = {"in", "and", "or", "matches", "contains", "startsWith", "endsWith"}
_NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}
_RESERVED = {"let", "if", "else"}

_Token = tuple[str, Any, int]  # (kind, value, position): kinds num, str, ptr, name, op, end


def _unescape(body: str, position: int, text: str, language: str) -> str:
    def replace(m: re.Match[str]) -> str:
        escape = m.group(1)
        if escape in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[escape]
        if escape[0] in "xuU":
            return chr(int(escape[1:], 16))
        if escape[0].isdigit() and len(escape) == 3:
            return chr(int(escape, 8))
        if escape in "\\'\"`":
            return escape
        raise ExpressionError(
            f"invalid escape \\{escape}",
            position=position + m.start(),
            language=language,
            text=text,
            hint=r"use \n, \t, \\, \", \' or \uXXXX",
        )

    try:
        return _ESCAPE.sub(replace, body)
    except (ValueError, OverflowError):
        raise ExpressionError(
            "invalid escape in string", position=position, language=language, text=text, hint="use \\uXXXX"
        ) from None


def _expr_tokens(text: str, language: str, jsonpath_mode: bool) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    length = len(text)
    while pos < length:
        m = _EXPR_TOKEN.match(text, pos)
        char = text[pos]
        if m is not None and m.lastgroup == "op" and text.startswith("/*", pos):
            m = None  # an unclosed block comment
        if m is None:
            if char in "\"'":
                detail, hint = "unclosed string literal", f"add the closing {char}"
            elif char == "`":
                detail, hint = "unclosed string literal", "add the closing `"
            elif text.startswith("/*", pos):
                detail, hint = "unclosed comment", 'close it with "*/"'
            elif char == "=":
                detail, hint = 'unexpected character "="', 'use "==" to compare'
            else:
                detail, hint = f'unexpected character "{char}"', "remove it or put it in a string"
            raise ExpressionError(detail, position=pos, language=language, text=text, hint=hint)
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "num":
            end = m.end()
            if end < length and (text[end].isalnum() or text[end] == "_"):
                raise ExpressionError(
                    f'bad number "{value}{text[end]}"',
                    position=pos,
                    language=language,
                    text=text,
                    hint="put a space or an operator after a number",
                )
            tokens.append(("num", _number(value), pos))
        elif kind == "str":
            tokens.append(("str", _unescape(value[1:-1], pos + 1, text, language), pos))
        elif kind == "raw":
            tokens.append(("str", value[1:-1], pos))
        elif kind == "ptr":
            if value.startswith("@") and not jsonpath_mode:
                raise ExpressionError(
                    'unexpected "@"',
                    position=pos,
                    language=language,
                    text=text,
                    hint='"@" is only used in jsonpath filters; use "#" inside a predicate',
                )
            tokens.append(("ptr", value, pos))
        elif kind in ("name", "op"):
            tokens.append((kind, value, pos))
        pos = m.end()
    tokens.append(("end", None, length))
    return tokens


def _number(text: str) -> int | float:
    clean = text.replace("_", "")
    lower = clean.lower()
    if lower.startswith("0x"):
        return int(clean[2:], 16)
    if lower.startswith("0o"):
        return int(clean[2:], 8)
    if lower.startswith("0b"):
        return int(clean[2:], 2)
    if any(char in clean for char in ".eE"):
        return float(clean)
    return int(clean)


# ---------------------------------------------------------------------------------------------------------------
# expr-lang: parser (precedence climbing, expr-lang's operator table)
# ---------------------------------------------------------------------------------------------------------------

_BINARY: dict[str, tuple[int, bool]] = {  # operator -> (precedence, right associative)
    "|": (0, False),
    "or": (10, False),
    "||": (10, False),
    "and": (15, False),
    "&&": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    ">=": (20, False),
    "<=": (20, False),
    "in": (20, False),
    "matches": (20, False),
    "contains": (20, False),
    "startsWith": (20, False),
    "endsWith": (20, False),
    "..": (25, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}


@dataclass(frozen=True, slots=True)
class _Node:
    kind: str  # lit name ptr member slice call method unary binary and or coalesce cond array map closure
    pos: int
    value: Any = None
    kids: tuple[_Node, ...] = ()
    height: int = 1


class _ExprParser:
    def __init__(self, text: str, language: str, jsonpath_mode: bool) -> None:
        self.text = text
        self.language = language
        self.tokens = _expr_tokens(text, language, jsonpath_mode)
        self.index = 0
        self.depth = 0
        self.closures = 0
        self.jsonpath_mode = jsonpath_mode
        self.pipe_extra = 0  # 1 while parsing the call on the right of "|": it gets the left side as first argument

    # -- helpers -------------------------------------------------------------------------------------------------
    def error(self, detail: str, position: int, hint: str = "", code: ErrorCode = "syntax") -> ExpressionError:
        return ExpressionError(detail, position=position, language=self.language, text=self.text, hint=hint, code=code)

    def describe(self, token: _Token) -> str:
        kind, value, _ = token
        if kind == "end":
            return "unexpected end of expression"
        if kind == "str":
            return f"unexpected string {json.dumps(value)}"
        if kind == "num":
            return f"unexpected number {format_value(value)}"
        return f'unexpected "{value}"'

    def expected(self, token: _Token, expected: str) -> ExpressionError:
        return self.error(self.describe(token), token[2], f"expected {expected}")

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token[0] != "end":
            self.index += 1
        return token

    def is_op(self, value: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token[0] == "op" and token[1] == value

    def expect_op(self, value: str) -> _Token:
        token = self.peek()
        if token[0] != "op" or token[1] != value:
            raise self.expected(token, f'"{value}"')
        return self.take()

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("nests too deeply", position, f"the limit is {MAX_DEPTH} levels", "limit")

    def node(self, kind: str, pos: int, value: Any = None, kids: tuple[_Node, ...] = ()) -> _Node:
        height = 1 + max((kid.height for kid in kids), default=0)
        if height > MAX_HEIGHT:
            raise self.error(
                "nests too deeply", pos, f"the limit is {MAX_HEIGHT} operations deep; split it into parts", "limit"
            )
        return _Node(kind, pos, value, kids, height)

    # -- grammar -------------------------------------------------------------------------------------------------
    def parse(self) -> _Node:
        if self.peek()[0] == "end":
            raise self.error("is empty", 0, "write an expression, e.g. inputs.parameters.x")
        node = self.expression(0)
        token = self.peek()
        if token[0] != "end":
            raise self.expected(token, "an operator or the end")
        return node

    def binary_operator(self) -> tuple[str, int] | None:
        """The binary operator at the cursor and how many tokens it spans, or None."""
        kind, value, _ = self.peek()
        if kind == "op" and value in _BINARY:
            return value, 1
        if kind == "name" and value in _WORD_OPERATORS:
            return value, 1
        if kind == "name" and value == "not":
            following = self.peek(1)
            if following[0] == "name" and following[1] in _NEGATABLE:
                return "not " + following[1], 2
        return None

    def expression(self, min_prec: int) -> _Node:
        start = self.peek()[2]
        self.enter(start)
        left = self.unary()
        while True:
            found = self.binary_operator()
            if found is None:
                break
            op, span = found
            base = op[4:] if op.startswith("not ") else op
            prec, right_assoc = _BINARY[base]
            if prec < min_prec:
                break
            pos = self.peek()[2]
            for _ in range(span):
                self.take()
            if op == "|":
                self.pipe_extra = 1
                right = self.expression(1)
                self.pipe_extra = 0
                if right.kind not in ("call", "method"):
                    raise self.error(
                        'the right side of "|" must be a function call', right.pos, "e.g. x | upper() | trim()"
                    )
                left = self.node(right.kind, right.pos, right.value, (left, *right.kids))
                continue
            right = self.expression(prec if right_assoc else prec + 1)
            left = self.combine(op, left, right, pos)
        if min_prec == 0 and self.is_op("?"):
            pos = self.take()[2]
            then = self.expression(0)
            self.expect_op(":")
            otherwise = self.expression(0)
            left = self.node("cond", pos, None, (left, then, otherwise))
        self.depth -= 1
        return left

    def combine(self, op: str, left: _Node, right: _Node, pos: int) -> _Node:
        if op in ("and", "&&", "or", "||"):
            kind = "and" if op in ("and", "&&") else "or"
            kids = (*left.kids, right) if left.kind == kind else (left, right)
            return self.node(kind, pos, op, kids)
        if op == "??":
            return self.node("coalesce", pos, op, (left, right))
        return self.node("binary", pos, op, (left, right))

    def unary(self) -> _Node:
        kind, value, pos = self.peek()
        if (kind == "op" and value in ("!", "-", "+")) or (kind == "name" and value == "not"):
            self.take()
            self.enter(pos)
            operand = self.expression(_UNARY[value])
            self.depth -= 1
            return self.node("unary", pos, value, (operand,))
        return self.postfix(self.primary())

    def primary(self) -> _Node:
        token = self.take()
        kind, value, pos = token
        if kind == "num" or kind == "str":
            return self.node("lit", pos, value)
        if kind == "ptr":
            name = value[1:]
            if value.startswith("#") and self.closures == 0:
                raise self.error(
                    f'"{value}" is only defined inside a predicate',
                    pos,
                    "use it in filter/map/all/any/..., e.g. filter(list, {# > 1})",
                )
            if name not in ("", "index", "acc"):
                raise self.error(f'unknown pointer "{value}"', pos, "use #, #index or #acc")
            return self.node("ptr", pos, name)
        if kind == "op":
            if value == "(":
                self.enter(pos)
                node = self.expression(0)
                self.expect_op(")")
                self.depth -= 1
                return node
            if value == "[":
                return self.array(pos)
            if value == "{":
                return self.map_literal(pos)
            if value == "." and self.closures > 0:
                name = self.take()
                if name[0] != "name":
                    raise self.expected(name, "a field name after '.'")
                return self.node("member", pos, None, (self.node("ptr", pos, ""), self.node("lit", name[2], name[1])))
            raise self.expected(token, "a value")
        if kind == "name":
            if value in ("true", "false"):
                return self.node("lit", pos, value == "true")
            if value == "nil":
                return self.node("lit", pos, None)
            if value in _RESERVED:
                raise self.error(
                    f'"{value}" is not supported', pos, "Trellis evaluates single expressions", "unsupported"
                )
            if value in _WORD_OPERATORS:
                raise self.expected(token, "a value")
            if self.is_op("("):
                return self.call(value, pos)
            return self.node("name", pos, value)
        raise self.expected(token, "a value")

    def array(self, pos: int) -> _Node:
        self.enter(pos)
        items: list[_Node] = []
        while not self.is_op("]"):
            items.append(self.expression(0))
            if not self.is_op(","):
                break
            self.take()
        self.expect_op("]")
        self.depth -= 1
        return self.node("array", pos, None, tuple(items))

    def map_literal(self, pos: int) -> _Node:
        self.enter(pos)
        pairs: list[_Node] = []
        while not self.is_op("}"):
            key_token = self.take()
            kind, value, key_pos = key_token
            if kind in ("name", "str"):
                key = self.node("lit", key_pos, value)
            elif kind == "num":
                key = self.node("lit", key_pos, format_value(value))
            elif kind == "op" and value == "(":
                key = self.expression(0)
                self.expect_op(")")
            else:
                raise self.expected(key_token, "a map key (a name, a string or a number)")
            self.expect_op(":")
            pairs.append(key)
            pairs.append(self.expression(0))
            if not self.is_op(","):
                break
            self.take()
        self.expect_op("}")
        self.depth -= 1
        return self.node("map", pos, None, tuple(pairs))

    def call(self, name: str, pos: int) -> _Node:
        extra, self.pipe_extra = self.pipe_extra, 0
        self.enter(pos)
        self.expect_op("(")
        args: list[_Node] = []
        predicate = name in _PREDICATES
        if name not in _FUNCTIONS and not predicate:
            raise self.error(f"unknown function {name}()", pos, _suggest_function(name), "unsupported")
        while not self.is_op(")"):
            if predicate and len(args) + extra == 1:
                args.append(self.closure())
            else:
                args.append(self.expression(0))
            if not self.is_op(","):
                break
            self.take()
        self.expect_op(")")
        self.depth -= 1
        if not predicate:
            self.check_arity(name, _FUNCTIONS[name], len(args) + extra, pos)
        if predicate:
            low, high = _PREDICATES[name]
            if not low <= len(args) + extra <= high:
                raise self.error(
                    f"{name}() takes {low if low == high else f'{low} to {high}'} arguments, got {len(args) + extra}",
                    pos,
                    f"e.g. {name}(list, {{# > 1}})",
                )
        return self.node("call", pos, name, tuple(args))

    def closure(self) -> _Node:
        pos = self.peek()[2]
        self.closures += 1
        if self.is_op("{"):
            self.take()
            body = self.expression(0)
            self.expect_op("}")
        else:
            body = self.expression(0)
        self.closures -= 1
        return self.node("closure", pos, _count_nodes(body), (body,))

    def check_arity(self, name: str, function: Callable[..., Any], count: int, pos: int) -> None:
        problem = _arity_problem(function, count)
        if problem:
            raise self.error(f"{name}() {problem}", pos, f"check the arguments of {name}()")

    def postfix(self, node: _Node) -> _Node:
        while True:
            kind, value, pos = self.peek()
            if kind != "op" or value not in (".", "?.", "["):
                return node
            self.take()
            self.enter(pos)
            if value in (".", "?."):
                if value == "?." and self.is_op("["):
                    self.take()
                    key = self.expression(0)
                    self.expect_op("]")
                    node = self.node("member", pos, "?", (node, key))
                    self.depth -= 1
                    continue
                name = self.take()
                if name[0] != "name":
                    raise self.expected(name, f'a field name after "{value}"')
                if self.is_op("("):
                    node = self.method(node, name[1], name[2])
                else:
                    node = self.node(
                        "member", pos, "?" if value == "?." else None, (node, self.node("lit", name[2], name[1]))
                    )
            else:
                if self.is_op(":"):
                    self.take()
                    upper = self.node("lit", pos, None) if self.is_op("]") else self.expression(0)
                    self.expect_op("]")
                    node = self.node("slice", pos, None, (node, self.node("lit", pos, None), upper))
                else:
                    key = self.expression(0)
                    if self.is_op(":"):
                        self.take()
                        upper = self.node("lit", pos, None) if self.is_op("]") else self.expression(0)
                        self.expect_op("]")
                        node = self.node("slice", pos, None, (node, key, upper))
                    else:
                        self.expect_op("]")
                        node = self.node("member", pos, None, (node, key))
            self.depth -= 1

    def method(self, target: _Node, name: str, pos: int) -> _Node:
        extra, self.pipe_extra = self.pipe_extra, 0
        self.expect_op("(")
        args: list[_Node] = []
        while not self.is_op(")"):
            args.append(self.expression(0))
            if not self.is_op(","):
                break
            self.take()
        self.expect_op(")")
        if target.kind == "name" and target.value == "sprig":
            if name not in _SPRIG:
                raise self.error(f"sprig.{name}() is not supported", pos, _suggest_sprig(name), "unsupported")
            self.check_arity("sprig." + name, _SPRIG[name], len(args) + extra, pos)
            return self.node("call", pos, "sprig." + name, tuple(args))
        if name not in _METHODS:
            raise self.error(
                f"method {name}() is not supported",
                pos,
                "methods exist on durations (Seconds, Minutes, Hours, Milliseconds) and times (Unix, Format, Year...)",
                "unsupported",
            )
        return self.node("method", pos, name, (target, *args))


@functools.lru_cache(maxsize=1024)
def _arity_problem(function: Callable[..., Any], count: int) -> str:
    """ "" when `function` accepts `count` positional arguments, else what it takes ("takes 1 argument, got 2")."""
    signature = inspect.signature(function)
    try:
        signature.bind(*([None] * count))
    except TypeError:
        params = list(signature.parameters.values())
        if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            low = sum(1 for p in params if p.default is inspect.Parameter.empty and p.kind is not p.VAR_POSITIONAL)
            return f"takes at least {low} argument{'s' if low != 1 else ''}, got {count}"
        low = sum(1 for p in params if p.default is inspect.Parameter.empty)
        high = len(params)
        wanted = str(low) if low == high else f"{low} to {high}"
        return f"takes {wanted} argument{'s' if high != 1 else ''}, got {count}"
    return ""


def _count_nodes(node: _Node) -> int:
    return 1 + sum(_count_nodes(kid) for kid in node.kids)


# ---------------------------------------------------------------------------------------------------------------
# expr-lang: evaluation (the AST compiled into Python closures once, then run many times)
# ---------------------------------------------------------------------------------------------------------------


class _Ctx:
    __slots__ = ("env", "now", "pointers", "steps")

    def __init__(self, env: Mapping[str, Any], now: datetime | None) -> None:
        self.env = env
        self.now = now
        self.pointers: list[tuple[Any, int, Any]] = []  # (element, index, accumulator)
        self.steps = 0


_Eval = Callable[[_Ctx], Any]
_MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_equal(left[key], right[key]) for key in left)
    if type(left) is not type(right) and not (isinstance(left, str) and isinstance(right, str)):
        return False
    return bool(left == right)


def _mismatch(op: str, left: Any, right: Any, pos: int) -> _Fail:
    hint = ""
    if isinstance(left, str) or isinstance(right, str):
        hint = "parameters are strings: convert with asInt(...) or asFloat(...)"
    return _Fail(f"invalid operation: {op} (mismatched types {_type_name(left)} and {_type_name(right)})", pos, hint)


def _to_time(value: Any, pos: int) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Fail(
                f"cannot read {json.dumps(value)} as a time", pos, "use RFC 3339, e.g. 2024-01-02T03:04:05Z"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, Mapping) and isinstance(value.get("RFC3339"), str):
        return _to_time(value["RFC3339"], pos)
    raise _Fail(f"expected a time, got {_type_name(value)}", pos)


def _binary(op: str, left: Any, right: Any, pos: int) -> Any:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op in ("+", "-", "*", "/", "%", "**", "^"):
        if _is_number(left) and _is_number(right):
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                product = left * right
                if isinstance(product, int) and abs(product) > 2**63:
                    raise _Fail("integer overflow", pos)
                return product
            if op == "/":
                if right == 0:
                    return math.nan if left == 0 else math.copysign(math.inf, left)
                return left / right
            if op == "%":
                if not isinstance(left, int) or not isinstance(right, int):
                    raise _mismatch(op, left, right, pos)
                if right == 0:
                    raise _Fail("integer divide by zero", pos)
                remainder = abs(left) % abs(right)
                return -remainder if left < 0 else remainder
            try:
                return float(left) ** float(right)
            except (OverflowError, ZeroDivisionError):
                return math.inf
        if op == "+" and isinstance(left, str) and isinstance(right, str):
            return _check_string(left + right, pos)
        if op == "+" and isinstance(left, list) and isinstance(right, list):
            return _check_list(left + right, pos)
        if op == "-" and isinstance(left, datetime):
            if isinstance(right, timedelta):
                return left - right
            return left - _to_time(right, pos)
        if op == "+" and isinstance(left, datetime) and isinstance(right, timedelta):
            return left + right
        if op in ("+", "-") and isinstance(left, timedelta) and isinstance(right, timedelta):
            return left + right if op == "+" else left - right
        raise _mismatch(op, left, right, pos)
    if op in ("<", ">", "<=", ">="):
        comparable = (
            (_is_number(left) and _is_number(right))
            or (isinstance(left, str) and isinstance(right, str))
            or (isinstance(left, datetime) and isinstance(right, datetime))
            or (isinstance(left, timedelta) and isinstance(right, timedelta))
        )
        if not comparable:
            raise _mismatch(op, left, right, pos)
        if op == "<":
            return left < right
        if op == ">":
            return left > right
        if op == "<=":
            return left <= right
        return left >= right
    negate = op.startswith("not ")
    base = op[4:] if negate else op
    result: bool
    if base == "in":
        if isinstance(right, Mapping):
            result = isinstance(left, str) and left in right
        elif isinstance(right, list | tuple):
            result = any(_equal(left, item) for item in right)
        elif right is None:
            result = False
        else:
            raise _Fail(f"invalid operation: in (right side is {_type_name(right)}, not an array or map)", pos)
    elif base in ("matches", "contains", "startsWith", "endsWith"):
        if not isinstance(left, str) or not isinstance(right, str):
            raise _mismatch(base, left, right, pos)
        if base == "matches":
            result = _regex_search(right, left, pos)
        elif base == "contains":
            result = right in left
        elif base == "startsWith":
            result = left.startswith(right)
        else:
            result = left.endswith(right)
    elif base == "..":
        if not isinstance(left, int) or not isinstance(right, int) or isinstance(left, bool) or isinstance(right, bool):
            raise _mismatch("..", left, right, pos)
        if right - left + 1 > MAX_LIST_LENGTH:
            raise _Fail(f"builds a list of {right - left + 1} items", pos, f"the limit is {MAX_LIST_LENGTH}", "limit")
        return list(range(left, right + 1))
    else:  # pragma: no cover - the parser only produces the operators above
        raise _Fail(f"unknown operator {op}", pos)
    return not result if negate else result


def _member(target: Any, key: Any, pos: int, optional: bool, nil_safe: bool) -> Any:
    if target is None:
        if optional or nil_safe:
            return None
        raise _Fail(
            f"cannot fetch {format_value(key)} from nil",
            pos,
            "the value before it is missing; use ?. or ?? to allow that",
        )
    if isinstance(target, Mapping):
        if not isinstance(key, str):
            raise _Fail(f"cannot fetch {_type_name(key)} key {format_value(key)} from a map", pos)
        return target.get(key)
    if isinstance(target, list | tuple | str):
        if not isinstance(key, int) or isinstance(key, bool):
            if isinstance(key, float) and key.is_integer():
                key = int(key)
            else:
                raise _Fail(f"cannot fetch {format_value(key)} from {_type_name(target)}", pos, "index with an integer")
        index = key + len(target) if key < 0 else key
        if not 0 <= index < len(target):
            if nil_safe:
                return None
            raise _Fail(f"index out of range: {key} (array length is {len(target)})", pos)
        return target[index]
    if nil_safe:
        return None
    raise _Fail(f"cannot fetch {format_value(key)} from {_type_name(target)}", pos)


def _slice(target: Any, low: Any, high: Any, pos: int) -> Any:
    if not isinstance(target, list | tuple | str):
        raise _Fail(f"cannot slice {_type_name(target)}", pos)
    size = len(target)
    start = 0 if low is None else low
    stop = size if high is None else high
    if not isinstance(start, int) or not isinstance(stop, int):
        raise _Fail("slice bounds must be integers", pos)
    start = max(0, min(size, start + size if start < 0 else start))
    stop = max(start, min(size, stop + size if stop < 0 else stop))
    return target[start:stop] if isinstance(target, str) else list(target[start:stop])


class _Compiler:
    def __init__(self, text: str, language: str) -> None:
        self.text = text
        self.language = language

    def compile(self, node: _Node, nil_safe: bool = False) -> _Eval:
        kind = node.kind
        pos = node.pos
        if kind == "lit":
            value = node.value
            return lambda ctx: value
        if kind == "name":
            name = node.value

            if name == "$env":  # expr-lang: the whole environment, for names that are not identifiers
                return lambda ctx: ctx.env

            def read_name(ctx: _Ctx) -> Any:
                value = ctx.env.get(name, _MISSING)
                if value is _MISSING:
                    if name == "sprig":
                        raise _Fail("sprig is a namespace of functions", pos, "call one, e.g. sprig.upper(x)")
                    if nil_safe:
                        return None
                    raise UnresolvedVariable(name, position=pos, language=self.language, text=self.text)
                return value

            return read_name
        if kind == "ptr":
            slot = {"": 0, "index": 1, "acc": 2}[node.value]

            def read_pointer(ctx: _Ctx) -> Any:
                if not ctx.pointers:
                    raise _Fail("# is only defined inside a predicate", pos)
                return ctx.pointers[-1][slot]

            return read_pointer
        if kind == "member":
            target_eval = self.compile(node.kids[0], nil_safe)
            key_eval = self.compile(node.kids[1])
            optional = node.value == "?"
            return lambda ctx: _member(target_eval(ctx), key_eval(ctx), pos, optional, nil_safe)
        if kind == "slice":
            target_eval = self.compile(node.kids[0], nil_safe)
            low_eval = self.compile(node.kids[1])
            high_eval = self.compile(node.kids[2])
            return lambda ctx: _slice(target_eval(ctx), low_eval(ctx), high_eval(ctx), pos)
        if kind == "unary":
            operand_eval = self.compile(node.kids[0])
            op = node.value

            def unary(ctx: _Ctx) -> Any:
                value = operand_eval(ctx)
                if op in ("!", "not"):
                    if not isinstance(value, bool):
                        raise _Fail(f"invalid operation: {op} {_type_name(value)}", pos, "it needs a boolean")
                    return not value
                if not _is_number(value):
                    raise _Fail(f"invalid operation: {op} {_type_name(value)}", pos, "it needs a number")
                return -value if op == "-" else value

            return unary
        if kind in ("and", "or"):
            evals = [self.compile(kid) for kid in node.kids]
            want = kind == "and"
            op = node.value

            def logical(ctx: _Ctx) -> Any:
                for evaluate in evals:
                    value = evaluate(ctx)
                    if not isinstance(value, bool):
                        raise _Fail(f"invalid operation: {op} on {_type_name(value)}", pos, "it needs booleans")
                    if value is not want:
                        return value
                return want

            return logical
        if kind == "coalesce":
            left_eval = self.compile(node.kids[0], nil_safe=True)
            right_eval = self.compile(node.kids[1], nil_safe)

            def coalesce(ctx: _Ctx) -> Any:
                value = left_eval(ctx)
                return right_eval(ctx) if value is None else value

            return coalesce
        if kind == "binary":
            left_eval = self.compile(node.kids[0], nil_safe)
            right_eval = self.compile(node.kids[1], nil_safe)
            op = node.value
            return lambda ctx: _binary(op, left_eval(ctx), right_eval(ctx), pos)
        if kind == "cond":
            cond_eval, then_eval, else_eval = (self.compile(kid, nil_safe) for kid in node.kids)

            def conditional(ctx: _Ctx) -> Any:
                test = cond_eval(ctx)
                if not isinstance(test, bool):
                    raise _Fail(f"non-bool expression (type {_type_name(test)}) used as condition", pos)
                return then_eval(ctx) if test else else_eval(ctx)

            return conditional
        if kind == "array":
            evals = [self.compile(kid, nil_safe) for kid in node.kids]
            return lambda ctx: [evaluate(ctx) for evaluate in evals]
        if kind == "map":
            evals = [self.compile(kid, nil_safe) for kid in node.kids]

            def build_map(ctx: _Ctx) -> Any:
                result: dict[str, Any] = {}
                for index in range(0, len(evals), 2):
                    key = evals[index](ctx)
                    if not isinstance(key, str):
                        key = format_value(key)
                    result[key] = evals[index + 1](ctx)
                return result

            return build_map
        if kind == "call":
            return self.compile_call(node, nil_safe)
        if kind == "method":
            target_eval = self.compile(node.kids[0], nil_safe)
            arg_evals = [self.compile(kid, nil_safe) for kid in node.kids[1:]]
            method = _METHODS[node.value]
            method_name = node.value

            def call_method(ctx: _Ctx) -> Any:
                target = target_eval(ctx)
                args = [evaluate(ctx) for evaluate in arg_evals]
                try:
                    return method(target, args, pos)
                except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as error:
                    raise _Fail(f"{method_name}(): {error}", pos) from None

            return call_method
        raise AssertionError(f"unknown node {kind}")  # pragma: no cover

    def compile_call(self, node: _Node, nil_safe: bool) -> _Eval:
        name: str = node.value
        pos = node.pos
        if name in _PREDICATES:
            list_eval = self.compile(node.kids[0], nil_safe)
            closure = node.kids[1] if len(node.kids) > 1 else None
            body_eval = self.compile(closure.kids[0], nil_safe) if closure is not None else None
            cost = closure.value if closure is not None else 1
            extra = [self.compile(kid) for kid in node.kids[2:]]
            impl = _PREDICATE_IMPLS[name]

            def predicate(ctx: _Ctx) -> Any:
                items = list_eval(ctx)
                if isinstance(items, Mapping):
                    items = list(items.values())
                if not isinstance(items, list | tuple):
                    raise _Fail(f"{name}() needs an array, got {_type_name(items)}", pos)

                def call_body(item: Any, index: int, acc: Any = None) -> Any:
                    ctx.steps += cost
                    if ctx.steps > MAX_STEPS:
                        raise _Fail("does too much work", pos, f"the limit is {MAX_STEPS} steps", "limit")
                    ctx.pointers.append((item, index, acc))
                    try:
                        return body_eval(ctx) if body_eval is not None else item
                    finally:
                        ctx.pointers.pop()

                return impl(list(items), call_body, [e(ctx) for e in extra], pos)

            return predicate
        function = _SPRIG[name[6:]] if name.startswith("sprig.") else _FUNCTIONS[name]
        arg_evals = [self.compile(kid, nil_safe) for kid in node.kids]
        if name == "now":
            return lambda ctx: _now(ctx, pos)

        def call(ctx: _Ctx) -> Any:
            args = [evaluate(ctx) for evaluate in arg_evals]
            try:
                result = function(*args)
            except _Fail as fail:
                raise _Fail(
                    fail.detail, pos if fail.position is None else fail.position, fail.hint, fail.code
                ) from None
            except TypeError as error:
                raise _Fail(f"{name}(): {error}", pos, f"check the arguments of {name}()") from None
            except (ValueError, ArithmeticError, LookupError, AttributeError) as error:
                raise _Fail(f"{name}(): {error}", pos) from None
            if isinstance(result, str):
                _check_string(result, pos)
            elif isinstance(result, list):
                _check_list(result, pos)
            return result

        return call


def _now(ctx: _Ctx, pos: int) -> datetime:
    if ctx.now is None:
        raise _Fail("now() needs the current time", pos, "the caller must pass now= to evaluate()")
    return ctx.now


def _collect_references(node: _Node, out: list[tuple[str | int, ...]], names: set[str]) -> None:
    """Constant access paths from variables: inputs.parameters['x'] -> ("inputs", "parameters", "x")."""
    path = _access_path(node)
    if path is not None:
        if path:  # a bare $env reads no one variable
            out.append(path)
            names.add(str(path[0]))
        for kid in _non_constant_keys(node):
            _collect_references(kid, out, names)
        return
    for kid in node.kids:
        _collect_references(kid, out, names)


def _access_path(node: _Node) -> tuple[str | int, ...] | None:
    """The constant path of a member chain from a variable; a computed key, slice or method ends it."""
    chain: list[_Node] = []
    while node.kind in ("member", "slice", "method"):
        chain.append(node)
        node = node.kids[0]
    if node.kind != "name" or node.value == "sprig":
        return None
    path: list[str | int] = [node.value]
    if node.value == "$env":  # $env['x'] reads the variable x
        path = []
    for link in reversed(chain):
        key = link.kids[1] if link.kind == "member" else None
        if key is None or key.kind != "lit" or not isinstance(key.value, str | int) or isinstance(key.value, bool):
            break
        path.append(key.value)
    return tuple(path)


def _non_constant_keys(node: _Node) -> list[_Node]:
    keys: list[_Node] = []
    while node.kind in ("member", "slice", "method"):
        keys.extend(kid for kid in node.kids[1:] if kid.kind != "lit")
        node = node.kids[0]
    return keys


@dataclass(frozen=True)
class Expression:
    """A compiled expr-lang expression. Evaluate it as often as needed; it never changes."""

    text: str
    language: str
    _eval: _Eval = field(repr=False, compare=False)
    _references: tuple[tuple[str | int, ...], ...] = field(repr=False, compare=False)
    _identifiers: frozenset[str] = field(repr=False, compare=False)

    def identifiers(self) -> frozenset[str]:
        """Top-level variable names the expression reads (not functions, not `#`)."""
        return self._identifiers

    def references(self) -> tuple[tuple[str | int, ...], ...]:
        """Constant access paths from variables, in order: steps['flip-coin'].outputs.result ->
        ("steps", "flip-coin", "outputs", "result"). A computed key ends the path before it."""
        return self._references

    def evaluate(self, env: Mapping[str, Any], *, now: datetime | None = None, pointer: Any = _MISSING) -> Any:
        """The value of the expression over `env` (nested plain data). Raises ExpressionError (UnresolvedVariable
        when a top-level variable is missing). `now` feeds now(); `pointer` binds "#"/"@" (jsonpath filters)."""
        ctx = _Ctx(env, now)
        if pointer is not _MISSING:
            ctx.pointers.append((pointer, 0, None))
        try:
            return self._eval(ctx)
        except _Fail as fail:
            raise ExpressionError(
                fail.detail,
                position=fail.position,
                language=self.language,
                text=self.text,
                hint=fail.hint,
                code=fail.code,
            ) from None
        except RecursionError:
            raise ExpressionError("nests too deeply", language=self.language, text=self.text, code="limit") from None


def compile_expression(text: str, *, language: str = "expression") -> Expression:
    """Compile an expr-lang expression (cached). Raises ExpressionError with the position of the problem."""
    return _compile_expression(text, language, False)


@functools.lru_cache(maxsize=4096)
def _compile_expression(text: str, language: str, jsonpath_mode: bool) -> Expression:
    _check_length(text, language)
    root = _ExprParser(text, language, jsonpath_mode).parse()
    references: list[tuple[str | int, ...]] = []
    names: set[str] = set()
    _collect_references(root, references, names)
    evaluate = _Compiler(text, language).compile(root)
    return Expression(text, language, evaluate, tuple(references), frozenset(names))


# ---------------------------------------------------------------------------------------------------------------
# Builtins: expr-lang's functions, Argo's additions (asInt, asFloat, jsonpath, toJson) and sprig.*
# ---------------------------------------------------------------------------------------------------------------


def _as_int(value: Any) -> int:
    """expr-lang's int() (Argo's asInt): numbers truncate, strings must be integers."""
    if isinstance(value, bool):
        raise _Fail(f"invalid argument for int (type {_type_name(value)})", None)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _Fail(f"cannot convert {format_value(value)} to int", None)
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        raise _Fail(
            f"strconv.Atoi: parsing {json.dumps(value)}: invalid syntax",
            None,
            'asInt() needs an integer string such as "42"; use asFloat() for decimals',
        )
    raise _Fail(f"invalid argument for int (type {_type_name(value)})", None)


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Fail(f"invalid argument for float (type {_type_name(value)})", None)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise _Fail(
                f"strconv.ParseFloat: parsing {json.dumps(value)}: invalid syntax",
                None,
                'asFloat() needs a number string such as "1.5"',
            ) from None
    raise _Fail(f"invalid argument for float (type {_type_name(value)})", None)


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise _Fail(f"invalid argument for len (type {_type_name(value)})", None)


def _need_str(name: str, *values: Any) -> None:
    for value in values:
        if not isinstance(value, str):
            raise _Fail(f"{name}() needs a string, got {_type_name(value)}", None)


def _need_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise _Fail(f"{name}() needs an array, got {_type_name(value)}", None)


def _strings(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    """A builtin whose arguments must all be strings (expr-lang does not convert)."""

    @functools.wraps(impl)
    def checked(*args: Any) -> Any:
        _need_str(name, *args)
        return impl(*args)

    checked.__signature__ = inspect.signature(impl)  # type: ignore[attr-defined]
    return checked


def _trim(value: Any, chars: Any = None) -> str:
    _need_str("trim", value)
    return str(value).strip(chars if isinstance(chars, str) else None)


def _split(value: Any, sep: Any, limit: Any = -1) -> list[str]:
    _need_str("split", value, sep)
    if sep == "":
        parts = list(value)
    elif limit is not None and limit > 0:
        parts = value.split(sep, limit - 1)
    else:
        parts = value.split(sep)
    return parts


def _repeat(value: Any, count: Any) -> str:
    _need_str("repeat", value)
    if not isinstance(count, int) or count < 0:
        raise _Fail("repeat() needs a non-negative count", None)
    if len(value) * count > MAX_STRING_LENGTH:
        raise _Fail(
            f"builds a string of {len(value) * count} characters", None, f"the limit is {MAX_STRING_LENGTH}", "limit"
        )
    return str(value) * count


def _join(values: Any, sep: Any = "") -> str:
    items = _need_list("join", values)
    _need_str("join", sep)
    return _bounded_join(str(sep), [format_value(item) for item in items])


def _numbers(name: str, values: Sequence[Any]) -> list[int | float]:
    items: list[Any] = []
    for value in values:
        items.extend(value if isinstance(value, list | tuple) else [value])
    for item in items:
        if not _is_number(item):
            raise _Fail(f"{name}() needs numbers, got {_type_name(item)}", None)
    if not items:
        raise _Fail(f"{name}() needs at least one number", None)
    return items


def _median(values: Any) -> float:
    items = sorted(_numbers("median", [values]))
    middle = len(items) // 2
    return float(items[middle]) if len(items) % 2 else (items[middle - 1] + items[middle]) / 2


def _sort(values: Any, order: Any = "asc") -> list[Any]:
    items = _need_list("sort", values)
    if not (all(_is_number(item) for item in items) or all(isinstance(item, str) for item in items)):
        raise _Fail("sort() needs numbers or strings of one kind", None)
    return sorted(items, reverse=order == "desc")


def _uniq(values: Any) -> list[Any]:
    result: list[Any] = []
    seen: set[tuple[str, Any]] = set()
    compound: list[Any] = []
    for item in _need_list("uniq", values):
        if isinstance(item, list | tuple | Mapping):  # rare: compared pairwise, with a bound on the work
            if len(compound) * len(values) > MAX_STEPS:
                raise _Fail("uniq() does too much work", None, f"the limit is {MAX_STEPS} steps", "limit")
            if not any(_equal(item, other) for other in compound):
                compound.append(item)
                result.append(item)
            continue
        key = ("n", item) if _is_number(item) else (type(item).__name__, item)
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def _bounded_replace(text: str, old: str, new: str) -> str:
    """str.replace, refused before it builds a string over the limit (replace("a", long, s) can multiply s)."""
    size = len(text) + text.count(old) * (len(new) - len(old))
    if size > MAX_STRING_LENGTH:
        raise _Fail(f"builds a string of {size} characters", None, f"the limit is {MAX_STRING_LENGTH}", "limit")
    return text.replace(old, new)


def _bounded_join(separator: str, parts: Sequence[str]) -> str:
    size = sum(len(part) for part in parts) + len(separator) * max(0, len(parts) - 1)
    if size > MAX_STRING_LENGTH:
        raise _Fail(f"builds a string of {size} characters", None, f"the limit is {MAX_STRING_LENGTH}", "limit")
    return separator.join(parts)


def _flatten(values: Any) -> list[Any]:
    result: list[Any] = []

    def walk(items: list[Any], depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Fail("flatten(): the array nests too deeply", None, code="limit")
        for item in items:
            if isinstance(item, list | tuple):
                walk(list(item), depth + 1)
            else:
                result.append(item)
                if len(result) > MAX_LIST_LENGTH:
                    _check_list(result, None)

    walk(_need_list("flatten", values), 0)
    return result


def _concat(*values: Any) -> list[Any]:
    result: list[Any] = []
    for value in values:
        result.extend(_need_list("concat", value))
        _check_list(result, None)
    return result


def _keys(value: Any) -> list[str]:
    if not isinstance(value, Mapping):
        raise _Fail(f"keys() needs a map, got {_type_name(value)}", None)
    return sorted(value)


def _values(value: Any) -> list[Any]:
    if not isinstance(value, Mapping):
        raise _Fail(f"values() needs a map, got {_type_name(value)}", None)
    return [value[key] for key in sorted(value)]


def _get(value: Any, key: Any) -> Any:
    try:
        return _member(value, key, 0, True, True)
    except _Fail:
        return None


def _b64decode(value: Any) -> str:
    _need_str("base64 decode", value)
    try:
        raw = base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError) as error:
        raise _Fail(f"illegal base64 data: {error}", None) from None
    return raw.decode("utf-8", "replace")


def _b64encode(value: Any) -> str:
    return base64.b64encode(_text(value).encode()).decode()


def _text(value: Any) -> str:
    return format_value(value)


def _abs(value: Any) -> Any:
    if not _is_number(value):
        raise _Fail(f"invalid argument for abs (type {_type_name(value)})", None)
    return abs(value)


def _round(value: Any) -> float:
    number = _as_float(value)
    return float(math.floor(number + 0.5)) if number >= 0 else -float(math.floor(-number + 0.5))


def _first(value: Any) -> Any:
    items = _need_list("first", value)
    return items[0] if items else None


def _last(value: Any) -> Any:
    items = _need_list("last", value)
    return items[-1] if items else None


def _index_of(value: Any, sub: Any) -> int:
    _need_str("indexOf", value, sub)
    return str(value).find(str(sub))


def _last_index_of(value: Any, sub: Any) -> int:
    _need_str("lastIndexOf", value, sub)
    return str(value).rfind(str(sub))


def _replace(value: Any, old: Any, new: Any) -> str:
    _need_str("replace", value, old, new)
    return _bounded_replace(str(value), str(old), str(new))


def _to_pairs(value: Any) -> list[list[Any]]:
    if not isinstance(value, Mapping):
        raise _Fail(f"toPairs() needs a map, got {_type_name(value)}", None)
    return [[key, value[key]] for key in sorted(value)]


def _from_pairs(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in _need_list("fromPairs", value):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise _Fail("fromPairs() needs [key, value] pairs", None)
        result[format_value(pair[0])] = pair[1]
    return result


def _duration(value: Any) -> timedelta:
    _need_str("duration", value)
    total = 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    text = str(value).strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == "0":
        return timedelta(0)
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise _Fail(f"time: invalid duration {json.dumps(value)}", None, 'use Go durations such as "1h30m" or "90s"')
    for number, unit in parts:
        total += float(number) * units[unit]
    return timedelta(seconds=sign * total)


def _type_of(value: Any) -> str:
    names = {"nil": "nil", "array": "array", "map": "map", "func": "func"}
    name = _type_name(value)
    return names.get(name, name)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Argo's environment (util/expr/env)
    "asInt": _as_int,
    "asFloat": _as_float,
    "jsonpath": lambda document, path: jsonpath(document, path),
    "toJson": lambda value: to_json(value),
    # expr-lang builtins
    "int": _as_int,
    "float": _as_float,
    "string": _text,
    "len": _len,
    "abs": _abs,
    "ceil": lambda value: float(math.ceil(_as_float(value))),
    "floor": lambda value: float(math.floor(_as_float(value))),
    "round": _round,
    "max": lambda *values: max(_numbers("max", values)),
    "min": lambda *values: min(_numbers("min", values)),
    "sum": lambda values: sum(_numbers("sum", [values])) if values else 0,
    "mean": lambda values: sum(_numbers("mean", [values])) / len(_numbers("mean", [values])),
    "median": _median,
    "trim": _trim,
    "trimPrefix": _strings("trimPrefix", lambda value, prefix=" ": value.removeprefix(prefix)),
    "trimSuffix": _strings("trimSuffix", lambda value, suffix=" ": value.removesuffix(suffix)),
    "upper": _strings("upper", lambda value: value.upper()),
    "lower": _strings("lower", lambda value: value.lower()),
    "split": _split,
    "replace": _replace,
    "repeat": _repeat,
    "join": _join,
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "hasPrefix": _strings("hasPrefix", lambda value, prefix: value.startswith(prefix)),
    "hasSuffix": _strings("hasSuffix", lambda value, suffix: value.endswith(suffix)),
    "toJSON": lambda value: to_json(value, indent="  "),
    "fromJSON": lambda value: _from_json(value, None),
    "fromJson": lambda value: _from_json(value, None),
    "toBase64": _b64encode,
    "fromBase64": _b64decode,
    "keys": _keys,
    "values": _values,
    "toPairs": _to_pairs,
    "fromPairs": _from_pairs,
    "first": _first,
    "last": _last,
    "get": _get,
    "reverse": lambda values: list(reversed(_need_list("reverse", values))),
    "sort": _sort,
    "uniq": _uniq,
    "concat": _concat,
    "flatten": _flatten,
    "type": _type_of,
    "duration": _duration,
    "date": lambda value, *rest: _to_time(value, 0),
    "now": lambda: None,  # compiled specially: reads the `now` the caller passed
}


def _predicate_filter(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return [item for index, item in enumerate(items) if _truth("filter", body(item, index), pos)]


def _truth(name: str, value: Any, pos: int) -> bool:
    if not isinstance(value, bool):
        raise _Fail(f"{name}() predicate must return a boolean, got {_type_name(value)}", pos)
    return value


def _predicate_map(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return [body(item, index) for index, item in enumerate(items)]


def _predicate_all(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return all(_truth("all", body(item, index), pos) for index, item in enumerate(items))


def _predicate_any(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return any(_truth("any", body(item, index), pos) for index, item in enumerate(items))


def _predicate_none(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return not any(_truth("none", body(item, index), pos) for index, item in enumerate(items))


def _predicate_one(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return sum(1 for index, item in enumerate(items) if _truth("one", body(item, index), pos)) == 1


def _predicate_count(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return sum(1 for index, item in enumerate(items) if _truth("count", body(item, index), pos))


def _predicate_find(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return next((item for index, item in enumerate(items) if _truth("find", body(item, index), pos)), None)


def _predicate_find_index(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    return next((index for index, item in enumerate(items) if _truth("findIndex", body(item, index), pos)), -1)


def _predicate_find_last(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    for index in range(len(items) - 1, -1, -1):
        if _truth("findLast", body(items[index], index), pos):
            return items[index]
    return None


def _predicate_find_last_index(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    for index in range(len(items) - 1, -1, -1):
        if _truth("findLastIndex", body(items[index], index), pos):
            return index
    return -1


def _predicate_sum(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    total: int | float = 0
    for index, item in enumerate(items):
        value = body(item, index)
        if not _is_number(value):
            raise _Fail(f"sum() needs numbers, got {_type_name(value)}", pos)
        total += value
    return total


def _predicate_group_by(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    groups: dict[str, list[Any]] = {}
    for index, item in enumerate(items):
        key = body(item, index)
        groups.setdefault(key if isinstance(key, str) else format_value(key), []).append(item)
    return groups


def _predicate_sort_by(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    keyed = [(body(item, index), item) for index, item in enumerate(items)]
    keys = [key for key, _ in keyed]
    if not (all(_is_number(key) for key in keys) or all(isinstance(key, str) for key in keys)):
        raise _Fail("sortBy() keys must be numbers or strings of one kind", pos)
    descending = bool(extra) and extra[0] == "desc"
    return [item for _, item in sorted(keyed, key=lambda pair: pair[0], reverse=descending)]


def _predicate_reduce(items: list[Any], body: Callable[..., Any], extra: list[Any], pos: int) -> Any:
    if not items and not extra:
        raise _Fail("reduce() of an empty array needs an initial value", pos)
    acc = extra[0] if extra else items[0]
    for index, item in enumerate(items if extra else items[1:]):
        acc = body(item, index, acc)
    return acc


_PREDICATES: dict[str, tuple[int, int]] = {  # name -> (min, max) arguments
    "filter": (2, 2),
    "map": (2, 2),
    "all": (2, 2),
    "any": (2, 2),
    "none": (2, 2),
    "one": (2, 2),
    "count": (1, 2),
    "find": (2, 2),
    "findIndex": (2, 2),
    "findLast": (2, 2),
    "findLastIndex": (2, 2),
    "groupBy": (2, 2),
    "sortBy": (2, 3),
    "reduce": (2, 3),
}
_PREDICATE_IMPLS: dict[str, Callable[[list[Any], Callable[..., Any], list[Any], int], Any]] = {
    "filter": _predicate_filter,
    "map": _predicate_map,
    "all": _predicate_all,
    "any": _predicate_any,
    "none": _predicate_none,
    "one": _predicate_one,
    "count": _predicate_count,
    "find": _predicate_find,
    "findIndex": _predicate_find_index,
    "findLast": _predicate_find_last,
    "findLastIndex": _predicate_find_last_index,
    "groupBy": _predicate_group_by,
    "sortBy": _predicate_sort_by,
    "reduce": _predicate_reduce,
}


# -- sprig (Masterminds/sprig semantics: permissive conversions, "pipeline" argument order) -------------------


def _sprig_int(value: Any) -> int:
    """sprig's toInt64 (spf13/cast): numbers truncate, numeric strings parse, anything else is 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 0) if re.fullmatch(r"[+-]?(0[xXoObB])?[0-9a-fA-F_]+", text) else int(float(text))
        except ValueError:
            return 0
    return 0


def _sprig_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return 0.0
    return 0.0


def _sprig_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if value is None:
        return []
    raise _Fail(f"cannot use {_type_name(value)} as a list", None)


def _sprig_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) == 0
    return False


def _sprig_div(a: Any, b: Any) -> int:
    divisor = _sprig_int(b)
    if divisor == 0:
        raise _Fail("integer divide by zero", None)
    quotient = abs(_sprig_int(a)) // abs(divisor)
    return quotient if (_sprig_int(a) >= 0) == (divisor > 0) else -quotient


def _sprig_mod(a: Any, b: Any) -> int:
    divisor = _sprig_int(b)
    if divisor == 0:
        raise _Fail("integer divide by zero", None)
    remainder = abs(_sprig_int(a)) % abs(divisor)
    return -remainder if _sprig_int(a) < 0 else remainder


def _sprig_substr(start: Any, end: Any, value: Any) -> str:
    text = _text(value)
    first, last = _sprig_int(start), _sprig_int(end)
    if first < 0:
        return text[:last]
    if last < 0 or last > len(text):
        return text[first:]
    return text[first:last]


def _sprig_trunc(count: Any, value: Any) -> str:
    text = _text(value)
    size = _sprig_int(count)
    if size < 0:
        return text[max(0, len(text) + size) :]
    return text[:size]


def _sprig_regex_find_all(pattern: Any, value: Any, count: Any) -> list[str]:
    compiled = _regex(_text(pattern))
    limit = _sprig_int(count)
    found = [m.group() for m in compiled.finditer(_text(value))]
    return found if limit < 0 else found[:limit]


def _sprig_regex_replace(pattern: Any, value: Any, replacement: Any) -> str:
    """sprig's regexReplaceAll: Go's $1 / ${name} expansion in the replacement."""
    template = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: "\\g<" + (m.group(1) or m.group(2)) + ">", _text(replacement))
    try:
        return _regex_replace(pattern, value, lambda m: str(m.expand(template)))
    except (re2.error, IndexError, KeyError) as error:
        raise _Fail(f"regexReplaceAll: {error}", None) from None


def _sprig_regex_replace_literal(pattern: Any, value: Any, replacement: Any) -> str:
    literal = _text(replacement)
    return _regex_replace(pattern, value, lambda m: literal)


def _regex_replace(pattern: Any, value: Any, replacement: Callable[[Any], str]) -> str:
    """Replace every match, refusing as soon as the result would pass the size limit (never after building it)."""
    text = _text(value)
    pieces: list[str] = []
    size = 0
    last = 0
    for m in _regex(_text(pattern)).finditer(text):
        piece = text[last : m.start()] + replacement(m)
        size += len(piece)
        if size > MAX_STRING_LENGTH:
            raise _Fail(
                "builds a string of more characters than allowed", None, f"the limit is {MAX_STRING_LENGTH}", "limit"
            )
        pieces.append(piece)
        last = m.end()
    pieces.append(text[last:])
    return _check_string("".join(pieces), None)


def _sprig_dict(*pairs: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for index in range(0, len(pairs), 2):
        result[_text(pairs[index])] = pairs[index + 1] if index + 1 < len(pairs) else ""
    return result


def _sprig_get(mapping: Any, key: Any) -> Any:
    if isinstance(mapping, Mapping) and key in mapping:
        return mapping[key]
    return ""


def _sprig_date(layout: Any, value: Any) -> str:
    moment = _sprig_time(value)
    return _go_time_format(moment, _text(layout))


def _sprig_time(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return _to_time(value, 0)


_GO_LAYOUT = re.compile(
    r"January|Jan|Monday|Mon|MST|Z07:00|Z0700|Z07|-07:00|-0700|-07|2006|06|01|02|_2|15|03|04|05|PM|pm"
    r"|\.0+|\.9+|1|2|3|4|5"
)
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _go_time_format(moment: datetime, layout: str) -> str:
    """Format a time with a Go reference layout ("2006-01-02T15:04:05Z07:00"), as sprig's date does."""
    moment = moment.astimezone(UTC)

    def replace(m: re.Match[str]) -> str:
        token = m.group()
        hour12 = moment.hour % 12 or 12
        table: dict[str, str] = {
            "January": _MONTHS[moment.month - 1],
            "Jan": _MONTHS[moment.month - 1][:3],
            "Monday": _DAYS[moment.weekday()],
            "Mon": _DAYS[moment.weekday()][:3],
            "MST": "UTC",
            "Z07:00": "Z",
            "Z0700": "Z",
            "Z07": "Z",
            "-07:00": "+00:00",
            "-0700": "+0000",
            "-07": "+00",
            "2006": f"{moment.year:04d}",
            "06": f"{moment.year % 100:02d}",
            "01": f"{moment.month:02d}",
            "02": f"{moment.day:02d}",
            "_2": f"{moment.day:2d}",
            "15": f"{moment.hour:02d}",
            "03": f"{hour12:02d}",
            "04": f"{moment.minute:02d}",
            "05": f"{moment.second:02d}",
            "PM": "PM" if moment.hour >= 12 else "AM",
            "pm": "pm" if moment.hour >= 12 else "am",
            "1": str(moment.month),
            "2": str(moment.day),
            "3": str(hour12),
            "4": str(moment.minute),
            "5": str(moment.second),
        }
        if token in table:
            return table[token]
        digits = len(token) - 1
        fraction = f"{moment.microsecond:06d}000"[:digits]
        if token[1] == "9":
            fraction = fraction.rstrip("0")
            return "." + fraction if fraction else ""
        return "." + fraction

    return _GO_LAYOUT.sub(replace, layout)


_GO_TO_STRPTIME = {
    "January": "%B", "Jan": "%b", "Monday": "%A", "Mon": "%a", "MST": "%Z", "Z07:00": "%z", "Z0700": "%z",
    "-07:00": "%z", "-0700": "%z", "2006": "%Y", "06": "%y", "01": "%m", "02": "%d", "15": "%H", "03": "%I",
    "04": "%M", "05": "%S", "PM": "%p", "1": "%m", "2": "%d", "3": "%I", "4": "%M", "5": "%S",
}  # fmt: skip


def _sprig_to_date(layout: Any, value: Any) -> datetime:
    """sprig's toDate: parse `value` with a Go reference layout; times without a zone are UTC."""
    go_layout = _text(layout)
    parts: list[str] = []
    last = 0
    for m in _GO_LAYOUT.finditer(go_layout):
        parts.append(go_layout[last : m.start()].replace("%", "%%"))
        token = m.group()
        parts.append(_GO_TO_STRPTIME.get(token, ".%f" if token.startswith(".") else token))
        last = m.end()
    parts.append(go_layout[last:].replace("%", "%%"))
    try:
        parsed = datetime.strptime(_text(value), "".join(parts))
    except ValueError as error:
        raise _Fail(f"toDate(): {error}", None, 'use a Go layout such as "2006-01-02"') from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sprig_hash(algorithm: str) -> Callable[[Any], str]:
    def digest(value: Any) -> str:
        return hashlib.new(algorithm, _text(value).encode()).hexdigest()

    return digest


def _sprig_until(count: Any) -> list[int]:
    size = _sprig_int(count)
    if abs(size) > MAX_LIST_LENGTH:
        raise _Fail(f"builds a list of {abs(size)} items", None, f"the limit is {MAX_LIST_LENGTH}", "limit")
    return list(range(size)) if size >= 0 else list(range(0, size, -1))


def _sprig_indent(count: Any, value: Any) -> str:
    pad = " " * max(0, min(_sprig_int(count), 1024))
    return pad + _bounded_replace(_text(value), "\n", "\n" + pad)


_SPRIG: dict[str, Callable[..., Any]] = {
    # strings
    "toString": _text,
    "upper": lambda value: _text(value).upper(),
    "lower": lambda value: _text(value).lower(),
    "title": lambda value: re.sub(r"\b\w", lambda m: m.group().upper(), _text(value)),
    "trim": lambda value: _text(value).strip(),
    "trimAll": lambda chars, value: _text(value).strip(_text(chars)),
    "trimPrefix": lambda prefix, value: _text(value).removeprefix(_text(prefix)),
    "trimSuffix": lambda suffix, value: _text(value).removesuffix(_text(suffix)),
    "replace": lambda old, new, value: _bounded_replace(_text(value), _text(old), _text(new)),
    "repeat": lambda count, value: _repeat(_text(value), _sprig_int(count)),
    "substr": _sprig_substr,
    "trunc": _sprig_trunc,
    "contains": lambda sub, value: _text(sub) in _text(value),
    "hasPrefix": lambda prefix, value: _text(value).startswith(_text(prefix)),
    "hasSuffix": lambda suffix, value: _text(value).endswith(_text(suffix)),
    "quote": lambda *values: _bounded_join(
        " ", [json.dumps(_text(value), ensure_ascii=False) for value in values if value is not None]
    ),
    "squote": lambda *values: _bounded_join(" ", [f"'{_text(value)}'" for value in values if value is not None]),
    "cat": lambda *values: _bounded_join(" ", [_text(value) for value in values if value is not None]),
    "indent": _sprig_indent,
    "nindent": lambda count, value: "\n" + _sprig_indent(count, value),
    "splitList": lambda sep, value: _text(value).split(_text(sep)) if _text(sep) else list(_text(value)),
    "join": lambda sep, values: _bounded_join(_text(sep), [_text(item) for item in _sprig_list(values)]),
    "b64enc": _b64encode,
    "b64dec": _b64decode,
    "sha1sum": _sprig_hash("sha1"),
    "sha256sum": _sprig_hash("sha256"),
    "regexMatch": lambda pattern, value: _regex(_text(pattern)).search(_text(value)) is not None,
    "regexFind": lambda pattern, value: (lambda m: m.group() if m else "")(_regex(_text(pattern)).search(_text(value))),
    "regexFindAll": _sprig_regex_find_all,
    "regexReplaceAll": _sprig_regex_replace,
    "regexReplaceAllLiteral": _sprig_regex_replace_literal,
    "regexSplit": lambda pattern, value, count: (
        lambda parts: parts if _sprig_int(count) < 0 else parts[: _sprig_int(count)]
    )(_regex(_text(pattern)).split(_text(value))),
    # numbers
    "add": lambda *values: sum(_sprig_int(value) for value in values),
    "add1": lambda value: _sprig_int(value) + 1,
    "sub": lambda a, b: _sprig_int(a) - _sprig_int(b),
    "mul": lambda *values: math.prod(_sprig_int(value) for value in values),
    "div": _sprig_div,
    "mod": _sprig_mod,
    "max": lambda first, *rest: max([_sprig_int(first), *(_sprig_int(value) for value in rest)]),
    "min": lambda first, *rest: min([_sprig_int(first), *(_sprig_int(value) for value in rest)]),
    "addf": lambda *values: math.fsum(_sprig_float(value) for value in values),
    "subf": lambda first, *rest: _sprig_float(first) - math.fsum(_sprig_float(value) for value in rest),
    "mulf": lambda *values: math.prod(_sprig_float(value) for value in values),
    "divf": lambda first, *rest: functools.reduce(
        lambda a, b: a / b if b else math.inf, map(_sprig_float, rest), _sprig_float(first)
    ),
    "maxf": lambda first, *rest: max([_sprig_float(first), *(_sprig_float(value) for value in rest)]),
    "minf": lambda first, *rest: min([_sprig_float(first), *(_sprig_float(value) for value in rest)]),
    "floor": lambda value: float(math.floor(_sprig_float(value))),
    "ceil": lambda value: float(math.ceil(_sprig_float(value))),
    "round": lambda value, places=0, half=0.5: round(_sprig_float(value), _sprig_int(places)),
    "int": _sprig_int,
    "int64": _sprig_int,
    "atoi": lambda value: _sprig_int(value) if re.fullmatch(r"\s*[+-]?\d+\s*", _text(value)) else 0,
    "float64": _sprig_float,
    "until": _sprig_until,
    # lists and dicts
    "list": lambda *values: list(values),
    "first": lambda values: (_sprig_list(values) or [None])[0],
    "last": lambda values: (_sprig_list(values) or [None])[-1],
    "rest": lambda values: _sprig_list(values)[1:],
    "initial": lambda values: _sprig_list(values)[:-1],
    "append": lambda values, value: _check_list([*_sprig_list(values), value], None),
    "prepend": lambda values, value: _check_list([value, *_sprig_list(values)], None),
    "concat": lambda *values: _check_list([item for value in values for item in _sprig_list(value)], None),
    "reverse": lambda values: list(reversed(_sprig_list(values))),
    "uniq": lambda values: _uniq(_sprig_list(values)),
    "has": lambda needle, values: any(_equal(needle, item) for item in _sprig_list(values)),
    "without": lambda values, *drop: [item for item in _sprig_list(values) if not any(_equal(item, d) for d in drop)],
    "compact": lambda values: [item for item in _sprig_list(values) if not _sprig_empty(item)],
    "sortAlpha": lambda values: sorted(_text(item) for item in _sprig_list(values)),
    "empty": _sprig_empty,
    "default": lambda fallback, *given: fallback if not given or _sprig_empty(given[0]) else given[0],
    "coalesce": lambda *values: next((value for value in values if not _sprig_empty(value)), None),
    "ternary": lambda yes, no, test: yes if test is True else no,
    "dict": _sprig_dict,
    "get": _sprig_get,
    "hasKey": lambda mapping, key: isinstance(mapping, Mapping) and key in mapping,
    "keys": lambda *mappings: [key for mapping in mappings if isinstance(mapping, Mapping) for key in mapping],
    "values": lambda mapping: list(mapping.values()) if isinstance(mapping, Mapping) else [],
    "pick": lambda mapping, *names: {k: v for k, v in (mapping or {}).items() if k in names},
    "omit": lambda mapping, *names: {k: v for k, v in (mapping or {}).items() if k not in names},
    # encoding
    "toJson": lambda value: to_json(value),
    "toRawJson": lambda value: to_json(value).replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&"),
    "toPrettyJson": lambda value: to_json(value, indent="  "),
    "fromJson": lambda value: _from_json(value, None),
    # time (no clock: a time comes from an argument)
    "date": _sprig_date,
    "toDate": _sprig_to_date,
    "unixEpoch": lambda value: str(int(_sprig_time(value).timestamp())),
    "dateModify": lambda change, value: _sprig_time(value) + _duration(_text(change)),
    "duration": lambda value: _format_duration(timedelta(seconds=_sprig_int(value))),
}

_METHODS: dict[str, Callable[[Any, list[Any], int], Any]] = {}


def _method(name: str, kind: type, impl: Callable[[Any, list[Any]], Any]) -> None:
    owner = "time" if kind is datetime else "duration"

    def call(target: Any, args: list[Any], pos: int) -> Any:
        if kind is datetime and isinstance(target, str):
            target = _to_time(target, pos)
        if not isinstance(target, kind):
            raise _Fail(f"{name}() is a method of {owner}, not of {_type_name(target)}", pos)
        return impl(target, args)

    _METHODS[name] = call


def _duration_in(unit: float) -> Callable[[Any, list[Any]], Any]:
    return lambda target, args: target.total_seconds() / unit


for _name, _seconds in (("Seconds", 1.0), ("Minutes", 60.0), ("Hours", 3600.0), ("Milliseconds", 1e-3)):
    _method(_name, timedelta, _duration_in(_seconds))
_method("Unix", datetime, lambda target, args: int(target.timestamp()))
_method("Format", datetime, lambda target, args: _go_time_format(target, _text(args[0]) if args else ""))
_method("Year", datetime, lambda target, args: target.year)
_method("Month", datetime, lambda target, args: target.month)
_method("Day", datetime, lambda target, args: target.day)
_method("Hour", datetime, lambda target, args: target.hour)
_method("Minute", datetime, lambda target, args: target.minute)


def _suggest(name: str, names: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(names), n=1)
    return f"did you mean {close[0]}()?" if close else ""


def _suggest_function(name: str) -> str:
    found = _suggest(name, [*_FUNCTIONS, *_PREDICATES])
    return found or "see docs/architecture.md, Expressions and templating, for the functions Trellis supports"


def _suggest_sprig(name: str) -> str:
    found = _suggest(name, _SPRIG)
    if found:
        return found.replace("did you mean ", "did you mean sprig.")
    return "Trellis supports a subset of sprig; see docs/architecture.md, Expressions and templating"
