"""The one module that owns the Job/Pod layout: expand(step) -> a complete batch/v1 Job manifest. Pure: no I/O,
no clock, no environment; the same StepSpec and PlanContext always give the same Job.

Layout (docs/architecture.md, "Pod layout and executor programs"):
- `init` (only when there are input artifacts or a script): `trellis-exec init` fetches inputs and writes the
  script source to /argo/staging/script.
- `main`: the user's container (script templates: the script path appended to args, as Argo does).
- `wait`: `trellis-exec wait` learns that main ended through the main-exit channel, reads output parameters,
  uploads output artifacts and reports through its termination message (contract.PodReport).
- Outputs: each output path's parent directory (the path itself when the parent is `/`) is an emptyDir mounted
  into main; init and wait see every such shared volume at /var/run/trellis/mnt/<i>. Outputs under one of the
  template's own volumeMounts use that volume instead. Inputs under a shared volume are written straight into it;
  other inputs go to the `trellis-inputs` emptyDir and are mounted into main by subPath at their path.
- Credentials: Secret references become env vars (valueFrom.secretKeyRef) on init and wait only. The pod has
  automountServiceAccountToken: false; wait gets a projected token (cluster runtime); main gets one only when the
  template or workflow asks for a service account.
- Claims (`spec.volumeClaimTemplates`): the workflow's PersistentVolumeClaim `<workflow name>-<template name>`
  (`claim_manifests`, created by the cluster shell before the first Job) is a pod volume named like the claim
  template, added to a step's pod when one of its containers mounts that name (Argo's addVolumeReferences: a pod
  that does not use a ReadWriteOnce claim must not be tied to the claim's node). `claim_volumes` is also what
  status.persistentVolumeClaims records; `claims_released` is volumeClaimGC's decision.
"""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from executor.artifacts.repository import (
    complete_location,
    location_in_repository,
    output_key,
    secret_env_name,
    secret_refs,
)

if TYPE_CHECKING:  # the programs inside the pod import this module: keep their start-up light
    from executor.contract import ArtifactLocation, InputArtifact, PlanContext, StepSpec

from executor.pod.config import (
    CONFIG_ENV,
    INPUTS_DIR,
    LOCAL_CHANNEL_DIR,
    MAIN_STAGING_DIR,
    MAIN_WATCH_ENV,
    MOUNTS_DIR,
    POD_NAME_ENV,
    POD_NAMESPACE_ENV,
    SCRIPT_FILE,
    SERVICE_ACCOUNT_DIR,
    STAGING_DIR,
    TERMINATION_LOG,
    empty_wait_config,
)

LABEL_WORKFLOW = "workflows.argoproj.io/workflow"
ANNOTATION_NODE_ID = "workflows.argoproj.io/node-id"
ANNOTATION_NODE_NAME = "workflows.argoproj.io/node-name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
TRELLIS_DOMAIN = "trellis.dev"
LABEL_NODE_HASH = f"{TRELLIS_DOMAIN}/node-hash"  # the hash part of the Job name: select one node's Jobs
ANNOTATION_DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
KUEUE_PREFIX = "kueue.x-k8s.io/"

HASH_LENGTH = 10
MAX_NAME = 63
MAX_CONFIG_BYTES = 120 * 1024  # one env string must stay under the kernel's 128 KiB (MAX_ARG_STRLEN)

# Pod fields a template (or the workflow spec) may set; the template's value wins over the workflow's.
_POD_FIELDS = (
    "nodeSelector",
    "affinity",
    "tolerations",
    "securityContext",
    "serviceAccountName",
    "priorityClassName",
    "schedulerName",
    "hostAliases",
    "dnsConfig",
    "dnsPolicy",
    "hostNetwork",
    "imagePullSecrets",
    "runtimeClassName",
)
_WORKFLOW_ALIASES = {"priorityClassName": "podPriorityClassName"}
_EXECUTOR_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}
_EXECUTOR_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


# Output volumes are mounted at the output's parent directory: refused where that would hide system files.
_SYSTEM_DIRS = (
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var",
    "/var/run",
)
_SYSTEM_TREES = (
    "/bin/",
    "/boot/",
    "/dev/",
    "/etc/",
    "/lib/",
    "/lib64/",
    "/proc/",
    "/sbin/",
    "/sys/",
    "/usr/",
    "/var/run/",
    "/run/",
)


