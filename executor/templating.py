"""Template substitution: Argo's `{{...}}` simple tags and `{{= expr}}` expression tags. Pure: no I/O, no clock.

The one module that owns substitution (STYLE 5). The planner builds a flat map of variable names to string values
for a node, and substitutes a template's fields in stages, as Argo does: first with what is known (inputs,
workflow globals, item), leaving later variables (`outputs.*`, `pod.name`, `retries`, ...) for a later pass.

API (stable):
    Scope(values, parent=None)             a flat, read-only Mapping[str, str | None] of variable names
                                           ("inputs.parameters.x", "workflow.name", "tasks.a.outputs.result",
                                           "item", "item.key", ...); None means absent (a skipped producer's
                                           output): `??` sees nil, a simple tag fails. `parent` chains a scope
                                           (per-node variables over workflow globals) without copying.
        .env                               the nested expression environment, built once (see below)
        .child(values) -> Scope            a scope layered over this one
    build_expression_env(flat) -> dict     nests dotted names: inputs.parameters['x'], tasks.a.outputs.parameters.p
                                           (a name that also has children, e.g. workflow.creationTimestamp, becomes
                                           a map of its children, as Argo's expand does)
    substitute(value, scope, *, strict=True, leave=()) -> same shape
                                           deep over str/list/dict (keys too, as Argo substitutes the template's
                                           JSON as a whole); other values are returned as they are
    substitute_string(text, scope, *, strict=True, leave=()) -> str
        strict=True:  an unresolved simple tag raises TemplatingError("failed to resolve {{inputs.parameters.msg}}");
                      an expression that fails raises TemplatingError("failed to evaluate expression {{=...}}: ...")
        strict=False: unresolved tags, failing expressions and expressions that read a variable the scope does not
                      define yet stay as they are (Argo's allowUnresolved; e.g. workflow.status before exit handlers)
        leave:        name prefixes ("outputs.", "pod.name") left untouched even when strict; an expression tag is
                      left when any variable it reads starts with one of them
    evaluate_expression(text, scope, *, now=None) -> Any
                                           a bare `expression:` field (valueFrom.expression, retryStrategy.expression,
                                           hooks): simple tags substituted first (strict), then evaluated
    unresolved_names(value, scope) -> list[str]
                                           simple-tag names in `value` the scope lacks (planner diagnostics)
    creation_timestamp_vars(dt) -> dict[str, str]
                                           workflow.creationTimestamp, .RFC3339, .s and .<strftime char> (UTC)
    TemplatingError(message, variable=)    .message == str(error); .variable: the tag's text between the braces
    MAX_SUBSTITUTED_LENGTH                 characters substituted values may add to one substitute() call (8 MiB):
                                           a Job must fit in etcd, and a hostile template must not exhaust memory

Values are inserted into strings as they are (Argo JSON-escapes them into the template's JSON text, which decodes to
the same string). Expression results are written as Argo writes them (webhook.expressions.format_result: strings
as they are, anything else as JSON).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from webhook.expressions import ExpressionError, Tag, compile_expression, find_tags, format_result

__all__ = [
    "MAX_SUBSTITUTED_LENGTH",
    "Scope",
    "TemplatingError",
    "build_expression_env",
    "creation_timestamp_vars",
    "evaluate_expression",
    "substitute",
    "substitute_string",
    "unresolved_names",
]


class TemplatingError(Exception):
    """A tag could not be substituted. The message follows Argo's wording ("failed to resolve {{...}}")."""

    def __init__(self, message: str, *, variable: str = "") -> None:
        self.message = message
        self.variable = variable
        super().__init__(message)


