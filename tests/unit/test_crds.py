"""crds/*.yaml: generated from the schema source, small, structural, and valid for Kubernetes itself."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from webhook.schema import KINDS, schema_errors
from webhook.schema.crd import crd, crd_file_name
from webhook.schema.generate import main, render_files

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
SHARED = ROOT.parent / "shared"
ARGO_EXAMPLES = SHARED / "argo-examples"
MAX_BYTES = 256 * 1024


def committed(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CRDS / crd_file_name(kind)).read_text())
    return loaded


def schema_of(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_committed_crds_are_exactly_what_the_generator_writes() -> None:
    expected = render_files()
    on_disk = {path.name: path.read_text() for path in CRDS.glob("*.yaml")}
    assert on_disk == expected


def test_check_mode_fails_on_a_stale_file_and_passes_on_fresh_ones(tmp_path: Path) -> None:
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    stale = tmp_path / crd_file_name("Workflow")
    stale.write_text(stale.read_text().replace("- wf", "- wff"))
    assert main(["--check", "--dir", str(tmp_path)]) == 1


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_crd_is_well_under_the_256_kib_client_side_apply_limit(kind: str) -> None:
    assert (CRDS / crd_file_name(kind)).stat().st_size < MAX_BYTES


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_crd_is_valid_for_kubernetes_strict_schema(kind: str) -> None:
    version = kubernetes_validate.validate(committed(kind), "1.37.0", strict=True)
    assert version == "1.37"


def structural_violations(node: dict[str, Any], path: str) -> list[str]:
    """Kubernetes' structural-schema rules that our generator could break (apiextensions' structural.go)."""
    problems = []
    exempt = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
    if "type" not in node and not exempt:
        problems.append(f"{path}: no type")
    if node.get("additionalProperties") is False or ("additionalProperties" in node and "properties" in node):
        problems.append(f"{path}: additionalProperties must be a schema and cannot sit beside properties")
    if node.get("type") == "array" and "items" not in node:
        problems.append(f"{path}: array without items")
    for keyword in ("oneOf", "anyOf", "allOf", "not", "$ref"):
        if keyword in node:
            problems.append(f"{path}: {keyword} is not allowed here")
    for name, sub in node.get("properties", {}).items():
        problems.extend(structural_violations(sub, f"{path}.{name}"))
    if isinstance(node.get("additionalProperties"), dict):
        problems.extend(structural_violations(node["additionalProperties"], f"{path}.*"))
    if "items" in node:
        problems.extend(structural_violations(node["items"], f"{path}[]"))
    return problems


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_crd_schema_is_structural(kind: str) -> None:
    schema = schema_of(kind)
    assert structural_violations(schema, "openAPIV3Schema") == []
    assert schema["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_spec_and_status_keep_fields_the_schema_does_not_know(kind: str) -> None:
    properties = schema_of(kind)["properties"]
    assert properties["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    if "status" in properties:
        assert properties["status"]["x-kubernetes-preserve-unknown-fields"] is True


@pytest.mark.parametrize(
    ("kind", "plural", "scope", "short_names", "status_subresource", "columns"),
    [
        pytest.param(
            "Workflow",
            "workflows",
            "Namespaced",
            ["wf"],
            True,
            [("Status", ".status.phase"), ("Age", ".status.startedAt"), ("Message", ".status.message")],
            id="workflow",
        ),
        pytest.param("WorkflowTemplate", "workflowtemplates", "Namespaced", ["wftmpl"], False, [], id="template"),
        pytest.param(
            "ClusterWorkflowTemplate",
            "clusterworkflowtemplates",
            "Cluster",
            ["clusterwftmpl", "cwft"],
            False,
            [],
            id="cluster-template",
        ),
        pytest.param(
            "CronWorkflow",
            "cronworkflows",
            "Namespaced",
            ["cwf", "cronwf"],
            True,
            [
                ("Schedules", ".spec.schedules"),
                ("Suspended", ".spec.suspend"),
                ("Last Scheduled", ".status.lastScheduledTime"),
                ("Age", ".metadata.creationTimestamp"),
            ],
            id="cron",
        ),
    ],
)
def test_names_scope_columns_and_subresources_match_argo(
    kind: str,
    plural: str,
    scope: str,
    short_names: list[str],
    status_subresource: bool,
    columns: list[tuple[str, str]],
) -> None:
    document = committed(kind)
    assert document["metadata"]["name"] == f"{plural}.argoproj.io"
    assert document["spec"]["names"]["plural"] == plural
    assert document["spec"]["names"]["shortNames"] == short_names
    assert document["spec"]["scope"] == scope
    (version,) = document["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert ("status" in version["subresources"]) is status_subresource
    assert [(c["name"], c["jsonPath"]) for c in version.get("additionalPrinterColumns", [])] == columns


def without_nulls(value: Any) -> Any:
    # The API server prunes nulls of non-nullable fields before checking the CRD schema.
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def argo_documents() -> list[Any]:
    if not ARGO_EXAMPLES.is_dir():
        return []
    docs = []
    for path in sorted(ARGO_EXAMPLES.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and doc.get("kind") in KINDS:
                docs.append(pytest.param(doc, id=f"{path.relative_to(ARGO_EXAMPLES)}#{index}"))
    return docs


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="../shared/argo-examples is not present")
@pytest.mark.parametrize("document", argo_documents())
def test_the_crd_schema_admits_every_argo_example(document: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(schema_of(document["kind"])).validate(without_nulls(document))


@pytest.mark.skipif(not (SHARED / "seed").is_dir(), reason="../shared/seed is not present")
def test_the_crd_lets_the_seed_args_mistake_through_to_the_webhook_that_explains_it() -> None:
    document = yaml.safe_load((SHARED / "seed" / "artifacts-pipeline.yaml").read_text())
    jsonschema.Draft7Validator(schema_of("Workflow")).validate(document)


def test_the_crd_still_types_the_top_level_fields() -> None:
    bad = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {}, "spec": {"parallelism": "two"}}
    errors = [e.message for e in jsonschema.Draft7Validator(schema_of("Workflow")).iter_errors(bad)]
    assert errors == ["'two' is not of type 'integer'"]


def test_the_kubernetes_validate_command_passes_every_crd_in_strict_mode() -> None:
    command = Path(sys.executable).parent / "kubernetes-validate"
    if not command.exists():
        pytest.skip("kubernetes-validate is not installed next to this Python")
    files = sorted(str(path) for path in CRDS.glob("*.yaml"))
    result = subprocess.run(
        [str(command), "--strict", "-k", "1.37.0", *files], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.count(" passed for resource customresourcedefinition/")) == (0, 4)


def locations(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found.extend(locations(sub, (*prefix, key)))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found.extend(locations(sub, (*prefix, index)))
    return found


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason="../shared/argo-examples is not present")
def test_the_crd_never_rejects_what_the_webhook_would_accept() -> None:
    # The API server applies the CRD schema before the validating webhook: a manifest the webhook accepts must
    # never be stopped there, or users would get the API server's words instead of ours.
    rng = random.Random(7)
    corpus = [p.values[0] for p in argo_documents()]
    replacements: list[Any] = [None, 0, 7, 1.5, True, "x", "{{x}}", [], {}, ["a"], {"k": "v"}]
    accepted = 0
    for _ in range(600):
        document = copy.deepcopy(rng.choice(corpus))
        *parents, last = rng.choice([loc for loc in locations(document)[1:] if loc[0] not in ("kind", "apiVersion")])
        node: Any = document
        for part in parents:
            node = node[part]
        node[last] = copy.deepcopy(rng.choice(replacements))
        if schema_errors(document):
            continue
        accepted += 1
        jsonschema.Draft7Validator(schema_of(document["kind"])).validate(without_nulls(document))
    assert accepted > 100
