"""Nothing lost: every ledger job that should be queued, deferred or running but that Redis
no longer has (flushed, restarted without persistence, a worker killed) is enqueued again.

A job counts as lost when its ledger row is active, untouched for QUEUE_RECONCILE_IDLE_S
(and due, for a deferred one), and Redis has neither its job key nor its in-progress key. It
goes back with its original payload and priority under the same job id, so a producer that
enqueues the same work meanwhile still gets one job. Rows enqueued again are stamped, so the
next round leaves them alone for another idle period. Run by the `reconcile_jobs` cron job,
once per tick across all workers; `reconcile_media` still covers media rows with no ledger
row (enqueued before the ledger existed, or by an application writing rows itself).
"""

from __future__ import annotations

from arq.connections import ArqRedis

from mediaworker.db import jobs as jobs_db
from mediaworker.db.jobs import LedgerJob
from mediaworker.db.pool import Pool
from mediaworker.queue import keys
from mediaworker.queue.ledger import to_redis


async def requeue_lost(db: Pool, redis: ArqRedis, *, idle_for_s: float) -> list[str]:
    """Enqueue again the active ledger jobs Redis lost; their ids."""
    candidates = await jobs_db.list_lost_candidates(db, idle_for_s=idle_for_s)
    lost = await _missing_from_redis(redis, candidates)
    for job in lost:
        await to_redis(redis, job)
    if lost:
        await jobs_db.touch(db, [job.job_id for job in lost])
    return [job.job_id for job in lost]


async def _missing_from_redis(redis: ArqRedis, jobs: list[LedgerJob]) -> list[LedgerJob]:
    if not jobs:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job in jobs:
            pipe.exists(keys.ARQ_JOB_PREFIX + job.job_id, keys.in_progress_key(job.job_id))
        found = await pipe.execute()
    return [job for job, n in zip(jobs, found, strict=True) if not n]
