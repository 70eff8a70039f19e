"""Control flow in the planner (issue 6): loops, when, retries, exit handlers, suspend, shutdown, reuse,
parallelism. Driven pass by pass through the explicit kubelet simulation in test_planning_support."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from executor.contract import CreateJob, PlanContext, RequeueAt
from executor.status import node_id, parse_time
from tests.unit.test_planning_support import CONTEXT, T0, Cluster, Outcome, Script, load

WHALE = """
  - name: say
    inputs: {parameters: [{name: msg, default: hi}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.msg}}"]}
"""


# --- loops -----------------------------------------------------------------------------------------------------


def test_with_items_in_a_dag_makes_a_task_group_with_one_child_per_item() -> None:
    manifest = load(
        """
metadata: {name: loop}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: A
        template: say
        arguments: {parameters: [{name: msg, value: "{{item}}"}]}
        withItems: [x, 2, {k: v}]
      - {name: B, template: say, dependencies: [A]}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    group = cluster.node("loop.A")
    assert group["type"] == "TaskGroup"
    children = ["loop.A(0:x)", "loop.A(1:2)", "loop.A(2:k:v)"]
    assert group["children"] == [node_id("loop", n) for n in children]
    assert [cluster.node(n)["inputs"]["parameters"][0]["value"] for n in children] == ["x", "2", '{"k":"v"}']
    assert [cluster.node(n)["displayName"] for n in children] == ["A(0:x)", "A(1:2)", "A(2:k:v)"]
    b_id = node_id("loop", "loop.B")
    assert all(cluster.node(n)["children"] == [b_id] for n in children)
    assert cluster.created_names() == [*children, "loop.B"]


def test_with_items_maps_expose_item_keys() -> None:
    manifest = load(
        """
metadata: {name: keys}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: s
        template: say
        arguments: {parameters: [{name: msg, value: "{{item.os}}-{{item.arch}}"}]}
        withItems: [{os: linux, arch: arm}]
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    cluster.run()
    node = cluster.node("keys[0].s(0:arch:arm,os:linux)")
    assert node["inputs"]["parameters"] == [{"name": "msg", "value": "linux-arm"}]
    assert cluster.node("keys[0]")["children"] == [node["id"]]


GEN = """
metadata: {name: gen}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: generate, template: gen}
    - - name: fan
        template: square
        arguments: {parameters: [{name: n, value: "{{item}}"}]}
        withParam: "{{steps.generate.outputs.result}}"
    - - name: total
        template: say
        arguments:
          parameters:
          - {name: msg, value: "{{steps.fan.outputs.parameters.sq}}|{{steps.fan.outputs.result}}"}
  - name: gen
    script: {image: python, source: print()}
  - name: square
    inputs: {parameters: [{name: n}]}
    outputs: {parameters: [{name: sq, valueFrom: {path: /tmp/sq}}]}
    script: {image: python, source: print()}
"""


def gen_script(result: str) -> Script:
    def script(node_name: str) -> Outcome:
        if node_name.endswith("generate"):
            return Outcome(result=result)
        if "fan(" in node_name:
            n = int(node_name.split("(")[1].split(":")[1].rstrip(")"))
            return Outcome(parameters={"sq": str(n * n)}, result=json.dumps({"n": n}))
        return Outcome()

    return script


def test_with_param_fans_out_over_a_json_list_and_aggregates_outputs_as_json_lists() -> None:
    cluster = Cluster(load(GEN + WHALE), script=gen_script("[1, 2, 3]"))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert [n for n in cluster.created_names() if "fan" in n] == [
        "gen[1].fan(0:1)",
        "gen[1].fan(1:2)",
        "gen[1].fan(2:3)",
    ]
    total = cluster.node("gen[2].total")
    assert total["inputs"]["parameters"] == [{"name": "msg", "value": '[1,4,9]|[{"n":1},{"n":2},{"n":3}]'}]


def test_with_param_that_is_not_json_errors_the_node_with_a_clear_message() -> None:
    cluster = Cluster(load(GEN + WHALE), script=gen_script("not json"))
    status = cluster.run()
    group = cluster.node("gen[1]")
    assert group["phase"] == "Error"
    assert group["message"].startswith("withParam value could not be parsed as a JSON list: not json: ")
    assert status["phase"] == "Failed"


@pytest.mark.parametrize(
    ("sequence", "names"),
    [
        pytest.param("{count: '3'}", ["0", "1", "2"], id="count"),
        pytest.param("{start: '5', end: '7'}", ["5", "6", "7"], id="start-end"),
        pytest.param("{start: '3', end: '1'}", ["3", "2", "1"], id="descending"),
        pytest.param("{count: '2', start: '1', format: 'w%02d'}", ["w01", "w02"], id="format"),
    ],
)
def test_with_sequence_expands_numbers_like_argo(sequence: str, names: list[str]) -> None:
    manifest = load(
        f"""
metadata: {{name: seq}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: s, template: say, withSequence: {sequence}}}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    cluster.run()
    assert cluster.created_names() == [f"seq[0].s({i}:{name})" for i, name in enumerate(names)]