class ExpandError(ValueError):
    """The step cannot become a Job (e.g. malformed podSpecPatch, outputs without a repository). The message
    names the field and the fix; the planner fails the node with it."""


def job_name(workflow_name: str, node_name: str) -> str:
    """Deterministic Job name: `<workflow name, truncated>-<10 hex of sha256(node name)>`, a DNS-1123 label."""
    digest = hashlib.sha256(node_name.encode()).hexdigest()[:HASH_LENGTH]
    prefix = re.sub(r"[^a-z0-9-]+", "-", workflow_name.lower())
    prefix = prefix[: MAX_NAME - HASH_LENGTH - 1].strip("-")
    return f"{prefix}-{digest}" if prefix else f"n-{digest}"


def node_hash(node_name: str) -> str:
    return hashlib.sha256(node_name.encode()).hexdigest()[:HASH_LENGTH]


class _Root(NamedTuple):  # a NamedTuple, not a dataclass: importing dataclasses costs the pod programs ~50 ms
    """A volume visible in main at `path` that init/wait can also mount (our output volumes, user mounts)."""

    path: str
    volume: str
    sub_path: str = ""

    def contains(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path.rstrip("/") + "/")


def workflow_owner(wf_name: str, uid: str) -> dict[str, Any]:
    """The ownerReference that ties a Job or claim to its Workflow (`kubectl delete wf` removes them)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "name": wf_name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def expand(step: StepSpec, *, context: PlanContext) -> dict[str, Any]:
    """The batch/v1 Job running one attempt of a container or script template. Pure."""
    workflow = step.workflow
    meta = workflow.get("metadata") or {}
    spec = workflow.get("spec") or {}
    tmpl = step.template
    wf_name = str(meta.get("name") or "")
    name = job_name(wf_name, step.node_name)
    where = f'template "{tmpl.get("name", "")}"'

    if "container" in tmpl:
        main = _clean_container(tmpl["container"])
        script_source: str | None = None
    elif "script" in tmpl:
        main = _clean_container(tmpl["script"])
        script_source = str(tmpl["script"].get("source", ""))
        main["args"] = [*main.get("args", []), f"{MAIN_STAGING_DIR}/{SCRIPT_FILE}"]
    else:
        raise ExpandError(f"{where}: expand() takes container or script templates only")
    main = {"name": "main", **{k: v for k, v in main.items() if k != "name"}}
    if not main.get("image"):
        raise ExpandError(f"{where}: container.image is required; set the image main runs in")

    volumes: list[dict[str, Any]] = [
        copy.deepcopy(dict(v)) for v in [*(spec.get("volumes") or []), *(tmpl.get("volumes") or [])]
    ]
    volumes += _claims_mounted(wf_name, spec, tmpl, main, declared={str(v.get("name")) for v in volumes})
    main_mounts: list[dict[str, Any]] = list(main.get("volumeMounts") or [])
    init_mounts: list[dict[str, Any]] = [{"name": "trellis-tmp", "mountPath": "/tmp"}]
    wait_mounts: list[dict[str, Any]] = [{"name": "trellis-tmp", "mountPath": "/tmp"}]
    own_volumes: list[dict[str, Any]] = [{"name": "trellis-tmp", "emptyDir": {}}]

    # --- outputs: shared volumes --------------------------------------------------------------------------
    outputs = tmpl.get("outputs") or {}
    out_params = [p for p in outputs.get("parameters") or [] if (p.get("valueFrom") or {}).get("path")]
    out_arts = [a for a in outputs.get("artifacts") or [] if a.get("path")]
    user_roots = [
        _Root(posixpath.normpath(m["mountPath"]), m["name"], m.get("subPath", ""))
        for m in main_mounts
        if m.get("mountPath")
    ]
    declared = [p["valueFrom"]["path"] for p in out_params] + [a["path"] for a in out_arts]
    our_roots: list[_Root] = []
    output_dirs = _output_dirs(declared, user_roots)
    for directory in output_dirs:
        if directory in _SYSTEM_DIRS or directory.startswith(_SYSTEM_TREES):
            offending = [p for p in declared if _under(posixpath.normpath(p), directory)]
            culprit = offending[0] if offending else directory
            raise ExpandError(
                f"{where}: output path {culprit!r}: collecting outputs from the system directory {directory} is "
                "not supported (the volume holding outputs would hide the image's files there); have main write "
                "or copy the output under another directory, e.g. /tmp/outputs"
            )
    for i, directory in enumerate(output_dirs):
        vol = f"trellis-out-{i}"
        own_volumes.append({"name": vol, "emptyDir": {}})
        main_mounts.append({"name": vol, "mountPath": directory})
        our_roots.append(_Root(directory, vol))
    roots = [*our_roots, *user_roots]
    init_roots: dict[int, None] = {}
    wait_roots: dict[int, None] = {}

    def inside(path: str, used: dict[int, None]) -> str | None:
        norm = posixpath.normpath(path)
        best = max((i for i, r in enumerate(roots) if r.contains(norm)), key=lambda i: len(roots[i].path), default=None)
        if best is None:
            return None
        used[best] = None
        rel = posixpath.relpath(norm, roots[best].path)
        return f"{MOUNTS_DIR}/{best}" + ("" if rel == "." else f"/{rel}")

    # --- wait config ---------------------------------------------------------------------------------------
    repository = context.artifact_repository
    wait_cfg: dict[str, Any] = empty_wait_config()
    for i, p in enumerate(out_params):
        path = p["valueFrom"]["path"]
        entry: dict[str, Any] = {"name": p["name"], "declared": path, "path": inside(path, wait_roots)}
        if "default" in p["valueFrom"]:
            entry["default"] = str(p["valueFrom"]["default"])
        if entry["path"] is None:
            raise ExpandError(f"{where}: outputs.parameters[{i}].valueFrom.path {path!r} must be absolute")
        wait_cfg["parameters"].append(entry)
    for i, a in enumerate(out_arts):
        field = f"{where}: outputs.artifacts[{i}]"
        if not str(a["path"]).startswith("/"):
            raise ExpandError(f"{field}.path {a['path']!r} must be absolute")
        archive, level = _archive(a.get("archive"), field=field)
        art: dict[str, Any] = {
            "name": a["name"],
            "declared": a["path"],
            "path": inside(a["path"], wait_roots),
            "archive": archive,
            "compression_level": level,
            "optional": bool(a.get("optional", False)),
            "location": _output_location(
                a, repository, step.artifact_key_prefix or f"{wf_name}/{name}", archive, field=field
            ),
        }
        wait_cfg["artifacts"].append(art)
    if repository is not None:
        key = output_key(
            step.artifact_key_prefix or f"{wf_name}/{name}",
            "trellis-report.json",
            archived=False,
            path="trellis-report.json",
        )
        wait_cfg["report_location"] = location_in_repository(repository, key)

    # --- init config ---------------------------------------------------------------------------------------
    init_cfg: dict[str, Any] = {"v": 1, "inputs": []}
    uses_inputs_volume = False
    for art_in in step.input_artifacts:
        if not art_in.get("path") or "location" not in art_in:
            continue
        if not str(art_in["path"]).startswith("/"):
            raise ExpandError(f'{where}: input artifact "{art_in["name"]}" path {art_in["path"]!r} must be absolute')
        entry = _input_entry(art_in, repository, where=where)
        dest = inside(art_in["path"], init_roots)
        if dest is None:
            dest = f"{INPUTS_DIR}/{_safe(art_in['name'])}"
            main_mounts.append(
                {"name": "trellis-inputs", "mountPath": art_in["path"], "subPath": _safe(art_in["name"])}
            )
            uses_inputs_volume = True
        else:
            entry["merge"] = dest.count("/") == MOUNTS_DIR.count("/") + 1
        entry["dest"] = dest
        init_cfg["inputs"].append(entry)
    if uses_inputs_volume:
        own_volumes.append({"name": "trellis-inputs", "emptyDir": {}})
        init_mounts.append({"name": "trellis-inputs", "mountPath": INPUTS_DIR})
    if script_source is not None:
        init_cfg["script"] = {"dest": f"{STAGING_DIR}/{SCRIPT_FILE}", "source": script_source}
        own_volumes.append({"name": "trellis-staging", "emptyDir": {}})
        init_mounts.append({"name": "trellis-staging", "mountPath": STAGING_DIR})
        main_mounts.append({"name": "trellis-staging", "mountPath": MAIN_STAGING_DIR, "readOnly": True})
    for index in init_roots:
        init_mounts.append(_root_mount(roots[index], index, read_only=False))
    for index in wait_roots:
        wait_mounts.append(_root_mount(roots[index], index, read_only=True))

    # --- secrets and local repositories, for init and wait only --------------------------------------------
    init_locations: list[Mapping[str, Any]] = [e["location"] for e in init_cfg["inputs"]]
    wait_locations: list[Mapping[str, Any]] = [a["location"] for a in wait_cfg["artifacts"]]
    if "report_location" in wait_cfg:
        wait_locations.append(wait_cfg["report_location"])
    for locations, mounts in ((init_locations, init_mounts), (wait_locations, wait_mounts)):
        for root in _local_roots(locations):
            vol = f"trellis-repo-{hashlib.sha256(root.encode()).hexdigest()[:8]}"
            if not any(v["name"] == vol for v in own_volumes):
                own_volumes.append({"name": vol, "hostPath": {"path": root, "type": "DirectoryOrCreate"}})
            mounts.append({"name": vol, "mountPath": root})

    # --- service account token -----------------------------------------------------------------------------
    pod_fields = {f: _pod_field(f, tmpl, spec) for f in _POD_FIELDS}
    automount = tmpl.get("automountServiceAccountToken", spec.get("automountServiceAccountToken"))
    main_gets_token = automount is True or (automount is None and pod_fields["serviceAccountName"] is not None)
    wait_env: list[dict[str, Any]] = [{"name": MAIN_WATCH_ENV, "value": context.runtime}]
    if context.runtime == "kube":
        own_volumes.append(_token_volume())
        wait_mounts.append({"name": "trellis-token", "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True})
        wait_env += [
            {"name": POD_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": POD_NAMESPACE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ]
    else:
        own_volumes.append({"name": "trellis-local", "emptyDir": {}})
        wait_mounts.append({"name": "trellis-local", "mountPath": LOCAL_CHANNEL_DIR})
    if main_gets_token:
        if context.runtime != "kube":
            own_volumes.append(_token_volume())
        main_mounts.append({"name": "trellis-token", "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True})
    main["volumeMounts"] = main_mounts

    # --- containers ----------------------------------------------------------------------------------------
    init_secrets = _secret_env(init_locations)
    wait_secrets = _secret_env(wait_locations)
    init_containers: list[dict[str, Any]] = []
    if init_cfg["inputs"] or "script" in init_cfg:
        init_containers.append(
            _executor_container(
                "init",
                context.executor_image,
                env=[_config_env(init_cfg, where=where), *init_secrets],
                mounts=init_mounts,
            )
        )
    wait = _executor_container(
        "wait",
        context.executor_image,
        env=[_config_env(wait_cfg, where=where), *wait_env, *wait_secrets],
        mounts=wait_mounts,
    )
    wait["terminationMessagePath"] = TERMINATION_LOG
    wait["terminationMessagePolicy"] = "File"
    init_containers += [_clean_container(c) for c in tmpl.get("initContainers") or []]
    for sidecar in tmpl.get("sidecars") or []:
        native = _clean_container(sidecar)
        native["restartPolicy"] = "Always"  # a native sidecar: stopped when main and wait are done, as Argo
        if sidecar.get("mirrorVolumeMounts"):
            native["volumeMounts"] = [*native.get("volumeMounts", []), *copy.deepcopy(main_mounts)]
        init_containers.append(native)

    pod_meta = _pod_metadata(spec, tmpl)
    labels = {
        **pod_meta["labels"],
        **context.extra_job_labels,
        LABEL_WORKFLOW: wf_name,
        LABEL_MANAGED_BY: "trellis",
        LABEL_NODE_HASH: node_hash(step.node_name),
    }
    node_annotations = {ANNOTATION_NODE_ID: step.node_id, ANNOTATION_NODE_NAME: step.node_name}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "containers": [main, wait],
        "volumes": [*volumes, *own_volumes],
    }
    if init_containers:
        pod_spec["initContainers"] = init_containers
    for f, value in pod_fields.items():
        if value is not None:
            pod_spec[f] = copy.deepcopy(value)
    if step.active_deadline_seconds is not None:
        pod_spec["activeDeadlineSeconds"] = int(step.active_deadline_seconds)
    for source, patch in (
        ("spec.podSpecPatch", spec.get("podSpecPatch")),
        (f"{where}: podSpecPatch", tmpl.get("podSpecPatch")),
    ):
        if patch:
            pod_spec = _merge(pod_spec, _parse_patch(patch, source=source))

    job_meta: dict[str, Any] = {
        "name": name,
        "labels": labels,
        "annotations": {
            **node_annotations,
            **{k: v for k, v in pod_meta["annotations"].items() if k.startswith(KUEUE_PREFIX)},
        },
    }
    if meta.get("namespace"):
        job_meta["namespace"] = meta["namespace"]
    if meta.get("uid"):
        job_meta["ownerReferences"] = [workflow_owner(wf_name, str(meta["uid"]))]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {
                        **pod_meta["annotations"],
                        **node_annotations,
                        ANNOTATION_DEFAULT_CONTAINER: "main",
                    },
                },
                "spec": pod_spec,
            },
        },
    }


# ---------------------------------------------------------------------------------------------------------------
# spec.volumeClaimTemplates (Argo's operator.go createPVCs/deletePVCs, workflowpod.go addVolumeReferences)
# ---------------------------------------------------------------------------------------------------------------

VOLUME_CLAIM_GC_DEFAULT = "OnWorkflowSuccess"  # Argo's VolumeClaimGC.GetStrategy() when unset


def claim_name(workflow_name: str, template_name: str) -> str:
    """The claim Argo creates for a volume claim template: `<workflow name>-<template name>`."""
    return f"{workflow_name}-{template_name}"


def _claim_templates(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        t
        for t in spec.get("volumeClaimTemplates") or []
        if isinstance(t, Mapping) and isinstance(t.get("metadata"), Mapping) and t["metadata"].get("name")
    ]


def claim_volumes(workflow_name: str, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pod volumes for the workflow's claims, in Argo's status.persistentVolumeClaims shape:
    `{name: <template name>, persistentVolumeClaim: {claimName: <workflow>-<template name>}}`. Pure."""
    out: list[dict[str, Any]] = []
    for t in _claim_templates(spec):
        name = str(t["metadata"]["name"])
        out.append({"name": name, "persistentVolumeClaim": {"claimName": claim_name(workflow_name, name)}})
    return out


