"""Reading a step's offloaded report: when the wait sidecar's report is too large for a termination message, it
uploads it to the artifact repository and reports {"v": 1, "offloaded": <location>} (executor.pod.wait). The
shells call `resolve_report` on such an observation before planning; the planner then sees the full report.

A report that cannot be fetched or parsed becomes a report whose `error` says so (the node fails with that
message): never an exception, never silently empty outputs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from executor.artifacts.drivers import ArtifactError, SecretLookup, describe, driver_for
from executor.contract import JobObservation, PodReport

MAX_REPORT_BYTES = 16 * 1024 * 1024


def resolve_report(observation: JobObservation, *, secrets: SecretLookup) -> JobObservation:
    """The observation with its offloaded report fetched; unchanged when the report was not offloaded."""
    report = observation.report
    if not report or "offloaded" not in report:
        return observation
    full = fetch_report(report["offloaded"], secrets=secrets)
    if full.get("error") and observation.exit_code in (0, None):
        # collecting outputs failed (or the report is unreadable): that is the node's failure message
        return dataclasses.replace(observation, report=full, phase="Failed", message=str(full["error"]))
    return dataclasses.replace(observation, report=full)


def fetch_report(location: Any, *, secrets: SecretLookup) -> PodReport:
    where = describe(location) if isinstance(location, dict) else repr(location)
    try:
        if not isinstance(location, dict):
            raise ArtifactError("the location is not an object")
        with driver_for(location, secrets=secrets).open_reader(location) as stream:
            data = stream.read(MAX_REPORT_BYTES + 1)
    except ArtifactError as exc:
        return {"v": 1, "error": f"cannot read the step's offloaded report from {where}: {exc}"}
    if len(data) > MAX_REPORT_BYTES:
        return {"v": 1, "error": f"the step's offloaded report at {where} is larger than {MAX_REPORT_BYTES} bytes"}
    try:
        parsed = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return {"v": 1, "error": f"the step's offloaded report at {where} is not JSON: {exc}"}
    if not isinstance(parsed, dict) or parsed.get("v") != 1 or "offloaded" in parsed:
        return {"v": 1, "error": f"the step's offloaded report at {where} is not a version 1 report"}
    full: PodReport = parsed  # type: ignore[assignment]
    return full
