"""The planner's core (issue 3): DAGs, steps, parameters, artifacts, deadlines, failures, idempotency.

Every test drives plan() pass by pass through `Cluster` (tests/unit/test_planning_support.py), which applies the
actions and simulates the kubelet explicitly. Expected node names, IDs, messages and phases are Argo's.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from executor.contract import CreateJob, DeleteJob, JobObservation, RecordEvent, RequeueAt, UpdateStatus
from executor.status import node_id
from tests.unit.test_planning_support import T0, Cluster, Outcome, Script, load

ECHO = """
  - name: echo
    inputs: {parameters: [{name: msg, default: hi}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.msg}}"]}
"""

DIAMOND = (
    """
metadata: {name: diamond}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: echo}
      - {name: B, template: echo, dependencies: [A]}
      - {name: C, template: echo, dependencies: [A]}
      - {name: D, template: echo, dependencies: [B, C]}
"""
    + ECHO
)


def fail_on(*names: str, code: int = 1) -> Script:
    def script(node_name: str) -> Outcome:
        short = node_name.rsplit(".", 1)[-1]
        return Outcome(exit_code=code) if short in names else Outcome()

    return script


def test_diamond_dag_runs_a_then_b_and_c_together_then_d() -> None:
    cluster = Cluster(load(DIAMOND))
    cluster.step()
    assert cluster.created_names() == ["diamond.A"]
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.created_names() == ["diamond.A", "diamond.B", "diamond.C", "diamond.D"]
    assert cluster.node("diamond.B")["startedAt"] == cluster.node("diamond.C")["startedAt"]
    assert status["progress"] == "4/4"
    assert "message" not in status


def test_diamond_dag_links_children_through_dependencies_and_sets_outbound_nodes() -> None:
    cluster = Cluster(load(DIAMOND))
    cluster.run()
    ids = {name: node_id("diamond", f"diamond.{name}") for name in "ABCD"}
    root = cluster.node("diamond")
    assert root["id"] == "diamond"
    assert root["type"] == "DAG"
    assert root["children"] == [ids["A"]]
    assert root["outboundNodes"] == [ids["D"]]
    assert cluster.node("diamond.A")["children"] == [ids["B"], ids["C"]]
    assert cluster.node("diamond.B")["children"] == [ids["D"]]
    assert cluster.node("diamond.C")["children"] == [ids["D"]]
    for name in "ABCD":
        node = cluster.node(f"diamond.{name}")
        assert node["boundaryID"] == "diamond"
        assert node["displayName"] == name
        assert node["type"] == "Pod"
        assert node["templateName"] == "echo"


def test_node_ids_are_argos_fnv32a_of_the_node_name() -> None:
    cluster = Cluster(load(DIAMOND))
    cluster.step()
    # Go: fnv.New32a(); Write([]byte("diamond.A")); Sum32() -> printed as unsigned decimal
    assert node_id("diamond", "diamond.A") == "diamond-1786869086"
    assert "diamond-1786869086" in cluster.nodes


def test_fan_out_and_fan_in_start_all_middle_tasks_in_one_pass() -> None:
    middle = "\n".join(f"      - {{name: m{i}, template: echo, dependencies: [start]}}" for i in range(5))
    deps = ", ".join(f"m{i}" for i in range(5))
    manifest = load(
        f"""
metadata: {{name: fan}}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {{name: start, template: echo}}
{middle}
      - {{name: end, template: echo, dependencies: [{deps}]}}
"""
        + ECHO
    )
    cluster = Cluster(manifest)
    cluster.run()
    created = cluster.created_names()
    assert created[0] == "fan.start"
    assert sorted(created[1:6]) == [f"fan.m{i}" for i in range(5)]
    assert created[6] == "fan.end"
    starts = {cluster.node(f"fan.m{i}")["startedAt"] for i in range(5)}
    assert len(starts) == 1
    assert len(cluster.node("fan.end")["startedAt"]) == 20


def test_a_failed_task_omits_its_dependents_and_fails_the_dag() -> None:
    cluster = Cluster(load(DIAMOND), script=fail_on("B"))
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert cluster.node("diamond.B")["phase"] == "Failed"
    assert cluster.node("diamond.B")["message"] == "Error (exit code 1)"
    assert cluster.node("diamond.C")["phase"] == "Succeeded"
    omitted = cluster.node("diamond.D")
    assert (omitted["type"], omitted["phase"]) == ("Skipped", "Omitted")
    assert omitted["message"] == "omitted: depends condition not met"
    assert cluster.node("diamond")["phase"] == "Failed"
    # Argo leaves a DAG's own message empty; the workflow message is the entry node's.
    assert "message" not in cluster.node("diamond")
    assert "message" not in status


FAIL_FAST = (
    """
