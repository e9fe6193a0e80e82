"""upscale_image: the original enlarged 2x or 4x with lanczos3, as its UPSCALED derivative.

Payload: UpscalePayload(media_id, scale=2, force=False).
Side effects: one ai_metrics row (provider local, model vips-lanczos3, cost 0); the image at
media/{id}/{id}-upscaled.jpg; the media_derivatives row UPSCALED (one per media: a run at
another scale replaces it). The output may have at most UPSCALE_MAX_PIXELS pixels (checked
from the header before decoding: BAD_INPUT).
Idempotency: the job id names the row and scale (registry.py); a rerun that finds the
derivative at that scale returns it, unless force.
Retries: STORAGE, TIMEOUT retried; BAD_INPUT, NOT_FOUND fail at once.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.functions.ai_common import load_image
from mediaworker.functions.steps import scratch_dir
from mediaworker.metering import metered
from mediaworker.payloads import Derivative, UpscalePayload, UpscaleResult
from mediaworker.providers.base import Capability
from mediaworker.storage import layout

UPSCALED = layout.DerivativeType.UPSCALED


async def upscale_image(ctx: Context, payload: UpscalePayload) -> UpscaleResult:
    upscaler = ctx.providers.upscaler
    media = await load_image(ctx, payload.media_id)
    done = await derivatives_db.list_for(ctx.db, media.id, [UPSCALED.value])
    if done and _at_scale(done[0], media, payload.scale) and not payload.force:
        return _result(payload, upscaler.provider, upscaler.model, done[0], skipped=True)

    max_pixels = ctx.settings.providers.upscale_max_pixels
    async with scratch_dir() as scratch:
        source = scratch / "original"
        limit = ctx.settings.image.max_input_bytes
        await ctx.storage.download(media.storage_key, source, max_bytes=limit)
        image = await metered(
            ctx,
            Capability.UPSCALE,
            upscaler,
            lambda u: u.upscale(source, scale=payload.scale, max_pixels=max_pixels),
            meta={"scale": payload.scale},
        )
    key = layout.derivative_key(media.id, UPSCALED, "jpg")
    stored = await ctx.storage.put(key, image.data, content_type=image.content_type)
    derivative = Derivative(
        type=UPSCALED.value,
        storage_key=key,
        url=stored.url,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size_bytes=stored.size_bytes,
    )
    await derivatives_db.upsert(ctx.db, media.id, [derivative])
    return _result(payload, upscaler.provider, upscaler.model, derivative, skipped=False)


def _at_scale(derivative: Derivative, media: media_db.Media, scale: int) -> bool:
    return media.width is not None and derivative.width == media.width * scale


def _result(
    payload: UpscalePayload, provider: str, model: str, derivative: Derivative, *, skipped: bool
) -> UpscaleResult:
    return UpscaleResult(
        media_id=payload.media_id,
        scale=payload.scale,
        provider=provider,
        model=model,
        skipped=skipped,
        derivative=derivative,
    )
