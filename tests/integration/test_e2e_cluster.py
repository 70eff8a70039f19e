"""The whole cluster path, as a user meets it: `kubectl create` through the real admission webhook (gunicorn +
TLS, configured by `trellis webhook certs`), the real controller process logic watching the API stand-in, and a
test kubelet finishing Jobs. The seed's DAG runs to Succeeded; `kubectl get jobs -l` and `kubectl wait` work on
its steps as on any Job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from executor.cluster.controller import Controller
from tests.integration.test_controller_process import KubeletLoop, phase_of, start_controller
from tests.standin import KubeStandin
from tests.standin.fixture import kube
from tests.standin.test_admission import trellis_webhook

__all__ = ["kube", "trellis_webhook"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def controller(kube: KubeStandin, trellis_webhook: Path) -> Iterator[Controller]:
    made = start_controller(kube)
    yield made
    made.shutdown()


@pytest.mark.slow
def test_kubectl_create_of_the_seed_dag_runs_to_success_and_its_steps_are_plain_jobs(
    kube: KubeStandin, controller: Controller
) -> None:
    out = kube.kubectl("create", "-f", str(ROOT / "examples" / "data-pipeline-dag.yaml"))
    assert out.stdout.startswith("workflow.argoproj.io/data-pipeline-dag-") and out.stdout.endswith(" created\n")
    name = out.stdout.split("/", 1)[1].split(" ", 1)[0]
    with KubeletLoop(kube):
        kube.wait_until(lambda: phase_of(kube, name) == "Succeeded", timeout=60, what="Succeeded")
    jobs = kube.kubectl("get", "jobs", "-l", f"workflows.argoproj.io/workflow={name}", "-o", "name")
    assert len(jobs.stdout.split()) == 5
    first = jobs.stdout.split()[0]
    waited = kube.kubectl("wait", "--for=condition=complete", first, "--timeout=10s")
    assert waited.stdout == f"{first.replace('job.batch/', 'job.batch/')} condition met\n"
    got = kube.kubectl("get", "workflow", name, "-o", "jsonpath={.status.phase} {.status.progress}")
    assert got.stdout == "Succeeded 5/5"


@pytest.mark.slow
def test_kubectl_apply_of_the_seeds_uncorrected_artifacts_pipeline_is_refused_with_the_fix(
    kube: KubeStandin, trellis_webhook: Path
) -> None:
    seed = ROOT.parent / "shared" / "seed" / "artifacts-pipeline.yaml"
    if not seed.exists():
        pytest.skip("../shared/seed is not present")
    import yaml

    from webhook.validation import validate

    out = kube.kubectl("create", "-f", str(seed), check=False)
    errors = validate(yaml.safe_load(seed.read_text())).errors
    assert [e.path for e in errors] == [f"spec.templates[{i}].container.args" for i in (1, 2, 3)]
    assert out.returncode == 1
    for error in errors:
        assert f"* {error}\n" in out.stderr
    assert kube.list_objects("argoproj.io/v1alpha1", "Workflow", "default") == []
