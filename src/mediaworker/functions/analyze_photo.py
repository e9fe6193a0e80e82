"""analyze_photo: the room a photo shows and what in it a mover must carry.

Payload: AnalyzePhotoPayload(media_id, room_type=None, force=False).
Side effects: the `photos` row PROCESSING, then DONE pointing at a new `photo_analyses` version
(provider, reported model, prompt and schema versions, the image sent, the raw reply, the
result, tokens, cost, latency), or ERROR with its code once the job has failed for good; one
ai_metrics row per provider call (operation analyze_photo); for a photo of a project, a
debounced `sync_inventory` of that project (2 s: photos finishing together make one run; one
finishing while that run is going on is picked up by the cron `refresh_inventories`).
Idempotency: job id `photo-{media_id}`; the photo is claimed with one conditional upsert; a
DONE photo is skipped (a success that says so) unless `force`, which adds a version.
Retries: RATE_LIMIT (Retry-After), PROVIDER_DOWN (529, 5xx, a reply that breaks the schema
twice in a row), TIMEOUT, NETWORK, STORAGE; BAD_INPUT (unreadable image, refusal),
NOT_FOUND and NOT_CONFIGURED fail at once.
"""

from __future__ import annotations

from mediaworker import client
from mediaworker.context import Context
from mediaworker.db import photos as photos_db
from mediaworker.functions import photo_steps
from mediaworker.functions.ai_common import load_image
from mediaworker.payloads import AnalyzePhotoPayload, AnalyzePhotoResult
from mediaworker.photos.analysis import RoomAnalysis

INVENTORY_DEBOUNCE_S = 2.0  # photos of a project finishing within this make one inventory run


async def analyze_photo(ctx: Context, payload: AnalyzePhotoPayload) -> AnalyzePhotoResult:
    media = await load_image(ctx, payload.media_id)
    room_type = payload.room_type.value if payload.room_type else None
    claimed = await photos_db.claim(ctx.db, media.id, room_type=room_type, force=payload.force)
    if claimed is None:
        return await _done(ctx, media.id)

    image = await photo_steps.prepare(ctx, media)
    given = claimed.room_type if claimed.room_type_given else None
    analyzer = ctx.providers.photo_analyzer
    found, run = await photo_steps.analyze(ctx, analyzer, media.id, image, given)
    await photos_db.finish(ctx.db, run, found.result.room_type.value)
    if media.project_id is not None:
        await client.enqueue_inventory_sync(
            ctx.redis, media.project_id, defer_s=INVENTORY_DEBOUNCE_S
        )
    return await _done(ctx, media.id, skipped=False)


async def _done(ctx: Context, media_id: str, *, skipped: bool = True) -> AnalyzePhotoResult:
    view = await photos_db.polling_view(ctx.db, media_id)
    found = view["analysis"]
    return AnalyzePhotoResult(
        media_id=media_id,
        skipped=skipped,
        status=view["status"],
        method=view["method"],
        provider=view["provider"],
        model=view["model"],
        version=view["version"],
        analysis=RoomAnalysis.model_validate(found) if found else None,
    )