class Scope(Mapping[str, "str | None"]):
    """Variables visible to a template: flat names to string values (None = absent), optionally over a parent."""

    __slots__ = ("_env", "_parent", "_values")

    def __init__(self, values: Mapping[str, str | None] | None = None, parent: Scope | None = None) -> None:
        self._values: Mapping[str, str | None] = values if values is not None else {}
        self._parent = parent
        self._env: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> str | None:
        if key in self._values:
            return self._values[key]
        if self._parent is not None:
            return self._parent[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._values or (self._parent is not None and key in self._parent)

    def __iter__(self) -> Iterator[str]:
        seen = set(self._values)
        yield from self._values
        if self._parent is not None:
            for key in self._parent:
                if key not in seen:
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def child(self, values: Mapping[str, str | None]) -> Scope:
        """A scope with `values` over this one (the child's values win)."""
        return Scope(values, self)

    @property
    def env(self) -> dict[str, Any]:
        """The nested environment expressions see; built on first use, then reused."""
        if self._env is None:
            if self._parent is None:
                self._env = build_expression_env(self._values)
            else:  # reuse the parent's environment; copy only the maps this scope's names change
                self._env = _overlay(self._parent.env, self._values)
        return self._env


def build_expression_env(flat: Mapping[str, str | None]) -> dict[str, Any]:
    """Nest dotted names into maps: {"inputs.parameters.x": "1"} -> {"inputs": {"parameters": {"x": "1"}}}.

    Like Argo (util/expand), when a name also has children ("item" and "item.key", "workflow.creationTimestamp" and
    "workflow.creationTimestamp.Y") the less specific value gives way to the map of children.
    """
    env: dict[str, Any] = {}
    for name in sorted(flat, key=lambda key: key.count(".")):
        value = flat[name]
        parts = name.split(".")
        node = env
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        leaf = parts[-1]
        if isinstance(node.get(leaf), dict):
            continue  # a more specific name already made this a map (cannot happen with sorted order; kept safe)
        node[leaf] = value
    return env


def _overlay(base: dict[str, Any], flat: Mapping[str, str | None]) -> dict[str, Any]:
    """`base` with `flat`'s names set (nested), sharing every map of `base` that no name touches."""
    env = dict(base)
    copied = {id(env)}
    for name in sorted(flat, key=lambda key: key.count(".")):
        parts = name.split(".")
        node = env
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
            elif id(child) not in copied:
                child = dict(child)
            copied.add(id(child))
            node[part] = child
            node = child
        node[parts[-1]] = flat[name]
    return env


def _scope_env(scope: Mapping[str, str | None]) -> Mapping[str, Any]:
    if isinstance(scope, Scope):
        return scope.env
    return build_expression_env(scope)


def _reads_undefined(references: Iterable[tuple[str | int, ...]], env: Mapping[str, Any]) -> bool:
    """True when a variable path the expression reads is not in `env` yet (a map on the way lacks the key)."""
    for path in references:
        node: Any = env
        for part in path:
            if not isinstance(node, Mapping) or not isinstance(part, str):
                break  # a value (or an index into one): defined as far as names go
            if part not in node:
                return True
            node = node[part]
    return False


def _leaves(name: str, leave: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix) for prefix in leave)


@functools.lru_cache(maxsize=4096)
def _expression_names(body: str) -> tuple[str, ...]:
    """Dotted names an expression reads ("inputs.parameters.x"), for `leave` decisions. Empty when it won't parse."""
    try:
        expression = compile_expression(body)
    except ExpressionError:
        return ()
    return tuple(".".join(str(part) for part in path) for path in expression.references())


