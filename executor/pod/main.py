"""`trellis-exec init|wait`: the composition root of the programs inside a step's pod.

Reads the environment (TRELLIS_POD_SPEC, TRELLIS_MAIN_WATCH, pod name/namespace, TRELLIS_SECRET_* values) and
calls executor.pod.init / executor.pod.wait with plain values. Exit codes: 0 done, 1 a failure whose message was
written (stderr, and for wait the termination message), 2 bad configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from executor.pod import config as pc


class ConfigError(Exception):
    pass


def load_config(environ: Mapping[str, str]) -> dict[str, Any]:
    text = environ.get(pc.CONFIG_ENV)
    if not text:
        raise ConfigError(f"{pc.CONFIG_ENV} is not set; trellis-exec runs inside pods made by Trellis")
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{pc.CONFIG_ENV} is not valid JSON: {exc}") from exc
    if not isinstance(cfg, dict) or cfg.get("v") != 1:
        raise ConfigError(f"{pc.CONFIG_ENV}: expected a version 1 configuration object")
    return cfg


def _write_termination(path: str, message: str) -> None:
    with contextlib.suppress(OSError):  # not in a pod (or no termination log): stderr has the message
        Path(path).write_text(message)


def _lazy_secrets(env: Mapping[str, str]) -> Callable[[str, str], str | None]:
    """Secret values from the env vars jobspec wires in, importing the artifact drivers only when one is asked
    for (most steps' `wait` never needs them, and every step pays for what `wait` imports)."""

    def lookup(name: str, key: str) -> str | None:
        from executor.artifacts.drivers import env_secrets

        return env_secrets(env)(name, key)

    return lookup


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trellis-exec", description="programs inside a Trellis step's pod")
    parser.add_argument("program", choices=["init", "wait"], help="init: fetch inputs; wait: collect outputs")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ

    secrets = _lazy_secrets(env)
    try:
        cfg = load_config(env)
    except ConfigError as exc:
        print(f"trellis-exec {args.program}: {exc}", file=sys.stderr)
        if args.program == "wait":
            _write_termination(pc.TERMINATION_LOG, json.dumps({"v": 1, "error": str(exc)}))
        return 2

    if args.program == "init":
        from executor.artifacts.drivers import ArtifactError
        from executor.pod.init import run_init

        try:
            run_init(cfg, secrets=secrets)  # type: ignore[arg-type]
        except (ArtifactError, OSError) as exc:
            print(f"trellis-exec init: {exc}", file=sys.stderr)
            _write_termination(pc.TERMINATION_LOG, str(exc))
            return 1
        return 0

    from executor.pod.channel import ChannelError, KubeChannel, LocalChannel
    from executor.pod.wait import run_wait

    watch = env.get(pc.MAIN_WATCH_ENV, "kube")
    channel: KubeChannel | LocalChannel
    if watch == "local":
        channel = LocalChannel(Path(env.get("TRELLIS_LOCAL_DIR", pc.LOCAL_CHANNEL_DIR)))
    elif watch == "kube":
        try:
            channel = KubeChannel.in_cluster(
                pod=env.get(pc.POD_NAME_ENV, ""),
                namespace=env.get(pc.POD_NAMESPACE_ENV, ""),
                token_dir=Path(env.get("TRELLIS_SERVICE_ACCOUNT_DIR", pc.SERVICE_ACCOUNT_DIR)),
                environ=env,
            )
        except Exception as exc:
            message = f"cannot reach the Kubernetes API to watch main: {exc}"
            print(f"trellis-exec wait: {message}", file=sys.stderr)
            _write_termination(cfg.get("report_path", pc.TERMINATION_LOG), json.dumps({"v": 1, "error": message}))
            return 1
    else:
        print(f"trellis-exec wait: {pc.MAIN_WATCH_ENV}={watch!r}; use kube or local", file=sys.stderr)
        return 2
    try:
        return run_wait(cfg, channel=channel, secrets=secrets)  # type: ignore[arg-type]
    except ChannelError as exc:  # pragma: no cover - run_wait reports channel failures itself
        print(f"trellis-exec wait: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
