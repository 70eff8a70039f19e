"""Artifact repository resolution and locations, exactly as Argo resolves them. Pure: no I/O.

Resolution order (Argo's `artifactrepositories.Resolve`, docs "Configuring Your Artifact Repository"):
1. `spec.artifactRepositoryRef` {configMap (default `artifact-repositories`), key (default: the ConfigMap's
   annotation `workflows.argoproj.io/default-artifact-repository`)} in the Workflow's namespace;
2. without a ref, the namespace's `artifact-repositories` ConfigMap when it exists and names a default key;
3. else the controller's `workflow-controller-configmap`: `data.artifactRepository` (YAML), or the legacy
   `data.config` YAML holding `artifactRepository:`.
The shells fetch the ConfigMaps and pass them in by name; this module only reads dicts.

Secrets never travel in configuration: an S3 repository names `accessKeySecret`/`secretKeySecret` {name, key};
`executor.jobspec` turns each reference into an env var (`secret_env_name`) filled by `valueFrom.secretKeyRef`
on the init and wait containers only, and the programs read the value from that env var.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from executor.contract import ArtifactLocation

ARTIFACT_REPOSITORIES_CONFIGMAP = "artifact-repositories"
DEFAULT_REPOSITORY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
CONTROLLER_CONFIGMAP = "workflow-controller-configmap"
SECRET_FIELDS = ("accessKeySecret", "secretKeySecret", "sessionTokenSecret")
STORAGE_KINDS = ("s3", "local", "http", "git", "raw")


class RepositoryError(Exception):
    """The repository configuration is missing or malformed; the message says where and how to fix it."""


def resolve_repository(
    workflow: Mapping[str, Any], configmaps: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The `artifactRepository` dict ({s3: {...}} / {local: {path}} ...) this workflow uses, or None if none is
    configured. `configmaps` maps ConfigMap name -> ConfigMap object (`artifact-repositories` or the ref's
    ConfigMap from the workflow's namespace, `workflow-controller-configmap` from the controller's)."""
    spec = workflow.get("spec") or {}
    ref = spec.get("artifactRepositoryRef")
    if ref is not None:
        return _from_ref(ref, configmaps, explicit=True)
    default = _from_ref({}, configmaps, explicit=False)
    if default is not None:
        return default
    return _from_controller(configmaps.get(CONTROLLER_CONFIGMAP))


