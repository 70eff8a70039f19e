"""`trellis-exec init`: fetch the step's input artifacts to where main will see them, and write the script
source. Runs before main; a non-zero exit fails the pod (the kubelet never starts main), with the reason in the
init container's termination message.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from executor.artifacts.archive import extract_tar_gz, is_tar_gz
from executor.artifacts.drivers import ArtifactError, ArtifactNotFound, SecretLookup, describe, driver_for
from executor.pod.config import InitConfig, InputSpec


def run_init(cfg: InitConfig, *, secrets: SecretLookup, log: Any = sys.stderr) -> None:
    """Do everything init must; raises ArtifactError (message ready for users) on the first failure."""
    script = cfg.get("script")
    if script is not None:
        dest = Path(script["dest"])
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(script["source"])
        dest.chmod(0o755)
    for spec in cfg.get("inputs", []):
        fetch_input(spec, secrets=secrets, log=log)


def fetch_input(spec: InputSpec, *, secrets: SecretLookup, log: Any = sys.stderr) -> None:
    name, location = spec["name"], spec["location"]
    dest = Path(spec["dest"])
    where = f'input artifact "{name}" ({describe(location)} -> {spec.get("path", dest)})'
    dest.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix=f".trellis-in-{name}-", dir=dest if spec.get("merge") else dest.parent))
    try:
        staged = holder / "content"
        try:
            driver_for(location, secrets=secrets).download_to(location, staged)
        except ArtifactNotFound as exc:
            if spec.get("optional"):
                print(f"{where}: not found, skipped because it is optional", file=log)
                return
            raise ArtifactError(f"{where}: {exc}") from exc
        except ArtifactError as exc:
            raise ArtifactError(f"{where}: {exc}") from exc
        if spec.get("unpack", True) and is_tar_gz(staged):
            unpacked = holder / "unpacked"
            with staged.open("rb") as stream:
                extract_tar_gz(stream, unpacked)
            staged.unlink()
            staged = unpacked
        if "mode" in spec:
            _chmod(staged, int(spec["mode"]))
        if spec.get("merge"):
            if not staged.is_dir():
                raise ArtifactError(
                    f"{where}: is a file but {spec.get('path')} is a directory shared with outputs; "
                    "give the input a file path below it"
                )
            for child in staged.iterdir():
                _replace(child, dest / child.name)
        else:
            _replace(staged, dest)
        print(f"{where}: fetched", file=log)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _replace(src: Path, dest: Path) -> None:
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    elif dest.exists() or dest.is_symlink():
        dest.unlink()
    os.replace(src, dest)


def _chmod(path: Path, mode: int) -> None:
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                child.chmod(mode)
    path.chmod(mode)
