"""generate_image: an image from a prompt, stored as a new media row; its thumbnails enqueued.

Payload: GenerateImagePayload(prompt, media_id, size="1024x1024", quality="auto", force=False).
Side effects: one ai_metrics row per provider call; the image at media/{id}/{id}-original.jpg;
a media row (kind IMAGE, source GENERATED, the prompt kept), PENDING until `generate_thumbnails`
(enqueued here) makes it READY; the prompt cache entry.
Idempotency: the job id names the image to make (registry.py); a rerun that finds the row
returns it. The prompt cache (provider, model, prompt and options; PROMPT_CACHE_TTL_SECONDS, 0
turns it off) returns an image made for the same request without calling the provider and
without a new row: the result then names the cached media. `force` skips both.
Retries: RATE_LIMIT (after Retry-After), PROVIDER_DOWN, TIMEOUT, NETWORK, STORAGE; BAD_INPUT (a
refused prompt) and NOT_CONFIGURED fail at once. The shared rate limiter defers the job
without using up an attempt.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.functions.ai_common import PromptCache, store_made_image
from mediaworker.metering import metered
from mediaworker.payloads import GenerateImagePayload, GenerateImageResult
from mediaworker.providers.base import Capability, ImageGenerator
from mediaworker.storage import layout


async def generate_image(ctx: Context, payload: GenerateImagePayload) -> GenerateImageResult:
    generator = ctx.providers.image_generator
    made = await media_db.get(ctx.db, payload.media_id)
    if made is not None and not payload.force:
        return _result(ctx, made, generator, skipped=True)
    cache = PromptCache(ctx, generator, payload)
    cached = None if payload.force else await cache.lookup()
    if cached is not None:
        return _result(ctx, cached, generator, cached=True)

    image = await metered(
        ctx,
        Capability.IMAGE_GENERATION,
        generator,
        lambda g: g.generate(payload.prompt, size=payload.size, quality=payload.quality),
        meta={"size": payload.size, "quality": payload.quality},
    )
    key = layout.original_key(payload.media_id, "jpg")
    origin = media_db.Origin(media_db.MediaSource.GENERATED, prompt=payload.prompt)
    media = await store_made_image(ctx, payload.media_id, key, image.data, origin)
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