def _from_ref(
    ref: Mapping[str, Any], configmaps: Mapping[str, Mapping[str, Any]], *, explicit: bool
) -> dict[str, Any] | None:
    name = ref.get("configMap") or ARTIFACT_REPOSITORIES_CONFIGMAP
    cm = configmaps.get(name)
    where = "spec.artifactRepositoryRef"
    if cm is None:
        if explicit:
            raise RepositoryError(
                f'{where}: ConfigMap "{name}" not found in the workflow\'s namespace; create it or fix '
                f"{where}.configMap"
            )
        return None
    key = ref.get("key")
    if not key:
        key = ((cm.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_REPOSITORY_ANNOTATION)
        if not key:
            if not explicit:
                return None
            raise RepositoryError(
                f'{where}: no key given and ConfigMap "{name}" has no annotation '
                f"{DEFAULT_REPOSITORY_ANNOTATION}; set {where}.key or annotate the ConfigMap"
            )
    data = cm.get("data") or {}
    if key not in data:
        raise RepositoryError(
            f'{where}: ConfigMap "{name}" has no key "{key}" (it has: {", ".join(sorted(data)) or "none"}); '
            f"add it or fix {where}.key"
        )
    return _parse_repository(data[key], where=f'ConfigMap "{name}" data.{key}')


def _from_controller(cm: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if cm is None:
        return None
    data = cm.get("data") or {}
    if "artifactRepository" in data:
        return _parse_repository(data["artifactRepository"], where=f"{CONTROLLER_CONFIGMAP} data.artifactRepository")
    if "config" in data:
        where = f"{CONTROLLER_CONFIGMAP} data.config"
        config = _load_yaml(data["config"], where=where)
        if config is None:
            return None
        if not isinstance(config, dict):
            raise RepositoryError(f"{where}: expected a YAML mapping, found {type(config).__name__}")
        repo = config.get("artifactRepository")
        if repo is None:
            return None
        return _check_repository(repo, where=f"{where}.artifactRepository")
    return None


def _load_yaml(text: Any, *, where: str) -> Any:
    if not isinstance(text, str):
        return text
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RepositoryError(f"{where}: not valid YAML ({exc}); fix the ConfigMap") from exc


def _parse_repository(text: Any, *, where: str) -> dict[str, Any] | None:
    repo = _load_yaml(text, where=where)
    if repo is None:
        return None
    return _check_repository(repo, where=where)


def _check_repository(repo: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(repo, dict):
        raise RepositoryError(f"{where}: expected a mapping like {{s3: {{bucket: ...}}}}, found {repo!r}")
    kinds = [k for k in ("s3", "local") if k in repo]
    others = [k for k in ("gcs", "azure", "oss", "hdfs", "artifactory", "http", "git") if k in repo]
    if not kinds:
        if others:
            raise RepositoryError(
                f"{where}: {others[0]} repositories are not supported yet; use s3 (any S3-compatible store, "
                "e.g. MinIO, GCS interoperability) instead"
            )
        raise RepositoryError(f"{where}: no repository kind set; set s3: {{bucket, endpoint, ...}}")
    if "s3" in repo:
        s3 = repo["s3"]
        if not isinstance(s3, dict) or not s3.get("bucket"):
            raise RepositoryError(f"{where}.s3.bucket: required; name the bucket artifacts go to")
    return dict(repo)


# ---------------------------------------------------------------------------------------------------------------
# Locations and keys
# ---------------------------------------------------------------------------------------------------------------


_KEY_VARIABLE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


def key_prefix(repository: Mapping[str, Any] | None, *, workflow: Mapping[str, Any], pod_name: str) -> str:
    """The key prefix of a step's outputs: the repository's `s3.keyFormat` rendered, or Argo's default
    `<workflow name>/<pod name>` (in Trellis the pod name is the Job name). keyFormat may use
    {{workflow.name|namespace|uid}}, {{pod.name}}, {{workflow.creationTimestamp.<strftime letter>}} (Y, m, d,
    H, M, S, ...), {{workflow.labels.<key>}} and {{workflow.annotations.<key>}}."""
    meta = workflow.get("metadata") or {}
    fmt = str(((repository or {}).get("s3") or {}).get("keyFormat") or "")
    if not fmt:
        return f"{meta.get('name', '')}/{pod_name}"
    created = _parse_time(meta.get("creationTimestamp"))

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        simple = {
            "workflow.name": meta.get("name"),
            "workflow.namespace": meta.get("namespace"),
            "workflow.uid": meta.get("uid"),
            "pod.name": pod_name,
        }
        if name in simple and simple[name] is not None:
            return str(simple[name])
        if name.startswith("workflow.creationTimestamp.") and created is not None:
            letter = name.rsplit(".", 1)[1]
            if len(letter) == 1 and letter.isalpha():
                return created.strftime(f"%{letter}")
        for kind in ("labels", "annotations"):
            prefix = f"workflow.{kind}."
            if name.startswith(prefix) and name[len(prefix) :] in (meta.get(kind) or {}):
                return str(meta[kind][name[len(prefix) :]])
        raise RepositoryError(
            f"artifactRepository.s3.keyFormat {fmt!r}: cannot resolve {{{{{name}}}}}; use workflow.name, "
            "workflow.namespace, workflow.uid, pod.name, workflow.creationTimestamp.<Y|m|d|H|M|S>, "
            "workflow.labels.<key> or workflow.annotations.<key>"
        )

    return _KEY_VARIABLE.sub(value, fmt).strip("/")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def output_key(key_prefix: str, name: str, *, archived: bool, path: str) -> str:
    """Argo's object key for an output artifact: `<prefix>/<name>.tgz` when archived, `<prefix>/<base of path>`
    with `archive: none` (a directory then becomes a key prefix holding its files)."""
    leaf = f"{name}.tgz" if archived else (path.rstrip("/").rsplit("/", 1)[-1] or name)
    return f"{key_prefix.strip('/')}/{leaf}" if key_prefix.strip("/") else leaf


def location_in_repository(repository: Mapping[str, Any], key: str) -> ArtifactLocation:
    """The location of `key` in `repository` (secret references are kept as references)."""
    if "s3" in repository:
        s3 = {k: v for k, v in repository["s3"].items() if k not in ("keyFormat", "keyPrefix")}
        s3["key"] = key
        return {"s3": s3}
    if "local" in repository:
        return {"local": {"path": str(repository["local"]["path"]), "key": key}}
    raise RepositoryError(f"unsupported repository {sorted(repository)}; use s3 or local")


def complete_location(location: Mapping[str, Any], repository: Mapping[str, Any] | None) -> ArtifactLocation:
    """Argo's "key-only" artifacts: an `s3` block without a bucket means "this key in the configured repository"
    (whatever that repository is: with a local directory repository, the key lands there). Other locations are
    returned unchanged."""
    s3 = location.get("s3")
    if not isinstance(s3, Mapping) or s3.get("bucket") or repository is None:
        return dict(location)  # type: ignore[return-value]
    if "s3" in repository:
        base = {k: v for k, v in repository["s3"].items() if k not in ("keyFormat", "keyPrefix")}
        return {"s3": {**base, **s3}}
    if "local" in repository:
        return {"local": {"path": str(repository["local"]["path"]), "key": str(s3.get("key") or "")}}
    return dict(location)  # type: ignore[return-value]


def secret_env_name(secret_name: str, secret_key: str) -> str:
    """The env var through which the init/wait containers receive the Secret value `secret_name[secret_key]`."""
    digest = hashlib.sha256(f"{secret_name}\0{secret_key}".encode()).hexdigest()[:12].upper()
    return f"TRELLIS_SECRET_{digest}"


def secret_refs(location: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every (Secret name, key) a location or repository refers to, in a stable order."""

    def walk(value: Any) -> Iterator[tuple[str, str]]:
        if isinstance(value, Mapping):
            for field, inner in value.items():
                if str(field).endswith("Secret") and isinstance(inner, Mapping):
                    if inner.get("name") and inner.get("key"):
                        yield str(inner["name"]), str(inner["key"])
                else:
                    yield from walk(inner)

    for kind in STORAGE_KINDS:
        yield from walk(location.get(kind))
