"""reconcile_media (cron, every minute): nothing is lost when Redis is flushed or a worker dies.

Payload: none. Postgres is the source of truth for what must be done: a media row still
PENDING or PROCESSING, untouched for QUEUE_RECONCILE_IDLE_S, none of whose jobs is queued or
running in Redis, gets its `process_upload` enqueued again, whatever its kind; that enqueues
what the row still needs (a kept result of a run that ended without updating the row blocks
neither).
Side effects: jobs enqueued; the rows' updated_at refreshed so they are not picked twice.
Idempotency: job ids name the work, so a job enqueued here and by a producer is one job.
"""

from __future__ import annotations

from mediaworker import registry
from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.payloads import ReconcilePayload, ReconcileResult
from mediaworker.queue.inspect import is_queued_or_running


async def reconcile_media(ctx: Context, payload: ReconcilePayload) -> ReconcileResult:
    idle_s = ctx.settings.queue.reconcile_idle_s
    requeued = []
    for media in await media_db.list_unfinished(ctx.db, idle_for_s=idle_s):
        if await _any_job_queued_or_running(ctx, media.id):
            continue
        # process_upload enqueues what the row still needs, whatever its kind
        work = {"media_id": media.id}
        await registry.enqueue(ctx.redis, registry.PROCESS_UPLOAD.name, work, force=True)
        requeued.append(media.id)
    if requeued:
        await media_db.touch(ctx.db, requeued)
    return ReconcileResult(requeued=requeued)


async def _any_job_queued_or_running(ctx: Context, media_id: str) -> bool:
    for job in registry.MEDIA_JOBS:
        if await is_queued_or_running(ctx.redis, job.job_id_for({"media_id": media_id})):
            return True
    return False