def test_an_empty_loop_in_a_dag_is_skipped_with_argos_message() -> None:
    manifest = load(
        """
metadata: {name: empty}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: say, withParam: "[]"}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    status = cluster.run()
    node = cluster.node("empty.A")
    assert (node["type"], node["phase"], node["message"]) == ("Skipped", "Skipped", "Skipped, empty params")
    assert status["phase"] == "Succeeded"


# --- when ------------------------------------------------------------------------------------------------------

COINFLIP = """
metadata: {name: coin}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: flip, template: flip}
    - - {name: heads, template: say, when: "{{steps.flip.outputs.result}} == heads"}
      - {name: tails, template: say, when: "{{steps.flip.outputs.result}} == tails"}
  - name: flip
    script: {image: python, source: print()}
"""


@pytest.mark.parametrize("side", ["heads", "tails"])
def test_when_skips_the_branch_that_evaluates_false_with_argos_message(side: str) -> None:
    cluster = Cluster(load(COINFLIP + WHALE), script=lambda n: Outcome(result=side) if "flip" in n else Outcome())
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    other = "tails" if side == "heads" else "heads"
    skipped = cluster.node(f"coin[1].{other}")
    assert (skipped["type"], skipped["phase"]) == ("Skipped", "Skipped")
    assert skipped["message"] == f"when '{side} == {other}' evaluated false"
    assert cluster.node(f"coin[1].{side}")["phase"] == "Succeeded"
    assert status["progress"] == "2/2"


def test_when_in_a_dag_skips_and_dependents_still_run_on_a_bare_dependency() -> None:
    manifest = load(
        """
metadata: {name: dw}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: say, when: "1 > 2"}
      - {name: B, template: say, depends: A}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    status = cluster.run()
    assert cluster.node("dw.A")["message"] == "when '1 > 2' evaluated false"
    assert cluster.node("dw.B")["phase"] == "Succeeded"
    assert status["phase"] == "Succeeded"


# --- retries ---------------------------------------------------------------------------------------------------

RETRY = """
metadata: {name: rt}
spec:
  entrypoint: flaky
  templates:
  - name: flaky
    retryStrategy: {limit: "2"}
    container: {image: alpine, args: ["attempt {{retries}}"]}
"""


def test_retries_make_a_retry_node_with_one_attempt_child_and_job_per_try() -> None:
    cluster = Cluster(load(RETRY), script=lambda n: Outcome(exit_code=0 if n.endswith("(2)") else 1))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    root = cluster.node("rt")
    assert root["type"] == "Retry"
    attempts = ["rt(0)", "rt(1)", "rt(2)"]
    assert root["children"] == [node_id("rt", n) for n in attempts]
    assert cluster.created_names() == attempts
    assert [cluster.node(n)["phase"] for n in attempts] == ["Failed", "Failed", "Succeeded"]
    assert cluster.node("rt(1)")["nodeFlag"] == {"retried": True}
    job = cluster.manifests[node_id("rt", "rt(1)")]
    main = next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert main["args"] == ["attempt 1"]
    assert root["outputs"] == {"exitCode": "0"}


def test_retries_stop_at_the_limit_with_argos_message() -> None:
    cluster = Cluster(load(RETRY), script=lambda n: Outcome(exit_code=1))
    status = cluster.run()
    assert cluster.node("rt")["message"] == "No more retries left"
    assert status["phase"] == "Failed"
    assert status["message"] == "No more retries left"
    assert len(cluster.created) == 3


@pytest.mark.parametrize(
    ("policy", "exit_code", "message", "attempts"),
    [
        pytest.param("OnError", 1, "Error (exit code 1)", 1, id="on-error-does-not-retry-failures"),
        pytest.param("OnFailure", 1, "No more retries left", 3, id="on-failure-retries-failures"),
        pytest.param("Always", 1, "No more retries left", 3, id="always"),
    ],
)
def test_retry_policy_decides_which_failures_are_retried(
    policy: str, exit_code: int, message: str, attempts: int
) -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0]["retryStrategy"]["retryPolicy"] = policy
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=exit_code))
    status = cluster.run()
    assert status["message"] == message
    assert len(cluster.created) == attempts


def test_retry_backoff_waits_duration_times_factor_and_requeues() -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0]["retryStrategy"] = {"limit": 2, "backoff": {"duration": "10s", "factor": 2}}
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1))
    status = cluster.run()
    assert status["phase"] == "Failed"
    first = cluster.node("rt(0)")
    second = cluster.node("rt(1)")
    third = cluster.node("rt(2)")

    def gap(a: dict[str, str], b: dict[str, str]) -> float:
        end, start = parse_time(a["finishedAt"]), parse_time(b["startedAt"])
        assert end is not None and start is not None
        return (start - end).total_seconds()

    assert gap(first, second) == 10
    assert gap(second, third) == 20
    first_end = parse_time(first["finishedAt"])
    assert first_end is not None
    assert first_end + timedelta(seconds=10) in cluster.requeues


def test_retry_backoff_message_is_shown_on_the_retry_node_while_waiting() -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0]["retryStrategy"] = {"limit": 2, "backoff": {"duration": "1m"}}
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1))
    for _ in range(6):
        cluster.step()
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    assert cluster.node("rt")["message"] == "Backoff for 1 minute"
    assert cluster.node("rt")["phase"] == "Running"