metadata: {name: ff}
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    dag:
      tasks:
      - {name: A, template: echo}
      - {name: B, template: echo}
"""
    + ECHO
)


@pytest.mark.parametrize(
    ("fail_fast", "created"),
    [
        pytest.param(None, ["ff.A"], id="fail-fast-by-default-decides-at-the-first-failed-target"),
        pytest.param(False, ["ff.A", "ff.B"], id="without-fail-fast-every-branch-runs"),
    ],
)
def test_fail_fast_fails_the_dag_before_unreached_targets_start(fail_fast: bool | None, created: list[str]) -> None:
    manifest = load(FAIL_FAST)
    if fail_fast is not None:
        manifest["spec"]["templates"][0]["dag"]["failFast"] = fail_fast
    cluster = Cluster(manifest, script=fail_on("A"))
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert cluster.created_names() == created


DEPENDS = (
    """
metadata: {name: dep}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      failFast: false
      tasks:
      - {name: A, template: echo}
      - {name: on-fail, template: echo, depends: "A.Failed"}
      - {name: on-ok, template: echo, depends: "A.Succeeded"}
      - {name: either, template: echo, depends: "A.Succeeded || A.Failed"}
      - {name: not-ok, template: echo, depends: "!A.Succeeded"}
"""
    + ECHO
)


@pytest.mark.parametrize(
    ("exit_code", "ran", "omitted", "workflow_phase"),
    [
        pytest.param(0, {"on-ok", "either"}, {"on-fail", "not-ok"}, "Succeeded", id="A-succeeds"),
        # As Argo's assessDAGPhase: the omitted target `on-ok` inherits A's Failed branch phase, so the DAG fails.
        pytest.param(1, {"on-fail", "either", "not-ok"}, {"on-ok"}, "Failed", id="A-fails"),
    ],
)
def test_depends_expressions_choose_branches_by_the_dependency_result(
    exit_code: int, ran: set[str], omitted: set[str], workflow_phase: str
) -> None:
    cluster = Cluster(load(DEPENDS), script=fail_on("A", code=exit_code) if exit_code else (lambda n: Outcome()))
    status = cluster.run()
    phases = {n["displayName"]: n["phase"] for n in cluster.nodes.values() if n["name"] != "dep"}
    assert {k for k, v in phases.items() if v == "Succeeded"} - {"A"} == ran
    assert {k for k, v in phases.items() if v == "Omitted"} == omitted
    assert status["phase"] == workflow_phase


def test_dag_target_runs_only_the_targets_and_their_ancestors() -> None:
    manifest = load(DIAMOND)
    manifest["spec"]["templates"][0]["dag"]["target"] = "B"
    cluster = Cluster(manifest)
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.created_names() == ["diamond.A", "diamond.B"]
    assert cluster.node("diamond")["outboundNodes"] == [node_id("diamond", "diamond.B")]


STEPS = (
    """
metadata: {name: st}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: hello, template: echo}
    - - {name: left, template: echo}
      - {name: right, template: echo}
    - - {name: last, template: echo}
