"""Queries on `transcriptions`: one row per run, versioned per media.

A new automatic transcription takes the next version, becomes active, and the earlier
automatic ones become inactive (a MANUAL one, written by the application, is left alone).
The media row is locked meanwhile, so two runs never take the same version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mediaworker.db.pool import Pool, to_dict


@dataclass(frozen=True)
class NewTranscription:
    media_id: str
    text: str
    language: str | None
    segments: list[dict[str, Any]] | None
    duration_s: float | None
    provider: str
    model: str
    job_id: str | None


@dataclass(frozen=True)
class Transcription:
    id: int
    media_id: str
    version: int
    source: str
    active: bool
    text: str
    language: str | None
    segments: list[dict[str, Any]] | None
    duration_s: float | None
    provider: str | None
    model: str | None
    job_id: str | None
    created_at: dt.datetime


async def add_automatic(db: Pool, new: NewTranscription) -> Transcription:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM media WHERE id = $1 FOR UPDATE", new.media_id)
        await conn.execute(
            """UPDATE transcriptions SET active = false
               WHERE media_id = $1 AND source = 'AUTO' AND active""",
            new.media_id,
        )
        row = await conn.fetchrow(
            """INSERT INTO transcriptions (media_id, version, source, active, text, language,
                                           segments, duration_s, provider, model, job_id)
               VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM transcriptions
                            WHERE media_id = $1),
                       'AUTO', true, $2, $3, $4, $5, $6, $7, $8)
               RETURNING *""",
            new.media_id,
            new.text,
            new.language,
            new.segments,
            new.duration_s,
            new.provider,
            new.model,
            new.job_id,
        )
    return Transcription(**to_dict(row))


async def list_for(db: Pool, media_id: str) -> list[Transcription]:
    rows = await db.fetch(
        "SELECT * FROM transcriptions WHERE media_id = $1 ORDER BY version", media_id
    )
    return [Transcription(**to_dict(r)) for r in rows]