def test_retry_max_duration_stops_retrying_with_argos_message() -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0]["retryStrategy"] = {
        "limit": 10,
        "backoff": {"duration": "30s", "maxDuration": "20s"},
    }
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1))
    status = cluster.run()
    assert status["message"] == "Backoff would exceed max duration limit"
    assert len(cluster.created) == 1


def test_retry_expression_over_last_retry_can_stop_retrying() -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0]["retryStrategy"] = {"limit": 5, "expression": "asInt(lastRetry.exitCode) == 2"}
    codes = {"rt(0)": 2, "rt(1)": 3}
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=codes.get(n, 0)))
    status = cluster.run()
    assert cluster.created_names() == ["rt(0)", "rt(1)"]
    assert status["message"] == "retryStrategy.expression evaluated to false"


@pytest.mark.parametrize(
    ("safe", "attempts"),
    [
        pytest.param("true", ["rt(0)", "rt(1)", "rt(2)"], id="input-allows"),
        pytest.param("false", ["rt(0)"], id="input-forbids"),
    ],
)
def test_retry_expression_reads_the_templates_input_parameters(safe: str, attempts: list[str]) -> None:
    """Argo's retry-conditional.yaml: `{{inputs.parameters.safe-to-retry}} == true` inside the expression."""
    manifest = load(RETRY)
    template = manifest["spec"]["templates"][0]
    template["inputs"] = {"parameters": [{"name": "safe-to-retry", "value": safe}]}
    template["retryStrategy"] = {"limit": 2, "expression": "{{inputs.parameters.safe-to-retry}} == true"}
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1))
    status = cluster.run()
    assert cluster.created_names() == attempts
    assert status["phase"] == "Failed"


def test_workflow_level_retry_strategy_applies_to_every_leaf() -> None:
    manifest = load(
        """
metadata: {name: wr}
spec:
  entrypoint: say
  retryStrategy: {limit: 1}
  templates:
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1 if n.endswith("(0)") else 0))
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.created_names() == ["wr(0)", "wr(1)"]


def test_retries_inside_a_dag_keep_the_task_as_the_retry_node() -> None:
    manifest = load(
        """
metadata: {name: dr}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: flaky}
      - {name: B, template: say, dependencies: [A]}
  - name: flaky
    retryStrategy: {limit: 1}
    container: {image: alpine}
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1 if n.endswith("A(0)") else 0))
    assert cluster.run()["phase"] == "Succeeded"
    retry = cluster.node("dr.A")
    assert retry["type"] == "Retry"
    assert cluster.node("dr.A(1)")["children"] == [node_id("dr", "dr.B")]
    assert cluster.node("dr.A(1)")["displayName"] == "A(1)"


# --- exit handlers ---------------------------------------------------------------------------------------------

EXIT = """
metadata: {name: ex}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    container: {image: alpine}
  - name: bye
    container: {image: alpine, args: ["{{workflow.status}}", "{{workflow.failures}}"]}
"""


@pytest.mark.parametrize(
    ("code", "phase"), [pytest.param(0, "Succeeded", id="ok"), pytest.param(1, "Failed", id="failed")]
)
def test_the_exit_handler_runs_after_the_main_tree_whatever_the_outcome(code: int, phase: str) -> None:
    cluster = Cluster(load(EXIT), script=lambda n: Outcome(exit_code=code) if n == "ex" else Outcome())
    status = cluster.run()
    assert cluster.created_names() == ["ex", "ex.onExit"]
    handler = cluster.node("ex.onExit")
    assert handler["phase"] == "Succeeded"
    assert handler["nodeFlag"] == {"hooked": True}
    assert status["phase"] == phase
    job = cluster.manifests[handler["id"]]
    main = next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert main["args"][0] == phase
    failures = json.loads(main["args"][1])
    if code:
        assert failures == [
            {
                "displayName": "ex",
                "message": "Error (exit code 1)",
                "templateName": "main",
                "phase": "Failed",
                "podName": cluster.jobs["ex"].job_name,
                "finishedAt": cluster.node("ex")["finishedAt"],
            }
        ]
    else:
        assert failures == []


def test_a_failing_exit_handler_fails_a_successful_workflow() -> None:
    cluster = Cluster(load(EXIT), script=lambda n: Outcome(exit_code=2) if n == "ex.onExit" else Outcome())
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert status["message"] == "Error (exit code 2)"


def test_task_exit_hooks_run_after_the_task_and_hold_its_dependents() -> None:
    manifest = load(
        """
metadata: {name: th}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: say, hooks: {exit: {template: say}}}
      - {name: B, template: say, dependencies: [A]}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.created_names() == ["th.A", "th.A.onExit", "th.B"]
    assert cluster.node("th.A")["children"][0] == node_id("th", "th.A.onExit")


def test_continue_on_failed_lets_the_steps_go_on() -> None:
    manifest = load(
        """
metadata: {name: co}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: bad, template: say, continueOn: {failed: true}}
    - - {name: next, template: say}
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1) if n.endswith("bad") else Outcome())
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.node("co[1].next")["phase"] == "Succeeded"


