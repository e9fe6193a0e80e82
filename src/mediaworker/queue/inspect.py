"""Operator reads: a job's status and the queue's counts, as the CLI shows them."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from mediaworker.queue import keys
from mediaworker.queue.serializer import deserialize


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


async def _count_running(pool: ArqRedis) -> int:
    """In-progress keys whose job still exists (arq keeps a finished cron job's key 60 s)."""
    prefix = keys.ARQ_IN_PROGRESS_PREFIX
    job_ids = [
        key.decode()[len(prefix) :] async for key in pool.scan_iter(match=prefix + "*", count=1000)
    ]
    if not job_ids:
        return 0
    async with pool.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(keys.ARQ_JOB_PREFIX + job_id)
        found = await pipe.execute()
    return sum(1 for n in found if n)


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
    in_progress = await _count_running(pool)
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
