"""The stand-in's state: objects, the global resourceVersion counter, the event history watches resume from,
garbage collection, finalizers, admission. Thread-safe (one lock); HTTP lives in server.py.

Every write goes through `_commit`, which assigns the next resourceVersion and appends a watch event, so the
history is totally ordered and a watch from resourceVersion N sees exactly the writes after N.
"""

from __future__ import annotations

import bisect
import copy
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .admission import AdmissionRequest, Verdict, run_webhooks
from .crdschema import Cause, admit_custom_object
from .patches import JSON, FieldSelector, LabelSelector, PatchError, json_patch, merge_patch, strategic_merge_patch
from .types import BUILTIN_TYPES, ResourceType, crd_problems, crd_types, metadata_problems

ObjectKey = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand: no vowels, no confusables


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An error answer: `status` is the complete `kind: Status` object; `code` its HTTP status."""

    def __init__(self, code: int, reason: str, message: str, details: JSON | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if details is not None:
            self.status["details"] = details

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> ApiError:
        err = cls(int(status.get("code") or 500), str(status.get("reason", "")), str(status.get("message", "")))
        err.status = dict(status)
        return err


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{rt.qualified} "{name}" not found', {"name": name, "group": rt.group, "kind": rt.plural}
    )


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{rt.qualified} "{name}" already exists',
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


def conflict(rt: ResourceType, name: str, why: str = "") -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
        {"name": name, "group": rt.group, "kind": rt.plural},
    )


def invalid(rt: ResourceType, name: str, causes: Iterable[Cause]) -> ApiError:
    causes = list(causes)
    what = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    joined = str(causes[0]) if len(causes) == 1 else "[" + ", ".join(str(c) for c in causes) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{what} "{name}" is invalid: {joined}',
        {"name": name, "group": rt.group, "kind": rt.kind, "causes": [c.as_dict() for c in causes]},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    store_key: tuple[str, str]
    namespace: str
    obj: JSON
    old: JSON | None


@dataclass
class Fault:
    """Act on the next `times` requests matching verb/resource (and namespace/name when given): wait `delay`
    seconds, then close the connection without an answer (`disconnect`), or fail with `code`, or (code 0) serve
    the request normally (a slow API server)."""

    verb: str  # get, list, watch, create, update, patch, delete, deletecollection, or "*"
    resource: str  # plural ("jobs", "workflows", "workflows/status") or "*"
    code: int
    times: int = 1
    namespace: str | None = None
    name: str | None = None
    message: str = ""
    retry_after: int = 1  # seconds, sent with 429 as Retry-After
    delay: float = 0.0
    disconnect: bool = False

    def matches(self, verb: str, resource: str, namespace: str, name: str) -> bool:
        return (
            self.times > 0
            and self.verb in ("*", verb)
            and self.resource in ("*", resource)
            and self.namespace in (None, namespace)
            and self.name in (None, name)
        )

    def error(self) -> ApiError:
        reasons = {
            409: "Conflict",
            429: "TooManyRequests",
            500: "InternalError",
            503: "ServiceUnavailable",
            504: "Timeout",
            403: "Forbidden",
            404: "NotFound",
        }
        message = self.message or {
            409: "Operation cannot be fulfilled: the object has been modified; please apply your changes to the "
            "latest version and try again (injected)",
            429: "Too many requests, please try again later. (injected)",
        }.get(self.code, f"injected fault {self.code}")
        err = ApiError(self.code, reasons.get(self.code, "Unknown"), message)
        if self.code == 429:
            err.status["details"] = {"retryAfterSeconds": self.retry_after}
        return err


@dataclass(frozen=True)
class RequestRecord:
    verb: str
    resource: str  # plural, with "/status" or "/log" for subresources
    namespace: str
    name: str
    code: int
    user_agent: str = ""


@dataclass
class Store:
    event_window: int = 10_000  # watch events kept; a watch from before them gets 410 Gone
    service_hosts: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def __post_init__(self) -> None:
        self.lock = threading.Condition(threading.RLock())
        self.types: dict[tuple[str, str, str], ResourceType] = {}
        self.objects: dict[tuple[str, str], dict[ObjectKey, JSON]] = {}
        self.by_uid: dict[str, tuple[tuple[str, str], ObjectKey]] = {}  # uid -> where the object is
        self.owned: dict[str, set[tuple[tuple[str, str], ObjectKey]]] = {}  # owner uid -> its dependents
        self.rv = 0
        self.events: list[WatchEvent] = []
        self.compacted_through = 0  # watches need resourceVersion >= this
        self.watch_epoch = 0  # bumped by drop_watches(): open watch streams end
        self.stopping = False
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self.pod_logs: dict[tuple[str, str, str], str] = {}
        self.local = threading.local()  # per request: .warnings (sent as Warning headers)
        for rt in BUILTIN_TYPES:
            self.types[(rt.group, rt.version, rt.plural)] = rt
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(self.type_for("", "v1", "namespaces"), "", {"metadata": {"name": ns}})

    # -- types --------------------------------------------------------------------------------------------------

    def type_for(self, group: str, version: str, plural: str) -> ResourceType:
        with self.lock:
            rt = self.types.get((group, version, plural))
        if rt is None:
            gv = f"{group}/{version}" if group else version
            raise ApiError(
                404,
                "NotFound",
                f"the server could not find the requested resource ({plural} in {gv})",
                {"group": group, "kind": plural},
            )
        return rt

    def type_by_kind(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        with self.lock:
            for rt in self.types.values():
                if rt.group == group and rt.version == version and rt.kind == kind:
                    return rt
        raise bad_request(f'no matches for kind "{kind}" in version "{api_version}"')

    # -- reads --------------------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        with self.lock:
            obj = self.objects.get(rt.store_key, {}).get((namespace if rt.namespaced else "", name))
            if obj is None:
                raise not_found(rt, name)
            return self._present(rt, obj)

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str,
        *,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
    ) -> tuple[list[JSON], int]:
        with self.lock:
            items = [
                self._present(rt, obj)
                for (ns, _), obj in sorted(self.objects.get(rt.store_key, {}).items())
                if (not namespace or ns == namespace) and self.selected(obj, label_selector, field_selector)
            ]
            return items, self.rv

    @staticmethod
    def selected(obj: JSON | None, labels: LabelSelector | None, fields: FieldSelector | None) -> bool:
        if obj is None:
            return False
        if labels and not labels.matches(obj.get("metadata", {}).get("labels") or {}):
            return False
        return not (fields and not fields.matches(obj))

    def _present(self, rt: ResourceType, obj: JSON) -> JSON:
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version  # stored once for every version: no conversion
        out["kind"] = rt.kind
        return out

    # -- writes -------------------------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: JSON, *, dry_run: bool = False) -> JSON:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        namespace = namespace if rt.namespaced else ""
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = namespace or meta.get("namespace") or ""
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(self.rng.choice(NAME_ALPHABET) for _ in range(5))
            else:
                raise invalid(
                    rt,
                    "",
                    [Cause("metadata.name", "Required value: name or generateName is required", "FieldValueRequired")],
                )
        name = str(meta["name"])
        meta["uid"] = str(uuid.uuid4())
        obj = self._admit_schema(rt, name, obj)
        obj = self._default(rt, obj)
        verdict = self._admission(rt, "CREATE", namespace, name, obj, None, dry_run)
        obj = verdict.obj or obj
        with self.lock:
            if rt.namespaced:
                nsobj = self.objects.get(("", "namespaces"), {}).get(("", namespace))
                if nsobj is None:
                    raise ApiError(
                        404,
                        "NotFound",
                        f'namespaces "{namespace}" not found',
                        {"name": namespace, "kind": "namespaces"},
                    )
                if nsobj["metadata"].get("deletionTimestamp"):
                    raise ApiError(
                        403,
                        "Forbidden",
                        f'{rt.plural} "{name}" is forbidden: unable to create new '
                        f"content in namespace {namespace} because it is being terminated",
                    )
            key = (namespace, name)
            if key in self.objects.get(rt.store_key, {}):
                raise already_exists(rt, name)
            meta = obj["metadata"]
            if rt.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
                meta.pop(transient, None)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            if dry_run:
                return self._present(rt, obj)
            self._commit(rt, key, obj, "ADDED", None)
            if rt.plural == "customresourcedefinitions":
                self._register_crd(obj)
            return self._present(rt, obj)

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        mutate: Callable[[JSON], JSON] | None = None,
    ) -> JSON:
        """PUT (body) or PATCH (mutate: current object -> patched object). resourceVersion in the body (or the
        patch) is a precondition: a stale one is 409 Conflict."""
        namespace = namespace if rt.namespaced else ""
        key = (namespace, name)
        with self.lock:
            current = self.objects.get(rt.store_key, {}).get(key)
            if current is None:
                raise not_found(rt, name)
            current = copy.deepcopy(current)
        new = mutate(self._present(rt, current)) if mutate else copy.deepcopy(body)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            new["metadata"] = meta = {}
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv not in (None, "") and str(wanted_rv) != current["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        if rt.crd and mutate is None and wanted_rv in (None, ""):
            # custom resources allow no unconditional update (PUT without resourceVersion)
            cause = Cause("metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")
            raise invalid(rt, name, [cause])
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if subresource == "status":
            merged = copy.deepcopy(current)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        else:
            if rt.has_status:
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
            for fixed in (
                "uid",
                "creationTimestamp",
                "namespace",
                "name",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generateName",
            ):
                if fixed in current["metadata"]:
                    new["metadata"][fixed] = current["metadata"][fixed]
                else:
                    new["metadata"].pop(fixed, None)
            new = self._admit_schema(rt, name, new)
            immutable = _immutable_changes(rt, current, new)
            if immutable:
                raise invalid(rt, name, immutable)
        new["metadata"]["generation"] = current["metadata"].get("generation", 1)
        if _spec_of(new) != _spec_of(current):
            new["metadata"]["generation"] += 1
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        verdict = self._admission(rt, "UPDATE", namespace, name, new, current, dry_run, subresource)
        new = verdict.obj or new
        with self.lock:
            latest = self.objects.get(rt.store_key, {}).get(key)
            if latest is None:
                raise not_found(rt, name)
            if latest["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]:
                raise conflict(rt, name)  # written by someone else while admission ran
            if dry_run:
                return self._present(rt, new)
            if _strip_rv(new) == _strip_rv(current):
                return self._present(rt, current)  # a no-op write keeps the resourceVersion, as the API server does
            if current["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                self._remove(rt, key, current)
                return self._present(rt, new)
            self._commit(rt, key, new, "MODIFIED", current)
            if rt.plural == "customresourcedefinitions":
                self._register_crd(new)
            return self._present(rt, new)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch: Any,
        content_type: str,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> JSON:
        if content_type == "application/strategic-merge-patch+json" and rt.crd:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            )

        def mutate(current: JSON) -> JSON:
            try:
                if content_type == "application/json-patch+json":
                    result = json_patch(current, patch)
                elif content_type == "application/merge-patch+json":
                    result = merge_patch(current, patch)
                elif content_type == "application/strategic-merge-patch+json":
                    result = strategic_merge_patch(current, patch)
                else:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        f"the body of the request was in an unknown format - {content_type} is not "
                        "supported by the stand-in (server-side apply is not emulated)",
                    )
            except PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from exc
            if not isinstance(result, dict):
                raise bad_request("the patch must leave an object")
            # Only a resourceVersion the patch sets is a precondition (merge patches keep the current one).
            explicit = isinstance(patch, dict) and (patch.get("metadata") or {}).get("resourceVersion")
            rv_now = current["metadata"].get("resourceVersion")
            rewritten = (
                content_type == "application/json-patch+json" and result["metadata"].get("resourceVersion") != rv_now
            )
            if not explicit and not rewritten:
                result["metadata"].pop("resourceVersion", None)
            return result

        return self.update(rt, namespace, name, {}, subresource=subresource, dry_run=dry_run, mutate=mutate)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[JSON, bool]:
        """Returns (object, gone). With finalizers the object stays with deletionTimestamp set (gone=False)."""
        namespace = namespace if rt.namespaced else ""
        key = (namespace, name)
        with self.lock:
            current = self.objects.get(rt.store_key, {}).get(key)
            if current is None:
                raise not_found(rt, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
                raise conflict(
                    rt,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, "
                    f"UID in object meta: {current['metadata']['uid']}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
                raise conflict(
                    rt,
                    name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                )
        self._admission(rt, "DELETE", namespace, name, None, copy.deepcopy(current), dry_run)
        with self.lock:
            current = self.objects.get(rt.store_key, {}).get(key)
            if current is None:
                raise not_found(rt, name)
            if dry_run:
                return self._present(rt, current), False
            if propagation is None:
                # batch/v1 Jobs default to orphaning their pods (the API server warns about it).
                propagation = "Orphan" if (rt.group, rt.plural) == ("batch", "jobs") else "Background"
                if propagation == "Orphan":
                    self.warn(
                        "child pods are preserved by default when jobs are deleted; set "
                        "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
                        "suppress this warning"
                    )
            if propagation == "Orphan":
                self._orphan_dependents(current["metadata"]["uid"])
            elif propagation == "Foreground":
                self._delete_dependents(current["metadata"]["uid"], "Foreground")
            if current["metadata"].get("finalizers"):
                if not current["metadata"].get("deletionTimestamp"):
                    new = copy.deepcopy(current)
                    new["metadata"]["deletionTimestamp"] = now_rfc3339()
                    new["metadata"]["deletionGracePeriodSeconds"] = 0
                    self._commit(rt, key, new, "MODIFIED", current)
                    return self._present(rt, new), False
                return self._present(rt, current), False
            self._remove(rt, key, current)
            return self._present(rt, current), True

    # -- internals (call with the lock held) ---------------------------------------------------------------------

    def _commit(self, rt: ResourceType, key: ObjectKey, obj: JSON, event: str, old: JSON | None) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        objects = self.objects.setdefault(rt.store_key, {})
        if key in objects:
            self._unindex(rt.store_key, key, objects[key])
        objects[key] = obj
        self._index(rt.store_key, key, obj)
        self._record(WatchEvent(self.rv, event, rt.store_key, key[0], copy.deepcopy(obj), old))

    def _record(self, event: WatchEvent) -> None:
        self.events.append(event)
        if len(self.events) > self.event_window:
            drop = len(self.events) - self.event_window
            self.compacted_through = self.events[drop - 1].rv
            del self.events[:drop]
        self.lock.notify_all()

    def _index(self, store_key: tuple[str, str], key: ObjectKey, obj: JSON) -> None:
        self.by_uid[obj["metadata"]["uid"]] = (store_key, key)
        for ref in obj["metadata"].get("ownerReferences") or []:
            self.owned.setdefault(str(ref.get("uid")), set()).add((store_key, key))

    def _unindex(self, store_key: tuple[str, str], key: ObjectKey, obj: JSON) -> None:
        self.by_uid.pop(obj["metadata"]["uid"], None)
        for ref in obj["metadata"].get("ownerReferences") or []:
            self.owned.get(str(ref.get("uid")), set()).discard((store_key, key))

    def _remove(self, rt: ResourceType, key: ObjectKey, current: JSON) -> None:
        del self.objects[rt.store_key][key]
        self._unindex(rt.store_key, key, current)
        self.rv += 1
        gone = copy.deepcopy(current)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._record(WatchEvent(self.rv, "DELETED", rt.store_key, key[0], gone, current))
        uid = current["metadata"]["uid"]
        if rt.plural == "customresourcedefinitions":
            self._unregister_crd(current)
        if rt.plural == "namespaces" and not rt.group:
            for store_key, objects in list(self.objects.items()):
                owner = self._any_type(store_key)
                for obj_key in [k for k in objects if k[0] == key[1]]:
                    if owner is not None and obj_key in objects:
                        self._remove(owner, obj_key, objects[obj_key])
        self._delete_dependents(uid, "Background")

    def _any_type(self, store_key: tuple[str, str]) -> ResourceType | None:
        return next((t for t in self.types.values() if t.store_key == store_key), None)

    def _dependents(self, uid: str) -> list[tuple[ResourceType, ObjectKey, JSON]]:
        found = []
        for store_key, key in sorted(self.owned.get(uid, ())):
            rt = self._any_type(store_key)
            obj = self.objects.get(store_key, {}).get(key)
            if rt is not None and obj is not None:
                found.append((rt, key, obj))
        return found

    def _delete_dependents(self, uid: str, propagation: str) -> None:
        for rt, key, obj in self._dependents(uid):
            if key not in self.objects.get(rt.store_key, {}):
                continue
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") != uid and self._uid_exists(r.get("uid")) for r in refs):
                new = copy.deepcopy(obj)  # another owner is alive: only drop this reference, as the GC does
                new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                self._commit(rt, key, new, "MODIFIED", obj)
                continue
            if propagation == "Foreground":
                self._delete_dependents(obj["metadata"]["uid"], "Foreground")
            if obj["metadata"].get("finalizers"):
                if not obj["metadata"].get("deletionTimestamp"):
                    new = copy.deepcopy(obj)
                    new["metadata"]["deletionTimestamp"] = now_rfc3339()
                    self._commit(rt, key, new, "MODIFIED", obj)
            else:
                self._remove(rt, key, obj)

    def _uid_exists(self, uid: Any) -> bool:
        return str(uid) in self.by_uid

    def _orphan_dependents(self, uid: str) -> None:
        for rt, key, obj in self._dependents(uid):
            new = copy.deepcopy(obj)
            new["metadata"]["ownerReferences"] = [
                r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
            ]
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            self._commit(rt, key, new, "MODIFIED", obj)

    def _register_crd(self, crd: JSON) -> None:
        problems = crd_problems(crd)
        if problems:
            return
        self._unregister_crd(crd, keep_objects=True)
        for rt in crd_types(crd):
            self.types[(rt.group, rt.version, rt.plural)] = rt
        key = ("", crd["metadata"]["name"])
        names = crd["spec"]["names"]
        status = {
            "acceptedNames": {k: v for k, v in names.items()},
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": now_rfc3339(),
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": now_rfc3339(),
                },
            ],
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        }
        stored = self.objects[("apiextensions.k8s.io", "customresourcedefinitions")][key]
        if stored.get("status", {}).get("acceptedNames") != status["acceptedNames"]:  # else: nothing new to say
            new = copy.deepcopy(stored)
            new["status"] = status
            crd_type = self.types[("apiextensions.k8s.io", "v1", "customresourcedefinitions")]
            self._commit(crd_type, key, new, "MODIFIED", stored)

    def _unregister_crd(self, crd: JSON, *, keep_objects: bool = False) -> None:
        name = crd["metadata"]["name"]
        for type_key in [k for k, t in self.types.items() if t.crd == name]:
            rt = self.types.pop(type_key)
            if not keep_objects:
                for obj_key, obj in list(self.objects.get(rt.store_key, {}).items()):
                    self.types[type_key] = rt
                    self._remove(rt, obj_key, obj)
                    self.types.pop(type_key)
                self.objects.pop(rt.store_key, None)

    def _admit_schema(self, rt: ResourceType, name: str, obj: JSON) -> JSON:
        problems = metadata_problems(rt, obj.get("metadata") or {})
        if problems:
            raise invalid(rt, name, [Cause(f, m, r) for f, m, r in problems])
        if rt.plural == "customresourcedefinitions" and rt.group == "apiextensions.k8s.io":
            problems = crd_problems(obj)
            if problems:
                raise invalid(rt, name, [Cause(f, m) for f, m in problems])
        if not rt.schema:
            return obj
        admitted = admit_custom_object(obj, rt.schema)
        if admitted.causes:
            raise invalid(rt, name, admitted.causes)
        return admitted.obj

    def unknown_fields(self, rt: ResourceType, obj: JSON) -> tuple[str, ...]:
        """Fields the CRD schema does not declare (for fieldValidation=Strict); () for built-in kinds."""
        return admit_custom_object(obj, rt.schema).unknown_fields if rt.schema else ()

    def _default(self, rt: ResourceType, obj: JSON) -> JSON:
        """The few defaults controllers rely on; status starts empty for kinds with a status subresource."""
        if rt.has_status and rt.plural != "namespaces":
            obj.pop("status", None)
        meta = obj["metadata"]
        if (rt.group, rt.plural) == ("", "pods"):
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            obj.setdefault("spec", {}).setdefault("restartPolicy", "Always")
        elif (rt.group, rt.plural) == ("", "namespaces"):
            obj["status"] = {"phase": "Active"}
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        elif (rt.group, rt.plural) == ("", "services"):
            spec = obj.setdefault("spec", {})
            if spec.get("clusterIP") != "None":
                spec.setdefault("clusterIP", f"10.96.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}")
            spec.setdefault("type", "ClusterIP")
        elif (rt.group, rt.plural) == ("", "secrets"):
            obj.setdefault("type", "Opaque")
        elif (rt.group, rt.plural) == ("batch", "jobs"):
            self._default_job(obj)
            obj["status"] = {}
        return obj

    @staticmethod
    def _default_job(obj: JSON) -> None:
        # The API server gives each Job a controller-uid selector and labels its pod template (batch/v1 defaults).
        uid = obj["metadata"]["uid"]
        name = obj["metadata"]["name"]
        spec = obj.setdefault("spec", {})
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        if not spec.get("manualSelector"):
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
            labels.update(
                {
                    "batch.kubernetes.io/controller-uid": uid,
                    "batch.kubernetes.io/job-name": name,
                    "controller-uid": uid,
                    "job-name": name,
                }
            )

    def _admission(
        self,
        rt: ResourceType,
        operation: str,
        namespace: str,
        name: str,
        obj: JSON | None,
        old: JSON | None,
        dry_run: bool,
        subresource: str = "",
    ) -> Verdict:
        with self.lock:
            mutating = [
                copy.deepcopy(o)
                for o in self.objects.get(
                    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"), {}
                ).values()
            ]
            validating = [
                copy.deepcopy(o)
                for o in self.objects.get(
                    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"), {}
                ).values()
            ]
            ns_obj = self.objects.get(("", "namespaces"), {}).get(("", namespace)) if namespace else None
            ns_labels = dict((ns_obj or {}).get("metadata", {}).get("labels") or {})
        if not mutating and not validating:
            return Verdict(obj, None, ())
        request = AdmissionRequest(
            operation=operation,
            group=rt.group,
            version=rt.version,
            kind=rt.kind,
            resource=rt.plural,
            subresource=subresource,
            namespace=namespace,
            name=name,
            obj=obj,
            old=old,
            dry_run=dry_run,
            namespace_labels=ns_labels,
        )
        verdict = run_webhooks(mutating, validating, request, resolve_service=self._resolve_service)
        self.warn(*verdict.warnings)
        if verdict.denied is not None:
            raise ApiError.from_status(verdict.denied)
        return verdict

    def warn(self, *messages: str) -> None:
        if not hasattr(self.local, "warnings"):
            self.local.warnings = []
        self.local.warnings.extend(messages)

    def take_warnings(self) -> list[str]:
        warnings: list[str] = getattr(self.local, "warnings", [])
        self.local.warnings = []
        return warnings

    def _resolve_service(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        return self.service_hosts.get((namespace, name), ("127.0.0.1", port))

    # -- watch support ------------------------------------------------------------------------------------------

    def events_after(self, rv: int) -> list[WatchEvent]:
        """Events with resourceVersion > rv (caller holds the lock and checked rv >= compacted_through)."""
        start = bisect.bisect_right(self.events, rv, key=lambda e: e.rv)
        return self.events[start:]

    # -- faults ---------------------------------------------------------------------------------------------------

    def take_fault(self, verb: str, resource: str, namespace: str, name: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(verb, resource, namespace, name):
                    fault.times -= 1
                    return fault
        return None

    def wait_for_events(self, timeout: float) -> None:
        with self.lock:
            self.lock.wait(timeout)


def _immutable_changes(rt: ResourceType, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cause]:
    """The immutability rules controllers trip over: a Job's selector and pod template (unless suspended: only
    its scheduling directives may change then, not checked here), a Pod's spec beyond images, deadlines and
    added tolerations."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if (rt.group, rt.plural) == ("batch", "jobs"):
        causes = []
        for field_name in ("selector", "completions", "completionMode"):
            if old_spec.get(field_name) != new_spec.get(field_name):
                causes.append(Cause(f"spec.{field_name}", "Invalid value: field is immutable"))
        if not old_spec.get("suspend") and old_spec.get("template") != new_spec.get("template"):
            causes.append(Cause("spec.template", "Invalid value: field is immutable"))
        return causes
    if (rt.group, rt.plural) == ("", "pods"):

        def comparable(spec: Mapping[str, Any]) -> dict[str, Any]:
            out = copy.deepcopy(dict(spec))
            for key in ("containers", "initContainers", "ephemeralContainers"):
                for container in out.get(key) or []:
                    container.pop("image", None)
            for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
                out.pop(key, None)
            return out

        if comparable(old_spec) != comparable(new_spec):
            return [
                Cause(
                    "spec",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
                    "set to 1 if it was previously negative)",
                    "FieldValueForbidden",
                )
            ]
    return []


def _spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _strip_rv(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    out.get("metadata", {}).pop("resourceVersion", None)
    return out


def random_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(NAME_ALPHABET) for _ in range(length))
