"""generate_video_thumbnail: a poster frame of a video in the three sizes of an image upload.

Payload: VideoThumbnailPayload(media_id, force=False).
Side effects: the frame at VIDEO_THUMBNAIL_AT_S (2 s), or at half the duration when the video
is not longer than that, upright; from it, by the image pipeline of `generate_thumbnails`
(not a second one), THUMBNAIL, MEDIUM and LARGE objects and media_derivatives rows; the
frame's upright size and blurhash on the media row; the row READY if these were the last
derivatives it expected (ERROR with a code when the job fails for good).
Idempotency: the job id names the row (registry.py); a run that finds the three derivatives
returns them without work, unless `force`.
Retries: STORAGE, NETWORK, TIMEOUT retried with backoff; BAD_INPUT, NOT_FOUND fail at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from mediaworker.context import Context
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media_facts
from mediaworker.errors import BadInputError
from mediaworker.functions import audio_video as av
from mediaworker.functions.steps import (
    THUMBNAIL_TYPES,
    VIDEO_KINDS,
    already_done,
    load_media,
    store_renditions,
    thumbnail_task,
)
from mediaworker.payloads import VideoThumbnailPayload, VideoThumbnailResult
from mediaworker.processing.frame import (
    NO_FRAME,
    frame_request,
    poster_thumbnails,
)
from mediaworker.processing.image import Thumbnails
from mediaworker.processing.probe import Probe


async def generate_video_thumbnail(
    ctx: Context, payload: VideoThumbnailPayload
) -> VideoThumbnailResult:
    media = await load_media(ctx, payload.media_id, VIDEO_KINDS)
    done = await already_done(ctx, media.id, THUMBNAIL_TYPES)
    if done is not None and not payload.force:
        await av.finish(ctx, media.id, THUMBNAIL_TYPES)
        return VideoThumbnailResult(
            media_id=media.id,
            skipped=True,
            at_s=None,
            width=media.width,
            height=media.height,
            blurhash=media.blurhash,
            derivatives=done,
        )

    async with av.fetched_original(ctx, media) as original:
        probe = await av.probe_of(ctx, media, original)
        thumbs, at_s = await poster_of(ctx, original, probe)
    derivatives = await store_renditions(ctx, media.id, thumbs.renditions)
    await derivatives_db.upsert(ctx.db, media.id, derivatives)
    width, height = thumbs.source_width, thumbs.source_height
    await media_facts.set_poster_facts(
        ctx.db, media.id, width=width, height=height, blurhash=thumbs.blurhash
    )
    await av.finish(ctx, media.id, THUMBNAIL_TYPES)
    return VideoThumbnailResult(
        media_id=media.id,
        skipped=False,
        at_s=at_s,
        width=width,
        height=height,
        blurhash=thumbs.blurhash,
        derivatives=derivatives,
    )


async def poster_of(ctx: Context, original: Path, probe: Probe) -> tuple[Thumbnails, float]:
    """The upright frame at the chosen time (the start if none is found there) in the three
    sizes, and that time, decoded in the CPU pool (processing/frame.py); the same task demuxes
    the last seconds' packets: a file cut short is TruncatedError, damage DamagedError."""
    path, sizes, encode, limits, _ = thumbnail_task(ctx.settings.image, original)
    request = frame_request(
        path,
        probe,
        preferred_s=ctx.settings.video.thumbnail_at_s,
        max_pixels=limits.max_pixels,
        threads=ctx.cpu.threads,
    )
    async with asyncio.timeout(ctx.settings.video.thumbnail_timeout_s):
        poster = await ctx.cpu.run(poster_thumbnails, request, sizes, encode)
    await av.check_found_end(original, probe, poster.end_s, poster.log)
    if poster.thumbnails is None or poster.at_s is None:
        raise BadInputError(poster.failure or NO_FRAME)
    return poster.thumbnails, poster.at_s
