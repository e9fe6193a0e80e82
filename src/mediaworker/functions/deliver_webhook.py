"""deliver_webhook: POST one signed event from the webhook outbox to its target.

Payload: DeliverWebhookPayload(webhook_id).
Side effects: one HTTP POST per try (events/delivery.py: short timeouts, no redirects, private
targets refused unless WEBHOOK_ALLOW_PRIVATE); the outbox row counts the try and keeps its
status code or error, and becomes DELIVERED on a 2xx, FAILED when no try is left.
Idempotency: job id `webhook-{webhook_id}`; a row DELIVERED already is not sent again. Every try
carries the same `webhook-id` header, so a receiver that got the event dedupes a second copy.
Retries: 5xx, 408, timeouts and connection errors retried with backoff (429 after its
Retry-After); other 4xx, a refused target and a missing WEBHOOK_SECRET fail at once.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import webhooks as outbox
from mediaworker.errors import NotFoundError, map_error
from mediaworker.events import delivery
from mediaworker.events.webhooks import body_of, signed_headers
from mediaworker.payloads import DeliverWebhookPayload, DeliverWebhookResult


async def deliver_webhook(ctx: Context, payload: DeliverWebhookPayload) -> DeliverWebhookResult:
    row = await outbox.get(ctx.db, payload.webhook_id)
    if row is None:
        raise NotFoundError(f"webhook {payload.webhook_id} is not in the outbox")
    if row.status != outbox.OutboxStatus.PENDING:
        return _result(row, skipped=True)
    config = ctx.settings.webhooks
    body = body_of(row.payload)
    headers = signed_headers(config.secret, row.webhook_id, body)
    tried = await delivery.attempt(row.url, body, headers, config)
    error = None if tried.error is None else map_error(tried.error)
    await outbox.record_try(ctx.db, row.webhook_id, status_code=tried.status, error=error)
    if tried.error is not None:
        raise tried.error
    done = await outbox.get(ctx.db, row.webhook_id)
    return _result(done or row, skipped=False)


def _result(row: outbox.OutboxRow, *, skipped: bool) -> DeliverWebhookResult:
    return DeliverWebhookResult(
        webhook_id=row.webhook_id,
        delivered=row.status == outbox.OutboxStatus.DELIVERED,
        skipped=skipped,
        status_code=row.last_status_code,
        attempts=row.attempts,
    )
