"""`trellis-exec wait`: after main ends, collect the step's outputs and report them.

1. Learn main's exit code through the main-exit channel (executor.pod.channel).
2. outputs.result: main's stdout, at most 256 KiB, trailing newlines trimmed (argoproj/argo-workflows#758).
3. Output parameters from `valueFrom.path` (trailing newlines trimmed); `default` when the file is missing.
4. Output artifacts: tar+gzip streamed to the repository (`compressionLevel`), or as-is with `archive: none`
   (a directory becomes a key prefix); `optional: true` artifacts may be missing.
5. Write the PodReport JSON as the termination message; a report over REPORT_LIMIT bytes is uploaded to the
   repository and the message points to it ({"v": 1, "offloaded": location}).
Any failure to collect or upload sets `error` in the report and makes `wait` exit 1: never a silent loss. When
main itself failed, missing outputs are not an extra error (main's failure is the node's message).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from executor.pod import config as pc
from executor.pod.channel import Channel

if TYPE_CHECKING:
    from executor.artifacts.drivers import SecretLookup
    from executor.contract import PodReport, ReportedArtifact

# The artifact drivers (tarfile, gzip, minio, urllib) are imported only by a step that has artifacts to upload
# or a report to offload: every step starts a `wait`, and most need neither (docs/benchmarks.md, local runner).


def run_wait(cfg: pc.WaitConfig, *, channel: Channel, secrets: SecretLookup, log: Any = sys.stderr) -> int:
    """Collect, upload, report. Returns wait's exit code: 0, or 1 when the report carries an error."""
    report: PodReport = {"v": 1}
    errors: list[str] = []
    try:
        exit_code = channel.wait_for_main().exit_code
    except Exception as exc:
        errors.append(f"cannot learn how main ended: {exc}")
        exit_code = None
    main_failed = exit_code != 0
    if exit_code is not None and cfg.get("result", True):
        try:
            with channel.open_stdout() as stream:
                if stream is not None:
                    report["result"] = read_result(stream)
        except Exception as exc:
            errors.append(f"cannot read main's stdout for outputs.result: {exc}")
    if exit_code is not None:
        report["parameters"] = collect_parameters(cfg.get("parameters", []), errors, main_failed=main_failed)
        report["artifacts"] = upload_artifacts(
            cfg.get("artifacts", []), errors, secrets=secrets, main_failed=main_failed, log=log
        )
        if not report["parameters"]:
            del report["parameters"]
        if not report["artifacts"]:
            del report["artifacts"]
    if errors:
        report["error"] = "failed to save outputs: " + "; ".join(errors)
    message, fits = encode_report(report, cfg=cfg, secrets=secrets)
    Path(cfg.get("report_path", pc.TERMINATION_LOG)).write_text(message)
    if errors:
        print(report["error"], file=log)
    if not fits:
        print(message, file=log)
    return 1 if errors or not fits else 0


def read_result(stream: BinaryIO) -> str:
    data = stream.read(pc.RESULT_LIMIT)
    return _trim(data.decode("utf-8", errors="replace"))


def _trim(text: str) -> str:
    return text.rstrip("\r\n")


def collect_parameters(specs: list[pc.OutputParameterSpec], errors: list[str], *, main_failed: bool) -> dict[str, str]:
    values: dict[str, str] = {}
    for spec in specs:
        path = Path(spec["path"])
        try:
            if path.is_dir():
                raise IsADirectoryError(21, "is a directory")
            with path.open("rb") as f:
                data = f.read(pc.RESULT_LIMIT + 1)
            if len(data) > pc.RESULT_LIMIT:
                errors.append(
                    f'parameter "{spec["name"]}": {spec["declared"]} is larger than {pc.RESULT_LIMIT} bytes; '
                    "pass large values as an output artifact"
                )
                continue
            values[spec["name"]] = _trim(data.decode("utf-8", errors="replace"))
        except OSError as exc:
            if "default" in spec:
                values[spec["name"]] = spec["default"]
            elif not main_failed:
                reason = "does not exist" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc))
                errors.append(
                    f'parameter "{spec["name"]}": {spec["declared"]} {reason}; write it in main, or set '
                    "valueFrom.default"
                )
    return values


def upload_artifacts(
    specs: list[pc.OutputArtifactSpec],
    errors: list[str],
    *,
    secrets: SecretLookup,
    main_failed: bool,
    log: Any = sys.stderr,
) -> list[ReportedArtifact]:
    reported: list[ReportedArtifact] = []
    if specs:
        from executor.artifacts.archive import tar_gz_reader
        from executor.artifacts.drivers import ArtifactError, describe, driver_for
    for spec in specs:
        name, path, location = spec["name"], Path(spec["path"]), spec["location"]
        if not path.exists():
            if not spec.get("optional") and not main_failed:
                errors.append(
                    f'artifact "{name}": {spec["declared"]} does not exist; create it in main, or mark the '
                    "artifact optional: true"
                )
            continue
        try:
            driver = driver_for(location, secrets=secrets)
            if spec.get("archive", "tar") == "none":
                driver.upload_file(location, path)
            else:
                with tar_gz_reader(path, compression_level=spec.get("compression_level", -1)) as stream:
                    driver.upload_stream(location, stream)
        except (ArtifactError, OSError) as exc:
            errors.append(f'artifact "{name}": {exc}')
            continue
        print(f'artifact "{name}": {spec["declared"]} uploaded to {describe(location)}', file=log)
        reported.append(
            {"name": name, "path": spec["declared"], "location": location, "archive": spec.get("archive", "tar")}
        )
    return reported


def encode_report(report: PodReport, *, cfg: pc.WaitConfig, secrets: SecretLookup) -> tuple[str, bool]:
    """(termination message, delivered): the report itself, or a pointer to it in the repository when too large;
    when it can be neither, a small report whose error says why (delivered False)."""
    text = json.dumps(report, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) <= pc.REPORT_LIMIT:
        return text, True
    location = cfg.get("report_location")
    failure = "no artifact repository is configured to hold it"
    if location is not None:
        from executor.artifacts.drivers import ArtifactError, driver_for

        try:
            driver_for(location, secrets=secrets).upload_stream(location, io.BytesIO(text.encode()))
            return json.dumps({"v": 1, "offloaded": location}, separators=(",", ":"), sort_keys=True), True
        except ArtifactError as exc:
            failure = str(exc)
    small: PodReport = {
        "v": 1,
        "error": f"the step's outputs take {len(text.encode())} bytes, more than the {pc.REPORT_LIMIT} bytes of a "
        f"termination message, and could not be offloaded: {failure}",
    }
    return json.dumps(small, separators=(",", ":"), sort_keys=True), False
