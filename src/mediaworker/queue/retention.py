"""Retention: the ledger, job_runs and ai_metrics do not grow for ever.

As the original deployments configured their queues (removeOnComplete {count 100, age 1 day},
removeOnFail {count 50, age 7 days}), per function: the newest RETENTION_COMPLETED_COUNT
succeeded jobs are kept whatever their age, older ones go after RETENTION_COMPLETED_AGE_S;
failed and cancelled ones likewise with the FAILED settings. job_runs and ai_metrics rows go
after RETENTION_HISTORY_DAYS, except the attempts of a job still active. A queued, deferred or
running job is never removed. Deletes run in batches, so one run never holds long locks; the
cron job (`prune_history`) runs once per tick across all workers (arq's unique cron id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from mediaworker.config import RetentionConfig
from mediaworker.db import ai_metrics, job_runs
from mediaworker.db import jobs as jobs_db
from mediaworker.db.jobs import JobStatus
from mediaworker.db.pool import Pool

BATCH = 5000
MAX_BATCHES = 100  # a run deletes at most BATCH * MAX_BATCHES rows of each kind; the next goes on


@dataclass(frozen=True)
class Pruned:
    succeeded: int
    failed: int
    cancelled: int
    job_runs: int
    ai_metrics: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


async def apply_retention(db: Pool, config: RetentionConfig) -> Pruned:
    history_s = config.history_days * 86400

    def ledger(status: JobStatus, keep: int, age_s: float) -> Callable[[], Awaitable[int]]:
        return lambda: jobs_db.prune(db, status, keep_last=keep, older_than_s=age_s, batch=BATCH)

    return Pruned(
        succeeded=await _drain(
            ledger(JobStatus.SUCCEEDED, config.completed_keep, config.completed_age_s)
        ),
        failed=await _drain(ledger(JobStatus.FAILED, config.failed_keep, config.failed_age_s)),
        cancelled=await _drain(
            ledger(JobStatus.CANCELLED, config.failed_keep, config.failed_age_s)
        ),
        job_runs=await _drain(lambda: job_runs.prune(db, older_than_s=history_s, batch=BATCH)),
        ai_metrics=await _drain(lambda: ai_metrics.prune(db, older_than_s=history_s, batch=BATCH)),
    )


async def _drain(delete_batch: Callable[[], Awaitable[Any]]) -> int:
    total = 0
    for _ in range(MAX_BATCHES):
        n: int = await delete_batch()
        total += n
        if n < BATCH:
            break
    return total
