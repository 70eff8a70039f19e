"""The pod layout's fixed paths and the TRELLIS_POD_SPEC format, as the programs inside the pod use them.

They are defined by executor.jobspec (the one module owning the layout); this module re-exports them.
"""

from executor.jobspec import (
    CONFIG_ENV,
    INPUTS_DIR,
    LOCAL_CHANNEL_DIR,
    MAIN_STAGING_DIR,
    MAIN_WATCH_ENV,
    MOUNTS_DIR,
    POD_NAME_ENV,
    POD_NAMESPACE_ENV,
    REPORT_LIMIT,
    RESULT_LIMIT,
    SCRIPT_FILE,
    SERVICE_ACCOUNT_DIR,
    STAGING_DIR,
    TERMINATION_LOG,
    TRELLIS_ROOT,
    InitConfig,
    InputSpec,
    OutputArtifactSpec,
    OutputParameterSpec,
    ScriptSpec,
    WaitConfig,
    empty_wait_config,
)

__all__ = [
    "CONFIG_ENV",
    "INPUTS_DIR",
    "LOCAL_CHANNEL_DIR",
    "MAIN_STAGING_DIR",
    "MAIN_WATCH_ENV",
    "MOUNTS_DIR",
    "POD_NAMESPACE_ENV",
    "POD_NAME_ENV",
    "REPORT_LIMIT",
    "RESULT_LIMIT",
    "SCRIPT_FILE",
    "SERVICE_ACCOUNT_DIR",
    "STAGING_DIR",
    "TERMINATION_LOG",
    "TRELLIS_ROOT",
    "InitConfig",
    "InputSpec",
    "OutputArtifactSpec",
    "OutputParameterSpec",
    "ScriptSpec",
    "WaitConfig",
    "empty_wait_config",
]
