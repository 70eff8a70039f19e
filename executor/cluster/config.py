"""Loading Kubernetes credentials, for the composition roots (commands) only."""

from __future__ import annotations

from kubernetes import client, config


class CredentialsError(Exception):
    pass


def load_configuration(kubeconfig: str | None, *, prefer_in_cluster: bool) -> client.Configuration:
    """Explicit kubeconfig if given; else in-cluster then ~/.kube/config (controller), or the reverse (CLI)."""
    configuration = client.Configuration()
    order = ["file"] if kubeconfig else (["cluster", "file"] if prefer_in_cluster else ["file", "cluster"])
    problems: list[str] = []
    for source in order:
        try:
            # the kubernetes package's config loaders are untyped: the ignores are for that only
            if source == "cluster":
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            else:
                config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
            return configuration
        except (config.ConfigException, OSError) as exc:
            problems.append(str(exc))
    raise CredentialsError("; ".join(problems))