class _Substituter:
    __slots__ = ("budget", "env", "leave", "scope", "strict")

    def __init__(self, scope: Mapping[str, str | None], strict: bool, leave: tuple[str, ...]) -> None:
        self.scope = scope
        self.strict = strict
        self.leave = leave
        self.env: Mapping[str, Any] | None = None
        self.budget = MAX_SUBSTITUTED_LENGTH  # characters that substituted values may still add in this call

    def string(self, text: str) -> str:
        if "{{" not in text:
            return text
        tags = find_tags(text)
        if not tags:
            return text
        out: list[str] = []
        last = 0
        for tag in tags:
            out.append(text[last : tag.start])
            value = self.tag(text, tag)
            self.budget -= len(value)
            if self.budget < 0:
                raise TemplatingError(
                    f"substituting {text[tag.start : tag.end]} makes the template larger than "
                    f"{MAX_SUBSTITUTED_LENGTH} characters; pass large values as artifacts instead of parameters",
                    variable=text[tag.start + 2 : tag.end - 2],
                )
            out.append(value)
            last = tag.end
        out.append(text[last:])
        return "".join(out)

    def tag(self, text: str, tag: Tag) -> str:
        raw = text[tag.start : tag.end]
        if tag.kind == "simple":
            name = tag.body
            if self.leave and _leaves(name, self.leave):
                return raw
            value = self.scope.get(name) if name in self.scope else _MISSING
            if isinstance(value, str):
                return value
            if value is not None and value is not _MISSING:
                return format_result(value)
            if not self.strict:
                return raw
            if value is None:
                raise TemplatingError(
                    f"failed to resolve {raw}: the value is absent (its producer did not run); give the output "
                    "parameter a default, or use an expression with ?? to choose a fallback",
                    variable=raw[2:-2],
                )
            raise TemplatingError(f"failed to resolve {raw}", variable=raw[2:-2])
        if self.leave and any(_leaves(name, self.leave) for name in _expression_names(tag.body)):
            return raw
        try:
            expression = compile_expression(tag.body)
            if self.env is None:
                self.env = _scope_env(self.scope)
            if not self.strict and _reads_undefined(expression.references(), self.env):
                return raw  # a later stage defines it (Argo: retries, lastRetry.*, workflow.status, outputs...)
            result = expression.evaluate(self.env)
        except ExpressionError as error:
            if not self.strict:
                return raw
            raise TemplatingError(f"failed to evaluate expression {raw}: {error.message}", variable=raw[2:-2]) from None
        if result is None:
            if not self.strict:
                return raw
            raise TemplatingError(
                f"failed to evaluate expression {raw}: the result is nil; use ?? to give a fallback",
                variable=raw[2:-2],
            )
        return format_result(result)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.value(item) for item in value)
        if isinstance(value, Mapping):
            return {self.string(key) if isinstance(key, str) else key: self.value(item) for key, item in value.items()}
        return value


_MISSING: Any = object()
MAX_SUBSTITUTED_LENGTH = 8 * 1024 * 1024  # characters substituted values may add to one value (a Job must fit etcd)


def substitute(value: Any, scope: Mapping[str, str | None], *, strict: bool = True, leave: Iterable[str] = ()) -> Any:
    """Substitute every tag in `value` (deep over str/list/tuple/dict, keys included). Returns a new value; the
    input is never modified. See the module docstring for strict and leave."""
    return _Substituter(scope, strict, tuple(leave)).value(value)


def substitute_string(
    text: str, scope: Mapping[str, str | None], *, strict: bool = True, leave: Iterable[str] = ()
) -> str:
    """Substitute every tag in one string."""
    return _Substituter(scope, strict, tuple(leave)).string(text)


def evaluate_expression(text: str, scope: Mapping[str, str | None], *, now: datetime | None = None) -> Any:
    """Evaluate a bare `expression:` field: simple tags are substituted first (strict; e.g. retry-conditional's
    `{{inputs.parameters.safe-to-retry}} == true`), then the text is evaluated as expr-lang over the scope.
    Raises TemplatingError for a tag that does not resolve and ExpressionError for the expression itself."""
    substituted = substitute_string(text, scope, strict=True)
    return compile_expression(substituted).evaluate(_scope_env(scope), now=now)


