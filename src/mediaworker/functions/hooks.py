"""The jobs' on_failure hooks: what a job that failed for good writes where its caller looks.

They import only the row queries, so the registry (and with it `mediaworker.client`) can name
them without loading the worker's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaworker.db import media as media_db
from mediaworker.db import photos as photos_db
from mediaworker.db import tts_jobs as tts_jobs_db
from mediaworker.errors import MappedError

if TYPE_CHECKING:
    from mediaworker.context import Context


async def mark_media_failed(ctx: Context, payload: Any, error: MappedError) -> None:
    """The media jobs' hook: a PENDING or PROCESSING row shows ERROR with the code and message
    (a READY row stays READY: its outputs are still good)."""
    await media_db.mark_error(ctx.db, payload.media_id, error)


async def mark_tts_job_failed(ctx: Context, payload: Any, error: MappedError) -> None:
    """synthesize_speech's hook: the `tts_jobs` row this job claimed gets the error code and
    message (only while the job's claim token still holds the row)."""
    if payload.tts_job_id is not None and payload.tts_claim_token is not None:
        await tts_jobs_db.mark_error(ctx.db, payload.tts_job_id, payload.tts_claim_token, error)


async def mark_photo_failed(ctx: Context, payload: Any, error: MappedError) -> None:
    """analyze_photo's hook: the photo's analysis shows ERROR with the code and message."""
    await photos_db.mark_error(ctx.db, payload.media_id, error)
