"""What producers import: a pool with the right serializer, typed enqueue helpers, status, stats.

    pool = await create_pool()
    job = await enqueue_thumbnails(pool, media_id)
    print(await job_status(pool, job.job_id))

The job id names the work (`thumbnails-{media_id}`), so enqueueing the same work twice gives
one job. Without `force`, enqueueing work whose result is still kept returns that job, whose
result holds the outputs. With `force=True`, a kept result is dropped and the job runs again
(arq alone would silently return None); if the job is still queued or running, that job is
returned as it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.connections import create_pool as arq_create_pool
from arq.jobs import Job, JobStatus
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mediaworker import keys
from mediaworker.config import RedisConfig, Settings
from mediaworker.payloads import Payload, ThumbnailsPayload
from mediaworker.priorities import DEFAULT_PRIORITY, enqueue_at_priority
from mediaworker.serializer import deserialize, serialize


class SafeRedisSettings(RedisSettings):
    """arq's RedisSettings, whose repr would print the password."""

    def __repr__(self) -> str:
        return f"RedisSettings(host={self.host!r}, port={self.port}, database={self.database})"


def redis_settings(config: RedisConfig) -> RedisSettings:
    """Connection settings that ride out a Redis restart of several seconds.

    Each command is retried with exponential backoff for about 15 s in all, so a worker's poll
    loop survives a restart instead of dying on the first ConnectionError.
    """
    base = RedisSettings.from_dsn(config.dsn())
    return SafeRedisSettings(
        **{
            **base.__dict__,
            "conn_timeout": 2,
            "conn_retries": 10,
            "conn_retry_delay": 1,
            "retry_on_timeout": True,
            "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError],
            "retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=12),
        }
    )


async def create_pool(settings: Settings | None = None) -> ArqRedis:
    settings = settings or Settings()
    return await arq_create_pool(
        redis_settings(settings.redis),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=keys.QUEUE_NAME,
        expires_extra_ms=settings.queue.job_expires_s * 1000,
    )


async def enqueue_thumbnails(
    pool: ArqRedis, media_id: str, *, force: bool = False, priority: int = 5
) -> Job:
    """Enqueue `generate_thumbnails` for one media row; job id `thumbnails-{media_id}`."""
    payload = ThumbnailsPayload(media_id=media_id, force=force)
    job_id = keys.thumbnails_job_id(media_id)
    return await enqueue(
        pool, "generate_thumbnails", job_id, payload, priority=priority, rerun=force
    )


async def enqueue(
    pool: ArqRedis,
    function: str,
    job_id: str,
    payload: Payload,
    *,
    priority: int = DEFAULT_PRIORITY,
    defer_s: float | None = None,
    rerun: bool = False,
) -> Job:
    """Enqueue under `job_id` at `priority` (lower runs first), after `defer_s` if given.

    With `rerun`, a kept result of an earlier run does not block the new run. A job not
    started within QUEUE_JOB_EXPIRES_S (the pool's `expires_extra_ms`) is dropped by arq; the
    reconciler enqueues its work again.
    """
    kwargs = payload.model_dump(mode="json")
    expires_s = pool.expires_extra_ms / 1000

    async def add() -> bool:
        return await enqueue_at_priority(
            pool, function, job_id, kwargs, priority=priority, expires_s=expires_s, defer_s=defer_s
        )

    if not await add() and rerun and not await is_queued_or_running(pool, job_id):
        await pool.delete(keys.result_key(job_id))
        await add()
    return Job(job_id, pool, _queue_name=keys.QUEUE_NAME, _deserializer=deserialize)


async def is_queued_or_running(pool: ArqRedis, job_id: str) -> bool:
    found = await pool.exists(keys.ARQ_JOB_PREFIX + job_id, keys.in_progress_key(job_id))
    return bool(found)


@dataclass(frozen=True)
class JobState:
    job_id: str
    status: str  # deferred | queued | in_progress | complete | not_found
    function: str | None = None
    tries: int | None = None
    enqueued_at: dt.datetime | None = None
    success: bool | None = None
    result: Any = None
    error: dict[str, str] | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def job_status(pool: ArqRedis, job_id: str) -> JobState:
    job = Job(job_id, pool, _queue_name=keys.QUEUE_NAME, _deserializer=deserialize)
    status = await job.status()
    info = await job.info()
    if info is None:
        return JobState(job_id, status.value)
    state = JobState(
        job_id,
        status.value,
        function=info.function,
        tries=info.job_try or 0,
        enqueued_at=info.enqueue_time,
    )
    if status is not JobStatus.complete:
        return state
    result_info = await job.result_info()
    if result_info is None:
        return state
    failed = not result_info.success
    return replace(
        state,
        success=result_info.success,
        result=None if failed else result_info.result,
        error=_as_error(result_info.result) if failed else None,
        started_at=result_info.start_time,
        finished_at=result_info.finish_time,
    )


def _as_error(result: Any) -> dict[str, str]:
    if isinstance(result, dict) and "code" in result:
        return {"code": str(result["code"]), "message": str(result.get("message", ""))}
    return {"code": "UNKNOWN", "message": str(result)[:200]}


async def _hgetall(pool: ArqRedis, key: str) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = await pool.hgetall(key)  # type: ignore[misc]
    return found


@dataclass(frozen=True)
class QueueStats:
    queued: int
    deferred: int
    in_progress: int
    completed: int
    failed: int
    retried: int
    by_function: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def queue_stats(pool: ArqRedis) -> QueueStats:
    """Counts now in Redis: ready to run, deferred (retry or `_defer_by`), running; totals."""
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    in_progress = 0
    async for _ in pool.scan_iter(match=keys.ARQ_IN_PROGRESS_PREFIX + "*", count=1000):
        in_progress += 1
    due = await pool.zcount(keys.QUEUE_NAME, "-inf", now_ms)
    deferred = await pool.zcount(keys.QUEUE_NAME, f"({now_ms}", "+inf")
    totals = {
        name: {k.decode(): int(v) for k, v in (await _hgetall(pool, key)).items()}
        for name, key in (
            ("completed", keys.STATS_COMPLETED),
            ("failed", keys.STATS_FAILED),
            ("retried", keys.STATS_RETRIED),
        )
    }
    by_function: dict[str, dict[str, int]] = {}
    for outcome, counts in totals.items():
        for function, count in counts.items():
            by_function.setdefault(function, {})[outcome] = count
    return QueueStats(
        queued=max(due - in_progress, 0),
        deferred=deferred,
        in_progress=in_progress,
        completed=sum(totals["completed"].values()),
        failed=sum(totals["failed"].values()),
        retried=sum(totals["retried"].values()),
        by_function=by_function,
    )
