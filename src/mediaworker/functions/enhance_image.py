"""enhance_image: a better-looking copy of an uploaded image, as a new media row.

Payload: EnhanceImagePayload(media_id, force=False).
Side effects: one ai_metrics row; the copy at media/{id}/{id}-enhanced.jpg; a media row
`{id}-enhanced` (kind IMAGE, is_enhanced, parent_id = the original, the original's source),
PENDING until its thumbnails (enqueued here) make it READY. The original is untouched.
Which upload categories are enhanced automatically (AUTO_ENHANCE_CATEGORIES, the original
deployment's DISP and DECD) is for the upload fan-out to read: `auto_enhance()`.
Ownership: the copy's row records its maker (function and job id); a row `{id}-enhanced` that
this job did not make (an upload of that name, another job's row) is refused with CONFLICT
before any provider call, and stays as it was, files included.
Idempotency: the job id names the row (registry.py); a rerun that finds the copy returns it,
unless force.
Retries: as every provider call (RATE_LIMIT, PROVIDER_DOWN, TIMEOUT, NETWORK, STORAGE);
BAD_INPUT (unreadable image, refused, over ENHANCE_MAX_PIXELS) and NOT_FOUND fail at once.
"""

from __future__ import annotations

from mediaworker.config import Settings
from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.functions.ai_common import (
    image_limits,
    load_image,
    maker,
    own_row,
    reusable,
    store_made_image,
)
from mediaworker.functions.steps import scratch_dir
from mediaworker.metering import metered
from mediaworker.payloads import EnhanceImagePayload, EnhanceImageResult
from mediaworker.processing import retouch
from mediaworker.providers.base import Capability, ImageEnhancer
from mediaworker.storage import layout


def auto_enhance(settings: Settings, category: str | None) -> bool:
    """Whether uploads of `category` get `enhance_image` (AUTO_ENHANCE_CATEGORIES)."""
    return category is not None and category.upper() in settings.providers.auto_enhance_categories


async def enhance_image(ctx: Context, payload: EnhanceImagePayload) -> EnhanceImageResult:
    enhancer = ctx.providers.image_enhancer
    original = await load_image(ctx, payload.media_id)
    enhanced_id = layout.enhanced_media_id(original.id)
    made_by = maker("enhance_image")
    done = await reusable(ctx, await own_row(ctx, enhanced_id, made_by))
    if done is not None and not payload.force:
        return _result(ctx, original.id, done, enhancer, skipped=True)

    async with scratch_dir() as scratch:
        source, prepared = scratch / "original", scratch / "prepared.jpg"
        limits = image_limits(ctx, max_pixels=ctx.settings.providers.enhance_max_pixels)
        await ctx.storage.download(original.storage_key, source, max_bytes=limits.max_input_bytes)
        await ctx.cpu.run(retouch.prepare, str(source), str(prepared), limits)
        image = await metered(ctx, Capability.IMAGE_EDIT, enhancer, lambda e: e.enhance(prepared))
    origin = media_db.Origin(
        media_db.MediaSource(original.source), original.prompt, True, parent_id=original.id
    )
    new = media_db.NewMedia(
        enhanced_id,
        media_db.MediaKind.IMAGE,
        layout.enhanced_key(original.id),
        original.original_filename,
        None,
        0,
    )
    made = await store_made_image(ctx, made_by, new, origin, image.data)
    return _result(ctx, original.id, made, enhancer, skipped=False)


def _result(
    ctx: Context, media_id: str, made: media_db.Media, enhancer: ImageEnhancer, *, skipped: bool
) -> EnhanceImageResult:
    return EnhanceImageResult(
        media_id=media_id,
        enhanced_media_id=made.id,
        storage_key=made.storage_key,
        url=ctx.storage.url(made.storage_key),
        provider=enhancer.provider,
        model=enhancer.model,
        skipped=skipped,
    )
