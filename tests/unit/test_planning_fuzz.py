"""plan() never raises, whatever shape a manifest has: every field of a few valid workflows is replaced in turn by
values of the wrong type; each variant must give a list of actions, and when it errs, the reason somewhere."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from executor.contract import UpdateStatus
from executor.planning import plan
from executor.status import nodes_of
from tests.unit.test_planning import DIAMOND, PARAMS, STEPS
from tests.unit.test_planning_control import EXIT, GEN, RETRY, WHALE
from tests.unit.test_planning_support import CONTEXT, T0, load

WRONG: list[Any] = [None, 3, "text", [], {}, [1, "x"], {"a": {"b": None}}, True, "{{ nope }}"]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield (*prefix, key)
            yield from paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield (*prefix, index)
            yield from paths(sub, (*prefix, index))


def replaced(manifest: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    copied = copy.deepcopy(manifest)
    target: Any = copied
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copied


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(DIAMOND, id="dag"),
        pytest.param(STEPS, id="steps"),
        pytest.param(PARAMS, id="parameters"),
        pytest.param(GEN + WHALE, id="loops"),
        pytest.param(RETRY, id="retry"),
        pytest.param(EXIT, id="exit-handler"),
    ],
)
def test_no_manifest_shape_makes_the_planner_raise(text: str) -> None:
    manifest = load(text)
    spec_paths = [p for p in paths(manifest) if p[0] == "spec"]
    checked = 0
    for index, path in enumerate(spec_paths):
        variant = replaced(manifest, path, WRONG[index % len(WRONG)])
        actions = plan(variant, {}, T0, context=CONTEXT)
        assert isinstance(actions, list)
        for action in actions:
            if isinstance(action, UpdateStatus) and action.status.get("phase") == "Error":
                # The reason is on the workflow, or (a DAG's own message is empty, as in Argo) on an Error node.
                reasons = [action.status.get("message")] + [
                    n.get("message") for n in nodes_of(action.status).values() if n.get("phase") == "Error"
                ]
                assert any(reasons), path
                # A shape the planner cannot use is explained as `trellis lint` would, with its field path.
                assert not re.match(r"invalid workflow: \w+(Error|Exception): ", str(reasons[0] or "")), reasons[0]
        checked += 1
    assert checked == len(spec_paths) > 10
