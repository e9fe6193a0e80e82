"""What operators do to jobs (the API's admin routes, the CLI, the dashboard): retry, cancel.

- `retry(job_id)`: a failed job runs again with its original payload and priority; its
  earlier attempts stay in job_runs (the history), the ledger row starts over at attempt 0.
  A job that is not failed is refused with the state it is in (`NotRetryableError`).
- `retry_failed(function=None)`: every failed job (of one function), oldest first.
- `cancel(job_id)`: a queued or deferred job is taken out of Redis (it never starts); a
  running one is aborted through arq (`allow_abort_jobs`: the worker cancels its task at its
  next poll). The ledger says cancelled at once, and no later report of the worker changes
  that. A job that has ended is refused (`NotCancellableError`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss

from mediaworker.db import jobs as jobs_db
from mediaworker.db.jobs import JobStatus, LedgerJob
from mediaworker.db.pool import Pool
from mediaworker.errors import NotFoundError
from mediaworker.queue import keys
from mediaworker.queue.ledger import to_redis


class StateConflictError(Exception):
    """The job exists but is in a state the action does not apply to."""

    def __init__(self, job: LedgerJob, action: str, wanted: str) -> None:
        super().__init__(f"job {job.job_id} is {job.status}, not {wanted}: cannot {action} it")
        self.job = job


async def retry(db: Pool, redis: ArqRedis, job_id: str) -> LedgerJob:
    job = await jobs_db.requeue(db, job_id, only_from=[JobStatus.FAILED])
    if job is None:
        raise _refusal(await jobs_db.get(db, job_id), job_id, "retry", "failed")
    await to_redis(redis, job)
    return job


@dataclass(frozen=True)
class Retried:
    retried: list[str]
    skipped: list[str]  # failed when listed, no longer when retried (another operator)


async def retry_failed(
    db: Pool, redis: ArqRedis, *, function: str | None = None, limit: int = 1000
) -> Retried:
    page = await jobs_db.list_jobs(db, status=JobStatus.FAILED, function=function, limit=limit)
    retried, skipped = [], []
    for job in reversed(page.jobs):
        try:
            await retry(db, redis, job.job_id)
        except StateConflictError:
            skipped.append(job.job_id)
        else:
            retried.append(job.job_id)
    return Retried(retried, skipped)


# Takes a job that has not started out of the queue (and its deferral), atomically; a job in
# progress is handed to arq's abort set instead. Returns 1 when removed, 2 when aborting.
_CANCEL = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
  return 2
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
return 1
"""


async def cancel(db: Pool, redis: ArqRedis, job_id: str) -> LedgerJob:
    job = await jobs_db.cancel(db, job_id)
    if job is None:
        raise _refusal(await jobs_db.get(db, job_id), job_id, "cancel", "queued or running")
    await redis.eval(  # type: ignore[misc]
        _CANCEL,
        6,
        keys.QUEUE_NAME,
        keys.in_progress_key(job_id),
        keys.ARQ_JOB_PREFIX + job_id,
        keys.DEFERRED,
        abort_jobs_ss,  # arq's abort set, read by workers with allow_abort_jobs
        keys.DEFERRED_PRIORITY,
        job_id,
        str(int(time.time() * 1000)),
    )
    return job


def _refusal(job: LedgerJob | None, job_id: str, action: str, wanted: str) -> Exception:
    if job is None:
        return NotFoundError(f"no job {job_id[:100]!r}")
    return StateConflictError(job, action, wanted)