# --- suspend, spec.suspend, shutdown -------------------------------------------------------------------------------

SUSPEND = """
metadata: {name: sus}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: wait, template: wait}
    - - {name: after, template: say}
  - name: wait
    suspend: {duration: "30"}
"""


def test_a_suspend_with_duration_resumes_by_itself_via_requeue() -> None:
    cluster = Cluster(load(SUSPEND + WHALE), tick=timedelta(seconds=10))
    actions = cluster.step()
    assert RequeueAt(T0 + timedelta(seconds=30)) in actions
    node = cluster.node("sus[0].wait")
    assert (node["type"], node["phase"]) == ("Suspend", "Running")
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.node("sus[0].wait")["finishedAt"] == "2026-01-02T03:04:35Z"


def test_a_suspend_without_duration_waits_until_a_shell_marks_it_succeeded() -> None:
    manifest = load(SUSPEND.replace('suspend: {duration: "30"}', "suspend: {}") + WHALE)
    cluster = Cluster(manifest)
    for _ in range(5):
        cluster.step()
        cluster.now += timedelta(seconds=60)
    assert cluster.node("sus[0].wait")["phase"] == "Running"
    assert cluster.created == []
    # `trellis resume` / `argo resume`: mark the suspend node Succeeded (optionally with output values).
    wait_id = node_id("sus", "sus[0].wait")
    cluster.workflow["status"]["nodes"][wait_id]["phase"] = "Succeeded"
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.created_names() == ["sus[1].after"]


def test_spec_suspend_holds_new_jobs_until_cleared() -> None:
    manifest = load(
        """
metadata: {name: hold}
spec:
  entrypoint: say
  suspend: true
  templates:
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    for _ in range(3):
        assert not any(isinstance(a, CreateJob) for a in cluster.step())
    assert cluster.status["phase"] == "Running"
    del cluster.workflow["spec"]["suspend"]
    assert cluster.run()["phase"] == "Succeeded"


@pytest.mark.parametrize(
    ("strategy", "exit_handler_ran"),
    [pytest.param("Stop", True, id="stop-runs-exit-handlers"), pytest.param("Terminate", False, id="terminate")],
)
def test_shutdown_deletes_running_jobs_and_fails_the_workflow(strategy: str, exit_handler_ran: bool) -> None:
    cluster = Cluster(load(EXIT), script=lambda n: Outcome(seconds=100) if n == "ex" else Outcome())
    for _ in range(3):
        cluster.step()
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    cluster.workflow["spec"]["shutdown"] = strategy
    status = cluster.run()
    main = cluster.node("ex")
    assert main["phase"] == "Failed"
    assert main["message"] == f"workflow shutdown with strategy:  {strategy}"
    assert cluster.deleted == ["ex"]
    assert status["phase"] == "Failed"
    assert status["message"] == f"Stopped with strategy '{strategy}'"
    assert ("ex.onExit" in cluster.created_names()) is exit_handler_ran


# --- reuse -----------------------------------------------------------------------------------------------------

LIBRARY = {
    ("WorkflowTemplate", "lib"): load(
        """
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
  - name: pipeline
    steps:
    - - {name: inner, template: say}
"""
        + WHALE
    ),
    ("ClusterWorkflowTemplate", "global"): load(
        """
kind: ClusterWorkflowTemplate
metadata: {name: global}
spec:
  entrypoint: say
  arguments: {parameters: [{name: who, value: base}, {name: other, value: kept}]}
  templates:
"""
        + WHALE
    ),
}


def test_template_ref_resolves_in_workflow_templates_and_records_the_scope() -> None:
    manifest = load(
        """
metadata: {name: ref}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, templateRef: {name: lib, template: pipeline}}
      - {name: B, templateRef: {name: global, template: say, clusterScope: true}}
"""
    )
    cluster = Cluster(manifest, context=PlanContext(templates=LIBRARY, artifact_repository=CONTEXT.artifact_repository))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    a = cluster.node("ref.A")
    assert a["templateRef"] == {"name": "lib", "template": "pipeline"}
    assert a["templateScope"] == "namespaced/lib"
    inner = cluster.node("ref.A[0].inner")
    assert inner["templateScope"] == "namespaced/lib"
    assert cluster.node("ref.B")["templateScope"] == "cluster/global"
    assert sorted(status["storedTemplates"]) == ["cluster/global/say", "namespaced/lib/pipeline", "namespaced/lib/say"]


def test_a_running_workflow_keeps_using_the_templates_it_stored_when_the_originals_go() -> None:
    manifest = load(
        """
metadata: {name: keep}
spec:
  workflowTemplateRef: {name: global, clusterScope: true}
"""
    )
    context = PlanContext(templates=LIBRARY, artifact_repository=CONTEXT.artifact_repository)
    cluster = Cluster(manifest, context=context)
    cluster.step()
    assert cluster.status["storedWorkflowTemplateSpec"] == LIBRARY[("ClusterWorkflowTemplate", "global")]["spec"]
    cluster.context = CONTEXT  # the ClusterWorkflowTemplate was deleted (or edited) meanwhile
    assert cluster.run()["phase"] == "Succeeded"


def test_a_missing_template_ref_errors_the_task_with_the_fix() -> None:
    manifest = load(
        """
