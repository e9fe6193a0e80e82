"""Queries on `tts_jobs`: speech requests that producers write as rows.

PENDING -> QUEUED (claimed by the cron job, which enqueues it) -> DONE (audio URL) or ERROR.
Claims use `FOR UPDATE SKIP LOCKED`, so several workers claiming at once never take the same
row. A row QUEUED for longer than the idle time whose job is gone (Redis flushed, worker
killed) is claimed again: nothing is lost. Each job enqueued for a row gets a new
`claim_token`, which it carries: only the holder of a QUEUED row's current token may finish it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from mediaworker.db.pool import Pool, to_dict
from mediaworker.errors import MappedError


@dataclass(frozen=True)
class TtsJob:
    id: int
    text: str
    voice: str | None
    format: str
    language: str | None
    status: str
    audio_url: str | None
    storage_key: str | None
    error_code: str | None
    error_message: str | None
    job_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    claimed_at: dt.datetime | None
    finished_at: dt.datetime | None
    claim_token: uuid.UUID | None = None  # 0006: drawn at each claim


async def add(
    db: Pool,
    text: str,
    *,
    voice: str | None = None,
    audio_format: str = "mp3",
    language: str | None = None,
) -> TtsJob:
    """What a producer does (here for tests and the CLI): one PENDING row."""
    row = await db.fetchrow(
        """INSERT INTO tts_jobs (text, voice, format, language) VALUES ($1, $2, $3, $4)
           RETURNING *""",
        text,
        voice,
        audio_format,
        language,
    )
    return TtsJob(**to_dict(row))


async def claim(db: Pool, *, limit: int, stale_after_s: float) -> list[TtsJob]:
    """Mark up to `limit` PENDING rows, and QUEUED rows idle for `stale_after_s`, QUEUED now."""
    rows = await db.fetch(
        """UPDATE tts_jobs SET status = 'QUEUED', claimed_at = now(), updated_at = now()
           WHERE id IN (
               SELECT id FROM tts_jobs
               WHERE status = 'PENDING'
                  OR (status = 'QUEUED' AND claimed_at < now() - make_interval(secs => $2))
               ORDER BY id LIMIT $1
               FOR UPDATE SKIP LOCKED)
           RETURNING *""",
        limit,
        stale_after_s,
    )
    return sorted((TtsJob(**to_dict(r)) for r in rows), key=lambda j: j.id)


async def set_claim_token(db: Pool, row_id: int, claim_token: uuid.UUID) -> None:
    """The token of the job about to be enqueued for the row: from now on only it may finish
    the row (set before the job is enqueued, so the job always finds it)."""
    await db.execute("UPDATE tts_jobs SET claim_token = $2 WHERE id = $1", row_id, claim_token)


async def set_job_id(db: Pool, row_id: int, job_id: str) -> None:
    await db.execute("UPDATE tts_jobs SET job_id = $2 WHERE id = $1", row_id, job_id)


async def holds_claim(db: Pool, row_id: int, claim_token: uuid.UUID) -> bool:
    """Whether `claim_token` is the current claim of the QUEUED row `row_id`."""
    found = await db.fetchval(
        "SELECT 1 FROM tts_jobs WHERE id = $1 AND claim_token = $2 AND status = 'QUEUED'",
        row_id,
        claim_token,
    )
    return found is not None


async def mark_done(
    db: Pool, row_id: int, claim_token: uuid.UUID, *, audio_url: str, storage_key: str
) -> bool:
    """DONE with the URL, if `claim_token` still holds the QUEUED row; True if so."""
    row = await db.fetchrow(
        """UPDATE tts_jobs SET status = 'DONE', audio_url = $3, storage_key = $4,
                  error_code = NULL, error_message = NULL, updated_at = now(),
                  finished_at = now()
           WHERE id = $1 AND claim_token = $2 AND status = 'QUEUED'
           RETURNING id""",
        row_id,
        claim_token,
        audio_url,
        storage_key,
    )
    return row is not None


async def mark_error(db: Pool, row_id: int, claim_token: uuid.UUID, error: MappedError) -> bool:
    """ERROR with the code and message, if `claim_token` still holds the QUEUED row."""
    row = await db.fetchrow(
        """UPDATE tts_jobs SET status = 'ERROR', error_code = $3, error_message = $4,
                  updated_at = now(), finished_at = now()
           WHERE id = $1 AND claim_token = $2 AND status = 'QUEUED'
           RETURNING id""",
        row_id,
        claim_token,
        error.code.value,
        error.message,
    )
    return row is not None


async def get(db: Pool, row_id: int) -> TtsJob | None:
    row = await db.fetchrow("SELECT * FROM tts_jobs WHERE id = $1", row_id)
    return None if row is None else TtsJob(**to_dict(row))
