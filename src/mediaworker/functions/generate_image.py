"""generate_image: an image from a prompt, stored as a new media row; its thumbnails enqueued.

Payload: GenerateImagePayload(prompt, media_id, size="1024x1024", quality="auto", force=False).
Side effects: one ai_metrics row per provider call; the image at media/{id}/{id}-original.jpg;
a media row (kind IMAGE, source GENERATED, the prompt kept), PENDING until `generate_thumbnails`
(enqueued here) makes it READY; the prompt cache entry.
Ownership: the job makes the row `media_id` or updates the row it made itself (the row records
its maker: function and job id); any other row (an upload, another job's) is refused with
CONFLICT before any provider call, and stays as it was, files included.
Idempotency: the job id names the image to make (registry.py); a rerun that finds its row
returns it. The prompt cache (provider, model, prompt and options; PROMPT_CACHE_TTL_SECONDS, 0
turns it off) serves an image made for the same request without calling the provider: it is
copied into this job's own row `media_id` (thumbnails made for it too), so producers never
share a row. `force` skips the cache and a made row.
Retries: RATE_LIMIT (after Retry-After), PROVIDER_DOWN, TIMEOUT, NETWORK, STORAGE; BAD_INPUT (a
refused prompt) and NOT_CONFIGURED fail at once. The shared rate limiter defers the job
without using up an attempt.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.functions.ai_common import (
    PromptCache,
    maker,
    own_row,
    reusable,
    store_image,
    store_made_image,
)
from mediaworker.metering import metered
from mediaworker.payloads import GenerateImagePayload, GenerateImageResult
from mediaworker.providers.base import Capability, ImageGenerator
from mediaworker.storage import layout


async def generate_image(ctx: Context, payload: GenerateImagePayload) -> GenerateImageResult:
    generator = ctx.providers.image_generator
    made_by = maker("generate_image")
    made = await reusable(ctx, await own_row(ctx, payload.media_id, made_by))
    if made is not None and not payload.force:
        return _result(ctx, made, generator, skipped=True)
    key = layout.original_key(payload.media_id, "jpg")
    new = media_db.NewMedia(payload.media_id, media_db.MediaKind.IMAGE, key, None, None, 0)
    origin = media_db.Origin(media_db.MediaSource.GENERATED, prompt=payload.prompt)
    cache = PromptCache(ctx, generator, payload)
    cached = None if payload.force else await cache.lookup(payload.media_id)
    if cached is not None:  # a copy in this job's own row, never the other producer's row
        data = await ctx.storage.get(cached.storage_key)
        content_type = cached.content_type or "image/jpeg"
        media = await store_image(ctx, made_by, new, origin, data, content_type)
        return _result(ctx, media, generator, cached=True)

    image = await metered(
        ctx,
        Capability.IMAGE_GENERATION,
        generator,
        lambda g: g.generate(payload.prompt, size=payload.size, quality=payload.quality),
        meta={"size": payload.size, "quality": payload.quality},
    )
    media = await store_made_image(ctx, made_by, new, origin, image.data)
    await cache.store(media.id)
    return _result(ctx, media, generator, synthetic=image.synthetic)


def _result(
    ctx: Context,
    media: media_db.Media,
    generator: ImageGenerator,
    *,
    cached: bool = False,
    skipped: bool = False,
    synthetic: bool | None = None,
) -> GenerateImageResult:
    return GenerateImageResult(
        media_id=media.id,
        storage_key=media.storage_key,
        url=ctx.storage.url(media.storage_key),
        provider=generator.provider,
        model=generator.model,
        cached=cached,
        skipped=skipped,
        synthetic=generator.provider == "local" if synthetic is None else synthetic,
    )