"""
    + ECHO
)


def test_steps_run_groups_in_order_and_steps_within_a_group_in_parallel() -> None:
    cluster = Cluster(load(STEPS))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.created_names() == ["st[0].hello", "st[1].left", "st[1].right", "st[2].last"]
    assert cluster.node("st[1].left")["startedAt"] == cluster.node("st[1].right")["startedAt"]
    root = cluster.node("st")
    assert root["type"] == "Steps"
    groups = [cluster.node(f"st[{i}]") for i in range(3)]
    assert [g["type"] for g in groups] == ["StepGroup"] * 3
    assert [g["displayName"] for g in groups] == ["[0]", "[1]", "[2]"]
    assert root["children"] == [groups[0]["id"]]
    assert groups[0]["children"] == [node_id("st", "st[0].hello")]
    assert cluster.node("st[0].hello")["children"] == [groups[1]["id"]]
    assert cluster.node("st[1].left")["children"] == [groups[2]["id"]]
    assert cluster.node("st[1].right")["children"] == [groups[2]["id"]]
    assert root["outboundNodes"] == [node_id("st", "st[2].last")]
    assert cluster.node("st[1].left")["displayName"] == "left"
    assert cluster.node("st[1].left")["boundaryID"] == "st"


def test_a_failed_step_fails_its_group_and_the_workflow_with_argos_child_message() -> None:
    cluster = Cluster(load(STEPS), script=fail_on("right"))
    status = cluster.run()
    failed_id = node_id("st", "st[1].right")
    assert cluster.node("st[1]")["message"] == f"child '{failed_id}' failed"
    assert cluster.node("st")["phase"] == "Failed"
    assert status["phase"] == "Failed"
    assert status["message"] == f"child '{failed_id}' failed"
    assert "st[2].last" not in {n["name"] for n in cluster.nodes.values()}


def test_single_container_workflow_fails_with_the_exit_code_message() -> None:
    manifest = load(
        """
metadata: {name: one}
spec:
  entrypoint: echo
  templates:
"""
        + ECHO
    )
    cluster = Cluster(manifest, script=lambda _: Outcome(exit_code=3))
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert status["message"] == "Error (exit code 3)"
    root = cluster.node("one")
    assert root["type"] == "Pod"
    assert root["outputs"] == {"exitCode": "3"}


PARAMS = """
metadata: {name: params}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: greeting, value: hello}
  templates:
  - name: main
    dag:
      tasks:
      - name: produce
        template: produce
      - name: consume
        template: consume
        dependencies: [produce]
        arguments:
          parameters:
          - {name: a, value: "{{tasks.produce.outputs.parameters.out}}"}
          - {name: b, value: "{{tasks.produce.outputs.result}}"}
          - {name: c, value: "{{workflow.parameters.greeting}}-{{workflow.name}}-{{workflow.namespace}}"}
          - {name: d, value: "{{tasks.produce.status}}"}
  - name: produce
    outputs:
      parameters:
      - name: out
        globalName: shared
        valueFrom: {path: /tmp/out}
    script: {image: python, source: "print('x')"}
  - name: consume
    inputs:
      parameters:
      - {name: a}
      - {name: b}
      - {name: c}
      - {name: d}
      - {name: e, default: fallback}
    container:
      image: alpine
      args: ["{{inputs.parameters.a}} {{inputs.parameters.e}} {{workflow.outputs.parameters.shared}}"]
"""


def produce_outputs(node_name: str) -> Outcome:
    if node_name.endswith("produce"):
        return Outcome(parameters={"out": "forty-two"}, result="printed")
    return Outcome()


def test_output_parameters_results_and_globals_flow_into_later_tasks() -> None:
    cluster = Cluster(load(PARAMS), script=produce_outputs)
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    produce = cluster.node("params.produce")
    assert produce["outputs"] == {
        "parameters": [{"name": "out", "value": "forty-two", "globalName": "shared"}],
        "result": "printed",
        "exitCode": "0",
    }
    consume = cluster.node("params.consume")
    assert consume["inputs"]["parameters"] == [
        {"name": "a", "value": "forty-two"},
        {"name": "b", "value": "printed"},
        {"name": "c", "value": "hello-params-default"},
        {"name": "d", "value": "Succeeded"},
        {"name": "e", "value": "fallback"},
    ]
    assert status["outputs"] == {"parameters": [{"name": "shared", "value": "forty-two"}]}
    job = cluster.manifests[consume["id"]]
    main = next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert main["args"] == ["forty-two fallback forty-two"]


def test_a_value_outside_the_enum_at_run_time_errors_the_node_with_the_reason() -> None:
    manifest = load(
        """
metadata: {name: bad}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: pick, template: pick}
    - - name: use
        template: t
        arguments: {parameters: [{name: x, value: "{{steps.pick.outputs.result}}"}]}
  - name: pick
    script: {image: python, source: print()}
  - name: t
    inputs: {parameters: [{name: x, enum: [a, b]}]}
    container: {image: alpine}
