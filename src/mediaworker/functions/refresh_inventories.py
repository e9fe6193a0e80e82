"""refresh_inventories (cron, every 2 minutes, once per tick across workers): enqueue
`sync_inventory` for each project whose photos or analyses changed after its inventory, and
`analyze_photo` again for each photo left PROCESSING (QUEUE_RECONCILE_IDLE_S) whose job is
neither queued nor running (Redis flushed, job expired): nothing is lost.

Payload: RefreshInventoriesPayload().
Side effects: sync_inventory and analyze_photo jobs; nothing else. A project found unchanged
by its last run (same inputs hash, so nothing was written) is skipped until it changes again.
Idempotency: arq's cron job id (`unique`), one per tick; the inventory jobs are named by their
project, so enqueueing one twice is one job.
Retries: none needed: the next tick looks again.
"""

from __future__ import annotations

from mediaworker import client, registry
from mediaworker.context import Context
from mediaworker.db import inventories as inventories_db
from mediaworker.db import photos as photos_db
from mediaworker.payloads import RefreshInventoriesPayload, RefreshInventoriesResult
from mediaworker.queue import keys
from mediaworker.queue.inspect import is_queued_or_running


async def refresh_inventories(
    ctx: Context, payload: RefreshInventoriesPayload
) -> RefreshInventoriesResult:
    stuck = await photos_db.list_stuck(ctx.db, idle_for_s=ctx.settings.queue.reconcile_idle_s)
    requeued = []
    for media_id in stuck:
        job_id = registry.ANALYZE_PHOTO.job_id_for({"media_id": media_id})
        if not await is_queued_or_running(ctx.redis, job_id):
            await client.enqueue_photo_analysis(ctx.redis, media_id)
            requeued.append(media_id)
    changed = await inventories_db.changed_projects(ctx.db)
    marks = await ctx.redis.mget([keys.inventory_checked_key(p) for p, _ in changed] or ["-"])
    enqueued = []
    for (project_id, changed_at), checked in zip(changed, marks, strict=False):
        if checked is not None and int(checked) >= int(changed_at.timestamp() * 1000):
            continue
        await client.enqueue_inventory_sync(ctx.redis, project_id)
        enqueued.append(project_id)
    return RefreshInventoriesResult(enqueued=enqueued, requeued_photos=requeued)
