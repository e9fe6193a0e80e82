"""Every Redis key, storage key layout, job id and metric name, in one place, with lifetimes.

Ids that reach a key or a path are validated here: `validate_id()` refuses anything that is
not a short run of letters, digits, `-` and `_` (a UUID passes; `../etc` does not).
"""

from __future__ import annotations

import re
from enum import StrEnum

from mediaworker.errors import BadInputError
from mediaworker.payloads import ID_PATTERN

# --- ids -----------------------------------------------------------------------------------

_ID_RE = re.compile(ID_PATTERN)
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")


def validate_id(value: str, *, what: str = "media_id") -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        shown = repr(value)[:40]
        raise BadInputError(f"{what} {shown} is not valid: use 1-128 letters, digits, '-' or '_'")
    return value


# --- arq (its own prefixes live in arq.constants; the queue name is ours) ------------------

QUEUE_NAME = "arq:queue"  # arq's default: producers using plain arq land on the same queue
HEALTH_CHECK_KEY = f"{QUEUE_NAME}:health-check"
ARQ_IN_PROGRESS_PREFIX = "arq:in-progress:"  # mirrors arq.constants; refreshed by our heartbeat
ARQ_RESULT_PREFIX = "arq:result:"
ARQ_JOB_PREFIX = "arq:job:"


def in_progress_key(job_id: str) -> str:
    return ARQ_IN_PROGRESS_PREFIX + job_id


def result_key(job_id: str) -> str:
    return ARQ_RESULT_PREFIX + job_id


# --- our Redis keys ------------------------------------------------------------------------

PREFIX = "mediaworker:"
# Hashes {function name: count}; never expire (reset with `mediaworker stats --reset`).
STATS_COMPLETED = f"{PREFIX}stats:completed"
STATS_FAILED = f"{PREFIX}stats:failed"
STATS_RETRIED = f"{PREFIX}stats:retried"

# Priorities (see priorities.py). The counter never expires; the deferred set and its
# priorities hash hold a job only while it waits for its retry or `defer_s`.
PRIORITY_SEQ = f"{PREFIX}priority:seq"
DEFERRED = f"{PREFIX}deferred"  # zset {job_id: due time in ms}
DEFERRED_PRIORITY = f"{PREFIX}deferred:priority"  # hash {job_id: priority}

# How long arq keeps a job's in-progress key between heartbeats. A worker killed with
# `kill -9` leaves the key behind; another worker takes the job once it lapses.
IN_PROGRESS_TTL_S = 15.0
IN_PROGRESS_REFRESH_S = 5.0


# --- job ids: the job id names the work ----------------------------------------------------


def thumbnails_job_id(media_id: str) -> str:
    return f"thumbnails-{validate_id(media_id)}"


# --- storage layout ------------------------------------------------------------------------


class DerivativeType(StrEnum):
    THUMBNAIL = "THUMBNAIL"
    MEDIUM = "MEDIUM"
    LARGE = "LARGE"


def original_key(media_id: str, ext: str) -> str:
    return f"media/{validate_id(media_id)}/{media_id}-original.{_ext(ext)}"


def derivative_key(media_id: str, derivative: str, ext: str) -> str:
    """`media/{media_id}/{media_id}-{type}.{ext}`, the type in lower case."""
    kind = validate_id(derivative.lower(), what="derivative type")
    return f"media/{validate_id(media_id)}/{media_id}-{kind}.{_ext(ext)}"


def _ext(ext: str) -> str:
    ext = ext.lower().lstrip(".")
    if not _EXT_RE.fullmatch(ext):
        raise BadInputError(f"file extension {ext[:12]!r} is not valid")
    return ext


# --- metric names (Prometheus) -------------------------------------------------------------

METRIC_JOBS = "mediaworker_jobs_total"  # labels: function, outcome
METRIC_JOB_SECONDS = "mediaworker_job_duration_seconds"  # labels: function
METRIC_JOBS_RUNNING = "mediaworker_jobs_running"  # labels: function
