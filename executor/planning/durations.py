"""Go-style durations as Argo reads them (`30s`, `1m30s`, `2h`, `500ms`, or a bare number of seconds) (pure)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class DurationError(ValueError):
    """A duration that is neither a number of seconds nor a Go duration string."""


def parse_duration(text: str) -> timedelta:
    value = text.strip()
    if not value:
        raise DurationError("empty duration; write e.g. 30s, 1m30s or 2h")
    try:
        return timedelta(seconds=float(value))
    except ValueError:
        pass
    position = 0
    seconds = 0.0
    for match in _PART.finditer(value):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(value) or position == 0:
        raise DurationError(f"invalid duration '{text}'; write e.g. 30s, 1m30s or 2h")
    return timedelta(seconds=seconds)


def humanize(duration: timedelta) -> str:
    """`1 minute 30 seconds`, `5 seconds`: how Argo words a backoff wait in the Retry node's message."""
    total = int(duration.total_seconds())
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 seconds"
