"""Artifacts: repository resolution (pure, `repository`), storage drivers (`drivers`), tar+gzip (`archive`).

Used by the programs inside each step's pod (executor.pod) and by the shells (resolving the repository from
ConfigMaps, reading offloaded reports). Nothing here decides node phases.
"""

from executor.artifacts.archive import ArchiveError, extract_tar_gz, is_tar_gz, tar_gz_reader, write_tar_gz
from executor.artifacts.drivers import ArtifactError, ArtifactNotFound, Driver, describe, driver_for, env_secrets
from executor.artifacts.repository import (
    RepositoryError,
    location_in_repository,
    output_key,
    resolve_repository,
    secret_env_name,
    secret_refs,
)

__all__ = [
    "ArchiveError",
    "ArtifactError",
    "ArtifactNotFound",
    "Driver",
    "RepositoryError",
    "describe",
    "driver_for",
    "env_secrets",
    "extract_tar_gz",
    "is_tar_gz",
    "location_in_repository",
    "output_key",
    "resolve_repository",
    "secret_env_name",
    "secret_refs",
    "tar_gz_reader",
    "write_tar_gz",
]
