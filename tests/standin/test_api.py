"""The stand-in through the official `kubernetes` Python client: the behaviours a controller relies on."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.standin import ApiError, KubeStandin

JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "step", "labels": {"workflows.argoproj.io/workflow": "wf"}},
    "spec": {
        "backoffLimit": 0,
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "alpine"}]}},
    },
}


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def cm(name: str, labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}, **meta}, "data": {"k": "v"}}


def test_create_assigns_identity_and_a_growing_resource_version(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    first = core.create_namespaced_config_map("default", cm("a"))
    second = core.create_namespaced_config_map("default", cm("", generateName="gen-"))
    assert first.metadata.uid and first.metadata.creation_timestamp and first.metadata.generation == 1
    assert int(second.metadata.resource_version) == int(first.metadata.resource_version) + 1
    assert second.metadata.name.startswith("gen-") and len(second.metadata.name) == len("gen-") + 5


def test_creating_an_existing_name_is_409_already_exists_in_status_form(kube_client: Any) -> None:
    batch = client.BatchV1Api(kube_client)
    batch.create_namespaced_job("default", JOB)
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job("default", JOB)
    assert caught.value.status == 409
    assert status_of(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'jobs.batch "step" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "step", "group": "batch", "kind": "jobs"},
        "code": 409,
    }


def test_get_of_a_missing_object_is_404_not_found(kube_client: Any) -> None:
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(kube_client).read_namespaced_pod("nope", "default")
    assert (caught.value.status, status_of(caught.value)["message"]) == (404, 'pods "nope" not found')


def test_creating_in_a_missing_namespace_is_404(kube_client: Any) -> None:
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(kube_client).create_namespaced_config_map("ghost", cm("a"))
    assert (caught.value.status, status_of(caught.value)["message"]) == (404, 'namespaces "ghost" not found')


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("app=web", ["web-1", "web-2"], id="equals"),
        pytest.param("app==web", ["web-1", "web-2"], id="double-equals"),
        pytest.param("app!=web", ["db", "plain"], id="not-equals-includes-unlabelled"),
        pytest.param("app in (db, web),tier=front", ["web-1"], id="in-and-equals"),
        pytest.param("app notin (web)", ["db", "plain"], id="notin"),
        pytest.param("tier", ["web-1", "web-2"], id="exists"),
        pytest.param("!app", ["plain"], id="does-not-exist"),
    ],
)
def test_list_filters_by_label_selector(kube_client: Any, selector: str, expected: list[str]) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", cm("web-1", {"app": "web", "tier": "front"}))
    core.create_namespaced_config_map("default", cm("web-2", {"app": "web", "tier": "back"}))
    core.create_namespaced_config_map("default", cm("db", {"app": "db"}))
    core.create_namespaced_config_map("default", cm("plain"))
    names = [c.metadata.name for c in core.list_namespaced_config_map("default", label_selector=selector).items]
    assert sorted(names) == sorted(expected)


def test_list_filters_pods_by_phase_and_rejects_unknown_field_selectors(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    for name in ("p1", "p2"):
        core.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": {"containers": [{"name": "c"}]}})
    kube.patch("v1", "Pod", "p2", {"status": {"phase": "Running"}}, subresource="status")
    running = core.list_pod_for_all_namespaces(field_selector="status.phase=Running,metadata.namespace=default")
    assert [p.metadata.name for p in running.items] == ["p2"]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("default", field_selector="spec.hostname=x")
    assert (caught.value.status, status_of(caught.value)["message"]) == (
        400,
        "field label not supported: spec.hostname",
    )


def test_list_pages_with_limit_and_continue(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    for n in range(5):
        core.create_namespaced_config_map("default", cm(f"c{n}"))
    first = core.list_namespaced_config_map("default", limit=2)
    second = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    third = core.list_namespaced_config_map("default", limit=2, _continue=second.metadata._continue)
    pages = [[c.metadata.name for c in page.items] for page in (first, second, third)]
    assert pages == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    assert third.metadata._continue is None


def test_update_with_a_stale_resource_version_is_409_conflict(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    stale = core.create_namespaced_config_map("default", cm("a"))
    fresh = core.read_namespaced_config_map("a", "default")
    fresh.data = {"k": "new"}
    core.replace_namespaced_config_map("a", "default", fresh)
    stale.data = {"k": "lost update"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("a", "default", stale)
    assert caught.value.status == 409
    assert status_of(caught.value)["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your '
        "changes to the latest version and try again"
    )
    assert core.read_namespaced_config_map("a", "default").data == {"k": "new"}


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "labels": {"a": "1"}, "finalizers": ["x/one"]},
    "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {
                "containers": [
                    {"name": "main", "image": "alpine", "env": [{"name": "A", "value": "1"}]},
                    {"name": "wait", "image": "trellis"},
                ]
            },
        },
    },
}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return found


@pytest.mark.parametrize(
    ("content_type", "patch", "check"),
    [
        pytest.param(
            "application/merge-patch+json",
            {"metadata": {"labels": {"a": None, "b": "2"}}},
            lambda p: p["metadata"]["labels"] == {"b": "2"},
            id="merge-null-deletes",
        ),
        pytest.param(
            "application/json-patch+json",
            [{"op": "add", "path": "/metadata/labels/c", "value": "3"}, {"op": "remove", "path": "/metadata/labels/a"}],
            lambda p: p["metadata"]["labels"] == {"c": "3"},
            id="json-patch",
        ),
        pytest.param(
            "application/strategic-merge-patch+json",
            {"spec": {"template": {"spec": {"containers": [{"name": "wait", "image": "trellis:2"}]}}}},
            lambda p: [(c["name"], c["image"]) for c in containers(p)] == [("main", "alpine"), ("wait", "trellis:2")],
            id="strategic-merges-containers-by-name",
        ),
        pytest.param(
            "application/strategic-merge-patch+json",
            {"spec": {"template": {"spec": {"containers": [{"name": "main", "$patch": "delete"}]}}}},
            lambda p: [c["name"] for c in containers(p)] == ["wait"],
            id="strategic-delete-directive",
        ),
        pytest.param(
            "application/strategic-merge-patch+json",
            {"metadata": {"finalizers": ["x/two"]}},
            lambda p: p["metadata"]["finalizers"] == ["x/one", "x/two"],
            id="strategic-finalizers-are-a-set",
        ),
        pytest.param(
            "application/strategic-merge-patch+json",
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/one"]}},
            lambda p: p["metadata"]["finalizers"] == [],
            id="strategic-delete-from-primitive-list",
        ),
    ],
)
def test_patch_types(kube: KubeStandin, kube_client: Any, content_type: str, patch: Any, check: Any) -> None:
    client.AppsV1Api(kube_client).create_namespaced_deployment("default", DEPLOYMENT)
    rv = kube.get("apps/v1", "Deployment", "d")["metadata"]["resourceVersion"]
    url = f"{kube.url}/apis/apps/v1/namespaces/default/deployments/d"
    reply = requests.patch(url, data=json.dumps(patch), headers={"Content-Type": content_type})
    assert reply.status_code == 200, reply.text
    patched = kube.get("apps/v1", "Deployment", "d")
    assert check(patched), patched
    assert int(patched["metadata"]["resourceVersion"]) > int(rv)


def test_a_patch_carrying_a_stale_resource_version_is_a_conflict(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    created = core.create_namespaced_config_map("default", cm("a"))
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "a", "default", {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"k": "3"}}
        )
    assert caught.value.status == 409


def test_status_subresource_separates_spec_and_status_writes(kube_client: Any) -> None:
    batch = client.BatchV1Api(kube_client)
    batch.create_namespaced_job("default", {**JOB, "status": {"active": 5}})
    assert batch.read_namespaced_job("step", "default").status.active is None  # status dropped on create
    batch.patch_namespaced_job("step", "default", {"spec": {"backoffLimit": 3}, "status": {"active": 1}})
    job = batch.read_namespaced_job("step", "default")
    assert (job.spec.backoff_limit, job.status.active, job.metadata.generation) == (3, None, 2)
    batch.patch_namespaced_job_status("step", "default", {"spec": {"backoffLimit": 9}, "status": {"active": 1}})
    job = batch.read_namespaced_job("step", "default")
    assert (job.spec.backoff_limit, job.status.active, job.metadata.generation) == (3, 1, 2)


def test_job_gets_the_api_servers_selector_and_pod_template_labels(kube_client: Any) -> None:
    job = client.BatchV1Api(kube_client).create_namespaced_job("default", JOB)
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "step",
        "controller-uid": uid,
        "job-name": "step",
    }


def test_dry_run_validates_but_stores_nothing(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", cm("a"), dry_run="All")
    assert core.list_namespaced_config_map("default").items == []


def test_watch_from_a_resource_version_sees_later_changes_in_order(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", cm("a", {"app": "x"}))
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": "y"}}})
    core.delete_namespaced_config_map("a", "default")
    w = watch.Watch()
    seen = []
    for e in w.stream(
        core.list_namespaced_config_map, "default", resource_version=start, label_selector="app=x", timeout_seconds=5
    ):
        seen.append((e["type"], e["object"].metadata.labels["app"], e["object"].data["k"]))
        if len(seen) == 3:
            w.stop()
    # leaving the selector is a DELETED event, as on a real API server
    assert seen == [("ADDED", "x", "v"), ("MODIFIED", "x", "2"), ("DELETED", "y", "2")]


def test_watch_from_a_compacted_resource_version_gets_410_expired(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    old = core.create_namespaced_config_map("default", cm("a")).metadata.resource_version
    core.create_namespaced_config_map("default", cm("b"))
    now = kube.compact()
    with pytest.raises(ApiException) as caught:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=old, timeout_seconds=2
        ):
            pass
    assert caught.value.status == 410
    assert caught.value.reason == f"Expired: too old resource version: {old} ({now + 1})"


def test_watch_sends_bookmarks_when_allowed(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=5
    ):
        assert event["type"] == "BOOKMARK"
        assert event["raw_object"]["metadata"]["resourceVersion"] == rv
        w.stop()
        break


def test_watch_ends_when_the_server_drops_it(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    ended = threading.Event()

    def consume() -> None:
        resp = core.list_namespaced_config_map("default", watch=True, resource_version=rv, _preload_content=False)
        for _ in resp.stream():
            pass
        ended.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    kube.wait_until(lambda: any(r.verb == "watch" for r in kube.requests), what="the watch request")
    kube.drop_watches()
    assert ended.wait(5), "the watch did not end after drop_watches()"


def test_deleting_an_owner_in_background_deletes_its_dependents(kube: KubeStandin, kube_client: Any) -> None:
    batch, core = client.BatchV1Api(kube_client), client.CoreV1Api(kube_client)
    job = batch.create_namespaced_job("default", JOB)
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": "step", "uid": job.metadata.uid, "controller": True}
    core.create_namespaced_pod(
        "default", {"metadata": {"name": "step-abcde", "ownerReferences": [owner]}, "spec": {"containers": []}}
    )
    batch.delete_namespaced_job("step", "default", propagation_policy="Background")
    assert core.list_namespaced_pod("default").items == []


def test_deleting_a_job_without_a_policy_orphans_its_pods_with_the_api_servers_warning(
    kube: KubeStandin, kube_client: Any
) -> None:
    batch, core = client.BatchV1Api(kube_client), client.CoreV1Api(kube_client)
    job = batch.create_namespaced_job("default", JOB)
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": "step", "uid": job.metadata.uid}
    core.create_namespaced_pod(
        "default", {"metadata": {"name": "p", "ownerReferences": [owner]}, "spec": {"containers": []}}
    )
    out = kube.kubectl("delete", "job", "step", "--cascade=orphan")
    assert out.returncode == 0
    pod = core.read_namespaced_pod("p", "default")
    assert pod.metadata.owner_references is None
    batch.create_namespaced_job("default", JOB)
    resp = batch.delete_namespaced_job_with_http_info("step", "default")
    assert resp[2]["Warning"] == (
        '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to '
        'remove them or set propagationPolicy=Orphan to suppress this warning"'
    )


def test_foreground_deletion_removes_dependents_first(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    owner = core.create_namespaced_config_map("default", cm("owner"))
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map("default", cm("child", ownerReferences=[ref]))
    start = kube.store.rv
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Foreground")
    with kube.store.lock:
        order = [(e.type, e.obj["metadata"]["name"]) for e in kube.store.events_after(start)]
    assert order == [("DELETED", "child"), ("DELETED", "owner")]


def test_finalizers_hold_an_object_until_the_last_one_is_removed(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", cm("a", finalizers=["x/one", "x/two"]))
    core.delete_namespaced_config_map("a", "default")
    held = core.read_namespaced_config_map("a", "default")
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("a", "default", [{"op": "remove", "path": "/metadata/finalizers/0"}])
    assert core.read_namespaced_config_map("a", "default").metadata.finalizers == ["x/two"]
    core.patch_namespaced_config_map("a", "default", {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/two"]}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("a", "default")
    assert caught.value.status == 404


def test_leases_support_optimistic_leader_election(kube_client: Any) -> None:
    coord = client.CoordinationV1Api(kube_client)
    body = {"metadata": {"name": "trellis-controller"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
    lease = coord.create_namespaced_lease("default", body)
    lease.spec.holder_identity = "b"
    coord.replace_namespaced_lease("trellis-controller", "default", lease)
    lease.spec.holder_identity = "c"  # built on the stale copy: must lose
    with pytest.raises(ApiException) as caught:
        coord.replace_namespaced_lease("trellis-controller", "default", lease)
    assert caught.value.status == 409
    assert coord.read_namespaced_lease("trellis-controller", "default").spec.holder_identity == "b"


def test_both_event_apis_store_events(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    events = client.EventsV1Api(kube_client)
    core.create_namespaced_event(
        "default",
        {"metadata": {"generateName": "wf."}, "involvedObject": {"kind": "Workflow", "name": "wf"}, "reason": "R"},
    )
    events.create_namespaced_event(
        "default", {"metadata": {"name": "e"}, "eventTime": "2026-01-01T00:00:00.000000Z", "reason": "R2"}
    )
    listed = core.list_namespaced_event("default", field_selector="involvedObject.name=wf")
    assert [e.reason for e in listed.items] == ["R"]
    assert [e.reason for e in events.list_namespaced_event("default").items] == ["R2"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        pytest.param(500, "InternalError", id="500"),
        pytest.param(429, "TooManyRequests", id="429"),
        pytest.param(409, "Conflict", id="409"),
    ],
)
def test_injected_faults_fail_the_next_matching_requests_only(
    kube: KubeStandin, kube_client: Any, code: int, reason: str
) -> None:
    batch = client.BatchV1Api(kube_client)
    fault = kube.inject_fault("create", "jobs", code, times=1)
    with pytest.raises(ApiException) as caught:
        batch.create_namespaced_job("default", JOB)
    assert (caught.value.status, status_of(caught.value)["reason"], fault.times) == (code, reason, 0)
    if code == 429:
        assert caught.value.headers["Retry-After"] == "1"
    batch.create_namespaced_job("default", JOB)
    assert [(r.verb, r.resource, r.code) for r in kube.requests] == [("create", "jobs", code), ("create", "jobs", 201)]


def test_deleting_a_namespace_deletes_what_it_contains(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespaced_config_map("team", cm("a"))
    core.create_namespaced_config_map("default", cm("b"))
    core.delete_namespace("team")
    assert [c.metadata.name for c in core.list_config_map_for_all_namespaces().items] == ["b"]
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("team", cm("c"))
    assert caught.value.status == 404


def test_delete_collection_deletes_only_what_the_selector_matches(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map("default", cm(name, {"app": app}))
    core.delete_collection_namespaced_config_map("default", label_selector="app=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["c"]


def test_a_watch_from_zero_starts_with_the_current_objects(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_config_map("default", cm("a"))
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, "default", resource_version="0", timeout_seconds=5):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "a")
        w.stop()


def test_a_watch_older_than_the_event_window_gets_410(kube_client: Any) -> None:
    from tests.standin import running_standin

    with running_standin(event_window=3) as small:
        core = client.CoreV1Api(small.client())
        first = core.create_namespaced_config_map("default", cm("a")).metadata.resource_version
        for name in ("b", "c", "d", "e"):
            core.create_namespaced_config_map("default", cm(name))
        with pytest.raises(ApiException) as caught:
            for _ in watch.Watch().stream(
                core.list_namespaced_config_map, "default", resource_version=first, timeout_seconds=2
            ):
                pass
        assert caught.value.status == 410
        latest = core.list_namespaced_config_map("default").metadata.resource_version
        seen = list(
            watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=latest, timeout_seconds=1)
        )
        assert seen == []  # the newest resourceVersion is always within the window


def test_a_watch_across_namespaces_filters_by_namespace_field(kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespace({"metadata": {"name": "team"}})
    rv = core.list_config_map_for_all_namespaces().metadata.resource_version
    core.create_namespaced_config_map("default", cm("skip"))
    core.create_namespaced_config_map("team", cm("mine"))
    w = watch.Watch()
    for event in w.stream(
        core.list_config_map_for_all_namespaces,
        resource_version=rv,
        field_selector="metadata.namespace=team",
        timeout_seconds=5,
    ):
        assert (event["type"], event["object"].metadata.namespace, event["object"].metadata.name) == (
            "ADDED",
            "team",
            "mine",
        )
        w.stop()


def test_an_invalid_crd_is_422_with_its_causes(kube_client: Any) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    with pytest.raises(ApiException) as caught:
        client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(crd)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert [(c["field"], c["message"]) for c in status["details"]["causes"]] == [
        ("metadata.name", 'Invalid value: "things.example.com": must be spec.names.plural+"."+spec.group'),
        ("spec.versions[0].schema.openAPIV3Schema", "Required value: schemas are required"),
    ]


def test_field_validation_warn_keeps_the_object_and_returns_warnings(kube: KubeStandin) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                        }
                    },
                }
            ],
        },
    }
    kube.create(crd)
    reply = requests.post(
        f"{kube.url}/apis/example.com/v1/namespaces/default/widgets?fieldValidation=Warn",
        json={
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1, "colour": "red"},
        },
    )
    assert reply.status_code == 201
    assert reply.headers["Warning"] == '299 - "unknown field \\"spec.colour\\""'
    assert reply.json()["spec"] == {"size": 1}


def test_a_disconnect_fault_ends_the_connection_without_an_answer(kube: KubeStandin, kube_client: Any) -> None:
    kube.inject_fault("get", "configmaps", disconnect=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{kube.url}/api/v1/namespaces/default/configmaps/x", timeout=5)
    assert [(r.verb, r.code) for r in kube.requests] == [("get", 0)]


def test_a_delay_fault_makes_a_client_time_out_then_serves_normally(kube: KubeStandin, kube_client: Any) -> None:
    kube.inject_fault("list", "configmaps", delay=1.0)
    url = f"{kube.url}/api/v1/namespaces/default/configmaps"
    with pytest.raises(requests.ReadTimeout):
        requests.get(url, timeout=0.2)
    assert requests.get(url, timeout=5).json()["items"] == []


def test_a_python_watch_resumes_after_a_dropped_stream_without_losing_events(
    kube: KubeStandin, kube_client: Any
) -> None:
    core = client.CoreV1Api(kube_client)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    names: list[str] = []
    w = watch.Watch()
    stream = w.stream(core.list_namespaced_config_map, "default", resource_version=rv)
    core.create_namespaced_config_map("default", cm("before"))
    names.append(next(stream)["object"].metadata.name)
    kube.drop_watches()
    core.create_namespaced_config_map("default", cm("after"))  # written while no watch is open
    names.append(next(stream)["object"].metadata.name)
    w.stop()
    assert names == ["before", "after"]
    assert [r.verb for r in kube.requests if r.verb == "watch"] == ["watch", "watch"]


def test_custom_resources_refuse_an_update_without_a_resource_version(kube: KubeStandin) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    kube.create(crd)
    kube.create({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}})
    url = f"{kube.url}/apis/example.com/v1/namespaces/default/widgets/w"
    reply = requests.put(url, json={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert reply.status_code == 422
    assert reply.json()["message"] == (
        'Widget.example.com "w" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for '
        "an update"
    )


def test_a_pod_spec_change_beyond_images_is_forbidden(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_pod(
        "default", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main", "image": "alpine"}]}}
    )
    core.patch_namespaced_pod("p", "default", {"spec": {"containers": [{"name": "main", "image": "alpine:3"}]}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("p", "default", {"spec": {"containers": [{"name": "main", "command": ["x"]}]}})
    status = status_of(caught.value)
    assert (caught.value.status, status["details"]["causes"][0]["field"]) == (422, "spec")
    assert status["message"].startswith(
        'Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`'
    )


def test_the_stand_in_can_serve_https_to_the_client_and_kubectl(tmp_path: Any) -> None:
    from tests.standin import running_standin

    with running_standin(tls=True) as secure:
        assert secure.url.startswith("https://127.0.0.1:")
        secure.write_kubeconfig(tmp_path / "kubeconfig")
        api = secure.client()
        try:
            client.CoreV1Api(api).create_namespaced_config_map("default", cm("over-tls"))
        finally:
            api.close()
        assert secure.kubectl("get", "cm", "-o", "name").stdout == "configmap/over-tls\n"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{secure.url}/api/v1/namespaces", timeout=5)  # not signed by a CA the system trusts


@pytest.mark.parametrize(
    ("kind", "create", "delete", "answer"),
    [
        pytest.param("pod", "create_namespaced_pod", "delete_namespaced_pod", "V1Pod", id="pod-returns-the-object"),
        pytest.param("service", "create_namespaced_service", "delete_namespaced_service", "V1Service", id="service"),
        pytest.param(
            "configmap",
            "create_namespaced_config_map",
            "delete_namespaced_config_map",
            "V1Status",
            id="configmap-returns-a-status",
        ),
    ],
)
def test_delete_answers_what_the_python_client_expects(
    kube_client: Any, kind: str, create: str, delete: str, answer: str
) -> None:
    core = client.CoreV1Api(kube_client)
    spec = {"pod": {"containers": [{"name": "c", "image": "x"}]}, "service": {"ports": [{"port": 80}]}}.get(kind)
    getattr(core, create)("default", {"metadata": {"name": "x"}, **({"spec": spec} if spec else {})})
    result = getattr(core, delete)("x", "default")
    if answer == "V1Status":  # this client version hands the Status back as a plain dict
        assert (result["kind"], result["status"], result["details"]["name"]) == ("Status", "Success", "x")
    else:
        assert (type(result).__name__, result.metadata.name) == (answer, "x")


LONG = "a" * 64


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": LONG}, "spec": {"template": {}}},
            f'Job.batch "{LONG}" is invalid: metadata.name: Invalid value: "{LONG}": must be no more than 63 '
            "characters",
            id="job-name-over-63",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Upper"}},
            'ConfigMap "Upper" is invalid: metadata.name: Invalid value: "Upper": a lowercase RFC 1123 subdomain must '
            "consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            id="uppercase-name",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"wf": LONG}}},
            f'ConfigMap "c" is invalid: metadata.labels: Invalid value: "{LONG}": must be no more than 63 characters',
            id="label-value-over-63",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"wf": "a b"}}},
            'ConfigMap "c" is invalid: metadata.labels: Invalid value: "a b": a valid label must be an empty string '
            "or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            id="label-value-with-a-space",
        ),
    ],
)
def test_names_and_labels_are_validated_as_the_api_server_does(
    kube: KubeStandin, obj: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        kube.create(obj)
    assert (caught.value.code, caught.value.status["message"]) == (422, message)


def test_concurrent_conditional_updates_never_lose_a_write(kube: KubeStandin) -> None:
    """Eight writers each add their increments with read-modify-write + resourceVersion; conflicts retry."""
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "counter"}, "data": {"n": "0"}})

    def writer() -> None:
        api = kube.client()
        core = client.CoreV1Api(api)
        try:
            for _ in range(10):
                while True:
                    current = core.read_namespaced_config_map("counter", "default")
                    current.data["n"] = str(int(current.data["n"]) + 1)
                    try:
                        core.replace_namespaced_config_map("counter", "default", current)
                        break
                    except ApiException as exc:
                        if exc.status != 409:
                            raise
        finally:
            api.close()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert kube.get("v1", "ConfigMap", "counter")["data"]["n"] == "80"  # conflicts (if any) were retried, never lost


def test_every_watcher_sees_the_same_events_in_the_same_order(kube: KubeStandin, kube_client: Any) -> None:
    core = client.CoreV1Api(kube_client)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    for n in range(20):
        core.create_namespaced_config_map("default", cm(f"c{n}"))
        if n % 3 == 0:
            core.delete_namespaced_config_map(f"c{n}", "default")

    def observe() -> list[tuple[str, str, str]]:
        seen = []
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5):
            meta = event["object"].metadata
            seen.append((event["type"], meta.name, meta.resource_version))
            if len(seen) == 27:
                w.stop()
        return seen

    first, second = observe(), observe()
    assert first == second
    assert [int(e[2]) for e in first] == sorted(int(e[2]) for e in first)
    assert [e[0] for e in first].count("DELETED") == 7
