"""DAG `depends` and `dependencies` as Argo evaluates them (pure).

Grammar: `expr := or ; or := and ('||' and)* ; and := not ('&&' not)* ; not := '!' not | atom ;
atom := '(' expr ')' | TASK | TASK '.' RESULT` where RESULT is one of Succeeded, Failed, Errored, Skipped,
Omitted, Daemoned, AnySucceeded, AllFailed. A bare `TASK` means `TASK.Succeeded || TASK.Skipped ||
TASK.Daemoned`, widened by the dependency's `continueOn` (`failed` adds Failed, `error` adds Errored) as Argo's
ancestry expansion does. `dependencies: [A, B]` is `A && B` with the same bare-name meaning.

Compiled forms are cached per text, so a 10,000-task DAG parses each distinct expression once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
_TOKEN = re.compile(r"\s*(\|\||&&|!|\(|\)|[A-Za-z0-9_][A-Za-z0-9_\-]*(?:\.[A-Za-z]+)?)")


class DependsError(ValueError):
    """A `depends` expression that cannot be parsed; the message says where."""


@dataclass(frozen=True)
class TaskOutcome:
    """What a dependency ended as, for evaluation."""

    phase: str  # node phase: Succeeded, Failed, Error, Skipped, Omitted
    continue_on_failed: bool = False
    continue_on_error: bool = False
    any_succeeded: bool = False
    all_failed: bool = False


Evaluator = Callable[[Mapping[str, TaskOutcome]], bool]


@dataclass(frozen=True)
class Depends:
    text: str
    tasks: tuple[str, ...]  # the task names referenced, in first-appearance order
    evaluate: Evaluator


def _result(outcome: TaskOutcome, result: str | None) -> bool:
    phase = outcome.phase
    if result is None:
        return (
            phase in ("Succeeded", "Skipped")
            or (outcome.continue_on_failed and phase == "Failed")
            or (outcome.continue_on_error and phase == "Error")
        )
    if result == "Errored":
        return phase == "Error"
    if result == "Daemoned":
        return False
    if result == "AnySucceeded":
        return outcome.any_succeeded
    if result == "AllFailed":
        return outcome.all_failed
    return phase == result


@lru_cache(maxsize=4096)
def parse_depends(text: str) -> Depends:
    """Compile a `depends` expression; raises DependsError with the offending position."""
    tokens: list[str] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None:
            raise DependsError(f"depends {text!r}: unexpected character at position {pos}: {stripped[pos]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    if not tokens:
        raise DependsError(f"depends {text!r}: empty expression")
    names: list[str] = []
    index = 0

    def peek() -> str | None:
        return tokens[index] if index < len(tokens) else None

    def take() -> str:
        nonlocal index
        token = tokens[index]
        index += 1
        return token

    def parse_or() -> Evaluator:
        parts = [parse_and()]
        while peek() == "||":
            take()
            parts.append(parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda env: any(part(env) for part in parts)

    def parse_and() -> Evaluator:
        parts = [parse_not()]
        while peek() == "&&":
            take()
            parts.append(parse_not())
        if len(parts) == 1:
            return parts[0]
        return lambda env: all(part(env) for part in parts)

    def parse_not() -> Evaluator:
        if peek() == "!":
            take()
            inner = parse_not()
            return lambda env: not inner(env)
        return parse_atom()

    def parse_atom() -> Evaluator:
        token = peek()
        if token is None:
            raise DependsError(f"depends {text!r}: unexpected end of expression")
        take()
        if token == "(":
            inner = parse_or()
            if peek() != ")":
                raise DependsError(f"depends {text!r}: missing ')'")
            take()
            return inner
        if token in ("||", "&&", ")"):
            raise DependsError(f"depends {text!r}: unexpected {token!r}")
        name, _, result = token.partition(".")
        if result and result not in RESULTS:
            raise DependsError(
                f"depends {text!r}: unknown result {result!r} of task {name!r}; use one of {', '.join(RESULTS)}"
            )
        if name not in names:
            names.append(name)
        wanted = result or None

        def atom(env: Mapping[str, TaskOutcome]) -> bool:
            outcome = env.get(name)
            return outcome is not None and _result(outcome, wanted)

        return atom

    evaluator = parse_or()
    if index != len(tokens):
        raise DependsError(f"depends {text!r}: unexpected {tokens[index]!r}")
    return Depends(text=text, tasks=tuple(names), evaluate=evaluator)


def depends_of(task: Mapping[str, object]) -> Depends | None:
    """The task's dependency condition from `depends` or `dependencies`; None when it has neither."""
    depends = task.get("depends")
    if isinstance(depends, str) and depends.strip():
        return parse_depends(depends)
    dependencies = task.get("dependencies")
    if isinstance(dependencies, list) and dependencies:
        return parse_depends(" && ".join(str(d) for d in dependencies))
    return None
