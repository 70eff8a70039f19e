"""A small builder for the Argo API's types, rendered two ways: a strict JSON Schema and a structural CRD schema.

Pure: no I/O. A type is a tree of frozen nodes built with the functions at the bottom of this module
(`string()`, `integer()`, `obj(...)`, `list_of(...)`, `ref("Template")`, `k8s("Container")`, ...).
`webhook.schema.argo` describes the Argo types with them; `webhook.schema.validator` renders them strictly
(every object closed with `additionalProperties: false`, Kubernetes types pulled from kubernetes_validate's
core/v1 definitions) and `webhook.schema.crd` renders them structurally and shallowly for the CRDs.

Invariants:
- An optional field also accepts JSON `null`: YAML writes an empty value (`args:`) as null, and both Kubernetes
  (which prunes nulls of non-nullable fields) and Argo's Go decoder treat null as "not set". For the same reason
  a *required* field that is null counts as missing, and a null list item or map value is refused (the API
  server keeps those, and the CRD's item types refuse them): webhook.schema.strict renders these without null.
- `any_string()` is Argo's AnyString (parameter `value`/`default`/`enum`/`description`): YAML numbers and booleans
  are accepted because Argo stringifies them; lists and objects are refused because Argo silently drops them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ScalarKind = Literal["string", "integer", "number", "boolean", "int-or-string", "any-string", "any"]


@dataclass(frozen=True)
class Scalar:
    kind: ScalarKind
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    placeholders: bool = True  # a `{{...}}` string is accepted in place of an enum value


@dataclass(frozen=True)
class ListOf:
    item: Node


@dataclass(frozen=True)
class MapOf:
    value: Node


@dataclass(frozen=True, eq=False)
class Object:
    """An object with known fields. `open` objects (Argo's plugin blocks) accept any extra field."""

    title: str
    fields: Mapping[str, Node]
    required: tuple[str, ...] = ()
    open: bool = False


@dataclass(frozen=True)
class Ref:
    """A reference to a named Argo type in `webhook.schema.argo.DEFINITIONS`."""

    name: str


@dataclass(frozen=True, eq=False)
class K8s:
    """A Kubernetes type from kubernetes_validate's definitions (`Container` -> io.k8s.api.core.v1.Container).

    `extra` adds Argo's fields to it (a script template is a Container plus `source`); `optional` lists fields the
    Kubernetes type requires but Argo does not (a template's `container.name` defaults to `main`).
    """

    name: str
    extra: Mapping[str, Node] = field(default_factory=dict)
    optional: tuple[str, ...] = ()
    title: str = ""

    @property
    def definition(self) -> str:
        if self.name.startswith("io.k8s."):
            return self.name
        return f"io.k8s.api.core.v1.{self.name}"


Node = Scalar | ListOf | MapOf | Object | Ref | K8s


# --- builders ----------------------------------------------------------------------------------------------------


def string(*enum: str, placeholders: bool = True) -> Scalar:
    """A string; with `enum`, one of those values or (unless placeholders=False) a `{{...}}` placeholder."""
    return Scalar("string", enum=enum, placeholders=placeholders)


def integer(*, minimum: int | None = None, maximum: int | None = None) -> Scalar:
    return Scalar("integer", minimum=minimum, maximum=maximum)


def number() -> Scalar:
    return Scalar("number")


def boolean() -> Scalar:
    return Scalar("boolean")


def int_or_string() -> Scalar:
    """Kubernetes IntOrString (`retryStrategy.limit: 3` or `"{{inputs.parameters.n}}"`)."""
    return Scalar("int-or-string")


def any_string() -> Scalar:
    """Argo's AnyString: a string, or a number/boolean that Argo turns into its string form."""
    return Scalar("any-string")


def any_value() -> Scalar:
    """Any JSON value (Argo's Item in `withItems`)."""
    return Scalar("any")


def list_of(item: Node) -> ListOf:
    return ListOf(item)


def map_of(value: Node) -> MapOf:
    return MapOf(value)


def obj(title: str, fields: Mapping[str, Node], *, required: tuple[str, ...] = (), open: bool = False) -> Object:
    return Object(title, dict(fields), required, open)


def ref(name: str) -> Ref:
    return Ref(name)


def k8s(name: str, *, extra: Mapping[str, Node] | None = None, optional: tuple[str, ...] = (), title: str = "") -> K8s:
    return K8s(name, dict(extra or {}), optional, title)
