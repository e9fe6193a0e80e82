"""Queries on `ai_metrics`: one row per provider call, success or failure (metering.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from mediaworker.db.pool import Pool, to_dict
from mediaworker.providers.base import Usage


@dataclass(frozen=True)
class Call:
    provider: str
    model: str
    operation: str
    latency_ms: int
    success: bool
    error_code: str | None
    retries: int
    usage: Usage
    cost_usd: Decimal | None
    job_id: str | None
    meta: dict[str, Any] = field(default_factory=dict)


async def insert(db: Pool, call: Call) -> None:
    usage = call.usage
    await db.execute(
        """INSERT INTO ai_metrics (provider, model, operation, latency_ms, success, error_code,
                                   retries, input_tokens, output_tokens, audio_seconds,
                                   characters, images, cost_usd, usage, job_id, meta)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)""",
        call.provider,
        call.model,
        call.operation,
        call.latency_ms,
        call.success,
        call.error_code,
        call.retries,
        usage.input_tokens,
        usage.output_tokens,
        usage.audio_seconds,
        usage.characters,
        usage.images,
        call.cost_usd,
        _raw_usage(usage),
        call.job_id,
        call.meta,
    )


async def list_recent(
    db: Pool, *, job_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT * FROM ai_metrics WHERE ($1::text IS NULL OR job_id = $1)
           ORDER BY id DESC LIMIT $2""",
        job_id,
        limit,
    )
    return [to_dict(r) for r in rows]


async def totals(db: Pool, *, since_hours: float = 24) -> list[dict[str, Any]]:
    """Calls, failures, mean latency and cost per provider, model and operation."""
    rows = await db.fetch(
        """SELECT provider, model, operation, count(*) AS calls,
                  count(*) FILTER (WHERE NOT success) AS failures,
                  round(avg(latency_ms)) AS mean_latency_ms, sum(cost_usd) AS cost_usd
           FROM ai_metrics WHERE created_at > now() - make_interval(secs => $1)
           GROUP BY provider, model, operation ORDER BY provider, model, operation""",
        since_hours * 3600,
    )
    return [to_dict(r) for r in rows]


async def cost_per_day(db: Pool, *, days: int = 14) -> list[dict[str, Any]]:
    """Calls, failures, tokens and cost per UTC day, provider and model, newest day first."""
    rows = await db.fetch(
        """SELECT (created_at AT TIME ZONE 'UTC')::date AS day, provider, model,
                  count(*) AS calls, count(*) FILTER (WHERE NOT success) AS failures,
                  coalesce(sum(input_tokens), 0) AS input_tokens,
                  coalesce(sum(output_tokens), 0) AS output_tokens,
                  coalesce(sum(cost_usd), 0) AS cost_usd
           FROM ai_metrics
           WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                               - make_interval(days => $1)
           GROUP BY 1, 2, 3 ORDER BY day DESC, cost_usd DESC, provider, model""",
        days - 1,
    )
    return [to_dict(r) for r in rows]


def _raw_usage(usage: Usage) -> dict[str, Any]:
    """What the provider reported, plus the counts priced, so the cost can be recomputed."""
    counted = {k: v for k, v in asdict(usage).items() if v not in (None, {}) and k != "raw"}
    return {"reported": usage.raw, "counted": counted}


async def prune(db: Pool, *, older_than_s: float, batch: int = 5000) -> int:
    """Delete up to `batch` calls made more than `older_than_s` ago."""
    deleted = await db.fetch(
        """DELETE FROM ai_metrics WHERE id IN (
               SELECT id FROM ai_metrics WHERE created_at < now() - make_interval(secs => $1)
               LIMIT $2)
           RETURNING id""",
        float(older_than_s),
        batch,
    )
    return len(deleted)
