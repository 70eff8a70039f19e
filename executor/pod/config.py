"""The pod layout's fixed paths and the TRELLIS_POD_SPEC format: the wire contract between executor.jobspec
(which owns the layout and writes the configuration) and the programs inside the pod (which read it).

Pure and deliberately light: `trellis-exec wait` imports it at every step's start, so it needs only `typing`
(importing jobspec here would cost ~20 ms of every step; see docs/benchmarks.md, local runner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from executor.contract import ArtifactLocation

# ---------------------------------------------------------------------------------------------------------------
# Fixed paths of the layout and the TRELLIS_POD_SPEC format the programs inside the pod read (executor.pod).
# Secrets never appear in it: locations keep their Secret references ({name, key}); values arrive in env vars
# named by executor.artifacts.repository.secret_env_name.
# ---------------------------------------------------------------------------------------------------------------
CONFIG_ENV = "TRELLIS_POD_SPEC"
MAIN_WATCH_ENV = "TRELLIS_MAIN_WATCH"  # "kube" | "local" (docs/architecture.md, the main-exit channel)
POD_NAME_ENV = "TRELLIS_POD_NAME"
POD_NAMESPACE_ENV = "TRELLIS_POD_NAMESPACE"

TRELLIS_ROOT = "/var/run/trellis"
MOUNTS_DIR = f"{TRELLIS_ROOT}/mnt"  # init/wait see main's shared volumes at MOUNTS_DIR/<index>
INPUTS_DIR = f"{TRELLIS_ROOT}/inputs"  # init writes inputs not under a shared volume here (subPath into main)
STAGING_DIR = f"{TRELLIS_ROOT}/staging"  # init writes the script source here
LOCAL_CHANNEL_DIR = f"{TRELLIS_ROOT}/local"  # local runtime: main.exit FIFO and main.stdout
MAIN_STAGING_DIR = "/argo/staging"  # where main sees the staging volume (Argo's path)
SCRIPT_FILE = "script"  # Argo appends /argo/staging/script to a script template's args
TERMINATION_LOG = "/dev/termination-log"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

RESULT_LIMIT = 256 * 1024  # outputs.result keeps at most this many bytes of main's stdout (as Argo)
REPORT_LIMIT = 3584  # termination message budget (kubelet limit 4096); larger reports are offloaded


class InputSpec(TypedDict, total=False):
    name: str
    dest: str  # where init writes it (inside INPUTS_DIR or MOUNTS_DIR/<i>)
    path: str  # where main sees it (for messages)
    location: ArtifactLocation
    mode: int
    optional: bool
    unpack: bool
    merge: bool  # dest is the root of a shared volume: move the contents in instead of renaming


class ScriptSpec(TypedDict):
    dest: str
    source: str


class InitConfig(TypedDict, total=False):
    v: int
    script: ScriptSpec
    inputs: list[InputSpec]


class OutputParameterSpec(TypedDict, total=False):
    name: str
    path: str  # where wait reads it
    declared: str  # the path main wrote (for messages)
    default: str


class OutputArtifactSpec(TypedDict, total=False):
    name: str
    path: str
    declared: str
    archive: Literal["tar", "none"]
    compression_level: int
    optional: bool
    location: ArtifactLocation  # where to upload (repository + key, or the artifact's own s3/http location)


class WaitConfig(TypedDict, total=False):
    v: int
    result: bool  # capture main's stdout as outputs.result
    parameters: list[OutputParameterSpec]
    artifacts: list[OutputArtifactSpec]
    report_location: ArtifactLocation  # where a report too large for the termination message goes
    report_path: str


def empty_wait_config() -> dict[str, Any]:
    return {"v": 1, "result": True, "parameters": [], "artifacts": [], "report_path": TERMINATION_LOG}
