"""A stateful Kubernetes API stand-in for tests: an HTTP server on 127.0.0.1 that the official `kubernetes`
Python client and a real `kubectl` talk to. Test infrastructure, not part of the product.

Use it (pytest):

    from tests.standin import SimKubelet, fixture
    kube = fixture.kube                              # registers the fixture in this test module


    def test_something(kube):                       # kube: a running KubeStandin, fresh per test
        api = kube.client()                         # kubernetes.client.ApiClient bound to it
        kube.kubectl("apply", "-f", "wf.yaml")      # real kubectl with a kubeconfig written for it
        kube.inject_fault("create", "jobs", 500)    # fail the next Job create with 500 (or delay=, disconnect=)
        kube.drop_watches()                          # end every open watch stream
        kube.compact()                               # later watches from older resourceVersions get 410
        kube.requests                                # every request served: verb/resource/ns/name/code
        kubelet = SimKubelet(kube)                   # pods for Jobs, explicit outcomes (kubelet.py)
    or without pytest: `with running_standin() as kube: ...` (server.py).

What it emulates:
- Discovery: /version, /api, /api/v1, /apis, /apis/G, /apis/G/V (verbs, namespaced, kind, shortNames,
  categories, subresources); /openapi/v3 (index plus one document per group-version: every PATCH declares
  `fieldValidation`, so kubectl validates on the server, and CRD schemas); /healthz /readyz /livez.
- Built-in kinds: namespaces, pods (+status, +log), configmaps, secrets, services, serviceaccounts, events (core
  and events.k8s.io, stored separately), batch/v1 jobs (+status; selector and pod-template labels defaulted as
  the API server does), persistentvolumeclaims (+status; stored only: never bound, no provisioner), leases,
  CRDs (+status), validating/mutating webhook configurations; RBAC, apps/v1
  deployments, network policies and pod disruption budgets (stored only).
- CustomResourceDefinitions: creating one serves its versions (discovery, OpenAPI, storage shared across
  versions), marks it NamesAccepted/Established, prunes unknown fields and validates against the version's
  openAPIV3Schema (crdschema.py), honours `subresources.status`; `fieldValidation=Strict` rejects unknown
  fields (400, the API server's "strict decoding error" wording), `Warn` returns warnings.
- Verbs: create (201, generateName, uid, creationTimestamp, generation, resourceVersion from one global
  counter, 409 AlreadyExists), get, list (labelSelector =, ==, !=, in, notin, exists, !key; fieldSelector
  metadata.name, metadata.namespace and per-kind fields such as pods' status.phase; limit/continue), watch
  (from resourceVersion, or 0/unset = current objects as ADDED first; ADDED/MODIFIED/DELETED with selector
  transitions as ADDED/DELETED; BOOKMARK every `bookmark_interval` with allowWatchBookmarks; ERROR 410 Expired
  when the resourceVersion is older than the retained `event_window` or a `compact()`; timeoutSeconds),
  update (resourceVersion precondition -> 409 Conflict), patch (merge, JSON, strategic merge as described in
  patches.py; strategic merge on custom resources is 415 as on a real server), status subresource (status
  ignored on the main resource, everything but status ignored on /status), metadata.generation bumped on
  non-metadata/status changes, no-op writes keep the resourceVersion, delete (Background: dependents by
  ownerReference deleted after the owner; Foreground: dependents first, synchronously; Orphan: ownerReferences
  removed; batch/v1 Jobs default to Orphan with the API server's warning), finalizers (deletionTimestamp set,
  the object stays until an update removes the last finalizer), deletecollection, preconditions, `dryRun=All`.
- Admission: stored Mutating- then ValidatingWebhookConfigurations matched by rules (operations, groups,
  versions, resources, scope), namespaceSelector and objectSelector; a real AdmissionReview v1 over HTTPS
  verified with `caBundle` (service references go to `map_service()` addresses, verified as NAME.NS.svc);
  mutating JSONPatch applied; denials returned as the API server formats them; failurePolicy Fail/Ignore;
  webhook warnings as `Warning` headers (kubectl prints them).
- Errors are `kind: Status` objects with code, reason, message and details, as the API server writes them.
- Tests: fault injection (`inject_fault`: an error code, a `delay` (client timeouts), or `disconnect` without
  an answer), `drop_watches`, `compact`, the request log, pod logs (`set_pod_log`),
  an in-process API (`create`, `get`, `list_objects`, `patch`, `delete`, `wait_until`) that skips the request
  log. Also enforced: no unconditional PUT of custom resources, Job selector/template and Pod spec immutability,
  object names (DNS-1123 subdomain; label-length for Jobs, Services, Namespaces) and label keys/values as
  apimachinery validates them (a workflow name too long for a label value fails here as in a cluster).

What it does NOT emulate (by design; tests must not rely on these):
- Authentication, authorization and RBAC enforcement (RBAC objects are stored only; any bearer token is
  accepted), client certificates, API priority and fairness, audit. (HTTPS is optional: `KubeStandin(tls=True)`
  serves with a fresh CA that the kubeconfig and `client()` trust.)
- Protobuf, server-side apply (`application/apply-patch+yaml` is 415), OpenAPI v2 (404: kubectl falls back to
  v3/its compiled-in types), aggregated discovery. Table output (`kubectl get`) has CRD printer columns, a subset
  of the Pod and Job columns, and Name/Age for every other kind (tables.py).
- Validation and defaulting of built-in kinds beyond the few listed above (immutability is checked only for a
  Job's selector/completions/template and a Pod's spec; no schema for pods/jobs; unknown fields in built-in
  kinds are kept), CEL rules, `format`, defaults in CRD schemas,
  CRD conversion between versions (all versions share one stored object), scale subresources.
- Controllers: no scheduler, kubelet, Job controller, namespace lifecycle (deleting a namespace deletes its
  contents at once), TTL-after-finished, service endpoints, token or certificate controllers. The test
  kubelet (kubelet.py) moves pods and Jobs when a test says so.
- Pod graceful deletion (pods go at once), `follow` on logs, exec/attach/port-forward, eviction, scale.
- `resourceVersionMatch` semantics (lists are always current), watch caches per resource (one global
  history); `sendInitialEvents` is served as "current objects, then the initial-events-end bookmark".
"""

from .kubelet import ContainerOutcome, LocalKubeletBridge, SimKubelet
from .server import KubeStandin, running_standin
from .store import ApiError, Fault, RequestRecord

__all__ = [
    "ApiError",
    "ContainerOutcome",
    "Fault",
    "KubeStandin",
    "LocalKubeletBridge",
    "RequestRecord",
    "SimKubelet",
    "running_standin",
]
