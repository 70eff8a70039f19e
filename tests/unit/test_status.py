"""Argo's status format: node IDs, names, display names, timestamps, progress, conditions, Argo CD health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from executor.status import (
    argo_cd_health,
    compact_node,
    conditions,
    display_name,
    fnv32a,
    format_time,
    item_label,
    loop_child_name,
    node_id,
    parse_time,
    progress,
    retry_child_name,
    step_group_name,
    step_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Reference values of Go's hash/fnv New32a (and the published FNV-1a test vectors).
        pytest.param("", 2166136261, id="empty"),
        pytest.param("a", 0xE40C292C, id="a"),
        pytest.param("foobar", 0xBF9CF968, id="foobar"),
    ],
)
def test_fnv32a_matches_the_reference_vectors(text: str, expected: int) -> None:
    assert fnv32a(text) == expected


def test_the_root_node_id_is_the_workflow_name_and_others_hash_their_name() -> None:
    assert node_id("wf", "wf") == "wf"
    assert node_id("wf", "wf.a") == f"wf-{fnv32a('wf.a')}"
    assert node_id("hello-world-x7k2p", "hello-world-x7k2p[0].step") == (
        f"hello-world-x7k2p-{fnv32a('hello-world-x7k2p[0].step')}"
    )


def test_node_names_follow_argos_paths() -> None:
    group = step_group_name("wf", 0)
    assert group == "wf[0]"
    assert step_name(group, "build") == "wf[0].build"
    assert retry_child_name("wf.task", 1) == "wf.task(1)"
    assert loop_child_name("wf.task", 0, "a") == "wf.task(0:a)"
    assert loop_child_name("wf.task", 2, {"os": "linux", "arch": "arm"}) == "wf.task(2:arch:arm,os:linux)"


@pytest.mark.parametrize(
    ("item", "label"),
    [
        pytest.param("x", "x", id="string"),
        pytest.param(3, "3", id="int"),
        pytest.param(2.0, "2", id="float-integral"),
        pytest.param(True, "true", id="bool"),
        pytest.param([1, "a"], "[1 a]", id="list"),
        pytest.param({"b": 1, "a": [2]}, "a:[2],b:1", id="map-sorted"),
        pytest.param({"a": 1, "a1": 2}, "a1:2,a:1", id="map-sorted-as-pairs"),
        pytest.param("f(x)", "fx", id="parentheses-dropped"),
    ],
)
def test_loop_items_print_inside_node_names_as_go_does(item: object, label: str) -> None:
    assert item_label(item) == label


@pytest.mark.parametrize(
    ("name", "boundary", "expected"),
    [
        pytest.param("wf.task", "wf", "task", id="dag-task"),
        pytest.param("wf[0].step", "wf", "step", id="step"),
        pytest.param("wf[0]", "wf", "[0]", id="step-group"),
        pytest.param("wf.task(1)", "wf", "task(1)", id="retry-attempt"),
        pytest.param("wf.outer.inner", "wf.outer", "inner", id="nested"),
        pytest.param("wf", None, "wf", id="root"),
        pytest.param("wf.onExit", None, "wf.onExit", id="no-boundary"),
    ],
)
def test_display_names_drop_the_boundary_prefix_and_separator(name: str, boundary: str | None, expected: str) -> None:
    assert display_name(name, boundary) == expected


def test_timestamps_are_rfc3339_utc_with_second_precision() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    assert format_time(moment) == "2026-01-02T03:04:05Z"
    east = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(east) == "2026-01-02T03:04:05Z"
    assert parse_time("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_time("") is None
    assert parse_time("yesterday") is None


def test_progress_counts_pod_nodes_that_succeeded_skipped_or_were_omitted() -> None:
    nodes = [
        {"type": "DAG", "phase": "Running"},
        {"type": "Pod", "phase": "Succeeded"},
        {"type": "Pod", "phase": "Running"},
        {"type": "Pod", "phase": "Failed"},
        {"type": "Pod", "phase": "Omitted"},
        {"type": "Skipped", "phase": "Skipped"},
    ]
    assert progress(nodes) == "2/4"
    assert progress([]) == "0/0"


def test_conditions_are_pod_running_then_completed() -> None:
    assert conditions(completed=False, pod_running=True) == [{"type": "PodRunning", "status": "True"}]
    assert conditions(completed=True, pod_running=False) == [
        {"type": "PodRunning", "status": "False"},
        {"type": "Completed", "status": "True"},
    ]


def test_compact_node_drops_empty_fields_and_keeps_zero_like_values() -> None:
    node = {"id": "x", "message": "", "children": [], "outputs": {}, "boundaryID": None, "phase": "Running"}
    assert compact_node(node) == {"id": "x", "phase": "Running"}


@pytest.mark.parametrize(
    ("status", "health"),
    [
        pytest.param(None, ("Progressing", ""), id="no-status-yet"),
        pytest.param({}, ("Progressing", ""), id="no-phase"),
        pytest.param({"phase": "Pending"}, ("Progressing", ""), id="pending"),
        pytest.param({"phase": "Running", "message": ""}, ("Progressing", ""), id="running"),
        pytest.param({"phase": "Succeeded"}, ("Healthy", ""), id="succeeded"),
        pytest.param(
            {"phase": "Failed", "message": "child 'wf-1' failed"}, ("Degraded", "child 'wf-1' failed"), id="failed"
        ),
        pytest.param(
            {"phase": "Error", "message": "templates.x not found"}, ("Degraded", "templates.x not found"), id="error"
        ),
    ],
)
def test_argo_cd_reads_workflow_health_from_phase_and_message(
    status: dict[str, str] | None, health: tuple[str, str]
) -> None:
    assert argo_cd_health(status) == health
