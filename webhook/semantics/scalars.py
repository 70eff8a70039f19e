"""Checks of single values: Go durations, cron schedules, IANA time zones, names. Pure: no I/O.

Each check returns "" when the value is fine, else a sentence saying what is wrong (the caller adds the path and
the fix). They reproduce what Argo's controller accepts: durations are Go's `time.ParseDuration` syntax
(https://pkg.go.dev/time#ParseDuration), schedules are robfig/cron's `ParseStandard` (5 fields, descriptors,
`@every <duration>`, optional `CRON_TZ=`/`TZ=` prefix), time zones are names of the IANA database.
"""

from __future__ import annotations

import difflib
import json
import re
import zoneinfo
from collections.abc import Iterable
from functools import lru_cache

from croniter import croniter

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

# Kubernetes object and label rules (k8s.io/apimachinery validation): a DNS-1123 subdomain for object names.
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Argo's names of templates, steps and tasks: alphanumerics and '-', starting alphanumeric, at most 128 chars.
_WORKFLOW_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
WORKFLOW_FIELD_NAME_MAX = 128
# Argo's names of parameters and artifacts.
_PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration string ("1h30m", "-2.5s", "0"), or None when it is not one."""
    s = text.strip()
    if s != text or not s:
        return None
    sign = 1.0
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            return None
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total if pos else None


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def duration_problem(text: str, *, allow_negative: bool = False) -> str:
    """Why `text` is not an Argo duration ("" if it is one)."""
    if text.strip().lstrip("+-").isdigit():
        return f"{_q(text)} has no unit"
    seconds = parse_duration(text)
    if seconds is None:
        return f"{_q(text)} is not a duration"
    if seconds < 0 and not allow_negative:
        return f"{_q(text)} is negative"
    return ""


@lru_cache(maxsize=256)
def cron_problem(schedule: str) -> str:
    """Why `schedule` is not a schedule robfig/cron's ParseStandard accepts ("" if it is one)."""
    s = schedule.strip()
    for prefix in ("CRON_TZ=", "TZ="):
        if s.startswith(prefix):
            tz, _, s = s[len(prefix) :].partition(" ")
            if timezone_problem(tz):
                return f"{_q(schedule)} names an unknown time zone {_q(tz)}"
            s = s.strip()
            break
    if not s:
        return "the schedule is empty"
    if s.startswith("@"):
        if s.startswith("@every "):
            every = s[len("@every ") :].strip()
            if duration_problem(every):
                return f"{_q(every)} after @every is not a duration like 1h30m"
            return ""
        if s in DESCRIPTORS:
            return ""
        return f"{_q(schedule)} is not a known descriptor"
    fields = s.split()
    if len(fields) != 5:
        return f"{_q(schedule)} has {len(fields)} fields, not 5"
    if not croniter.is_valid(s):
        return f"{_q(schedule)} is not a valid cron expression"
    return ""


@lru_cache(maxsize=64)
def timezone_problem(name: str) -> str:
    """Why `name` is not an IANA time zone ("" if it is one). "" (unset) means UTC and is fine."""
    if name == "":
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{_q(name)} is not an IANA time zone"
    return ""


def object_name_problem(name: str) -> str:
    """Why `name` is not a valid Kubernetes object name (DNS-1123 subdomain)."""
    if len(name) > 253:
        return f"{_q(name)} is longer than 253 characters"
    if not _DNS1123_SUBDOMAIN.match(name):
        return (
            f"{_q(name)} is not a valid name: use lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return ""


def field_name_problem(name: str) -> str:
    """Why `name` is not a valid template/step/task name as Argo requires."""
    if len(name) > WORKFLOW_FIELD_NAME_MAX:
        return f"{_q(name)} is longer than {WORKFLOW_FIELD_NAME_MAX} characters"
    if not _WORKFLOW_FIELD_NAME.match(name):
        return f"{_q(name)} is not a valid name: use letters, digits and '-', starting with a letter or digit"
    return ""


def param_name_problem(name: str) -> str:
    """Why `name` is not a valid parameter/artifact name as Argo requires."""
    if not _PARAM_NAME.match(name):
        return f"{_q(name)} is not a valid name: use letters, digits, '_' and '-'"
    return ""


def closest(name: str, candidates: Iterable[str]) -> str:
    """The candidate closest to `name` when one is close enough to be a misspelling of it, else ""."""
    pool = sorted(candidates)
    if len(pool) > 2000:
        return ""
    best = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return best[0] if best else ""


def suggest(name: str, candidates: Iterable[str], *, listing: str = "") -> str:
    """'; did you mean "x"?' for the closest candidate; else, with `listing` ("the DAG's tasks"), the candidates
    when there are at most 8 of them; else ''. Cheap enough for thousands of candidates."""
    pool = sorted(candidates)
    if len(pool) > 2000:
        return ""
    best = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if best:
        return f'; did you mean "{best[0]}"?'
    if listing and pool and len(pool) <= 8:
        return f"; {listing} are: {', '.join(pool)}"
    if listing and not pool:
        return f"; it has no {listing.removeprefix('its ')}"
    return ""