metadata: {name: miss}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, templateRef: {name: nope, template: x}}
"""
    )
    cluster = Cluster(manifest)
    cluster.run()
    assert cluster.node("miss.A")["message"] == 'WorkflowTemplate "nope" not found; create it or fix templateRef.name'


def test_workflow_template_ref_inherits_the_spec_and_merges_arguments_by_name() -> None:
    manifest = load(
        """
metadata: {name: wtr}
spec:
  workflowTemplateRef: {name: global, clusterScope: true}
  arguments: {parameters: [{name: who, value: mine}]}
"""
    )
    library = copy.deepcopy(LIBRARY)
    library[("ClusterWorkflowTemplate", "global")]["spec"]["templates"][0]["container"]["args"] = [
        "{{workflow.parameters.who}} {{workflow.parameters.other}}"
    ]
    context = PlanContext(templates=library, artifact_repository=CONTEXT.artifact_repository)
    cluster = Cluster(manifest, context=context)
    assert cluster.run()["phase"] == "Succeeded"
    job = cluster.manifests["wtr"]
    main = next(c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert main["args"] == ["mine kept"]


def test_template_defaults_fill_what_a_template_leaves_unset() -> None:
    manifest = load(
        """
metadata: {name: td}
spec:
  entrypoint: say
  templateDefaults:
    activeDeadlineSeconds: 42
    container: {imagePullPolicy: IfNotPresent, image: ignored}
  templates:
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    job = next(a.job for a in cluster.step() if isinstance(a, CreateJob))
    pod = job["spec"]["template"]["spec"]
    main = next(c for c in pod["containers"] if c["name"] == "main")
    assert (main["image"], main["imagePullPolicy"], pod["activeDeadlineSeconds"]) == ("alpine", "IfNotPresent", 42)


def test_inline_templates_run_like_named_ones() -> None:
    manifest = load(
        """
metadata: {name: inl}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: A
        inline: {container: {image: alpine}}
"""
    )
    cluster = Cluster(manifest)
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.created_names() == ["inl.A"]


# --- parallelism -----------------------------------------------------------------------------------------------


WIDE = """
metadata: {name: par}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
""" + "".join(f"      - {{name: t{i}, template: say}}\n" for i in range(5))


@pytest.mark.parametrize("where", ["workflow", "template"])
def test_parallelism_caps_how_many_jobs_run_at_once(where: str) -> None:
    manifest = load(WIDE + WHALE)
    if where == "workflow":
        manifest["spec"]["parallelism"] = 2
    else:
        manifest["spec"]["templates"][0]["parallelism"] = 2
    cluster = Cluster(manifest, script=lambda n: Outcome(seconds=3))
    peak = 0
    for _ in range(60):
        cluster.step()
        running = sum(1 for j in cluster.jobs.values() if j.phase in ("Pending", "Running"))
        peak = max(peak, running)
        if cluster.status.get("phase") == "Succeeded":
            break
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    assert cluster.status["phase"] == "Succeeded"
    assert peak == 2
    assert len(cluster.created) == 5


# --- lifecycle hooks, expressions, outputs of steps/dag templates ------------------------------------------------


def test_an_expression_hook_starts_once_its_expression_holds_and_the_task_waits_for_it() -> None:
    manifest = load(
        """
metadata: {name: hk}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: A
        template: say
        hooks:
          running: {expression: "tasks.A.status == 'Running'", template: say}
          done: {expression: "tasks.A.status == 'Succeeded'", template: say}
      - {name: B, template: say, dependencies: [A]}
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(seconds=2))
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    assert cluster.created_names() == ["hk.A", "hk.A.hooks.running", "hk.A.hooks.done", "hk.B"]
    a = cluster.node("hk.A")
    assert a["children"][:2] == [node_id("hk", "hk.A.hooks.running"), node_id("hk", "hk.A.hooks.done")]
    assert cluster.node("hk.A.hooks.done")["nodeFlag"] == {"hooked": True}


def test_workflow_level_expression_hooks_run_and_the_workflow_waits_for_them() -> None:
    manifest = load(
        """
metadata: {name: wh}
spec:
  entrypoint: say
  hooks:
    started: {expression: "workflow.status == 'Running'", template: say}
  templates:
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(seconds=1 if n == "wh" else 5))
    status = cluster.run()
    assert cluster.created_names() == ["wh", "wh.hooks.started"]
    assert status["phase"] == "Succeeded"
    assert status["finishedAt"] >= cluster.node("wh.hooks.started")["finishedAt"]


