"""The Argo Workflows API (`argoproj.io/v1alpha1`): the one description of the four kinds Trellis serves.

Pure: no I/O. Field names and types follow Argo v4's API reference (docs/fields.md); fields Argo v3 users still
write are accepted too (`CronWorkflow.spec.schedule`, `synchronization.mutex`/`semaphore`, `Template.priority`,
`WorkflowSpec.podPriority`): semantic validation warns about them. Kubernetes types are references to
the core/v1 schemas (`k8s("Container")`), so container specs are checked field by field like a Pod's.

Everything derived from the API reads this module: the strict validator (`webhook.schema.validator`), the
CRDs (`webhook.schema.crd`, `python -m webhook.schema.generate`) and `KINDS` for the rest of the code.
"""

from __future__ import annotations

from typing import TypedDict

from webhook.schema.dsl import (
    Node,
    Object,
    any_string,
    any_value,
    boolean,
    int_or_string,
    integer,
    k8s,
    list_of,
    map_of,
    number,
    obj,
    ref,
    string,
)

GROUP = "argoproj.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class KindInfo(TypedDict):
    plural: str
    singular: str
    listKind: str
    scope: str  # "Namespaced" or "Cluster"
    shortNames: list[str]


KINDS: dict[str, KindInfo] = {
    "Workflow": {
        "plural": "workflows",
        "singular": "workflow",
        "listKind": "WorkflowList",
        "scope": "Namespaced",
        "shortNames": ["wf"],
    },
    "WorkflowTemplate": {
        "plural": "workflowtemplates",
        "singular": "workflowtemplate",
        "listKind": "WorkflowTemplateList",
        "scope": "Namespaced",
        "shortNames": ["wftmpl"],
    },
    "ClusterWorkflowTemplate": {
        "plural": "clusterworkflowtemplates",
        "singular": "clusterworkflowtemplate",
        "listKind": "ClusterWorkflowTemplateList",
        "scope": "Cluster",
        "shortNames": ["clusterwftmpl", "cwft"],
    },
    "CronWorkflow": {
        "plural": "cronworkflows",
        "singular": "cronworkflow",
        "listKind": "CronWorkflowList",
        "scope": "Namespaced",
        "shortNames": ["cwf", "cronwf"],
    },
}

S = string()
B = boolean()
I = integer()  # noqa: E741 (a one-letter alias keeps the tables below readable)
STRINGS = list_of(S)
STRING_MAP = map_of(S)
SECRET = k8s("SecretKeySelector")
CONFIG_MAP_KEY = k8s("ConfigMapKeySelector")


def _artifact_drivers() -> dict[str, Node]:
    return {
        "s3": ref("S3Artifact"),
        "http": ref("HTTPArtifact"),
        "git": ref("GitArtifact"),
        "raw": ref("RawArtifact"),
        "gcs": ref("GCSArtifact"),
        "oss": ref("OSSArtifact"),
        "azure": ref("AzureArtifact"),
        "hdfs": ref("HDFSArtifact"),
        "artifactory": ref("ArtifactoryArtifact"),
        "plugin": ref("PluginArtifact"),
    }


def _artifact(title: str) -> Object:
    return obj(
        title,
        {
            "name": S,
            "path": S,
            "mode": I,
            "from": S,
            "fromExpression": S,
            "archiveLogs": B,
            "archive": ref("ArchiveStrategy"),
            "optional": B,
            "subPath": S,
            "globalName": S,
            "recurseMode": B,
            "artifactGC": ref("ArtifactGC"),
            "deleted": B,
            **_artifact_drivers(),
        },
        required=("name",),
    )


_S3_COMMON: dict[str, Node] = {
    "endpoint": S,
    "bucket": S,
    "region": S,
    "insecure": B,
    "accessKeySecret": SECRET,
    "secretKeySecret": SECRET,
    "sessionTokenSecret": SECRET,
    "roleARN": S,
    "useSDKCreds": B,
    "createBucketIfNotPresent": obj("CreateS3BucketOptions", {"objectLocking": B}),
    "encryptionOptions": obj(
        "S3EncryptionOptions",
        {"kmsKeyId": S, "kmsEncryptionContext": S, "enableEncryption": B, "serverSideCustomerKeySecret": SECRET},
    ),
    "caSecret": SECRET,
    "addressingStyle": S,
}

