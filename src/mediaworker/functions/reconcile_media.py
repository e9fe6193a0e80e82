"""reconcile_media (cron, every minute): nothing is lost when Redis is flushed or a worker dies.

Payload: none. Postgres is the source of truth for what must be done: a media row still
PENDING or PROCESSING, untouched for QUEUE_RECONCILE_IDLE_S, whose job is neither queued nor
running in Redis, is enqueued again (a kept result of a run that ended without updating the row
does not block it).
Side effects: jobs enqueued; the rows' updated_at refreshed so they are not picked twice.
Idempotency: job ids name the work, so a job enqueued here and by a producer is one job.
"""

from __future__ import annotations

from mediaworker import client
from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.keys import thumbnails_job_id
from mediaworker.payloads import ReconcilePayload, ReconcileResult, ThumbnailsPayload


async def reconcile_media(ctx: Context, payload: ReconcilePayload) -> ReconcileResult:
    idle_s = ctx.settings.queue.reconcile_idle_s
    requeued = []
    for media in await media_db.list_unfinished(ctx.db, idle_for_s=idle_s):
        if media.kind != media_db.MediaKind.IMAGE:
            continue
        job_id = thumbnails_job_id(media.id)
        if await client.is_queued_or_running(ctx.redis, job_id):
            continue
        work = ThumbnailsPayload(media_id=media.id)
        await client.enqueue(ctx.redis, "generate_thumbnails", job_id, work, rerun=True)
        requeued.append(media.id)
    if requeued:
        await media_db.touch(ctx.db, requeued)
    return ReconcileResult(requeued=requeued)