def test_continue_on_failed_in_a_dag_lets_dependents_run_and_the_dag_succeed() -> None:
    manifest = load(
        """
metadata: {name: dc}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: say, continueOn: {failed: true}}
      - {name: B, template: say, dependencies: [A]}
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1) if n.endswith(".A") else Outcome())
    status = cluster.run()
    assert cluster.node("dc.A")["phase"] == "Failed"
    assert cluster.node("dc.B")["phase"] == "Succeeded"
    assert status["phase"] == "Succeeded"


def test_expression_tags_are_evaluated_in_arguments() -> None:
    manifest = load(
        """
metadata: {name: ex}
spec:
  entrypoint: main
  arguments: {parameters: [{name: n, value: "20"}]}
  templates:
  - name: main
    steps:
    - - name: s
        template: say
        arguments:
          parameters:
          - {name: msg, value: "{{= asInt(workflow.parameters.n) * 2 + 2 }}"}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    cluster.run()
    assert cluster.node("ex[0].s")["inputs"]["parameters"] == [{"name": "msg", "value": "42"}]


def test_steps_and_dag_templates_export_outputs_from_their_children() -> None:
    manifest = load(
        """
metadata: {name: out}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: inner, template: inner}
    - - name: use
        template: say
        arguments: {parameters: [{name: msg, value: "{{steps.inner.outputs.parameters.p}}"}]}
  - name: inner
    dag:
      tasks:
      - {name: make, template: make}
    outputs:
      parameters:
      - name: p
        globalName: g
        valueFrom: {parameter: "{{tasks.make.outputs.parameters.v}}"}
      - name: doubled
        valueFrom: {expression: "asInt(tasks.make.outputs.parameters.v) * 2"}
      artifacts:
      - {name: art, from: "{{tasks.make.outputs.artifacts.data}}"}
  - name: make
    container: {image: alpine}
    outputs:
      parameters: [{name: v, valueFrom: {path: /tmp/v}}]
      artifacts: [{name: data, path: /tmp/data}]
"""
        + WHALE
    )
    cluster = Cluster(
        manifest,
        script=lambda n: Outcome(parameters={"v": "21"}, artifacts=("data",)) if n.endswith("make") else Outcome(),
    )
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    inner = cluster.node("out[0].inner")
    assert inner["outputs"]["parameters"] == [
        {"name": "p", "value": "21", "globalName": "g"},
        {"name": "doubled", "value": "42"},
    ]
    assert inner["outputs"]["artifacts"][0]["name"] == "art"
    assert "s3" in inner["outputs"]["artifacts"][0]
    assert cluster.node("out[1].use")["inputs"]["parameters"] == [{"name": "msg", "value": "21"}]
    assert status["outputs"] == {"parameters": [{"name": "g", "value": "21"}]}


def test_a_resumed_suspend_node_passes_the_supplied_values_on() -> None:
    manifest = load(
        """
metadata: {name: approve}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: ask, template: ask}
    - - name: act
        template: say
        arguments: {parameters: [{name: msg, value: "{{steps.ask.outputs.parameters.answer}}"}]}
  - name: ask
    suspend: {}
    outputs:
      parameters:
      - name: answer
        valueFrom: {supplied: {}}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    cluster.step()
    ask = node_id("approve", "approve[0].ask")
    node = cluster.workflow["status"]["nodes"][ask]
    node["phase"] = "Succeeded"
    node["outputs"] = {"parameters": [{"name": "answer", "value": "yes"}]}
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.node("approve[1].act")["inputs"]["parameters"] == [{"name": "msg", "value": "yes"}]


def test_on_transient_error_retries_only_transient_messages() -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0]["retryStrategy"] = {"limit": 3, "retryPolicy": "OnTransientError"}
    messages = {"rt(0)": "dial tcp: i/o timeout", "rt(1)": "Error (exit code 1)"}
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1, message=messages.get(n, "")))
    status = cluster.run()
    assert cluster.created_names() == ["rt(0)", "rt(1)"]
    assert status["message"] == "Error (exit code 1)"


def test_template_timeout_becomes_the_jobs_deadline() -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0] = {"name": "flaky", "timeout": "90s", "container": {"image": "alpine"}}
    cluster = Cluster(manifest)
    job = next(a.job for a in cluster.step() if isinstance(a, CreateJob))
    assert job["spec"]["template"]["spec"]["activeDeadlineSeconds"] == 90


def test_nested_templates_name_their_nodes_by_path() -> None:
    manifest = load(
        """
metadata: {name: nest}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: outer, template: steps}
  - name: steps
    steps:
    - - {name: inner, template: say}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    assert cluster.run()["phase"] == "Succeeded"
    inner = cluster.node("nest.outer[0].inner")
    assert inner["boundaryID"] == node_id("nest", "nest.outer")
    assert inner["displayName"] == "inner"
    assert cluster.node("nest")["outboundNodes"] == [inner["id"]]


def test_global_artifacts_and_from_expression_choose_artifacts_at_run_time() -> None:
    manifest = load(
        """
metadata: {name: ga}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: flip, template: flip}
    - - {name: heads, template: make}
    - - name: use
        template: use
        arguments:
          artifacts:
          - name: a
            fromExpression: "steps.flip.outputs.result == 'heads' ? steps.heads.outputs.artifacts.data : 'none'"
          - {name: b, from: "{{workflow.outputs.artifacts.shared}}"}
  - name: flip
    script: {image: python, source: print()}
  - name: make
    container: {image: alpine}
    outputs:
      artifacts: [{name: data, path: /tmp/data, globalName: shared}]
  - name: use
    inputs:
      artifacts: [{name: a, path: /a}, {name: b, path: /b}]
    container: {image: alpine}
"""
    )

    def script(name: str) -> Outcome:
        return Outcome(result="heads") if name.endswith("flip") else Outcome(artifacts=("data",))

    cluster = Cluster(manifest, script=script)
    status = cluster.run()
    assert status["phase"] == "Succeeded"
    key = cluster.node("ga[1].heads")["outputs"]["artifacts"][0]["s3"]["key"]
    inputs = cluster.node("ga[2].use")["inputs"]["artifacts"]
    assert [(a["name"], a["s3"]["key"]) for a in inputs] == [("a", key), ("b", key)]
    assert status["outputs"]["artifacts"][0]["name"] == "shared"


def test_dag_target_and_workflow_parameters_json_are_substituted() -> None:
    manifest = load(
        """
metadata: {name: tj}
spec:
  entrypoint: main
  arguments: {parameters: [{name: target, value: B}]}
  templates:
  - name: main
    dag:
      target: "{{workflow.parameters.target}}"
      tasks:
      - {name: A, template: say}
      - name: B
        template: say
        arguments: {parameters: [{name: msg, value: "{{workflow.parameters.json}}"}]}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.created_names() == ["tj.B"]
    assert cluster.node("tj.B")["inputs"]["parameters"][0]["value"] == '[{"name":"target","value":"B"}]'


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param(
            "{artifacts: [{name: a, path: /a, gcs: {bucket: b, key: k}}]}",
            "input artifact 'a': gcs artifacts are not supported by Trellis; use s3, http, git or raw",
            id="gcs-artifact",
        ),
    ],
)
def test_unsupported_inputs_end_the_node_with_what_to_use_instead(inputs: str, message: str) -> None:
    manifest = load(
        f"""
metadata: {{name: un}}
spec:
  entrypoint: t
  templates:
  - name: t
    inputs: {inputs}
    container: {{image: alpine}}
"""
    )
    status = Cluster(manifest).run()
    assert (status["phase"], status["message"]) == ("Error", message)


@pytest.mark.parametrize("shape", ["dag", "steps"])
def test_template_parallelism_also_caps_loop_items(shape: str) -> None:
    body = (
        "dag:\n      tasks:\n      - {name: A, template: say, withSequence: {count: '5'}}"
        if shape == "dag"
        else "steps:\n    - - {name: A, template: say, withSequence: {count: '5'}}"
    )
    manifest = load(
        f"""
metadata: {{name: lp}}
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 2
    {body}
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(seconds=3))
    peak = 0
    for _ in range(60):
        cluster.step()
        peak = max(peak, sum(1 for j in cluster.jobs.values() if j.phase in ("Pending", "Running")))
        if cluster.status.get("phase") == "Succeeded":
            break
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    assert cluster.status["phase"] == "Succeeded"
    assert (peak, len(cluster.created)) == (2, 5)


@pytest.mark.parametrize("field", ["timeout", "pendingTimeout"])
def test_a_job_still_pending_past_the_template_timeout_fails_with_argos_message(field: str) -> None:
    manifest = load(RETRY)
    manifest["spec"]["templates"][0] = {"name": "flaky", field: "10s", "container": {"image": "alpine"}}
    cluster = Cluster(manifest, script=lambda n: Outcome(stays_pending=True), tick=timedelta(seconds=4))
    status = cluster.run()
    node = cluster.node("rt")
    assert (node["phase"], node["message"]) == ("Failed", "timeout")
    assert cluster.deleted == ["rt"]
    assert status["phase"] == "Failed"
    assert T0 + timedelta(seconds=11) in cluster.requeues


def test_terminate_while_the_exit_handler_runs_deletes_its_job_too() -> None:
    cluster = Cluster(load(EXIT), script=lambda n: Outcome(seconds=100) if n == "ex.onExit" else Outcome())
    for _ in range(8):
        cluster.step()
        cluster.now += timedelta(seconds=1)
        cluster.kubelet()
    assert cluster.jobs[node_id("ex", "ex.onExit")].phase == "Running"
    cluster.workflow["spec"]["shutdown"] = "Terminate"
    status = cluster.run()
    assert cluster.deleted == [node_id("ex", "ex.onExit")]
    assert cluster.node("ex.onExit")["message"] == "workflow shutdown with strategy:  Terminate"
    # As Argo: the main tree succeeded, so the failed exit handler's message becomes the workflow's.
    assert (status["phase"], status["message"]) == ("Failed", "workflow shutdown with strategy:  Terminate")


def test_retries_stop_at_the_workflow_deadline_with_argos_message() -> None:
    manifest = load(RETRY)
    manifest["spec"]["activeDeadlineSeconds"] = 5
    manifest["spec"]["templates"][0]["retryStrategy"] = {"limit": 10, "backoff": {"duration": "2s"}}
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1))
    status = cluster.run()
    assert status["phase"] == "Failed"
    assert cluster.node("rt(1)")["message"] == "Step exceeded its deadline"
    assert status["message"] == "retry exceeded workflow deadline 2026-01-02 03:04:10 +0000 UTC"


