"""Parse a DAG task's `depends` expression (Argo's enhanced depends logic). Pure: no I/O.

Grammar (https://argo-workflows.readthedocs.io/en/latest/enhanced-depends-logic/):
    expr := and ("||" and)* ;  and := unary ("&&" unary)* ;  unary := "!" unary | "(" expr ")" | operand
    operand := TASK | TASK "." RESULT
A bare TASK means `(TASK.Succeeded || TASK.Skipped || TASK.Daemoned)`. The parser returns every operand with its
offset so the caller can check task names and results; it never evaluates anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
ITEM_RESULTS = ("AnySucceeded", "AllFailed")

_TOKEN = re.compile(r"\s*(?:(\|\|)|(&&)|(!)|(\()|(\))|([A-Za-z0-9][-A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)?)|(\S))")


@dataclass(frozen=True)
class Operand:
    task: str
    result: str  # "" for a bare task name
    offset: int


class DependsSyntaxError(ValueError):
    """`depends` does not parse; str() says what was expected where."""


def parse_depends(text: str) -> tuple[Operand, ...]:
    """Every operand of `text`, in order; raises DependsSyntaxError when `text` is not a depends expression."""
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing whitespace is left
            break
        kind = m.lastindex or 0
        start = m.start(kind)
        names = {1: "||", 2: "&&", 3: "!", 4: "(", 5: ")", 6: "name", 7: "bad"}
        tokens.append((names[kind], m.group(kind), start))
        pos = m.end()
    operands: list[Operand] = []
    index = 0

    def peek() -> tuple[str, str, int]:
        return tokens[index] if index < len(tokens) else ("end", "", len(text))

    def fail(expected: str) -> DependsSyntaxError:
        kind, value, at = peek()
        found = "the end" if kind == "end" else repr(value)
        return DependsSyntaxError(f"expected {expected} at position {at}, found {found}")

    def parse_or() -> None:
        nonlocal index
        parse_and()
        while peek()[0] == "||":
            index += 1
            parse_and()

    def parse_and() -> None:
        nonlocal index
        parse_unary()
        while peek()[0] == "&&":
            index += 1
            parse_unary()

    def parse_unary() -> None:
        nonlocal index
        kind, value, at = peek()
        if kind == "!":
            index += 1
            parse_unary()
        elif kind == "(":
            index += 1
            parse_or()
            if peek()[0] != ")":
                raise fail("')'")
            index += 1
        elif kind == "name":
            index += 1
            task, _, result = value.partition(".")
            operands.append(Operand(task=task, result=result, offset=at))
        else:
            raise fail("a task name, '!' or '('")

    parse_or()
    if index < len(tokens):
        raise fail("'&&', '||' or the end")
    return tuple(operands)
