"""Every Redis key and arq prefix, with its lifetime. Job ids are ruled in registry.py.

The storage key layout is in storage/layout.py; id validation and request hashes in ids.py.
"""

from __future__ import annotations

from mediaworker.ids import validate_hex, validate_id

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

# Priorities (see queue/priorities.py). The counter never expires; the deferred set and its
# priorities hash hold a job only while it waits for its retry or `defer_s`.
PRIORITY_SEQ = f"{PREFIX}priority:seq"
DEFERRED = f"{PREFIX}deferred"  # zset {job_id: due time in ms}
DEFERRED_PRIORITY = f"{PREFIX}deferred:priority"  # hash {job_id: priority}

# Live workers (queue/workers.py): {name: JSON}, each refreshed by its worker every
# HEARTBEAT_EVERY_S and kept HEARTBEAT_TTL_S, so a dead worker drops out within that time.
WORKER_PREFIX = f"{PREFIX}worker:"
HEARTBEAT_EVERY_S = 5.0
HEARTBEAT_TTL_S = 15.0

# How long arq keeps a job's in-progress key between heartbeats. A worker killed with
# `kill -9` leaves the key behind; another worker takes the job once it lapses.
IN_PROGRESS_TTL_S = 15.0
IN_PROGRESS_REFRESH_S = 5.0

# AI: the prompt cache {request hash: media id}, kept PROMPT_CACHE_TTL_SECONDS; the rate
# limiter's sliding windows, zsets of call times kept one window long (queue/ratelimit.py).
PROMPT_CACHE_PREFIX = f"{PREFIX}prompt-cache:"
RATE_LIMIT_PREFIX = f"{PREFIX}rate-limit:"


# Transcripts of the chunks of a long recording, kept while its job runs (a retry or a
# rate-limit deferral does not pay for the chunks done twice); removed once the row is written.
TRANSCRIPT_PARTS_PREFIX = f"{PREFIX}transcript-parts:"
TRANSCRIPT_PARTS_TTL_S = 24 * 3600


def prompt_cache_key(request_hash: str) -> str:
    return PROMPT_CACHE_PREFIX + validate_hex(request_hash)


def transcript_parts_key(request_hash: str) -> str:
    return TRANSCRIPT_PARTS_PREFIX + validate_hex(request_hash)


def rate_limit_key(capability: str, provider: str, model: str | None = None) -> str:
    """`...:rate-limit:{capability}:{provider}[:{model}]`; names are not user input."""
    parts = [capability, provider] + ([model] if model else [])
    return RATE_LIMIT_PREFIX + ":".join(parts)


# An inventory found unchanged writes nothing; the cron that looks for changed projects skips
# a project whose newest change (epoch ms) is not after this mark. Kept a day.
INVENTORY_CHECKED_PREFIX = f"{PREFIX}inventory-checked:"
INVENTORY_CHECKED_TTL_S = 24 * 3600


def inventory_checked_key(project_id: str) -> str:
    return INVENTORY_CHECKED_PREFIX + validate_id(project_id, what="project_id")