"""
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(result="c") if n.endswith("pick") else Outcome())
    status = cluster.run()
    node = cluster.node("bad[1].use")
    assert (node["type"], node["phase"]) == ("Skipped", "Error")
    assert node["message"] == "inputs.parameters.x: value 'c' is not one of the allowed values: a, b"
    assert status["phase"] == "Failed"
    assert len(cluster.created) == 1


ARTIFACTS = """
metadata: {name: arts}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - name: use
        template: use
        arguments:
          artifacts:
          - {name: data, from: "{{steps.make.outputs.artifacts.data}}"}
  - name: make
    container: {image: alpine}
    outputs:
      artifacts:
      - {name: data, path: /tmp/data}
  - name: use
    inputs:
      artifacts:
      - {name: data, path: /in/data}
      - name: readme
        path: /in/readme
        http: {url: "https://example.com/README"}
      - {name: maybe, path: /in/maybe, optional: true}
    container: {image: alpine}
"""


def test_artifacts_pass_from_producer_to_consumer_with_their_location() -> None:
    cluster = Cluster(
        load(ARTIFACTS), script=lambda n: Outcome(artifacts=("data",)) if n.endswith("make") else Outcome()
    )
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    make = cluster.node("arts[0].make")
    job_name = cluster.jobs[make["id"]].job_name
    location = {"s3": {"bucket": "artifacts", "key": f"{job_name}/data.tgz"}}
    assert make["outputs"]["artifacts"] == [{"name": "data", "path": "/tmp/data", **location}]
    use = cluster.node("arts[1].use")
    assert use["inputs"]["artifacts"] == [
        {"name": "data", "path": "/in/data", **location},
        {"name": "readme", "path": "/in/readme", "http": {"url": "https://example.com/README"}},
    ]


def test_a_missing_required_artifact_errors_the_consumer() -> None:
    cluster = Cluster(load(ARTIFACTS))  # make reports no artifact
    status = cluster.run()
    use = cluster.node("arts[1].use")
    assert use["phase"] == "Error"
    assert use["message"] == (
        "Unable to resolve input artifact 'data' from {{steps.make.outputs.artifacts.data}}: "
        "no such artifact was produced"
    )
    assert status["phase"] == "Failed"


SLEEPY = """
metadata: {name: slow}
spec:
  entrypoint: main
  activeDeadlineSeconds: 10
  templates:
  - name: main
    steps:
    - - {name: nap, template: nap}
    - - {name: never, template: nap}
  - name: nap
    container: {image: alpine}