def claim_manifests(workflow: Mapping[str, Any], spec: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The v1 PersistentVolumeClaims of `spec.volumeClaimTemplates` (`spec` defaults to the workflow's own; pass
    the effective spec of a workflowTemplateRef): the template as written, renamed `<workflow>-<template>`,
    labelled with the workflow and owned by it (controller ownerReference), so deleting the Workflow deletes
    them. Pure."""
    meta = workflow.get("metadata") or {}
    wf_name = str(meta.get("name") or "")
    spec = (workflow.get("spec") or {}) if spec is None else spec
    out: list[dict[str, Any]] = []
    for t in _claim_templates(spec):
        claim = copy.deepcopy(dict(t))
        claim_meta = dict(claim.get("metadata") or {})
        claim_meta["name"] = claim_name(wf_name, str(claim_meta["name"]))
        claim_meta["labels"] = {**(claim_meta.get("labels") or {}), LABEL_WORKFLOW: wf_name}
        for server_owned in ("namespace", "uid", "resourceVersion", "creationTimestamp", "generateName"):
            claim_meta.pop(server_owned, None)
        if meta.get("namespace"):
            claim_meta["namespace"] = meta["namespace"]
        if meta.get("uid"):
            claim_meta["ownerReferences"] = [workflow_owner(wf_name, str(meta["uid"]))]
        claim.pop("status", None)
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim, "metadata": claim_meta})
    return out


def claims_released(spec: Mapping[str, Any], phase: str) -> bool:
    """volumeClaimGC: whether a workflow that ended in `phase` deletes its claims now. OnWorkflowCompletion:
    always; OnWorkflowSuccess (Argo's default): only when Succeeded, so a retry of a failed workflow finds its
    files (the ownerReference removes them with the Workflow). Pure."""
    strategy = str((spec.get("volumeClaimGC") or {}).get("strategy") or VOLUME_CLAIM_GC_DEFAULT)
    return strategy == "OnWorkflowCompletion" or phase == "Succeeded"


def _claims_mounted(
    wf_name: str,
    spec: Mapping[str, Any],
    tmpl: Mapping[str, Any],
    main: Mapping[str, Any],
    *,
    declared: set[str],
) -> list[dict[str, Any]]:
    """The claim volumes some container of this step mounts and no declared volume already names."""
    containers = [main, *(tmpl.get("initContainers") or []), *(tmpl.get("sidecars") or [])]
    mounted = {str(m.get("name")) for c in containers for m in c.get("volumeMounts") or [] if isinstance(m, Mapping)}
    if any(s.get("mirrorVolumeMounts") for s in tmpl.get("sidecars") or []):
        mounted |= {str(m.get("name")) for m in main.get("volumeMounts") or []}
    return [v for v in claim_volumes(wf_name, spec) if v["name"] in mounted and v["name"] not in declared]


# ---------------------------------------------------------------------------------------------------------------


def _clean_container(container: Mapping[str, Any]) -> dict[str, Any]:
    """A core/v1 Container from Argo's container/script/sidecar (drops Argo-only fields)."""
    out = copy.deepcopy(dict(container))
    for key in ("source", "mirrorVolumeMounts"):
        out.pop(key, None)
    return out


# Conventionally empty scratch directories: an output below one of them gets its volume at the scratch directory
# itself, so main may `mkdir /mnt/out` (without -p) for `/mnt/out/part.json`, as Argo's map-reduce example does.
_SCRATCH_DIRS = ("/tmp", "/mnt", "/var/tmp")


def _output_dirs(paths: Iterable[str], user_roots: list[_Root]) -> list[str]:
    """The directories to mount emptyDirs at so main can write each output path: the parent directory (a file
    cannot be a mount point, and main may write a file or a directory), or the scratch directory (/tmp, /mnt,
    /var/tmp) the path is under, or the path itself under `/`. Paths under a user volumeMount need none; nested
    candidates collapse to the outermost."""
    candidates: list[str] = []
    for raw in paths:
        path = posixpath.normpath(raw)
        if not path.startswith("/") or any(r.contains(path) for r in user_roots):
            continue
        scratch = next((d for d in _SCRATCH_DIRS if path.startswith(d + "/")), None)
        parent = posixpath.dirname(path)
        candidates.append(scratch or (path if parent == "/" else parent))
    kept: list[str] = []
    for d in sorted(set(candidates), key=lambda d: (d.count("/"), d)):
        if not any(d == k or d.startswith(k + "/") for k in kept):
            kept.append(d)
    return sorted(kept)


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _root_mount(root: _Root, index: int, *, read_only: bool) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": root.volume, "mountPath": f"{MOUNTS_DIR}/{index}"}
    if root.sub_path:
        mount["subPath"] = root.sub_path
    if read_only:
        mount["readOnly"] = True
    return mount


def _archive(archive: Any, *, field: str) -> tuple[str, int]:
    if not archive:
        return "tar", -1
    if "none" in archive:
        return "none", -1
    if "tar" in archive:
        level = (archive.get("tar") or {}).get("compressionLevel", -1)
        return "tar", int(level)
    raise ExpandError(f"{field}.archive: {sorted(archive)} is not supported; use tar (default) or none")


def _output_location(
    art: Mapping[str, Any], repository: Mapping[str, Any] | None, prefix: str, archive: str, *, field: str
) -> ArtifactLocation:
    key = output_key(prefix, str(art["name"]), archived=archive == "tar", path=str(art["path"]))
    if "s3" in art:
        location = complete_location({"s3": {"key": key, **art["s3"]}}, repository)
        if "s3" in location and not location["s3"].get("bucket"):
            raise ExpandError(f"{field}.s3.bucket: required when no artifact repository is configured")
        return location
    if "http" in art:
        return {"http": dict(art["http"])}
    for kind in ("gcs", "azure", "oss", "hdfs", "artifactory", "git", "raw"):
        if kind in art:
            raise ExpandError(f"{field}.{kind}: output artifacts go to s3 or http; {kind} is not supported")
    if repository is None:
        raise ExpandError(
            f"{field} ({art['name']!r}): no artifact repository is configured; set artifactRepository in the "
            "workflow-controller-configmap, an artifact-repositories ConfigMap, or give the artifact an s3 location"
        )
    return location_in_repository(repository, key)


def _input_entry(art: InputArtifact, repository: Mapping[str, Any] | None, *, where: str) -> dict[str, Any]:
    kinds = [k for k in ("s3", "http", "git", "raw", "local") if k in art["location"]]
    if not kinds:
        raise ExpandError(
            f'{where}: input artifact "{art["name"]}": {", ".join(sorted(art["location"])) or "no"} storage is not '
            "supported; use s3 (any S3-compatible store), http, git or raw"
        )
    entry: dict[str, Any] = {
        "name": art["name"],
        "path": art["path"],
        "location": copy.deepcopy(complete_location(art["location"], repository)),
        "optional": bool(art.get("optional", False)),
        "unpack": bool(art.get("unpack", True)),
    }
    if art.get("mode") is not None:
        entry["mode"] = int(art["mode"])
    return entry


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "artifact"


def _local_roots(locations: Iterable[Mapping[str, Any]]) -> list[str]:
    roots: list[str] = []
    for loc in locations:
        local = loc.get("local")
        if isinstance(local, Mapping) and local.get("path"):
            root = posixpath.normpath(str(local["path"]))
            if root not in roots:
                roots.append(root)
    return roots


def _secret_env(locations: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], None] = {}
    for loc in locations:
        for ref in secret_refs(loc):
            seen[ref] = None
    return [{"name": secret_env_name(n, k), "valueFrom": {"secretKeyRef": {"name": n, "key": k}}} for n, k in seen]


def _config_env(cfg: Mapping[str, Any], *, where: str) -> dict[str, str]:
    text = json.dumps(cfg, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise ExpandError(
            f"{where}: the script source and artifact configuration take {len(text.encode())} bytes, more than "
            f"{MAX_CONFIG_BYTES} fit in one environment variable; move the script into the image or an artifact"
        )
    # The kubelet expands `$(VAR)` and reduces `$$` to `$` in env values; doubling every `$` makes it hand the
    # program the JSON exactly as written (a script's `$$` or `$(cmd)` must reach the shell untouched).
    return {"name": CONFIG_ENV, "value": text.replace("$", "$$")}


def _executor_container(
    name: str, image: str, *, env: list[dict[str, Any]], mounts: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "command": ["trellis-exec", name],
        "env": env,
        "volumeMounts": mounts,
        "resources": copy.deepcopy(_EXECUTOR_RESOURCES),
        "securityContext": copy.deepcopy(_EXECUTOR_SECURITY),
    }


def _token_volume() -> dict[str, Any]:
    return {
        "name": "trellis-token",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ]
        },
    }