def test_an_empty_loop_in_steps_is_skipped_with_argos_message_and_the_steps_go_on() -> None:
    manifest = load(
        """
metadata: {name: es}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: none, template: say, withParam: "[]"}
    - - {name: after, template: say}
"""
        + WHALE
    )
    cluster = Cluster(manifest)
    status = cluster.run()
    node = cluster.node("es[0].none")
    assert (node["type"], node["phase"], node["message"]) == ("Skipped", "Skipped", "Skipped, empty params")
    assert cluster.created_names() == ["es[1].after"]
    assert status["phase"] == "Succeeded"


@pytest.mark.parametrize(
    ("unarchived", "expected"),
    [
        pytest.param(True, "key", id="unarchived-directory-gets-a-longer-key"),
        pytest.param(
            False,
            "input artifact 'm': subPath needs the producer to store the artifact unarchived; set archive: none on "
            "its output",
            id="archived-is-refused-with-the-fix",
        ),
    ],
)
def test_sub_path_selects_a_file_inside_an_unarchived_artifact(unarchived: bool, expected: str) -> None:
    manifest = load(
        """
metadata: {name: sp}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: make, template: make}
    - - name: use
        template: use
        arguments:
          artifacts: [{name: m, from: "{{steps.make.outputs.artifacts.dir}}", subPath: sub/file.txt}]
  - name: make
    container: {image: alpine}
    outputs: {artifacts: [{name: dir, path: /tmp/dir, archive: {none: {}}}]}
  - name: use
    inputs: {artifacts: [{name: m, path: /in/m}]}
    container: {image: alpine}
"""
    )
    kept = ("dir",) if unarchived else ()
    cluster = Cluster(manifest, script=lambda n: Outcome(artifacts=("dir",), unarchived=kept))
    cluster.run()
    use = cluster.node("sp[1].use")
    if unarchived:
        job = cluster.jobs[cluster.node("sp[0].make")["id"]].job_name
        assert use["inputs"]["artifacts"][0]["s3"]["key"] == f"{job}/dir/sub/file.txt"
    else:
        assert (use["phase"], use["message"]) == ("Error", expected)


