"""generate_thumbnails: THUMBNAIL, MEDIUM and LARGE renditions of an uploaded image.

Payload: ThumbnailsPayload(media_id, force=False).
Side effects: three objects at media/{id}/{id}-{type}.{ext}; three media_derivatives rows
upserted; the media row READY with its upright width, height and blurhash (ERROR with a code
when the job fails for good).
Idempotency: the job id names the row (registry.py); a run that finds the row READY with all
three derivatives returns them without work, unless `force`.
Retries: STORAGE, NETWORK, TIMEOUT retried with backoff; BAD_INPUT, NOT_FOUND fail at once.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.functions.steps import (
    IMAGE_KINDS,
    THUMBNAIL_TYPES,
    already_done,
    load_media,
    render_thumbnails,
    scratch_dir,
    store_renditions,
)
from mediaworker.payloads import ThumbnailsPayload, ThumbnailsResult


async def generate_thumbnails(ctx: Context, payload: ThumbnailsPayload) -> ThumbnailsResult:
    media = await load_media(ctx, payload.media_id, IMAGE_KINDS)
    done = await already_done(ctx, media.id, THUMBNAIL_TYPES)
    if done is not None and media.status == media_db.MediaStatus.READY and not payload.force:
        return ThumbnailsResult(
            media_id=media.id,
            skipped=True,
            width=media.width or 0,
            height=media.height or 0,
            blurhash=media.blurhash,
            derivatives=done,
        )

    await media_db.mark_processing(ctx.db, media.id)
    async with scratch_dir() as scratch:
        original = scratch / "original"
        limit = ctx.settings.image.max_input_bytes
        await ctx.storage.download(media.storage_key, original, max_bytes=limit)
        thumbs = await render_thumbnails(ctx, original)

    derivatives = await store_renditions(ctx, media.id, thumbs.renditions)
    await derivatives_db.upsert(ctx.db, media.id, derivatives)
    await media_db.mark_ready(
        ctx.db,
        media.id,
        width=thumbs.source_width,
        height=thumbs.source_height,
        blurhash=thumbs.blurhash,
    )
    return ThumbnailsResult(
        media_id=media.id,
        skipped=False,
        width=thumbs.source_width,
        height=thumbs.source_height,
        blurhash=thumbs.blurhash,
        derivatives=derivatives,
    )
