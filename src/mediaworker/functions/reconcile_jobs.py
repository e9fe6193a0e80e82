"""reconcile_jobs (cron, every minute): no ledger job is lost when Redis is flushed.

Payload: none. Every ledger job still queued, deferred or running, untouched for
QUEUE_RECONCILE_IDLE_S, that Redis has neither queued nor running is enqueued again with its
original payload and priority (queue/reconcile.py).
Side effects: jobs enqueued; their ledger rows stamped so the next round leaves them alone.
Idempotency: the job id is the ledger's, so a producer enqueueing the same work meanwhile
still gets one job.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.payloads import ReconcileJobsResult, ReconcilePayload
from mediaworker.queue.reconcile import requeue_lost


async def reconcile_jobs(ctx: Context, payload: ReconcilePayload) -> ReconcileJobsResult:
    idle_s = ctx.settings.queue.reconcile_idle_s
    return ReconcileJobsResult(requeued=await requeue_lost(ctx.db, ctx.redis, idle_for_s=idle_s))