_HDFS_COMMON: dict[str, Node] = {
    "addresses": STRINGS,
    "hdfsUser": S,
    "krbCCacheSecret": SECRET,
    "krbKeytabSecret": SECRET,
    "krbUsername": S,
    "krbRealm": S,
    "krbConfigConfigMap": CONFIG_MAP_KEY,
    "krbServicePrincipalName": S,
    "dataTransferProtection": S,
    "force": B,
}

_OSS_COMMON: dict[str, Node] = {
    "endpoint": S,
    "bucket": S,
    "accessKeySecret": SECRET,
    "secretKeySecret": SECRET,
    "createBucketIfNotPresent": B,
    "securityToken": S,
    "lifecycleRule": obj("OSSLifecycleRule", {"markInfrequentAccessAfterDays": I, "markDeletionAfterDays": I}),
    "useSDKCreds": B,
}

_LIFECYCLE_HOOK = obj(
    "LifecycleHook",
    {"template": S, "arguments": ref("Arguments"), "templateRef": ref("TemplateRef"), "expression": S},
)

_TASK_COMMON: dict[str, Node] = {
    "name": S,
    "template": S,
    "inline": ref("Template"),
    "arguments": ref("Arguments"),
    "templateRef": ref("TemplateRef"),
    "when": S,
    "withItems": list_of(any_value()),
    "withParam": S,
    "withSequence": ref("Sequence"),
    "continueOn": obj("ContinueOn", {"error": B, "failed": B}),
    "onExit": S,
    "hooks": map_of(ref("LifecycleHook")),
}

# Fields shared by a Workflow's spec and a template's pod settings.
_METRICS = obj(
    "Metrics",
    {
        "prometheus": list_of(
            obj(
                "Prometheus",
                {
                    "name": S,
                    "labels": list_of(obj("MetricLabel", {"key": S, "value": S}, required=("key", "value"))),
                    "help": S,
                    "when": S,
                    "gauge": obj("Gauge", {"value": S, "realtime": B, "operation": S}, required=("value", "realtime")),
                    "histogram": obj(
                        "Histogram", {"value": S, "buckets": list_of(number())}, required=("value", "buckets")
                    ),
                    "counter": obj("Counter", {"value": S}, required=("value",)),
                },
                required=("name", "help"),
            )
        )
    },
    required=("prometheus",),
)

