"""`trellis run` with PersistentVolumeClaims: real `trellis` processes, the real engine and kubelet.

A claim (from spec.volumeClaimTemplates or a persistentVolumeClaim volume) is the run's directory
`volumes/pvc/<claimName>`, shared by all the run's steps, kept with the run's record until `trellis delete`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.test_local_run import container, nodes_by_display, run_json, trellis, workflow, write

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "volume-claim-pipeline.yaml"
WORKDIR = {
    "metadata": {"name": "workdir"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}
MOUNT = [{"name": "workdir", "mountPath": "/work"}]
# Each of a parallel pair leaves its mark, then waits (at most 10 s) for the other's: both succeed only when they
# run at the same time and see the same directory.
MEET = "touch /work/{me}; for i in $(seq 100); do [ -f /work/{other} ] && exit 0; sleep 0.1; done; exit 1"


def pvc_dir(home: Path, run: str, claim: str) -> Path:
    return home / "runs" / run / "volumes" / "pvc" / claim


def with_mount(template: dict[str, Any], mounts: list[dict[str, Any]] = MOUNT) -> dict[str, Any]:
    template["container"]["volumeMounts"] = mounts
    return template


def test_the_example_pipeline_shares_its_claim_between_sequential_and_parallel_steps(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, final, stderr = run_json(home, EXAMPLE)
    assert code == 0, stderr
    name = final["metadata"]["name"]
    assert final["status"]["phase"] == "Succeeded"
    assert final["status"]["persistentVolumeClaims"] == [
        {"name": "workdir", "persistentVolumeClaim": {"claimName": f"{name}-workdir"}}
    ]
    nodes = nodes_by_display(final)
    assert nodes["report"]["outputs"]["parameters"] == [{"name": "total", "value": "55"}]
    claim = pvc_dir(home, name, f"{name}-workdir")
    assert (claim / "results" / "shard-1.txt").read_text() == "25\n"
    assert (claim / "results" / "shard-0.txt").read_text() == "30\n"
    assert (claim / "total.txt").read_text() == "55\n"

    deleted = trellis(home, "delete", name)
    assert deleted.returncode == 0, deleted.stderr
    assert not claim.exists()


def test_a_parallel_pair_sees_the_same_claim_directory_at_the_same_time(tmp_path: Path) -> None:
    manifest = workflow(
        "meet",
        [
            {
                "name": "main",
                "steps": [[{"name": "left", "template": "left"}, {"name": "right", "template": "right"}]],
            },
            with_mount(container("left", MEET.format(me="left", other="right"))),
            with_mount(container("right", MEET.format(me="right", other="left"))),
        ],
        volumeClaimTemplates=[WORKDIR],
    )
    code, final, stderr = run_json(tmp_path / "home", write(tmp_path / "wf.yaml", manifest), "--parallelism", "2")
    assert code == 0, stderr
    name = final["metadata"]["name"]
    assert sorted(p.name for p in pvc_dir(tmp_path / "home", name, f"{name}-workdir").iterdir()) == ["left", "right"]


def test_a_persistent_volume_claim_volume_is_shared_by_claim_name_and_a_sub_path_mount_works(tmp_path: Path) -> None:
    volumes = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "shared-data"}},
        {"name": "again", "persistentVolumeClaim": {"claimName": "shared-data", "readOnly": True}},
    ]
    manifest = workflow(
        "claim",
        [
            {
                "name": "main",
                "steps": [[{"name": "write", "template": "write"}], [{"name": "read", "template": "read"}]],
            },
            with_mount(
                container("write", "mkdir -p /data/sub && echo hello > /data/sub/greeting"),
                [{"name": "data", "mountPath": "/data"}],
            ),
            with_mount(
                container("read", "cat /in/greeting"), [{"name": "again", "mountPath": "/in", "subPath": "sub"}]
            ),
        ],
        volumes=volumes,
    )
    code, final, stderr = run_json(tmp_path / "home", write(tmp_path / "wf.yaml", manifest))
    assert code == 0, stderr
    assert nodes_by_display(final)["read"]["outputs"]["result"] == "hello"
    assert "persistentVolumeClaims" not in final["status"]  # only claims the workflow made are recorded
    shared = pvc_dir(tmp_path / "home", final["metadata"]["name"], "shared-data")
    assert (shared / "sub" / "greeting").read_text() == "hello\n"


def test_a_claim_name_that_is_not_a_kubernetes_name_fails_the_step_and_touches_nothing_outside_the_run(
    tmp_path: Path,
) -> None:
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "../../escape"}}]
    manifest = workflow(
        "bad-claim",
        [with_mount(container("main", "echo x > /data/x"), [{"name": "data", "mountPath": "/data"}])],
        volumes=volumes,
    )
    code, final, _ = run_json(tmp_path / "home", write(tmp_path / "wf.yaml", manifest))
    assert code == 1
    node = nodes_by_display(final)[final["metadata"]["name"]]
    assert node["phase"] == "Failed"
    assert node["message"] == (
        "volume \"data\": persistentVolumeClaim.claimName '../../escape' is not a "
        "valid claim name; use a DNS-1123 subdomain such as my-claim"
    )
    assert not (tmp_path / "home" / "escape").exists()
    assert not (tmp_path / "home" / "runs" / "escape").exists()


def test_a_read_only_claim_can_be_read_but_not_written(tmp_path: Path) -> None:
    volumes = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "shared-data"}},
        {"name": "frozen", "persistentVolumeClaim": {"claimName": "shared-data", "readOnly": True}},
    ]
    manifest = workflow(
        "frozen",
        [
            {
                "name": "main",
                "steps": [[{"name": "write", "template": "write"}], [{"name": "read", "template": "read"}]],
            },
            with_mount(container("write", "echo kept > /data/file"), [{"name": "data", "mountPath": "/data"}]),
            with_mount(
                container("read", "cat /in/file; if echo changed > /in/file; then echo writable; fi"),
                [{"name": "frozen", "mountPath": "/in"}],
            ),
        ],
        volumes=volumes,
    )
    code, final, stderr = run_json(tmp_path / "home", write(tmp_path / "wf.yaml", manifest))
    assert code == 0, stderr
    assert nodes_by_display(final)["read"]["outputs"]["result"] == "kept"
    shared = pvc_dir(tmp_path / "home", final["metadata"]["name"], "shared-data")
    assert (shared / "file").read_text() == "kept\n"