def test_inline_input_artifact_locations_are_substituted() -> None:
    manifest = load(
        """
metadata: {name: il}
spec:
  entrypoint: t
  arguments: {parameters: [{name: part, value: "7"}]}
  templates:
  - name: t
    inputs:
      parameters: [{name: part, default: "{{workflow.parameters.part}}"}]
      artifacts: [{name: a, path: /in, s3: {key: "{{workflow.name}}/results/{{inputs.parameters.part}}"}}]
    container: {image: alpine}
"""
    )
    cluster = Cluster(manifest)
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.node("il")["inputs"]["artifacts"] == [{"name": "a", "path": "/in", "s3": {"key": "il/results/7"}}]


def test_endless_recursion_stops_at_the_depth_limit_with_a_clear_message() -> None:
    manifest = load(
        """
metadata: {name: rec}
spec:
  entrypoint: loop
  templates:
  - name: loop
    steps:
    - - {name: again, template: loop}
"""
    )
    cluster = Cluster(manifest)
    status = cluster.run(max_passes=5)
    errors = [n for n in cluster.nodes.values() if n["phase"] == "Error"]
    assert [n["message"] for n in errors] == [
        "Maximum recursion depth exceeded (100 nested templates); check the condition that should end the recursion"
    ]
    assert errors[0]["name"] == "rec" + "[0].again" * 100
    assert status["phase"] == "Failed"


def test_a_timeout_that_resolves_to_no_duration_at_run_time_errors_the_node() -> None:
    manifest = load(
        """
metadata: {name: to}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: pick, template: pick}
    - - name: use
        template: t
        arguments: {parameters: [{name: t, value: "{{steps.pick.outputs.result}}"}]}
  - name: pick
    script: {image: python, source: print()}
  - name: t
    inputs: {parameters: [{name: t}]}
    timeout: "{{inputs.parameters.t}}"
    container: {image: alpine}
"""
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(result="soon") if n.endswith("pick") else Outcome())
    status = cluster.run()
    node = cluster.node("to[1].use")
    assert (node["phase"], node["message"]) == (
        "Error",
        "invalid timeout format: invalid duration 'soon'; write e.g. 30s, 1m30s or 2h",
    )
    assert status["phase"] == "Failed"


def test_a_retried_steps_template_hangs_its_successor_under_the_last_attempts_leaves() -> None:
    manifest = load(
        """
metadata: {name: rs}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: inner, hooks: {exit: {template: say}}}
      - {name: B, template: say, dependencies: [A]}
  - name: inner
    retryStrategy: {limit: 1}
    steps:
    - - {name: work, template: say}
"""
        + WHALE
    )
    cluster = Cluster(manifest, script=lambda n: Outcome(exit_code=1 if n == "rs.A(0)[0].work" else 0))
    assert cluster.run()["phase"] == "Succeeded"
    assert cluster.node("rs.A(1)[0].work")["children"] == [node_id("rs", "rs.B")]
    assert cluster.node("rs.A")["children"] == [
        node_id("rs", "rs.A(0)"),
        node_id("rs", "rs.A(1)"),
        node_id("rs", "rs.A.onExit"),
    ]
