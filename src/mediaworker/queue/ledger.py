"""The ledger from the queue's side: producers write a job's row before its Redis entry, and
the job wrapper's events keep the row current (through the worker's batched Tracker).

`submit()` is the one way a producer (the HTTP API, the CLI, the client helpers) enqueues:
one idempotent insert, then the Redis entry. The same job id again returns the existing job
and enqueues nothing, unless `force` and that job has ended. If Redis does not answer, the
row stays queued and the reconciler (queue/reconcile.py) enqueues it later: nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis

from mediaworker.db import jobs as jobs_db
from mediaworker.db.jobs import FINAL, JobEvent, JobStatus, LedgerJob
from mediaworker.db.pool import Pool
from mediaworker.errors import MappedError
from mediaworker.queue.enqueue import enqueue_kwargs
from mediaworker.queue.priorities import DEFAULT_PRIORITY, priority_of

if TYPE_CHECKING:
    from mediaworker.queue.tracking import RunRecord, Tracker


@dataclass(frozen=True)
class Submitted:
    job: LedgerJob
    created: bool  # False: the job id was known, the existing job is returned as it is


async def submit(
    db: Pool,
    redis: ArqRedis,
    *,
    function: str,
    job_id: str,
    payload: dict[str, Any],
    priority: int,
    defer_s: float | None = None,
    webhook_url: str | None = None,
    force: bool = False,
) -> Submitted:
    job, created = await jobs_db.insert(
        db,
        job_id=job_id,
        function=function,
        payload=payload,
        priority=priority,
        webhook_url=webhook_url,
        defer_s=defer_s,
    )
    if not created:
        rerun = await jobs_db.requeue(db, job_id, only_from=FINAL) if force else None
        if rerun is None:
            return Submitted(job, created=False)
        job = rerun
    await to_redis(redis, job, defer_s=defer_s)
    return Submitted(job, created=True)


async def to_redis(redis: ArqRedis, job: LedgerJob, *, defer_s: float | None = None) -> bool:
    """Put the ledger job in the queue with its payload and priority; a kept result of an
    earlier run (which the ledger has set aside) does not block it. False: already queued
    or running in Redis."""
    return await enqueue_kwargs(
        redis,
        job.function,
        job.job_id,
        job.payload,
        priority=job.priority,
        defer_s=defer_s,
        rerun=True,
        webhook_url=job.webhook_url,  # the wrapper posts the job's end there (events/)
    )


def report(
    tracker: Tracker,
    run: RunRecord,
    score: float | None,
    status: JobStatus,
    *,
    result: Any = None,
    error: MappedError | None = None,
    tried: bool = True,
) -> None:
    """What the wrapper saw happen to a job, stamped now, for the tracker's next batch.
    `tried=False`: the attempt did not count (our rate limiter deferred it)."""
    priority = priority_of(score)
    tracker.ledger(
        JobEvent(
            job_id=run.job_id,
            function=run.function,
            payload=run.arguments,
            priority=DEFAULT_PRIORITY if priority is None else priority,
            status=status,
            attempts=run.attempt if tried else run.attempt - 1,
            at=dt.datetime.now(dt.UTC),
            started_at=run.started_at,
            result=result,
            error_code=None if error is None else error.code.value,
            error_message=None if error is None else error.message,
        )
    )
