"""Completion webhooks, per the Standard Webhooks spec, through a Postgres outbox.

When a job that has a webhook target (its `webhook_url` option, or WEBHOOK_URLS / WEBHOOK_URL)
ends for good, the job wrapper calls `job_ended()`: one `webhook_outbox` row holding the event,
then a `deliver_webhook` job (job id `webhook-{webhook id}`) that POSTs it. The event:

    {"type": "job.succeeded" | "job.failed", "timestamp": "<finished, ISO 8601>",
     "data": {"job_id", "function", "status", "attempts", "enqueued_at", "finished_at",
              "result" (succeeded) | "error": {"code", "message"} (failed)}}

A result too large for WEBHOOK_MAX_BODY_BYTES is left out (`"result_omitted": true`); the
receiver reads it from the job's status. Each try is signed with the `standardwebhooks`
package (`webhook-id`, `webhook-timestamp`, `webhook-signature`, secret WEBHOOK_SECRET), with a
new timestamp and the SAME webhook id, which names the job's end (job id and enqueue time): a
receiver that saw the id already has seen the event. Delivery is at least once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from pydantic import SecretStr
from standardwebhooks import Webhook

from mediaworker import registry
from mediaworker.config import WebhookConfig
from mediaworker.db import webhooks as outbox
from mediaworker.db.pool import Pool
from mediaworker.errors import MappedError, NotConfiguredError
from mediaworker.payloads import DeliverWebhookPayload

EVENT_SUCCEEDED = "job.succeeded"
EVENT_FAILED = "job.failed"


@dataclass(frozen=True)
class JobEnd:
    """A job's final success (`result`) or failure (`error`)."""

    job_id: str
    function: str
    enqueued_at: dt.datetime
    attempts: int
    finished_at: dt.datetime
    result: Any = None
    error: MappedError | None = None


def webhook_id(job_id: str, enqueued_at: dt.datetime) -> str:
    """`msg_` + 32 hex digits naming one end of one enqueue of a job: stable across tries."""
    digest = hashlib.sha256(f"{job_id}\n{enqueued_at.isoformat()}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def event_of(end: JobEnd, *, max_body_bytes: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job_id": end.job_id,
        "function": end.function,
        "status": "failed" if end.error else "succeeded",
        "attempts": end.attempts,
        "enqueued_at": end.enqueued_at.isoformat(),
        "finished_at": end.finished_at.isoformat(),
    }
    if end.error is not None:
        data["error"] = end.error.as_dict()
    else:
        data["result"] = end.result
    event = {
        "type": EVENT_FAILED if end.error else EVENT_SUCCEEDED,
        "timestamp": end.finished_at.isoformat(),
        "data": data,
    }
    if len(body_of(event).encode()) > max_body_bytes:
        data["result"] = None
        data["result_omitted"] = True
    return event


def body_of(event: dict[str, Any]) -> str:
    """The JSON text sent and signed (the same text on every try)."""
    return json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def signed_headers(
    secret: SecretStr | None, msg_id: str, body: str, *, now: dt.datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers (and the content type) for one try."""
    if secret is None:
        raise NotConfiguredError("WEBHOOK_SECRET is not set: webhooks are not sent unsigned")
    timestamp = now or dt.datetime.now(dt.UTC)
    signature = Webhook(secret.get_secret_value()).sign(msg_id, timestamp, body)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def target_of(config: WebhookConfig, function: str, given: Any) -> str | None:
    """The job's own target, else the default for its function. Jobs no producer enqueues
    (the crons) get no default, and deliveries no webhook at all."""
    job = registry.JOBS.get(function)
    if job is None or job is registry.DELIVER_WEBHOOK:
        return None
    if isinstance(given, str) and given:
        return given
    return config.target_for(function) if job.external else None


def new_event(config: WebhookConfig, end: JobEnd, url: str) -> outbox.NewEvent:
    msg_id = webhook_id(end.job_id, end.enqueued_at)
    event = event_of(end, max_body_bytes=config.max_body_bytes)
    return outbox.NewEvent(msg_id, end.job_id, end.function, event["type"], url, event)


async def job_ended(db: Pool, redis: ArqRedis, config: WebhookConfig, end: JobEnd, url: str) -> str:
    """Write the event to the outbox and enqueue its delivery; returns the webhook id.

    Writing the same job end again changes nothing; a delivery job lost between the two steps
    (Redis flushed) is enqueued again by `requeue_stale()`.
    """
    event = new_event(config, end, url)
    await write(db, redis, event)
    return event.webhook_id


async def write(db: Pool, redis: ArqRedis, event: outbox.NewEvent) -> None:
    await outbox.add(db, event)
    await enqueue_delivery(redis, event.webhook_id)


async def enqueue_delivery(redis: ArqRedis, msg_id: str, *, rerun: bool = False) -> None:
    payload = DeliverWebhookPayload(webhook_id=msg_id)
    await registry.enqueue(redis, registry.DELIVER_WEBHOOK.name, payload, force=rerun)


async def requeue_stale(db: Pool, redis: ArqRedis, *, idle_s: float) -> list[str]:
    """Enqueue again the deliveries of PENDING events idle for `idle_s` (their job is gone, or
    waits for its retry: the job id makes a second enqueue of a waiting job a no-op)."""
    stale = await outbox.stale_pending(db, idle_s=idle_s)
    for msg_id in stale:
        await enqueue_delivery(redis, msg_id, rerun=True)
    return stale
