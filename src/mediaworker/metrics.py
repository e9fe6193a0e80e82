"""Prometheus metrics: what the job wrapper, the metering and the webhooks count, and the queue.

Served with the worker's readiness on METRICS_HOST:METRICS_PORT (health.py); the names are
below. Counters and histograms are per worker process (sum them); the queue gauge is read
from Redis at each scrape by every worker alike (take the max across workers, not the sum):

    sum(max by (function, state) (mediaworker_queue_jobs{state="queued"}))
"""

from __future__ import annotations

import time
from collections import Counter as Tally

from arq.connections import ArqRedis
from prometheus_client import Counter, Gauge, Histogram

from mediaworker.queue import keys
from mediaworker.queue.serializer import deserialize

# Metric names, each with its labels.
METRIC_JOBS = "mediaworker_jobs_total"  # labels: function, outcome
METRIC_JOB_SECONDS = "mediaworker_job_duration_seconds"  # labels: function
METRIC_JOBS_RUNNING = "mediaworker_jobs_running"  # labels: function
METRIC_JOB_RETRIES = "mediaworker_job_retries_total"  # labels: function, code
METRIC_JOB_FAILURES = "mediaworker_job_failures_total"  # labels: function, code
METRIC_RATE_LIMIT_DEFERRALS = "mediaworker_rate_limit_deferrals_total"  # labels: function
METRIC_QUEUE_JOBS = "mediaworker_queue_jobs"  # labels: function, state (queued|deferred|running)
METRIC_AI_CALLS = "mediaworker_ai_calls_total"  # labels: provider, model, operation, outcome
METRIC_AI_TOKENS = "mediaworker_ai_tokens_total"  # labels: provider, model, direction
METRIC_AI_COST = "mediaworker_ai_cost_usd_total"  # labels: provider, model
METRIC_WEBHOOK_DELIVERIES = "mediaworker_webhook_deliveries_total"  # labels: outcome

JOBS = Counter(METRIC_JOBS, "Job attempts by outcome", ["function", "outcome"])
JOB_SECONDS = Histogram(
    METRIC_JOB_SECONDS,
    "Job attempt duration",
    ["function"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
JOBS_RUNNING = Gauge(METRIC_JOBS_RUNNING, "Jobs running in this worker", ["function"])
JOB_RETRIES = Counter(METRIC_JOB_RETRIES, "Retries deferred, by error code", ["function", "code"])
JOB_FAILURES = Counter(METRIC_JOB_FAILURES, "Final failures by error code", ["function", "code"])
RATE_LIMIT_DEFERRALS = Counter(
    METRIC_RATE_LIMIT_DEFERRALS, "Jobs deferred by our rate limiter", ["function"]
)
QUEUE_JOBS = Gauge(
    METRIC_QUEUE_JOBS, "Jobs in the queue now, by function and state", ["function", "state"]
)
AI_CALLS = Counter(
    METRIC_AI_CALLS, "AI provider calls", ["provider", "model", "operation", "outcome"]
)
AI_TOKENS = Counter(
    METRIC_AI_TOKENS,
    "AI tokens as the provider counted them",
    ["provider", "model", "direction"],
)
AI_COST = Counter(METRIC_AI_COST, "AI cost in US dollars (pricing.py)", ["provider", "model"])
WEBHOOK_DELIVERIES = Counter(
    METRIC_WEBHOOK_DELIVERIES, "Webhook delivery tries by outcome", ["outcome"]
)


def count_ai_call(
    provider: str,
    model: str,
    operation: str,
    *,
    error_code: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cost_usd: float | None,
) -> None:
    """One provider call (metering.py): its outcome ("ok" or the error code), tokens, cost."""
    AI_CALLS.labels(provider, model, operation, error_code or "ok").inc()
    if input_tokens:
        AI_TOKENS.labels(provider, model, "input").inc(input_tokens)
    if output_tokens:
        AI_TOKENS.labels(provider, model, "output").inc(output_tokens)
    if cost_usd:
        AI_COST.labels(provider, model).inc(cost_usd)


# The queue gauge reads at most this many queued jobs to learn their function; the rest are
# counted under function "_unread" (their state is still exact).
QUEUE_READ_LIMIT = 10_000


async def refresh_queue(redis: ArqRedis, *, read_limit: int = QUEUE_READ_LIMIT) -> None:
    """Set QUEUE_JOBS from Redis: queued (due), deferred (due later), running."""
    now_ms = time.time() * 1000
    queued = await redis.zrange(keys.QUEUE_NAME, 0, read_limit - 1, withscores=True)
    running = await _running_ids(redis)
    ids = [job_id.decode() for job_id, _ in queued]
    functions = await _functions(redis, ids)
    counts: Tally[tuple[str, str]] = Tally()
    for (job_id, score), function in zip(queued, functions, strict=True):
        name = job_id.decode()
        state = "running" if name in running else "deferred" if score > now_ms else "queued"
        counts[(function, state)] += 1
    if len(queued) == read_limit:
        last = queued[-1][1]
        counts[("_unread", "queued")] += await redis.zcount(keys.QUEUE_NAME, f"({last}", now_ms)
        counts[("_unread", "deferred")] += await redis.zcount(
            keys.QUEUE_NAME, f"({max(last, now_ms)}", "+inf"
        )
    QUEUE_JOBS.clear()
    for (function, state), n in counts.items():
        if n:
            QUEUE_JOBS.labels(function, state).set(n)


async def _running_ids(redis: ArqRedis) -> set[str]:
    prefix = keys.ARQ_IN_PROGRESS_PREFIX
    return {
        key.decode()[len(prefix) :] async for key in redis.scan_iter(match=prefix + "*", count=1000)
    }


async def _functions(redis: ArqRedis, job_ids: list[str]) -> list[str]:
    """The function of each job, from its arq job key ("unknown" if gone or unreadable)."""
    if not job_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.get(keys.ARQ_JOB_PREFIX + job_id)
        raw_jobs = await pipe.execute()
    return [_function_of(raw) for raw in raw_jobs]


def _function_of(raw: bytes | None) -> str:
    if raw is None:
        return "unknown"
    try:
        return str(deserialize(raw)["f"])
    except Exception:  # a job no worker could run counts too: as unknown
        return "unknown"
