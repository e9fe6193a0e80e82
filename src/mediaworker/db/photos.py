"""Queries on `photos` (the analysis status of an image) and `photo_analyses` (its versions).

The status row is claimed with one conditional upsert (`claim`): no read-then-write, so two
runs can never both believe they own a photo. Every run adds a `photo_analyses` version;
`finish` points the status row at it in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from mediaworker.db.pool import Pool, to_dict
from mediaworker.errors import MappedError

LOCK_CLASS = 0x0008_0001  # advisory locks of photo versions: (LOCK_CLASS, hashtext(media_id))


class PhotoStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Photo:
    media_id: str
    status: str
    room_type: str | None
    room_type_given: bool
    analysis_id: int | None
    error_code: str | None
    error_message: str | None
    processed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class NewAnalysis:
    """One run, as `photo_analyses` keeps it."""

    media_id: str
    method: str  # model | detector | none
    provider: str
    model: str
    prompt_version: str
    schema_version: str
    image: dict[str, Any]  # width, height, bytes, sha256
    raw_output: str | None
    rejected_outputs: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: Decimal | None = None
    latency_ms: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    job_id: str | None = None


async def claim(db: Pool, media_id: str, *, room_type: str | None, force: bool) -> Photo | None:
    """Mark the photo PROCESSING, unless it is DONE and not `force`: then None."""
    row = await db.fetchrow(
        """INSERT INTO photos (media_id, status, room_type, room_type_given)
           VALUES ($1, 'PROCESSING', $2, $2::text IS NOT NULL)
           ON CONFLICT (media_id) DO UPDATE SET
               status = 'PROCESSING', error_code = NULL, error_message = NULL,
               room_type = COALESCE(EXCLUDED.room_type, photos.room_type),
               room_type_given = photos.room_type_given OR EXCLUDED.room_type_given,
               updated_at = now()
           WHERE photos.status <> 'DONE' OR $3
           RETURNING *""",
        media_id,
        room_type,
        force,
    )
    return None if row is None else Photo(**to_dict(row))


async def get(db: Pool, media_id: str) -> Photo | None:
    row = await db.fetchrow("SELECT * FROM photos WHERE media_id = $1", media_id)
    return None if row is None else Photo(**to_dict(row))


async def add_version(db: Pool, run: NewAnalysis) -> int:
    """Insert the run as the next version of its media; its id."""
    async with db.acquire() as conn, conn.transaction():
        return await _insert_version(conn, run)


async def finish(db: Pool, run: NewAnalysis, room_type: str) -> int:
    """Add the run's version and make it current: the photo is DONE. Its id."""
    async with db.acquire() as conn, conn.transaction():
        analysis_id = await _insert_version(conn, run)
        await conn.execute(
            """UPDATE photos SET status = 'DONE', analysis_id = $2, room_type = $3,
                      error_code = NULL, error_message = NULL, processed_at = now(),
                      updated_at = now()
               WHERE media_id = $1""",
            run.media_id,
            analysis_id,
            room_type,
        )
        return analysis_id


async def mark_error(db: Pool, media_id: str, error: MappedError) -> None:
    """The photo ERROR with the code and message (nothing when its media row does not exist)."""
    await db.execute(
        """INSERT INTO photos (media_id, status, error_code, error_message, processed_at)
           SELECT id, 'ERROR', $2, $3, now() FROM media WHERE id = $1
           ON CONFLICT (media_id) DO UPDATE SET status = 'ERROR', error_code = $2,
               error_message = $3, processed_at = now(), updated_at = now()""",
        media_id,
        error.code.value,
        error.message,
    )


async def list_stuck(db: Pool, *, idle_for_s: float, limit: int = 500) -> list[str]:
    """Photos PROCESSING and untouched for `idle_for_s`: their job may have been lost."""
    rows = await db.fetch(
        """SELECT media_id FROM photos
           WHERE status = 'PROCESSING' AND updated_at < now() - make_interval(secs => $1)
           ORDER BY updated_at LIMIT $2""",
        idle_for_s,
        limit,
    )
    return [r["media_id"] for r in rows]


async def get_analysis(db: Pool, analysis_id: int) -> dict[str, Any] | None:
    row = await db.fetchrow("SELECT * FROM photo_analyses WHERE id = $1", analysis_id)
    return None if row is None else to_dict(row)


async def list_analyses(db: Pool, media_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT * FROM photo_analyses WHERE media_id = $1 ORDER BY version", media_id
    )
    return [to_dict(r) for r in rows]


async def polling_view(db: Pool, media_id: str) -> dict[str, Any]:
    """The polling shape of the original deployment, for the CLI and the HTTP API: status,
    room_type, analysis, error_code, error_message, processed_at, plus the provider, model and
    version of the current analysis. A photo never analysed is PENDING."""
    photo = await get(db, media_id)
    current = None
    if photo is not None and photo.analysis_id is not None:
        current = await get_analysis(db, photo.analysis_id)
    return {
        "media_id": media_id,
        "status": photo.status if photo else PhotoStatus.PENDING.value,
        "room_type": photo.room_type if photo else None,
        "analysis": current["result"] if current else None,
        "error_code": photo.error_code if photo else None,
        "error_message": photo.error_message if photo else None,
        "processed_at": photo.processed_at if photo else None,
        "method": current["method"] if current else None,
        "provider": current["provider"] if current else None,
        "model": current["model"] if current else None,
        "version": current["version"] if current else None,
    }


async def _insert_version(conn: Any, run: NewAnalysis) -> int:
    # one version number per run, even if two runs of one photo ever overlapped
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, run.media_id)
    analysis_id: int = await conn.fetchval(
        """INSERT INTO photo_analyses (
               media_id, version, method, provider, model, prompt_version, schema_version,
               image_width, image_height, image_bytes, image_sha256, raw_output,
               rejected_outputs, result, input_tokens, output_tokens, cost_usd, latency_ms,
               error_code, error_message, job_id)
           SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                  $12, $13, $14, $15, $16, $17, $18, $19, $20
           FROM photo_analyses WHERE media_id = $1
           RETURNING id""",
        run.media_id,
        run.method,
        run.provider,
        run.model,
        run.prompt_version,
        run.schema_version,
        run.image.get("width"),
        run.image.get("height"),
        run.image.get("bytes"),
        run.image.get("sha256"),
        run.raw_output,
        run.rejected_outputs,
        run.result,
        run.input_tokens,
        run.output_tokens,
        run.cost_usd,
        run.latency_ms,
        run.error_code,
        run.error_message,
        run.job_id,
    )
    return analysis_id
