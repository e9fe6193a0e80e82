"""requeue_webhooks (cron, every minute): no webhook is lost when Redis is flushed.

Payload: none. The outbox is the source of truth: an event still PENDING with no delivery try
for WEBHOOK_REQUEUE_IDLE_S (longer than the longest retry backoff) gets its `deliver_webhook`
job enqueued again. A delivery job still waiting for its retry keeps its job id, so enqueueing
it again changes nothing.
Side effects: jobs enqueued. Idempotency: the job id names the event (`webhook-{webhook_id}`).
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.events.webhooks import requeue_stale
from mediaworker.payloads import ReconcilePayload, ReconcileResult


async def requeue_webhooks(ctx: Context, payload: ReconcilePayload) -> ReconcileResult:
    idle_s = ctx.settings.webhooks.requeue_idle_s
    return ReconcileResult(requeued=await requeue_stale(ctx.db, ctx.redis, idle_s=idle_s))
