"""executor.observe.observe_job: Job + Pod objects (Kubernetes JSON shape) -> JobObservation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from executor.observe import observe_job

T0 = "2026-11-28T10:00:00Z"
T1 = "2026-11-28T10:00:05Z"
T2 = "2026-11-28T10:00:09Z"


def job(*conditions: dict[str, Any], suspend: bool = False, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "wf-1a2b3c4d5e", "annotations": {"workflows.argoproj.io/node-id": "wf-42"}},
        "spec": {"suspend": suspend} if suspend else {},
        "status": {"conditions": list(conditions), **status},
    }


def cond(type_: str, reason: str = "", message: str = "", at: str = T2) -> dict[str, Any]:
    return {"type": type_, "status": "True", "reason": reason, "message": message, "lastTransitionTime": at}


def terminated(code: int, reason: str = "", message: str = "", finished: str = T2) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": code, "startedAt": T1, "finishedAt": finished}
    if reason:
        term["reason"] = reason
    if message:
        term["message"] = message
    return {"terminated": term}


def pod(
    phase: str = "Running",
    main: dict[str, Any] | None = None,
    wait: dict[str, Any] | None = None,
    init: dict[str, Any] | None = None,
    **status: Any,
) -> dict[str, Any]:
    statuses = []
    if main is not None:
        statuses.append({"name": "main", "state": main})
    if wait is not None:
        statuses.append({"name": "wait", "state": wait})
    body: dict[str, Any] = {"phase": phase, "startTime": T0, "containerStatuses": statuses, **status}
    if init is not None:
        body["initContainerStatuses"] = [{"name": "init", "state": init}]
    return {"metadata": {"name": "wf-1a2b3c4d5e-xk2lp", "creationTimestamp": T0}, "status": body}


def report(**fields: Any) -> str:
    return json.dumps({"v": 1, **fields})


OK_REPORT = report(parameters={"count": "3"}, result="done")


@pytest.mark.parametrize(
    ("job_obj", "pods", "expected"),
    [
        pytest.param(job(), [], ("Pending", "", None), id="no-pod-yet"),
        pytest.param(
            job(suspend=True),
            [],
            ("Pending", "Job is suspended: waiting for admission (Kueue)", None),
            id="suspended-by-kueue-is-pending-not-failed",
        ),
        pytest.param(
            job(),
            [
                pod(
                    "Pending",
                    conditions=[
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": "0/3 nodes are available: 3 Insufficient cpu.",
                        }
                    ],
                )
            ],
            ("Pending", "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.", None),
            id="unschedulable",
        ),
        pytest.param(
            job(),
            [pod("Pending", main={"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}})],
            ("Pending", "ImagePullBackOff: Back-off pulling image", None),
            id="image-pull-backoff",
        ),
        pytest.param(
            job(), [pod("Pending", init={"running": {"startedAt": T0}})], ("Pending", "", None), id="init-running"
        ),
        pytest.param(
            job(),
            [pod(main={"running": {"startedAt": T1}}, wait={"running": {}})],
            ("Running", "", None),
            id="main-running",
        ),
        pytest.param(
            job(),
            [pod(main=terminated(0, "Completed"), wait={"running": {}})],
            ("Running", "", None),
            id="main-done-wait-still-uploading",
        ),
        pytest.param(
            job(cond("Complete")),
            [pod("Succeeded", main=terminated(0, "Completed"), wait=terminated(0, "Completed", OK_REPORT))],
            ("Succeeded", "", 0),
            id="succeeded",
        ),
        pytest.param(
            job(cond("Failed", "BackoffLimitExceeded")),
            [pod("Failed", main=terminated(1, "Error"), wait=terminated(0, "Completed", report()))],
            ("Failed", "Error (exit code 1)", 1),
            id="main-exit-code",
        ),
        pytest.param(
            job(cond("Failed", "BackoffLimitExceeded")),
            [pod("Failed", main=terminated(137, "OOMKilled"), wait=terminated(0, "Completed", report()))],
            ("Failed", "OOMKilled (exit code 137)", 137),
            id="oom-killed",
        ),
        pytest.param(
            job(cond("Failed", "BackoffLimitExceeded")),
            [
                pod(
                    "Failed",
                    main=terminated(0, "Completed"),
                    wait=terminated(1, "Error", report(error='failed to save outputs: artifact "a": boom')),
                )
            ],
            ("Failed", 'failed to save outputs: artifact "a": boom', 0),
            id="upload-failure-fails-the-node",
        ),
        pytest.param(
            job(cond("Failed", "BackoffLimitExceeded")),
            [pod("Failed", main=terminated(0, "Completed"), wait=terminated(1, "Error", "{not json"))],
            ("Failed", "the wait container's report is not JSON (exit code 1): {not json", 0),
            id="malformed-report-is-a-message-not-an-exception",
        ),
        pytest.param(
            job(cond("Complete")),
            [pod("Succeeded", main=terminated(0, "Completed"), wait=terminated(0, "Completed", '{"v": 2}'))],
            ("Failed", "the wait container's report is malformed: unsupported version 2 (expected 1)", 0),
            id="report-of-unknown-version",
        ),
        pytest.param(
            job(cond("Failed", "BackoffLimitExceeded")),
            [pod("Failed", main=terminated(0, "Completed"), wait=terminated(137, "OOMKilled"))],
            ("Failed", "the wait container ended (OOMKilled, exit code 137) without a report", 0),
            id="wait-killed-without-report",
        ),
        pytest.param(
            job(cond("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")),
            [
                pod(
                    "Failed",
                    reason="DeadlineExceeded",
                    message="Pod was active on the node longer than the specified deadline",
                    main=terminated(143, "Error"),
                    wait=terminated(0, "Completed", report()),
                )
            ],
            ("Failed", "Pod was active on the node longer than the specified deadline", 143),
            id="pod-deadline",
        ),
        pytest.param(
            job(cond("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")),
            [],
            ("Failed", "Pod was active on the node longer than the specified deadline", None),
            id="job-deadline-without-pod",
        ),
        pytest.param(
            job(cond("Failed", "BackoffLimitExceeded")),
            [pod("Failed", init=terminated(1, "Error", 'input artifact "data" (s3://b/k.tgz -> /tmp/in): NoSuchKey'))],
            (
                "Failed",
                'failed to load input artifacts: input artifact "data" (s3://b/k.tgz -> /tmp/in): NoSuchKey',
                None,
            ),
            id="init-failure-message",
        ),
        pytest.param(
            job(),
            [pod("Failed", reason="Evicted", message="The node was low on resource: memory.")],
            ("Failed", "The node was low on resource: memory.", None),
            id="evicted",
        ),
        pytest.param(job(cond("Complete")), [], ("Succeeded", "", None), id="complete-job-whose-pod-is-gone"),
        pytest.param(
            job(cond("Failed", "BackoffLimitExceeded")),
            [
                pod(
                    "Failed",
                    main=terminated(0, "Completed"),
                    wait=terminated(1, "Error", report(offloaded={"s3": {"bucket": "b", "key": "k"}})),
                )
            ],
            ("Failed", "the wait container failed (exit code 1)", 0),
            id="wait-failed-with-an-offloaded-report",
        ),
    ],
)
def test_job_and_pods_give_phase_message_and_exit_code(
    job_obj: dict[str, Any], pods: list[dict[str, Any]], expected: tuple[str, str, int | None]
) -> None:
    seen = observe_job(job_obj, pods)
    assert (seen.phase, seen.message, seen.exit_code) == expected
    assert (seen.node_id, seen.job_name) == ("wf-42", "wf-1a2b3c4d5e")


def test_a_finished_pod_gives_report_times_and_pod_name() -> None:
    seen = observe_job(
        job(cond("Complete"), completionTime=T2),
        [pod("Succeeded", main=terminated(0, "Completed"), wait=terminated(0, "Completed", OK_REPORT))],
    )
    assert seen.report == {"v": 1, "parameters": {"count": "3"}, "result": "done"}
    assert seen.started_at == datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    assert seen.finished_at == datetime(2026, 11, 28, 10, 0, 9, tzinfo=UTC)
    assert seen.pod_name == "wf-1a2b3c4d5e-xk2lp"


def test_an_offloaded_report_is_passed_on_for_the_shell_to_fetch() -> None:
    pointer = {"s3": {"bucket": "b", "key": "wf/job/trellis-report.json"}}
    seen = observe_job(
        job(cond("Complete")),
        [pod("Succeeded", main=terminated(0), wait=terminated(0, "Completed", report(offloaded=pointer)))],
    )
    assert (seen.phase, seen.report) == ("Succeeded", {"v": 1, "offloaded": pointer})


def test_the_newest_pod_is_the_one_observed() -> None:
    old = pod("Failed", main=terminated(1, "Error"), wait=terminated(0, "Completed", report()))
    new = pod(main={"running": {}}, wait={"running": {}})
    new["metadata"] = {"name": "wf-1a2b3c4d5e-zzzzz", "creationTimestamp": T1}
    seen = observe_job(job(), [new, old])
    assert (seen.phase, seen.pod_name) == ("Running", "wf-1a2b3c4d5e-zzzzz")
