"""The resource types the stand-in serves: built-in kinds, and how a CRD becomes served types. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "log"
    categories: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = field(default=None, compare=False)  # CRD openAPIV3Schema
    crd: str = ""  # the defining CustomResourceDefinition's name, "" for built-ins
    # field selectors accepted besides metadata.name/metadata.namespace
    fields: tuple[str, ...] = ()
    printer_columns: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)  # CRD additionalPrinterColumns

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def store_key(self) -> tuple[str, str]:
        """Objects are stored per group+plural, shared by every version (no conversion)."""
        return (self.group, self.plural)

    @property
    def qualified(self) -> str:
        """`pods`, `jobs.batch`: how the API server names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


def _t(group: str, version: str, plural: str, kind: str, **kw: Any) -> ResourceType:
    return ResourceType(group, version, plural, kind, **kw)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        subresources=("status",),
        fields=("status.phase",),
    ),
    _t(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        subresources=("status", "log"),
        categories=("all",),
        fields=("status.phase", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "status.podIP"),
    ),
    _t("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _t("", "v1", "secrets", "Secret", fields=("type",)),
    _t("", "v1", "services", "Service", short_names=("svc",), subresources=("status",), categories=("all",)),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _t("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",), subresources=("status",)),
    _t(
        "",
        "v1",
        "events",
        "Event",
        short_names=("ev",),
        fields=(
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
            "source",
        ),
    ),
    _t(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        short_names=("ev",),
        fields=("regarding.kind", "regarding.name", "regarding.namespace", "regarding.uid", "reason", "type"),
    ),
    _t("batch", "v1", "jobs", "Job", subresources=("status",), categories=("all",), fields=("status.successful",)),
    _t("coordination.k8s.io", "v1", "leases", "Lease"),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        subresources=("status",),
        categories=("api-extensions",),
    ),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _t(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        subresources=("status",),
        categories=("all",),
    ),
    _t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    _t("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",), subresources=("status",)),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
)


def crd_types(crd: Mapping[str, Any]) -> tuple[ResourceType, ...]:
    """The served versions of a CustomResourceDefinition as resource types."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(version.get("name")),
                plural=str(names.get("plural")),
                kind=str(names.get("kind")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=("status",) if "status" in (version.get("subresources") or {}) else (),
                schema=schema,
                crd=str(crd["metadata"]["name"]),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return tuple(out)


def crd_problems(crd: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The checks the API server makes that a test could trip over, as (field, message)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    problems = []
    for key in ("plural", "kind"):
        if not names.get(key):
            problems.append((f"spec.names.{key}", "Required value"))
    if not spec.get("group"):
        problems.append(("spec.group", "Required value"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if crd.get("metadata", {}).get("name") != expected:
        problems.append(
            (
                "metadata.name",
                f'Invalid value: "{crd.get("metadata", {}).get("name")}": must be spec.names.plural+"."+spec.group',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        problems.append(("spec.versions", "Required value"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        problems.append(("spec.versions", "Invalid value: must have exactly one version marked as storage version"))
    for n, version in enumerate(versions):
        if not (version.get("schema") or {}).get("openAPIV3Schema"):
            problems.append((f"spec.versions[{n}].schema.openAPIV3Schema", "Required value: schemas are required"))
    return problems


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything else."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0)
    level = {"alpha": 1, "beta": 2, None: 3}[match[2]]
    return (level, int(match[1]), int(match[3] or 0))


# -- object metadata validation (k8s.io/apimachinery/pkg/util/validation), the part controllers trip over ----------

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{_DNS1123_SUBDOMAIN}')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    f"with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{_DNS1123_LABEL}')"
)
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    f"validation is '{_LABEL_VALUE}')"
)
QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    f"'{_QUALIFIED_NAME}')"
)
# Kinds whose names are DNS-1123 labels (<= 63): they become hostnames or label values.
LABEL_NAMED = frozenset({("", "namespaces"), ("", "services"), ("batch", "jobs")})
# Kinds whose names are path segments (RBAC allows "system:..."): not checked here.
PATH_SEGMENT_NAMED = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})


def metadata_problems(rt: ResourceType, meta: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, message, reason) for an invalid name, label key or label value, in the API server's wording."""
    import re

    problems: list[tuple[str, str, str]] = []
    name = str(meta.get("name") or "")
    if name and rt.plural not in PATH_SEGMENT_NAMED:
        limit, pattern, message = (
            (63, _DNS1123_LABEL, LABEL_MESSAGE)
            if (rt.group, rt.plural) in LABEL_NAMED
            else (253, _DNS1123_SUBDOMAIN, SUBDOMAIN_MESSAGE)
        )
        if len(name) > limit:
            problems.append(
                (
                    "metadata.name",
                    f'Invalid value: "{name}": must be no more than {limit} characters',
                    "FieldValueInvalid",
                )
            )
        if not re.fullmatch(pattern, name):
            problems.append(("metadata.name", f'Invalid value: "{name}": {message}', "FieldValueInvalid"))
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, short = str(key).rpartition("/")
        if len(short) > 63:
            problems.append(
                (
                    "metadata.labels",
                    f'Invalid value: "{key}": name part must be no more than 63 characters',
                    "FieldValueInvalid",
                )
            )
        if not re.fullmatch(_QUALIFIED_NAME, short) or (prefix and not re.fullmatch(_DNS1123_SUBDOMAIN, prefix)):
            problems.append(
                ("metadata.labels", f'Invalid value: "{key}": {QUALIFIED_NAME_MESSAGE}', "FieldValueInvalid")
            )
        text = str(value)
        if not isinstance(value, str):
            problems.append(
                ("metadata.labels", f'Invalid value: "{text}": label values must be strings', "FieldValueTypeInvalid")
            )
        elif len(text) > 63:
            problems.append(
                ("metadata.labels", f'Invalid value: "{text}": must be no more than 63 characters', "FieldValueInvalid")
            )
        elif not re.fullmatch(_LABEL_VALUE, text):
            problems.append(("metadata.labels", f'Invalid value: "{text}": {LABEL_VALUE_MESSAGE}', "FieldValueInvalid"))
    return problems
