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
    render_thumbnails,
    store_renditions,
)
from mediaworker.payloads import VideoThumbnailPayload, VideoThumbnailResult
from mediaworker.processing.ffmpeg import Probe, thumbnail_at, thumbnail_frame_argv
from mediaworker.subprocesses import run_tool


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
        frame, at_s = await grab_frame(ctx, original, probe)
        thumbs = await render_thumbnails(ctx, frame)
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


async def grab_frame(ctx: Context, original: Path, probe: Probe) -> tuple[Path, float]:
    """The upright frame at the chosen time, or the first frame if ffmpeg found none there.

    Asked for a time past the last frame, ffmpeg exits 0 and writes nothing (a container may
    claim more than its frames hold): the output is checked, and the start tried once. The
    same run copies the last seconds' packets: a file cut short is TruncatedError.
    """
    frame = original.with_name("frame.tif")
    preferred = thumbnail_at(probe, ctx.settings.video.thumbnail_at_s)
    for at_s in dict.fromkeys((preferred, 0.0)):
        argv = thumbnail_frame_argv(
            ctx.settings.media.ffmpeg_path, str(original), probe, str(frame), at_s=at_s
        )
        done = await run_tool(
            av.scanning_end(argv, original, probe),
            timeout_s=ctx.settings.video.thumbnail_timeout_s,
            what="frame extraction",
        )
        await av.check_end(original, probe, done)
        if frame.is_file() and frame.stat().st_size > 0:
            return frame, at_s
    raise BadInputError("no video frame could be decoded")
