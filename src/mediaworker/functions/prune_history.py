"""prune_history (cron, every hour): the ledger, job_runs and ai_metrics do not grow for ever.

Payload: none. Retention as queue/retention.py says (RETENTION_* settings): finished jobs
beyond the newest N per function and older than their age go, and history older than
RETENTION_HISTORY_DAYS; a queued, deferred or running job never.
Side effects: rows deleted, in batches. Idempotency: a second run finds less or nothing.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.payloads import PruneHistoryResult, ReconcilePayload
from mediaworker.queue.retention import apply_retention


async def prune_history(ctx: Context, payload: ReconcilePayload) -> PruneHistoryResult:
    pruned = await apply_retention(ctx.db, ctx.settings.retention)
    return PruneHistoryResult(**pruned.as_dict())
