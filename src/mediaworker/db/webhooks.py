"""Queries on `webhook_outbox`: the events owed to webhook targets, and each delivery try.

PENDING (written at a job's final end) -> DELIVERED (a 2xx answer) or FAILED (refused for good,
or no try left). A row is written once per job end: the webhook id names that end, and a
second write of it is ignored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mediaworker.db.pool import Pool, to_dict
from mediaworker.errors import MappedError


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class NewEvent:
    webhook_id: str
    job_id: str
    function: str
    event_type: str
    url: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class OutboxRow(NewEvent):
    id: int
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None


async def add(db: Pool, event: NewEvent) -> bool:
    """Write the event; False if this job end was written already."""
    written = await db.fetchval(
        """INSERT INTO webhook_outbox (webhook_id, job_id, function, event_type, url, payload)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (webhook_id) DO NOTHING
           RETURNING true""",
        event.webhook_id,
        event.job_id,
        event.function,
        event.event_type,
        event.url,
        event.payload,
    )
    return bool(written)


async def get(db: Pool, webhook_id: str) -> OutboxRow | None:
    row = await db.fetchrow("SELECT * FROM webhook_outbox WHERE webhook_id = $1", webhook_id)
    return None if row is None else OutboxRow(**to_dict(row))


async def list_for_job(db: Pool, job_id: str) -> list[OutboxRow]:
    rows = await db.fetch("SELECT * FROM webhook_outbox WHERE job_id = $1 ORDER BY id", job_id)
    return [OutboxRow(**to_dict(r)) for r in rows]


async def record_try(
    db: Pool, webhook_id: str, *, status_code: int | None, error: MappedError | None
) -> None:
    """One delivery try: DELIVERED when `error` is None, else still PENDING with the error."""
    await db.execute(
        """UPDATE webhook_outbox SET attempts = attempts + 1, last_attempt_at = now(),
                  last_status_code = $2, last_error = $3,
                  status = CASE WHEN $3::text IS NULL THEN 'DELIVERED' ELSE status END,
                  delivered_at = CASE WHEN $3::text IS NULL THEN now() ELSE delivered_at END
           WHERE webhook_id = $1 AND status = 'PENDING'""",
        webhook_id,
        status_code,
        None if error is None else f"{error.code.value}: {error.message}",
    )


async def mark_failed(db: Pool, webhook_id: str) -> None:
    """No try left (or the target is refused for good): the row stays for the operator."""
    await db.execute(
        "UPDATE webhook_outbox SET status = 'FAILED' WHERE webhook_id = $1 AND status = 'PENDING'",
        webhook_id,
    )


async def stale_pending(db: Pool, *, idle_s: float, limit: int = 500) -> list[str]:
    """Webhook ids PENDING with no try for `idle_s`: their delivery job may be gone."""
    rows = await db.fetch(
        """SELECT webhook_id FROM webhook_outbox
           WHERE status = 'PENDING'
             AND coalesce(last_attempt_at, created_at) < now() - make_interval(secs => $1)
           ORDER BY created_at LIMIT $2""",
        idle_s,
        limit,
    )
    return [r["webhook_id"] for r in rows]