def _pod_field(name: str, tmpl: Mapping[str, Any], spec: Mapping[str, Any]) -> Any:
    if tmpl.get(name) is not None:
        return tmpl[name]
    alias = _WORKFLOW_ALIASES.get(name)
    if alias and spec.get(alias) is not None:
        return spec[alias]
    return spec.get(name)


def _pod_metadata(spec: Mapping[str, Any], tmpl: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Workflow `spec.podMetadata` then the template's `metadata` (the template wins on conflicts, as Argo)."""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for source in (spec.get("podMetadata") or {}, tmpl.get("metadata") or {}):
        labels.update({str(k): str(v) for k, v in (source.get("labels") or {}).items()})
        annotations.update({str(k): str(v) for k, v in (source.get("annotations") or {}).items()})
    return {"labels": labels, "annotations": annotations}


def _parse_patch(patch: Any, *, source: str) -> dict[str, Any]:
    if isinstance(patch, Mapping):
        return dict(patch)
    import yaml

    try:
        parsed = yaml.safe_load(str(patch))
    except yaml.YAMLError as exc:
        raise ExpandError(f"{source}: not valid JSON or YAML ({exc}); write a PodSpec fragment") from exc
    if not isinstance(parsed, dict):
        raise ExpandError(f"{source}: expected a PodSpec fragment (a mapping), found {type(parsed).__name__}")
    return parsed


_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "tolerations": None,
}


def _merge(base: Any, patch: Any, key: str = "") -> Any:
    """Strategic-merge enough of a PodSpec for podSpecPatch: maps merge, `null` deletes, lists of containers,
    volumes, env vars, mounts and ports merge by their key (name, mountPath, containerPort), other lists are
    replaced, as Kubernetes' strategic merge patch does for those fields."""
    if isinstance(base, dict) and isinstance(patch, Mapping):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = _merge(out[k], v, k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    merge_key = _MERGE_KEYS.get(key)
    if merge_key and isinstance(base, list) and isinstance(patch, list):
        out_list = list(base)
        for item in patch:
            if isinstance(item, Mapping) and merge_key in item:
                for i, existing in enumerate(out_list):
                    if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]:
                        out_list[i] = _merge(existing, item, "")
                        break
                else:
                    out_list.append(copy.deepcopy(dict(item)))
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)
