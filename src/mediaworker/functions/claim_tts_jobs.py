"""claim_tts_jobs (cron, every 10 s): speech requests written as `tts_jobs` rows become jobs.

Payload: none. Claims PENDING rows, and QUEUED rows idle for QUEUE_RECONCILE_IDLE_S whose job
is gone (Redis flushed, worker killed), with `FOR UPDATE SKIP LOCKED`: workers claiming at once
never take the same row. Each becomes a `synthesize_speech` job named by the row
(registry.SYNTHESIZE_SPEECH) carrying a new claim token (a row whose job is still queued or
running keeps that job's), which writes the URL or the error back on the row (only that job
can). A row whose fields are not a valid request is marked ERROR (BAD_INPUT) at once.
Idempotency: the job id names the row, so a row claimed twice is one job.
"""

from __future__ import annotations

import uuid

from pydantic import ValidationError

from mediaworker import registry
from mediaworker.context import Context
from mediaworker.db import tts_jobs as tts_jobs_db
from mediaworker.errors import map_error
from mediaworker.payloads import ClaimTtsPayload, ClaimTtsResult, SpeechPayload
from mediaworker.queue.inspect import is_queued_or_running

BATCH = 200


async def claim_tts_jobs(ctx: Context, payload: ClaimTtsPayload) -> ClaimTtsResult:
    idle_s = ctx.settings.queue.reconcile_idle_s
    enqueued = []
    for row in await tts_jobs_db.claim(ctx.db, limit=BATCH, stale_after_s=idle_s):
        job_id = registry.SYNTHESIZE_SPEECH.job_id_for({"tts_job_id": row.id})
        if row.job_id and await is_queued_or_running(ctx.redis, job_id):
            continue  # its job is still coming, and keeps the row's claim
        token = uuid.uuid4()
        await tts_jobs_db.set_claim_token(ctx.db, row.id, token)
        try:
            work = SpeechPayload(
                text=row.text,
                voice=row.voice,
                format=row.format,  # validated here: a bad value is BAD_INPUT
                language=row.language,
                tts_job_id=row.id,
                tts_claim_token=token,
            )
        except ValidationError as exc:
            await tts_jobs_db.mark_error(ctx.db, row.id, token, map_error(exc))
            continue
        await registry.enqueue(ctx.redis, registry.SYNTHESIZE_SPEECH.name, work, force=True)
        await tts_jobs_db.set_job_id(ctx.db, row.id, job_id)
        enqueued.append(row.id)
    return ClaimTtsResult(enqueued=enqueued)
