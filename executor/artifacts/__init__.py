"""Artifacts: repository resolution and keys (`repository`, pure), storage drivers (`drivers`: S3 via minio,
local directory, HTTP, Git, raw), tar+gzip streaming (`archive`).

Used by the programs inside each step's pod (executor.pod), by executor.jobspec (pure parts only) and by the
shells (resolving the repository from ConfigMaps, fetching offloaded reports). Import the submodule you need:
this package re-exports only the pure repository functions, so pure callers never load the drivers.
"""

from executor.artifacts.repository import (
    RepositoryError,
    complete_location,
    key_prefix,
    location_in_repository,
    output_key,
    resolve_repository,
    secret_env_name,
    secret_refs,
)

__all__ = [
    "RepositoryError",
    "complete_location",
    "key_prefix",
    "location_in_repository",
    "output_key",
    "resolve_repository",
    "secret_env_name",
    "secret_refs",
]
