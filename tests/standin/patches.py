"""Patch formats and selectors of the Kubernetes API, as the stand-in applies them. Pure: no I/O.

- `merge_patch`: RFC 7386 JSON merge patch (`application/merge-patch+json`).
- `json_patch`: RFC 6902 JSON patch (`application/json-patch+json`), via the `jsonpatch` package.
- `strategic_merge_patch`: the subset of strategic merge patch that kubectl and the Python client produce for
  built-in kinds: lists named in `MERGE_KEYS` merge element-wise by their key (containers by `name`, conditions
  by `type`, ...), `finalizers` merges as a set, `$patch: delete|replace`, `$setElementOrder/<list>`,
  `$deleteFromPrimitiveList/<list>` and `$retainKeys` are honoured; every other list is replaced (as in merge
  patch). The merge keys come from this table, not from the Go types, so a list the table does not know is
  replaced where the real server would merge it.
- `LabelSelector` / `FieldSelector`: the query-string selector grammars (`=`, `==`, `!=`, `in`, `notin`,
  exists, `!key`), and `match_label_selector` for the structured `matchLabels`/`matchExpressions` form.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonpatch

JSON = dict[str, Any]

# field name -> merge key, for lists that strategic merge patch merges element-wise (k8s.io/api's patchMergeKey).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "ephemeralContainerStatuses": "name",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "secrets": "name",
}
# Lists of scalars merged as sets (patchStrategy=merge on a primitive list).
SET_LISTS = frozenset({"finalizers"})
# `ports` merges by containerPort in containers and by port in services.
PORT_KEYS = ("containerPort", "port")


class PatchError(ValueError):
    """The patch cannot be applied; the message says why (the caller returns 422 or 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: JSON = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: JSON, operations: Any) -> JSON:
    """RFC 6902 operations; a failing `test` or a bad path raises PatchError with jsonpatch's message."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    try:
        result = jsonpatch.JsonPatch(operations).apply(copy.deepcopy(target))
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
        raise PatchError(str(exc)) from exc
    if not isinstance(result, dict):
        raise PatchError("the JSON patch must leave an object")
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch restricted to the strategies listed in the module docstring."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result: JSON = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = list(value or [])
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    for name, order in orders.items():
        result[name] = _apply_order(name, result.get(name) or [], order)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_key(name: str, items: list[Any]) -> str | None:
    if name == "ports":
        for key in PORT_KEYS:
            if items and all(isinstance(i, dict) and key in i for i in items):
                return key
        return None
    return MERGE_KEYS.get(name)


def _merge_list(name: str, current: Any, patch: list[Any]) -> list[Any]:
    current_list = list(current) if isinstance(current, list) else []
    if name in SET_LISTS:
        return current_list + [v for v in patch if v not in current_list]
    key = _merge_key(name, patch or current_list)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy([i for i in patch if not (isinstance(i, dict) and i.get("$patch"))])
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy({k: v for k, v in i.items() if k != "$patch"}) for i in patch if len(i) > 1]
    result = copy.deepcopy(current_list)
    for item in patch:
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        index = next((n for n, c in enumerate(result) if isinstance(c, dict) and c.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(strategic_merge_patch({}, item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _apply_order(name: str, items: list[Any], order: list[Any]) -> list[Any]:
    if not order:
        return items
    key = _merge_key(name, [o for o in order if isinstance(o, dict)])

    def ident(value: Any) -> Any:
        return value.get(key) if key and isinstance(value, dict) else value

    wanted = [ident(o) for o in order]
    ordered = sorted(items, key=lambda i: wanted.index(ident(i)) if ident(i) in wanted else len(wanted))
    return ordered


# ---------------------------------------------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<nkey>[^\s,=!()]+)"
    r"|(?P<key>[^\s,=!()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, value: str | None) -> bool:
        if self.op == "exists":
            return value is not None
        if self.op == "!":
            return value is None
        if self.op in ("=", "in"):
            return value is not None and value in self.values
        return value is None or value not in self.values  # != and notin match absent keys too


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`; raises ValueError with the offending part."""
        requirements: list[Requirement] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _REQUIREMENT.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError(f"unable to parse requirement: {text[pos:]!r}")
            if match["nkey"]:
                requirements.append(Requirement(match["nkey"], "!"))
            elif match["op"]:
                op = "!=" if match["op"] == "!=" else "="
                requirements.append(Requirement(match["key"], op, (match["value"],)))
            elif match["setop"]:
                values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
                requirements.append(Requirement(match["key"], match["setop"], values))
            else:
                requirements.append(Requirement(match["key"], "exists"))
            pos = match.end()
        return cls(tuple(requirements))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels.get(r.key)) for r in self.requirements)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        """Parse `metadata.name=x,status.phase!=Running` (only =, == and != exist for fields)."""
        requirements: list[Requirement] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", part)
            if not match:
                raise ValueError(f"invalid field selector: {part!r}: expected key=value or key!=value")
            op = "!=" if match[2] == "!=" else "="
            requirements.append(Requirement(match[1], op, (match[3],)))
        return cls(tuple(requirements))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.requirements)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for r in self.requirements:
            value: Any = obj
            for part in r.key.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            text = "" if value is None else str(value)
            if not (text in r.values if r.op == "=" else text not in r.values):
                return False
        return True


def match_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """The structured form (`matchLabels`, `matchExpressions` with In/NotIn/Exists/DoesNotExist); None = all."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(str(expr.get("operator")))
        if op is None:
            return False
        if not Requirement(str(expr.get("key")), op, tuple(expr.get("values") or ())).matches(
            labels.get(str(expr.get("key")))
        ):
            return False
    return True