"""


def test_workflow_deadline_deletes_running_jobs_and_fails_with_argos_message() -> None:
    cluster = Cluster(load(SLEEPY), script=lambda _: Outcome(seconds=60))
    actions = cluster.step()
    assert RequeueAt(T0 + timedelta(seconds=10)) in actions
    job = next(a.job for a in actions if isinstance(a, CreateJob))
    assert job["spec"]["template"]["spec"]["activeDeadlineSeconds"] == 10
    status = cluster.run()
    nap = cluster.node("slow[0].nap")
    assert nap["phase"] == "Failed"
    assert nap["message"] == "Step exceeded its deadline"
    assert cluster.deleted == [nap["id"]]
    assert status["phase"] == "Failed"
    assert status["message"] == f"child '{nap['id']}' failed"
    assert "slow[1].never" not in {n["name"] for n in cluster.nodes.values()}


def test_template_active_deadline_is_passed_to_the_job_reduced_by_the_workflow_deadline() -> None:
    manifest = load(SLEEPY)
    manifest["spec"]["templates"][1]["activeDeadlineSeconds"] = 5
    cluster = Cluster(manifest)
    job = next(a.job for a in cluster.step() if isinstance(a, CreateJob))
    assert job["spec"]["template"]["spec"]["activeDeadlineSeconds"] == 5


def test_planning_twice_with_the_same_inputs_gives_the_same_actions() -> None:
    cluster = Cluster(load(DIAMOND))
    cluster.run()
    cluster.workflow.pop("status")
    cluster.jobs.clear()
    first = cluster.plan()
    second = cluster.plan()
    assert first == second
    assert sum(isinstance(a, CreateJob) for a in first) == 1


def test_replanning_after_the_status_update_creates_no_new_jobs() -> None:
    cluster = Cluster(load(DIAMOND))
    cluster.step()  # creates A, writes status
    again = cluster.plan()
    assert [a for a in again if isinstance(a, CreateJob)] == [] or all(
        a.node_id in cluster.jobs for a in again if isinstance(a, CreateJob)
    )
    assert not any(isinstance(a, UpdateStatus) for a in again)


def test_a_restarted_planner_rebuilds_from_status_and_jobs_without_duplicates() -> None:
    cluster = Cluster(load(DIAMOND))
    for _ in range(4):
        cluster.step()
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    # A new controller: same status, same Jobs, nothing remembered in between.
    restarted = Cluster(copy.deepcopy(cluster.workflow), now=cluster.now, jobs=dict(cluster.jobs))
    actions = restarted.plan()
    new_jobs = [a.node_id for a in actions if isinstance(a, CreateJob) and a.node_id not in cluster.jobs]
    assert len(set(new_jobs)) == len(new_jobs)
    assert all(nid not in cluster.jobs for nid in new_jobs)
    restarted.apply(actions)
    status = restarted.run()
    assert status["phase"] == "Succeeded"
    assert sorted(restarted.nodes) == sorted(set(restarted.nodes))


def test_a_pending_node_whose_job_is_not_seen_gets_the_same_create_again() -> None:
    cluster = Cluster(load(DIAMOND))
    first = [a for a in cluster.step() if isinstance(a, CreateJob)]
    cluster.jobs.clear()  # the shell crashed before creating it, or its cache lags
    again = [a for a in cluster.plan() if isinstance(a, CreateJob)]
    assert again == first


@pytest.mark.parametrize(
    "how",
    [pytest.param("deleted-flag", id="reported-deleted"), pytest.param("missing", id="gone-after-running")],
)
def test_a_job_deleted_behind_the_planners_back_fails_its_node(how: str) -> None:
    cluster = Cluster(load(DIAMOND), script=lambda _: Outcome(seconds=30))
    cluster.step()
    cluster.now += timedelta(seconds=1)
    cluster.kubelet()
    cluster.step()  # A observed Running
    a_id = node_id("diamond", "diamond.A")
    job = cluster.jobs[a_id]
    if how == "deleted-flag":
        cluster.jobs[a_id] = JobObservation(a_id, job.job_name, "Running", deleted=True)
    else:
        del cluster.jobs[a_id]
    cluster.step()
    node = cluster.node("diamond.A")
    assert node["phase"] == "Failed"
    assert node["message"] == f"Job {job.job_name} was deleted"
    assert cluster.status["phase"] == "Failed"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "{templates: []}", "spec.entrypoint: is required: name the template to run first", id="no-entrypoint"
        ),
        pytest.param(
            "{entrypoint: x, templates: []}",
            'spec.entrypoint: template "x" is not defined in spec.templates; to solve this, add a template with this '
            "name or fix the name",
            id="unknown-entrypoint",
        ),
        pytest.param(
            "{entrypoint: main, templates: [{name: main, steps: [[{name: s, template: nowhere}]]}]}",
            'spec.templates[0].steps[0][0].template: template "nowhere" is not defined in spec.templates; to solve '
            "this, add a template with this name or fix the name",
            id="missing-template",
        ),
        pytest.param(
            "{entrypoint: x, templates: [{name: x}]}",
            "spec.templates[0]: sets no template type; add exactly one of: container, script, dag, steps, suspend, "
            "resource, data, http, plugin, containerSet",
            id="empty-template",
        ),
        pytest.param(
            "{entrypoint: x, arguments: {parameters: [{name: size, value: xl, enum: [s, m]}]}, "
            "templates: [{name: x, container: {image: alpine}}]}",
            'spec.arguments.parameters[0].value: "xl" is not one of the allowed values ("s", "m")',
            id="argument-outside-enum",
        ),
        pytest.param(
            "{entrypoint: x, templates: [{name: x, timeout: soon, container: {image: alpine}}]}",
            'spec.templates[0].timeout: "soon" is not a duration; write a duration such as "30s", "5m" or "1h30m"',
            id="unreadable-timeout",
        ),
    ],
)
def test_a_workflow_the_validator_rejects_fails_before_anything_runs_with_argos_invalid_spec_message(
    spec: str, message: str
) -> None:
    cluster = Cluster(load(f"metadata: {{name: inv}}\nspec: {spec}\n"))
    status = cluster.run(max_passes=1)
    assert (status["phase"], status["message"]) == ("Failed", f"invalid spec: {message}")
    assert cluster.created == []
    assert [(e.reason, e.message) for e in cluster.events] == [("WorkflowFailed", f"invalid spec: {message}")]


def test_a_spec_the_planner_cannot_use_mid_run_ends_in_error_without_raising() -> None:
    cluster = Cluster(load(DIAMOND))
    cluster.step()
    cluster.workflow["spec"]["templates"][0]["dag"]["tasks"] = 3  # edited after it started: no validation then
    status = cluster.run(max_passes=2)
    assert status["phase"] == "Error"
    assert status["message"].startswith("invalid workflow: spec.templates[0].dag.tasks: must be a list")


def test_workflow_and_node_events_use_argos_reasons() -> None:
    cluster = Cluster(load(DIAMOND), script=fail_on("D"))
    cluster.run()
    reasons = [(e.reason, e.message) for e in cluster.events]
    assert reasons[0] == ("WorkflowRunning", "Workflow Running")
    assert ("WorkflowNodeRunning", "Running node diamond.A") in reasons
    assert ("WorkflowNodeSucceeded", "Succeeded node diamond.A") in reasons
    assert ("WorkflowNodeFailed", "Failed node diamond.D: Error (exit code 1)") in reasons
    assert reasons[-1] == ("WorkflowFailed", "")
    warning = next(e for e in cluster.events if e.message == "Failed node diamond.D: Error (exit code 1)")
    assert warning.type == "Warning"
    assert warning.node_id == node_id("diamond", "diamond.D")


def test_finished_workflows_are_left_alone() -> None:
    cluster = Cluster(load(DIAMOND))
    cluster.run()
    assert cluster.plan() == []


def test_status_carries_argos_top_level_fields() -> None:
    cluster = Cluster(load(DIAMOND))
    actions = cluster.step()
    update = next(a for a in actions if isinstance(a, UpdateStatus))
    assert update.status["phase"] == "Running"
    assert update.status["startedAt"] == "2026-01-02T03:04:05Z"
    assert update.status["progress"] == "0/1"
    assert update.status["conditions"] == [{"type": "PodRunning", "status": "False"}]
    assert sum(isinstance(a, UpdateStatus) for a in actions) == 1
    final = cluster.run()
    assert final["conditions"] == [
        {"type": "PodRunning", "status": "False"},
        {"type": "Completed", "status": "True"},
    ]
    assert final["finishedAt"] == "2026-01-02T03:04:11Z"
    json.dumps(final)


def test_delete_actions_name_the_job_and_reason() -> None:
    cluster = Cluster(load(SLEEPY), script=lambda _: Outcome(seconds=60))
    deletes: list[DeleteJob] = []
    for _ in range(20):
        deletes += [a for a in cluster.step() if isinstance(a, DeleteJob)]
        if cluster.status.get("phase") == "Failed":
            break
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    assert [(d.reason, d.job_name.startswith("slow-")) for d in deletes] == [("deadline exceeded", True)]
    assert isinstance(cluster.events[0], RecordEvent)


def test_tasks_whose_depends_hold_still_start_after_another_branch_failed() -> None:
    # As Argo v4: failFast decides the DAG's phase; it does not stop a task whose `depends` accept the failure.
    manifest = load(
        """
metadata: {name: br}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: root, template: echo}
      - {name: bad, template: echo, depends: root}
      - {name: good, template: echo, depends: root}
      - {name: handler, template: echo, depends: "bad.Failed && good"}
      - {name: after-bad, template: echo, depends: bad}
"""
        + ECHO
    )
    cluster = Cluster(manifest, script=fail_on("bad"))
    status = cluster.run()
    assert cluster.node("br.handler")["phase"] == "Succeeded"
    assert cluster.node("br.after-bad")["phase"] == "Omitted"
    assert status["phase"] == "Failed"