def unresolved_names(value: Any, scope: Mapping[str, str | None]) -> list[str]:
    """Simple-tag names in `value` (deep) that `scope` does not define, in order, without duplicates."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, str):
            if "{{" in item:
                for tag in find_tags(item):
                    if tag.kind == "simple" and tag.body not in scope and tag.body not in found:
                        found.append(tag.body)
        elif isinstance(item, list | tuple):
            for child in item:
                walk(child)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                walk(key)
                walk(child)

    walk(value)
    return found


# ---------------------------------------------------------------------------------------------------------------
# workflow.creationTimestamp.<strftime char>
# ---------------------------------------------------------------------------------------------------------------

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
)  # fmt: skip


def _strftime(moment: datetime, char: str) -> str:
    """One strftime conversion, locale-free (C locale), as Argo's strftime package formats it."""
    hour12 = moment.hour % 12 or 12
    iso_year, iso_week, iso_day = moment.isocalendar()
    day_of_year = moment.timetuple().tm_yday
    sunday_week = (day_of_year + 6 - (moment.weekday() + 1) % 7) // 7
    monday_week = (day_of_year + 6 - moment.weekday()) // 7
    table = {
        "a": _DAYS[moment.weekday()][:3],
        "A": _DAYS[moment.weekday()],
        "b": _MONTHS[moment.month - 1][:3],
        "B": _MONTHS[moment.month - 1],
        "c": f"{_DAYS[moment.weekday()][:3]} {_MONTHS[moment.month - 1][:3]} {moment.day:2d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {moment.year}",
        "C": f"{moment.year // 100:02d}",
        "d": f"{moment.day:02d}",
        "D": f"{moment.month:02d}/{moment.day:02d}/{moment.year % 100:02d}",
        "e": f"{moment.day:2d}",
        "F": f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}",
        "g": f"{iso_year % 100:02d}",
        "G": f"{iso_year:04d}",
        "h": _MONTHS[moment.month - 1][:3],
        "H": f"{moment.hour:02d}",
        "I": f"{hour12:02d}",
        "j": f"{day_of_year:03d}",
        "k": f"{moment.hour:2d}",
        "l": f"{hour12:2d}",
        "m": f"{moment.month:02d}",
        "M": f"{moment.minute:02d}",
        "n": "\n",
        "p": "PM" if moment.hour >= 12 else "AM",
        "P": "pm" if moment.hour >= 12 else "am",
        "r": f"{hour12:02d}:{moment.minute:02d}:{moment.second:02d} {'PM' if moment.hour >= 12 else 'AM'}",
        "R": f"{moment.hour:02d}:{moment.minute:02d}",
        "s": str(int(moment.timestamp())),
        "S": f"{moment.second:02d}",
        "t": "\t",
        "T": f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}",
        "u": str(iso_day),
        "U": f"{sunday_week:02d}",
        "V": f"{iso_week:02d}",
        "w": str((moment.weekday() + 1) % 7),
        "W": f"{monday_week:02d}",
        "x": f"{moment.month:02d}/{moment.day:02d}/{moment.year % 100:02d}",
        "X": f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}",
        "y": f"{moment.year % 100:02d}",
        "Y": f"{moment.year:04d}",
        "z": "+0000",
        "Z": "UTC",
    }
    return table[char]


STRFTIME_CHARS = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ"


def creation_timestamp_vars(created: datetime) -> dict[str, str]:
    """The workflow.creationTimestamp variables for a creation time (converted to UTC; naive means UTC):
    `workflow.creationTimestamp` and `.RFC3339` (2024-05-06T07:08:09Z) and one per strftime character
    (`.Y` 2024, `.m` 05, `.d` 06, `.H` 07, `.s` unix seconds, ...)."""
    return dict(_creation_timestamp_vars(created))  # every planning pass asks again: computed once per time


@functools.lru_cache(maxsize=256)
def _creation_timestamp_vars(created: datetime) -> dict[str, str]:
    moment = (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(UTC)
    rfc3339 = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    names = {"workflow.creationTimestamp": rfc3339, "workflow.creationTimestamp.RFC3339": rfc3339}
    for char in STRFTIME_CHARS:
        names[f"workflow.creationTimestamp.{char}"] = _strftime(moment, char)
    return names
