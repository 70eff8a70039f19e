"""DAG dependency conditions as Argo evaluates them: bare names, explicit results, continueOn widening."""

from __future__ import annotations

import pytest

from executor.planning.depends import DependsError, TaskOutcome, depends_of

OK = TaskOutcome("Succeeded")
FAILED = TaskOutcome("Failed")
FAILED_CONTINUE = TaskOutcome("Failed", continue_on_failed=True)
ERROR_CONTINUE = TaskOutcome("Error", continue_on_error=True)
SKIPPED = TaskOutcome("Skipped")
OMITTED = TaskOutcome("Omitted")
GROUP_SOME = TaskOutcome("Failed", any_succeeded=True)
GROUP_ALL_FAILED = TaskOutcome("Failed", all_failed=True)


@pytest.mark.parametrize(
    ("task", "outcomes", "runs"),
    [
        pytest.param({"dependencies": ["a", "b"]}, {"a": OK, "b": SKIPPED}, True, id="dependencies-ok-or-skipped"),
        pytest.param({"dependencies": ["a"]}, {"a": FAILED}, False, id="dependencies-failed"),
        pytest.param({"dependencies": ["a"]}, {"a": OMITTED}, False, id="dependencies-omitted"),
        pytest.param({"dependencies": ["a"]}, {"a": FAILED_CONTINUE}, True, id="continue-on-failed-widens-bare"),
        pytest.param({"depends": "a"}, {"a": ERROR_CONTINUE}, True, id="continue-on-error-widens-bare"),
        pytest.param({"depends": "a.Succeeded"}, {"a": FAILED_CONTINUE}, False, id="explicit-result-not-widened"),
        pytest.param({"depends": "a.Failed || a.Errored"}, {"a": FAILED}, True, id="failed-or-errored"),
        pytest.param({"depends": "!a.Succeeded"}, {"a": SKIPPED}, True, id="not"),
        pytest.param({"depends": "(a || b) && !c.Failed"}, {"a": FAILED, "b": OK, "c": OK}, True, id="parens"),
        pytest.param({"depends": "a.Omitted"}, {"a": OMITTED}, True, id="omitted"),
        pytest.param({"depends": "a.AnySucceeded"}, {"a": GROUP_SOME}, True, id="any-succeeded"),
        pytest.param({"depends": "a.AllFailed"}, {"a": GROUP_ALL_FAILED}, True, id="all-failed"),
        pytest.param({"depends": "my-task.Succeeded"}, {"my-task": OK}, True, id="dashed-name"),
    ],
)
def test_depends_decides_whether_a_task_runs(
    task: dict[str, object], outcomes: dict[str, TaskOutcome], runs: bool
) -> None:
    depends = depends_of(task)
    assert depends is not None
    assert depends.evaluate(outcomes) is runs


def test_tasks_without_dependencies_have_no_condition_and_names_are_listed_once() -> None:
    assert depends_of({"name": "x"}) is None
    depends = depends_of({"depends": "a && (a.Failed || b)"})
    assert depends is not None
    assert depends.tasks == ("a", "b")


def test_a_malformed_depends_says_where() -> None:
    with pytest.raises(DependsError) as caught:
        depends_of({"depends": "a &&"})
    assert str(caught.value).startswith('depends "a &&"')
