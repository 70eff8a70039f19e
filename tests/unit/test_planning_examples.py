"""Argo's own example manifests (list A1 of ../shared/argo-examples/INDEX.md) planned to completion.

A cooperative simulated kubelet runs every Job: it reports each output parameter the node's template declares (its
default, else "1"), each declared output artifact, and a result chosen per template where the example feeds the
result into a loop or a condition (a JSON list for withParam, a number for withSequence); a container whose command
says `exit 1` fails and one that says `sleep N` runs N seconds (the kubelet enforces activeDeadlineSeconds). The
examples Argo labels `expected-failure` must end Failed, the others Succeeded. Everything else is the
planner's own behaviour, so the final phase is the one Argo gives with those outputs. Skipped when the corpus is
absent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from executor.contract import PlanContext
from tests.unit.test_planning_support import CONTEXT, Cluster, Outcome, load

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "argo-examples"

# Results that drive loops and conditions in the examples (template name -> stdout of main).
RESULTS = {
    "gen-number-list": "[3, 1]",
    "split": '["0", "1"]',
    "hello": "2",
    "odd-or-even": '{"num": 4, "evenness": "even"}',
    "counter-iteration": "10",
    "flip-coin": "heads",
}


def a1_files() -> list[str]:
    index = CORPUS / "INDEX.md"
    if not index.exists():
        return []
    section = index.read_text().split("## A1")[1].split("\n## ")[0]
    return [line[2:].strip() for line in section.splitlines() if line.startswith("- ")]


@functools.cache
def library() -> dict[tuple[str, str], Mapping[str, Any]]:
    found: dict[tuple[str, str], Mapping[str, Any]] = {}
    for path in sorted(CORPUS.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
                found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def template_named(name: str, workflow: Mapping[str, Any], context: PlanContext) -> Mapping[str, Any]:
    sources = [workflow.get("spec") or {}] + [doc.get("spec") or {} for doc in context.templates.values()]
    for spec in sources:
        for template in spec.get("templates") or []:
            if template.get("name") == name:
                return dict(template)
    return {}


def cooperative(cluster: Cluster) -> None:
    def script(node_name: str) -> Outcome:
        node = cluster.node(node_name)
        template = template_named(str(node.get("templateName")), cluster.workflow, cluster.context)
        outputs = template.get("outputs") or {}
        parameters = {
            str(p["name"]): str((p.get("valueFrom") or {}).get("default", "1")) for p in outputs.get("parameters") or []
        }
        artifacts = tuple(str(a["name"]) for a in outputs.get("artifacts") or [])
        unarchived = tuple(str(a["name"]) for a in outputs.get("artifacts") or [] if "none" in (a.get("archive") or {}))
        main = template.get("container") or template.get("script") or {}
        words = [*(main.get("command") or []), *(main.get("args") or []), main.get("source", "")]
        text = " ".join(str(word) for word in words)
        sleep = re.search(r"\bsleep,? +(\d+)", text.replace("'", " ").replace('"', " "))
        return Outcome(
            parameters=parameters,
            artifacts=artifacts,
            unarchived=unarchived,
            result=RESULTS.get(str(node.get("templateName")), ""),
            exit_code=1 if "exit 1" in text else 0,  # the examples that fail on purpose
            seconds=int(sleep.group(1)) if sleep else 1,
        )

    cluster.script = script


@pytest.mark.skipif(not CORPUS.exists(), reason="../shared/argo-examples is not present")
@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in a1_files()])
def test_argo_example_plans_to_the_phase_argo_gives(name: str) -> None:
    docs = [d for d in yaml.safe_load_all((CORPUS / name).read_text()) if isinstance(d, dict)]
    workflows = [d for d in docs if d.get("kind") == "Workflow"]
    if not workflows:
        pytest.skip(f"{name} holds only templates (used by the other examples)")
    manifest = workflows[0]
    metadata = manifest.setdefault("metadata", {})
    metadata.setdefault("name", str(metadata.get("generateName", "wf-")) + "x7k2p")
    context = PlanContext(templates=library(), artifact_repository=CONTEXT.artifact_repository)
    cluster = Cluster(load(yaml.safe_dump(manifest)), context=context)
    cooperative(cluster)
    status = cluster.run(max_passes=400)
    problems = {n["name"]: n.get("message") for n in cluster.nodes.values() if n.get("phase") in ("Failed", "Error")}
    errors = {name: msg for name, msg in problems.items() if cluster.node(name)["phase"] == "Error"}
    # A step Trellis refuses to build (expand() names a feature it does not support, with the fix) fails its node
    # and the workflow; anything else must succeed.
    unsupported = {name: msg for name, msg in problems.items() if "not supported" in str(msg)}
    if unsupported:
        assert status["phase"] in ("Failed", "Error")
        return
    if metadata.get("labels", {}).get("workflows.argoproj.io/no-test") == "expected-failure":
        assert status["phase"] == "Failed"
        return
    # A failed step may be handled (depends on .Failed, continueOn); nothing may end in Error.
    assert (status["phase"], errors) == ("Succeeded", {})
