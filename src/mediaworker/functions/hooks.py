"""The jobs' on_failure hooks: what a job that failed for good writes where its caller looks.

They import only the row queries, so the registry (and with it `mediaworker.client`) can name
them without loading the worker's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediaworker.db import media as media_db
from mediaworker.db import tts_jobs as tts_jobs_db
from mediaworker.errors import MappedError

if TYPE_CHECKING:
    from mediaworker.context import Context


async def mark_media_failed(ctx: Context, payload: Any, error: MappedError) -> None:
    """The media jobs' hook: the row shows ERROR with the code and message."""
    await media_db.mark_error(ctx.db, payload.media_id, error)


async def mark_tts_job_failed(ctx: Context, payload: Any, error: MappedError) -> None:
    """synthesize_speech's hook: a `tts_jobs` row gets the error code and message."""
    if payload.tts_job_id is not None:
        await tts_jobs_db.mark_error(ctx.db, payload.tts_job_id, error)
