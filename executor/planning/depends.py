"""DAG `depends` / `dependencies` evaluation as Argo does it (pure), on webhook.expressions' parser.

A bare `A` means `A.Succeeded || A.Skipped || A.Daemoned`; when task A has `continueOn` the bare form also accepts
the phases it continues on (`failed` -> Failed, `error` -> Error), as Argo's ancestry expansion does for bare names.
`dependencies: [A, B]` is `A && B`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from webhook.expressions import DependsExpr, ExpressionError, depends_from_dependencies, parse_depends


class DependsError(ValueError):
    """A `depends` expression that cannot be parsed; the message says where."""


@dataclass(frozen=True)
class TaskOutcome:
    """What a dependency ended as."""

    phase: str  # node phase: Succeeded, Failed, Error, Skipped, Omitted
    continue_on_failed: bool = False
    continue_on_error: bool = False
    any_succeeded: bool = False
    all_failed: bool = False
    daemoned: bool = False  # a daemon step running and ready (Argo's `Daemoned`; the phase stays Running)


@dataclass(frozen=True)
class Depends:
    text: str
    tasks: tuple[str, ...]  # the task names referenced, in first-appearance order
    parsed: DependsExpr
    bare_only: frozenset[str]  # tasks only ever named bare (continueOn widening applies to them)

    def evaluate(self, outcomes: Mapping[str, TaskOutcome]) -> bool:
        def outcome(task: str, result: str) -> bool:
            found = outcomes.get(task)
            if found is None:
                return False
            phase = found.phase
            if result == "Errored":
                return phase == "Error"
            if result == "Daemoned":
                return found.daemoned
            if result == "AnySucceeded":
                return found.any_succeeded
            if result == "AllFailed":
                return found.all_failed
            widened = (found.continue_on_failed and phase == "Failed") or (found.continue_on_error and phase == "Error")
            if result == "Succeeded" and task in self.bare_only and widened:
                return True
            return phase == result

        return self.parsed.evaluate(outcome)


def _compile(text: str) -> Depends:
    try:
        parsed = parse_depends(text)
    except ExpressionError as exc:
        raise DependsError(str(exc)) from exc
    names: list[str] = []
    explicit: set[str] = set()
    for task, result in parsed.references():
        if task not in names:
            names.append(task)
        if result is not None:
            explicit.add(task)
    return Depends(text, tuple(names), parsed, frozenset(n for n in names if n not in explicit))


_CACHE: dict[str, Depends] = {}


def depends_of(task: Mapping[str, object]) -> Depends | None:
    """The task's dependency condition from `depends` or `dependencies`; None when it has neither."""
    depends = task.get("depends")
    if isinstance(depends, str) and depends.strip():
        text = depends
    else:
        dependencies = task.get("dependencies")
        if not isinstance(dependencies, list) or not dependencies:
            return None
        text = depends_from_dependencies(str(d) for d in dependencies)
    found = _CACHE.get(text)
    if found is None:
        found = _compile(text)
        if len(_CACHE) < 4096:
            _CACHE[text] = found
    return found
