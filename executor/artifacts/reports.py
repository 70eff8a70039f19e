"""Fetching an offloaded wait-sidecar report (I/O; used by both shells).

When a step's outputs don't fit in a termination message, the `wait` sidecar uploads the whole report to the
artifact repository and reports only `{"v": 1, "offloaded": <location>}` (executor.contract.PodReport). The
shells call `resolve_report` on every observation before planning, so the planner only ever sees full reports.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from executor.artifacts.drivers import ArtifactError, SecretLookup, driver_for
from executor.contract import JobObservation, PodReport

MAX_REPORT_BYTES = 16 * 1024 * 1024  # outputs beyond this are refused: status must stay small anyway


def resolve_report(observation: JobObservation, *, secrets: SecretLookup) -> JobObservation:
    """The observation with its offloaded report fetched; a failure to fetch becomes the report's error."""
    report = observation.report
    if not report or "offloaded" not in report:
        return observation
    location = report["offloaded"]
    try:
        with driver_for(location, secrets=secrets).open_reader(location) as stream:
            data = stream.read(MAX_REPORT_BYTES + 1)
        if len(data) > MAX_REPORT_BYTES:
            raise ArtifactError(f"the step's outputs report is larger than {MAX_REPORT_BYTES} bytes")
        loaded: Any = json.loads(data)
        if not isinstance(loaded, dict):
            raise ArtifactError("the step's outputs report is not a JSON object")
        full: PodReport = loaded  # type: ignore[assignment]  # a PodReport written by executor.pod.wait
    except (ArtifactError, OSError, ValueError) as exc:
        full = {"v": 1, "error": f"could not read the step's outputs from the artifact repository: {exc}"}
    return dataclasses.replace(observation, report=full)
