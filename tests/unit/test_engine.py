"""executor.local.engine: the `<engine> run` command line, pull policies, securityContext flags (pure), and a CLI
that cannot start, which gives failed commands, never exceptions."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from executor.local.engine import (
    ContainerEngine,
    EngineContainer,
    EngineKind,
    EngineUnavailable,
    PullFailure,
    engine_error_line,
    env_file_safe,
    env_file_text,
    pull_policy,
    run_invocation,
    security_flags,
)
from executor.local.sandbox import Mount

COMMON = [
    "run",
    "--rm",
    "--name=trellis-p-1-main",
    "--hostname=p-1",
    "--network=host",
    "--pull=never",
    "--sig-proxy=false",
]


def container(**fields: Any) -> EngineContainer:
    base: dict[str, Any] = {"name": "trellis-p-1-main", "hostname": "p-1", "image": "alpine:3.20"}
    return EngineContainer(**{**base, "pull_policy": "IfNotPresent", **fields})


@pytest.mark.parametrize(
    ("image", "given", "expected"),
    [
        pytest.param("alpine", None, "Always", id="untagged-is-always"),
        pytest.param("alpine:latest", None, "Always", id="latest-is-always"),
        pytest.param("alpine:3.20", None, "IfNotPresent", id="tagged-is-if-not-present"),
        pytest.param("registry:5000/team/app", None, "Always", id="registry-port-is-not-a-tag"),
        pytest.param("registry:5000/team/app:v1", None, "IfNotPresent", id="registry-port-and-tag"),
        pytest.param("alpine@sha256:" + "a" * 64, None, "IfNotPresent", id="digest-is-if-not-present"),
        pytest.param("alpine:latest", "Never", "Never", id="given-never-wins"),
        pytest.param("alpine:3.20", "Always", "Always", id="given-always-wins"),
        pytest.param("alpine:3.20", "IfNotPresent", "IfNotPresent", id="given-if-not-present"),
        pytest.param("alpine", "", "Always", id="empty-policy-is-defaulted"),
    ],
)
def test_pull_policy_defaults_as_kubernetes_does(image: str, given: object, expected: str) -> None:
    assert pull_policy(image, given) == expected


@pytest.mark.parametrize(
    ("kind", "c", "tail"),
    [
        pytest.param("podman", container(), ["alpine:3.20"], id="neither-command-nor-args-runs-the-image-default"),
        pytest.param(
            "podman", container(args=["--verbose", "x"]), ["alpine:3.20", "--verbose", "x"], id="args-only-keep-entry"
        ),
        pytest.param(
            "podman",
            container(command=["sh", "-c"], args=["echo hi"]),
            ['--entrypoint=["sh", "-c"]', "alpine:3.20", "echo hi"],
            id="podman-command-is-a-json-entrypoint",
        ),
        pytest.param(
            "podman",
            container(command=["true"]),
            ['--entrypoint=["true"]', "alpine:3.20"],
            id="podman-command-alone-drops-the-image-cmd",
        ),
        pytest.param(
            "docker",
            container(command=["sh", "-c"], args=["echo hi"]),
            ["--entrypoint=sh", "alpine:3.20", "-c", "echo hi"],
            id="docker-command-head-is-the-entrypoint-rest-goes-first",
        ),
        pytest.param("docker", container(command=["true"]), ["--entrypoint=true", "alpine:3.20"], id="docker-alone"),
    ],
)
def test_command_replaces_entrypoint_and_args_replace_cmd(
    kind: EngineKind, c: EngineContainer, tail: list[str]
) -> None:
    argv = run_invocation(kind, f"/usr/bin/{kind}", c)
    proxy = ["--http-proxy=false"] if kind == "podman" else []
    assert argv == [f"/usr/bin/{kind}", *COMMON, *proxy, *tail]


def test_mounts_env_workdir_labels_and_security_flags_come_before_the_image() -> None:
    c = container(
        mounts=[Mount("/run/pod/term/main", "/dev/termination-log"), Mount("/run/pod/vol/s", "/argo/staging", True)],
        env=[("A", "1"), ("MULTI", "line one\nline two"), ("EMPTY", "")],
        working_dir="/work",
        security=["--user=1000:1000"],
        labels=[("trellis.dev/pod", "p-1")],
        args=["x"],
    )
    assert run_invocation("podman", "podman", c) == [
        "podman",
        *COMMON,
        "--http-proxy=false",
        "--label=trellis.dev/pod=p-1",
        *("-v", "/run/pod/term/main:/dev/termination-log"),
        *("-v", "/run/pod/vol/s:/argo/staging:ro"),
        "--workdir=/work",
        *("-e", "A=1", "-e", "MULTI=line one\nline two", "-e", "EMPTY="),
        "--user=1000:1000",
        "alpine:3.20",
        "x",
    ]


@pytest.mark.parametrize(
    "path",
    [pytest.param("/data/a:b", id="colon"), pytest.param("/data/a,b", id="comma")],
)
def test_a_path_the_volume_syntax_cannot_carry_is_refused_with_the_reason(path: str) -> None:
    with pytest.raises(ValueError) as caught:
        run_invocation("podman", "podman", container(mounts=[Mount(path, "/in")]))
    assert str(caught.value) == f"cannot bind {path!r} into a container: the engine's -v syntax forbids ':' and ','"


@pytest.mark.parametrize(
    ("own", "pod", "kind", "expected"),
    [
        pytest.param({}, {}, "podman", [], id="nothing-set"),
        pytest.param({"runAsUser": 1000}, {}, "podman", ["--user=1000"], id="user-only"),
        pytest.param({"runAsUser": 1000, "runAsGroup": 3000}, {}, "podman", ["--user=1000:3000"], id="user-group"),
        pytest.param({}, {"runAsUser": 5, "runAsGroup": 6}, "podman", ["--user=5:6"], id="from-the-pod"),
        pytest.param({"runAsUser": 7}, {"runAsUser": 5, "runAsGroup": 6}, "podman", ["--user=7:6"], id="per-field"),
        pytest.param({"runAsGroup": 6}, {}, "podman", [], id="group-alone-is-not-expressible"),
        pytest.param(
            {"readOnlyRootFilesystem": True},
            {},
            "podman",
            ["--read-only", "--read-only-tmpfs=false"],
            id="podman-read-only-root-has-no-writable-tmp",
        ),
        pytest.param({"readOnlyRootFilesystem": True}, {}, "docker", ["--read-only"], id="docker-read-only"),
        pytest.param(
            {"privileged": True, "allowPrivilegeEscalation": False},
            {},
            "docker",
            ["--privileged", "--security-opt=no-new-privileges"],
            id="privileged-and-no-new-privileges",
        ),
        pytest.param(
            {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
            {},
            "podman",
            ["--cap-drop=ALL", "--cap-add=NET_BIND_SERVICE"],
            id="capabilities",
        ),
    ],
)
def test_security_context_maps_to_engine_flags(
    own: dict[str, Any], pod: dict[str, Any], kind: EngineKind, expected: list[str]
) -> None:
    assert security_flags({"securityContext": own}, {"securityContext": pod}, kind) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            "Trying to pull x...\nError: initializing source docker://x: connection refused\n",
            "podman: Error: initializing source docker://x: connection refused",
            id="podman-error-line",
        ),
        pytest.param(
            'time="..." level=warning msg="Failed, retrying"\nError: x: image not known\nsummary\n',
            "podman: Error: x: image not known",
            id="last-error-line-even-when-not-last",
        ),
        pytest.param(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
            "podman: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
            id="no-error-prefix-takes-the-last-line",
        ),
        pytest.param("", "podman: no output", id="nothing-said"),
    ],
)
def test_engine_error_line_names_the_engine_and_its_last_error(output: str, expected: str) -> None:
    assert engine_error_line("podman", output) == expected


def test_an_engine_not_on_path_is_refused_with_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable) as caught:
        ContainerEngine.find("podman", {"PATH": str(tmp_path)})
    assert str(caught.value) == "--runtime podman: podman is not installed; install it or use --runtime host"


def test_a_cli_that_cannot_start_gives_failed_commands_and_pull_failures_never_exceptions(tmp_path: Path) -> None:
    gone = tmp_path / "podman"
    engine = ContainerEngine("podman", str(gone), {})
    why = f"Error: [Errno 2] No such file or directory: '{gone}'"
    assert (engine.kill("c", signal.SIGTERM), engine.stop("c", 1), engine.remove("c")) == (False, False, False)
    started: list[object] = []
    assert engine.ensure_image("img:1", "Never", started=started.append) == PullFailure(
        "ErrImageNeverPull", f'Container image "img:1" is not present with pull policy of Never (podman: {why})'
    )
    assert engine.ensure_image("img:1", "IfNotPresent", started=started.append) == PullFailure(
        "ErrImagePull", f'Failed to pull image "img:1": podman: {why}'
    )
    assert started == []


def test_env_values_go_in_the_env_file_and_only_multi_line_ones_on_the_command_line() -> None:
    env = [("TOKEN", "s3cr3t"), ("SPACED", "  both ends  "), ("MULTI", "line one\nline two"), ("EMPTY", "")]
    c = container(env=env, env_file="/run/pod/engine-env/main")
    argv = run_invocation("podman", "podman", c)
    assert argv[argv.index("--http-proxy=false") + 1 :] == [
        *("-e", "MULTI=line one\nline two"),
        "--env-file=/run/pod/engine-env/main",
        "alpine:3.20",
    ]
    assert env_file_text(env) == "TOKEN=s3cr3t\nSPACED=  both ends  \nEMPTY=\n"


@pytest.mark.parametrize(
    ("name", "value", "safe"),
    [
        pytest.param("A", "plain", True, id="plain"),
        pytest.param("A", "a=b#c 'quoted' \"too\"", True, id="equals-hash-quotes-kept-as-written"),
        pytest.param("A", "  padded  ", True, id="surrounding-spaces-kept"),
        pytest.param("A", "two\nlines", False, id="newline"),
        pytest.param("A", "ends-with-cr\r", False, id="carriage-return-would-be-dropped"),
        pytest.param("#A", "x", False, id="name-read-as-a-comment"),
        pytest.param("MY VAR", "x", False, id="space-in-name-is-refused-by-the-parsers"),
        pytest.param("", "x", False, id="empty-name"),
    ],
)
def test_env_file_safe_accepts_only_what_a_line_carries_exactly(name: str, value: str, safe: bool) -> None:
    assert env_file_safe(name, value) is safe