DEFINITIONS: dict[str, Node] = {
    # --- parameters and artifacts ---------------------------------------------------------------------------
    "Arguments": obj("Arguments", {"parameters": list_of(ref("Parameter")), "artifacts": list_of(ref("Artifact"))}),
    "Inputs": obj("Inputs", {"parameters": list_of(ref("Parameter")), "artifacts": list_of(ref("Artifact"))}),
    "Outputs": obj(
        "Outputs",
        {
            "parameters": list_of(ref("Parameter")),
            "artifacts": list_of(ref("Artifact")),
            "result": S,
            "exitCode": S,
        },
    ),
    "Parameter": obj(
        "Parameter",
        {
            "name": S,
            "default": any_string(),
            "value": any_string(),
            "valueFrom": ref("ValueFrom"),
            "globalName": S,
            "enum": list_of(any_string()),
            "description": any_string(),
        },
        required=("name",),
    ),
    "ValueFrom": obj(
        "ValueFrom",
        {
            "path": S,
            "jsonPath": S,
            "jqFilter": S,
            "event": S,
            "parameter": S,
            "supplied": obj("SuppliedValueFrom", {}),
            "configMapKeyRef": CONFIG_MAP_KEY,
            "default": any_string(),
            "expression": S,
        },
    ),
    "Artifact": _artifact("Artifact"),
    "ArchiveStrategy": obj(
        "ArchiveStrategy",
        {
            "tar": obj("TarStrategy", {"compressionLevel": I}),
            "none": obj("NoneStrategy", {}),
            "zip": obj("ZipStrategy", {}),
        },
    ),
    "ArtifactGC": obj(
        "ArtifactGC",
        {
            "strategy": string("", "OnWorkflowCompletion", "OnWorkflowDeletion", "Never"),
            "podMetadata": ref("Metadata"),
            "serviceAccountName": S,
        },
    ),
    "S3Artifact": obj("S3Artifact", {**_S3_COMMON, "key": S}),
    "HTTPArtifact": obj(
        "HTTPArtifact",
        {
            "url": S,
            "headers": list_of(obj("Header", {"name": S, "value": S}, required=("name", "value"))),
            "auth": obj(
                "HTTPAuth",
                {
                    "clientCert": obj("ClientCertAuth", {"clientCertSecret": SECRET, "clientKeySecret": SECRET}),
                    "oauth2": obj(
                        "OAuth2Auth",
                        {
                            "clientIDSecret": SECRET,
                            "clientSecretSecret": SECRET,
                            "tokenURLSecret": SECRET,
                            "scopes": STRINGS,
                            "endpointParams": list_of(
                                obj("OAuth2EndpointParam", {"key": S, "value": S}, required=("key",))
                            ),
                        },
                    ),
                    "basicAuth": obj("BasicAuth", {"usernameSecret": SECRET, "passwordSecret": SECRET}),
                },
            ),
            "saveStreamViaFile": B,
        },
        required=("url",),
    ),
    "GitArtifact": obj(
        "GitArtifact",
        {
            "repo": S,
            "revision": S,
            "depth": I,
            "fetch": STRINGS,
            "usernameSecret": SECRET,
            "passwordSecret": SECRET,
            "sshPrivateKeySecret": SECRET,
            "insecureIgnoreHostKey": B,
            "disableSubmodules": B,
            "singleBranch": B,
            "branch": S,
            "insecureSkipTLS": B,
        },
        required=("repo",),
    ),
    "RawArtifact": obj("RawArtifact", {"data": S}, required=("data",)),
    "GCSArtifact": obj("GCSArtifact", {"bucket": S, "serviceAccountKeySecret": SECRET, "key": S}, required=("key",)),
    "OSSArtifact": obj("OSSArtifact", {**_OSS_COMMON, "key": S}, required=("key",)),
    "AzureArtifact": obj(
        "AzureArtifact",
        {"endpoint": S, "container": S, "accountKeySecret": SECRET, "useSDKCreds": B, "blob": S},
        required=("endpoint", "container", "blob"),
    ),
    "HDFSArtifact": obj("HDFSArtifact", {**_HDFS_COMMON, "path": S}, required=("path",)),
    "ArtifactoryArtifact": obj(
        "ArtifactoryArtifact",
        {"url": S, "usernameSecret": SECRET, "passwordSecret": SECRET},
        required=("url",),
    ),
    "PluginArtifact": obj(
        "PluginArtifact",
        {"name": S, "configuration": S, "connectionTimeoutSeconds": I, "key": S},
        required=("key",),
    ),
    "ArtifactLocation": obj("ArtifactLocation", {"archiveLogs": B, **_artifact_drivers()}),
    "ArtifactRepositoryRef": obj("ArtifactRepositoryRef", {"configMap": S, "key": S}),
    # --- templates --------------------------------------------------------------------------------------------
    "Template": obj(
        "Template",
        {
            "name": S,
            "inputs": ref("Inputs"),
            "outputs": ref("Outputs"),
            "nodeSelector": STRING_MAP,
            "affinity": k8s("Affinity"),
            "metadata": ref("Metadata"),
            "daemon": B,
            "steps": list_of(list_of(ref("WorkflowStep"))),
            "container": k8s("Container", optional=("name",), title="Container"),
            "containerSet": ref("ContainerSetTemplate"),
            "script": k8s("Container", extra={"source": S}, optional=("name",), title="ScriptTemplate"),
            "resource": ref("ResourceTemplate"),
            "dag": ref("DAGTemplate"),
            "suspend": obj("SuspendTemplate", {"duration": S}),
            "data": ref("Data"),
            "http": ref("HTTP"),
            "plugin": obj("Plugin", {}, open=True),
            "volumes": list_of(k8s("Volume")),
            "initContainers": list_of(ref("UserContainer")),
            "sidecars": list_of(ref("UserContainer")),
            "archiveLocation": ref("ArtifactLocation"),
            "activeDeadlineSeconds": int_or_string(),
            "retryStrategy": ref("RetryStrategy"),
            "parallelism": I,
            "failFast": B,
            "tolerations": list_of(k8s("Toleration")),
            "schedulerName": S,
            "priorityClassName": S,
            "priority": I,  # Argo v3; removed in v4
            "serviceAccountName": S,
            "automountServiceAccountToken": B,
            "executor": ref("ExecutorConfig"),
            "hostAliases": list_of(k8s("HostAlias")),
            "securityContext": k8s("PodSecurityContext"),
            "podSpecPatch": S,
            "metrics": ref("Metrics"),
            "synchronization": ref("Synchronization"),
            "memoize": obj(
                "Memoize",
                {
                    "key": S,
                    "cache": obj("Cache", {"configMap": k8s("LocalObjectReference")}, required=("configMap",)),
                    "maxAge": S,
                },
                required=("key", "cache", "maxAge"),
            ),
            "timeout": S,
            "pendingTimeout": S,
            "annotations": STRING_MAP,
            "podResources": k8s("ResourceRequirements"),
            "resourceClaims": list_of(k8s("PodResourceClaim")),
        },
    ),
    "UserContainer": k8s("Container", extra={"mirrorVolumeMounts": B}, title="UserContainer"),
    "ContainerSetTemplate": obj(
        "ContainerSetTemplate",
        {
            "containers": list_of(k8s("Container", extra={"dependencies": STRINGS}, title="ContainerNode")),
            "volumeMounts": list_of(k8s("VolumeMount")),
            "retryStrategy": obj(
                "ContainerSetRetryStrategy", {"duration": S, "retries": int_or_string()}, required=("retries",)
            ),
        },
        required=("containers",),
    ),
    "DAGTemplate": obj(
        "DAGTemplate",
        {"target": S, "tasks": list_of(ref("DAGTask")), "failFast": B},
        required=("tasks",),
    ),
    "DAGTask": obj(
        "DAGTask",
        {**_TASK_COMMON, "dependencies": STRINGS, "depends": S},
        required=("name",),
    ),
    "WorkflowStep": obj("WorkflowStep", _TASK_COMMON),
    "TemplateRef": obj("TemplateRef", {"name": S, "template": S, "clusterScope": B}),
    "Sequence": obj(
        "Sequence", {"count": int_or_string(), "start": int_or_string(), "end": int_or_string(), "format": S}
    ),
    "LifecycleHook": _LIFECYCLE_HOOK,
    "ResourceTemplate": obj(
        "ResourceTemplate",
        {
            "action": string("get", "create", "apply", "delete", "replace", "patch"),
            "mergeStrategy": string("strategic", "merge", "json"),
            "manifest": S,
            "manifestFrom": obj("ManifestFrom", {"artifact": ref("Artifact")}, required=("artifact",)),
            "setOwnerReference": B,
            "successCondition": S,
            "failureCondition": S,
            "flags": STRINGS,
        },
        required=("action",),
    ),
    "Data": obj(
        "Data",
        {
            "source": obj("DataSource", {"artifactPaths": _artifact("ArtifactPaths")}),
            "transformation": list_of(obj("TransformationStep", {"expression": S}, required=("expression",))),
        },
        required=("source", "transformation"),
    ),
    "HTTP": obj(
        "HTTP",
        {
            "method": S,
            "url": S,
            "headers": list_of(
                obj(
                    "HTTPHeader",
                    {"name": S, "value": S, "valueFrom": obj("HTTPHeaderSource", {"secretKeyRef": SECRET})},
                    required=("name",),
                )
            ),
            "timeoutSeconds": I,
            "successCondition": S,
            "body": S,
            "bodyFrom": obj("HTTPBodySource", {"bytes": S}),
            "insecureSkipVerify": B,
        },
        required=("url",),
    ),
    "RetryStrategy": obj(
        "RetryStrategy",
        {
            "limit": int_or_string(),
            "retryPolicy": string("Always", "OnFailure", "OnError", "OnTransientError"),
            "backoff": obj("Backoff", {"duration": S, "factor": int_or_string(), "maxDuration": S, "cap": S}),
            "affinity": obj("RetryAffinity", {"nodeAntiAffinity": obj("RetryNodeAntiAffinity", {})}),
            "expression": S,
        },
    ),
    "ExecutorConfig": obj("ExecutorConfig", {"serviceAccountName": S}),
    "Metadata": obj("Metadata", {"annotations": STRING_MAP, "labels": STRING_MAP}),
    "Metrics": _METRICS,
    "Synchronization": obj(
        "Synchronization",
        {
            "semaphores": list_of(ref("SemaphoreRef")),
            "mutexes": list_of(ref("Mutex")),
            "semaphore": ref("SemaphoreRef"),  # Argo v3; v4 spells it `semaphores`
            "mutex": ref("Mutex"),  # Argo v3; v4 spells it `mutexes`
        },
    ),
    "SemaphoreRef": obj(
        "SemaphoreRef",
        {
            "configMapKeyRef": CONFIG_MAP_KEY,
            "namespace": S,
            "database": obj("SyncDatabaseRef", {"key": S}, required=("key",)),
        },
    ),
    "Mutex": obj("Mutex", {"name": S, "namespace": S, "database": B}),
    # --- workflow ---------------------------------------------------------------------------------------------
    "WorkflowSpec": obj(
        "WorkflowSpec",
        {
            "templates": list_of(ref("Template")),
            "entrypoint": S,
            "arguments": ref("Arguments"),
            "serviceAccountName": S,
            "automountServiceAccountToken": B,
            "executor": ref("ExecutorConfig"),
            "volumes": list_of(k8s("Volume")),
            "volumeClaimTemplates": list_of(k8s("PersistentVolumeClaim")),
            "parallelism": I,
            "artifactRepositoryRef": ref("ArtifactRepositoryRef"),
            "suspend": B,
            "nodeSelector": STRING_MAP,
            "affinity": k8s("Affinity"),
            "tolerations": list_of(k8s("Toleration")),
            "imagePullSecrets": list_of(k8s("LocalObjectReference")),
            "hostNetwork": B,
            "dnsPolicy": string("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
            "dnsConfig": k8s("PodDNSConfig"),
            "onExit": S,
            "ttlStrategy": obj(
                "TTLStrategy", {"secondsAfterCompletion": I, "secondsAfterSuccess": I, "secondsAfterFailure": I}
            ),
            "activeDeadlineSeconds": I,
            "priority": I,
            "podPriority": I,  # Argo v3; removed in v4
            "schedulerName": S,
            "podGC": obj(
                "PodGC",
                {
                    "strategy": string(
                        "", "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"
                    ),
                    "labelSelector": k8s("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"),
                    "deleteDelayDuration": S,
                },
            ),
            "podPriorityClassName": S,
            "hostAliases": list_of(k8s("HostAlias")),
            "securityContext": k8s("PodSecurityContext"),
            "podSpecPatch": S,
            "podDisruptionBudget": k8s("io.k8s.api.policy.v1.PodDisruptionBudgetSpec"),
            "metrics": ref("Metrics"),
            "shutdown": string("", "Terminate", "Stop"),
            "workflowTemplateRef": obj("WorkflowTemplateRef", {"name": S, "clusterScope": B}),
            "synchronization": ref("Synchronization"),
            "volumeClaimGC": obj(
                "VolumeClaimGC", {"strategy": string("", "OnWorkflowCompletion", "OnWorkflowSuccess")}
            ),
            "retryStrategy": ref("RetryStrategy"),
            "podMetadata": ref("Metadata"),
            "templateDefaults": ref("Template"),
            "archiveLogs": B,
            "hooks": map_of(ref("LifecycleHook")),
            "workflowMetadata": obj(
                "WorkflowMetadata",
                {
                    "labels": STRING_MAP,
                    "annotations": STRING_MAP,
                    "labelsFrom": map_of(obj("LabelValueFrom", {"expression": S}, required=("expression",))),
                },
            ),
            "artifactGC": obj(
                "WorkflowLevelArtifactGC",
                {
                    "strategy": string("", "OnWorkflowCompletion", "OnWorkflowDeletion", "Never"),
                    "podMetadata": ref("Metadata"),
                    "serviceAccountName": S,
                    "forceFinalizerRemoval": B,
                    "podSpecPatch": S,
                },
            ),
            "executorPlugins": list_of(
                obj(
                    "ExecutorPlugin",
                    {
                        "metadata": k8s("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
                        "spec": obj(
                            "ExecutorPluginSpec",
                            {
                                "sidecar": obj(
                                    "ExecutorPluginSidecar",
                                    {"automountServiceAccountToken": B, "container": k8s("Container")},
                                    required=("container",),
                                )
                            },
                            required=("sidecar",),
                        ),
                    },
                    required=("metadata", "spec"),
                )
            ),
            "podResources": k8s("ResourceRequirements"),
            "resourceClaims": list_of(k8s("PodResourceClaim")),
        },
    ),
    "CronWorkflowSpec": obj(
        "CronWorkflowSpec",
        {
            "workflowSpec": ref("WorkflowSpec"),
            "schedule": S,  # Argo v3; v4 spells it `schedules` (a list)
            "schedules": STRINGS,
            "concurrencyPolicy": string("Allow", "Forbid", "Replace"),
            "suspend": B,
            "startingDeadlineSeconds": I,
            "successfulJobsHistoryLimit": I,
            "failedJobsHistoryLimit": I,
            "timezone": S,
            "workflowMetadata": k8s("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            "stopStrategy": obj("StopStrategy", {"expression": S}, required=("expression",)),
            "when": S,
        },
        required=("workflowSpec",),
    ),
}

# Status is written by the engine, not by users: its objects are typed but stay open (`open=True`), so a field a
# newer engine adds never makes an existing object invalid.
_TIME = string()
_CONDITION = obj("Condition", {"type": S, "status": S, "message": S}, open=True)

STATUS_DEFINITIONS: dict[str, Node] = {
    "NodeStatus": obj(
        "NodeStatus",
        {
            "id": S,
            "name": S,
            "displayName": S,
            "type": S,
            "templateName": S,
            "templateRef": ref("TemplateRef"),
            "templateScope": S,
            "phase": S,
            "boundaryID": S,
            "message": S,
            "startedAt": _TIME,
            "finishedAt": _TIME,
            "estimatedDuration": I,
            "progress": S,
            "resourcesDuration": map_of(I),
            "podIP": S,
            "daemoned": B,
            "inputs": obj("NodeInputs", {}, open=True),
            "outputs": obj("NodeOutputs", {}, open=True),
            "children": STRINGS,
            "outboundNodes": STRINGS,
            "hostNodeName": S,
            "memoizationStatus": obj("MemoizationStatus", {}, open=True),
            "synchronizationStatus": obj("NodeSynchronizationStatus", {}, open=True),
            "nodeFlag": obj("NodeFlag", {"hooked": B, "retried": B}, open=True),
            "taskResultSynced": B,
            "failedPodRestarts": I,
            "restartingPodUID": S,
        },
        open=True,
    ),
    "WorkflowStatus": obj(
        "WorkflowStatus",
        {
            "phase": S,
            "startedAt": _TIME,
            "finishedAt": _TIME,
            "estimatedDuration": I,
            "progress": S,
            "message": S,
            "compressedNodes": S,
            "nodes": map_of(ref("NodeStatus")),
            "offloadNodeStatusVersion": S,
            "storedTemplates": map_of(obj("StoredTemplate", {}, open=True)),
            "persistentVolumeClaims": list_of(obj("StatusVolume", {}, open=True)),
            "outputs": obj("WorkflowOutputs", {}, open=True),
            "conditions": list_of(_CONDITION),
            "resourcesDuration": map_of(I),
            "storedWorkflowTemplateSpec": obj("StoredWorkflowSpec", {}, open=True),
            "synchronization": obj("SynchronizationStatus", {}, open=True),
            "artifactRepositoryRef": obj("ArtifactRepositoryRefStatus", {}, open=True),
            "artifactGCStatus": obj("ArtGCStatus", {}, open=True),
            "taskResultsCompletionStatus": map_of(B),
        },
        open=True,
    ),
    "CronWorkflowStatus": obj(
        "CronWorkflowStatus",
        {
            "active": list_of(obj("ActiveWorkflowReference", {}, open=True)),
            "lastScheduledTime": _TIME,
            "conditions": list_of(_CONDITION),
            "succeeded": I,
            "failed": I,
            "phase": S,
        },
        open=True,
    ),
}

ALL_DEFINITIONS: dict[str, Node] = {**DEFINITIONS, **STATUS_DEFINITIONS}

_SPEC_AND_STATUS = {
    "Workflow": ("WorkflowSpec", "WorkflowStatus"),
    "WorkflowTemplate": ("WorkflowSpec", None),
    "ClusterWorkflowTemplate": ("WorkflowSpec", None),
    "CronWorkflow": ("CronWorkflowSpec", "CronWorkflowStatus"),
}


def kind_root(kind: str) -> Object:
    """The top-level object of one kind: apiVersion, kind, metadata, spec (and status where the kind has one)."""
    spec, status = _SPEC_AND_STATUS[kind]
    fields: dict[str, Node] = {
        "apiVersion": string(API_VERSION, placeholders=False),
        "kind": string(kind, placeholders=False),
        "metadata": k8s("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        "spec": ref(spec),
    }
    if status is not None:
        fields["status"] = ref(status)
    return obj(kind, fields, required=("apiVersion", "kind", "metadata", "spec"))


def status_definition(kind: str) -> str | None:
    return _SPEC_AND_STATUS[kind][1]


def spec_definition(kind: str) -> str:
    return _SPEC_AND_STATUS[kind][0]
