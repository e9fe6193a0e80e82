"""generate_video_preview: a short MP4 clip of the start of a video, upright and small.

Payload: VideoPreviewPayload(media_id, force=False).
Side effects: one object at media/{id}/{id}-preview.mp4: the first VIDEO_PREVIEW_SECONDS (10)
or the whole video when shorter, H.264 yuv420p + AAC (no audio track when the source has
none), at most VIDEO_PREVIEW_LINES (480) upright lines, even dimensions, `+faststart`, no
metadata of the source; a PREVIEW media_derivatives row upserted; the row READY if this was
the last derivative it expected (ERROR with a code when the job fails for good).
Idempotency: the job id names the row (registry.py); a run that finds the PREVIEW derivative
returns it without work, unless `force`.
Retries: STORAGE, NETWORK, TIMEOUT retried with backoff; BAD_INPUT, NOT_FOUND fail at once.
"""

from __future__ import annotations

from mediaworker.config import VideoConfig
from mediaworker.context import Context
from mediaworker.functions import audio_video as av
from mediaworker.functions.audio_video import DT, PREVIEW_TYPES, Output
from mediaworker.functions.steps import VIDEO_KINDS, already_done, load_media
from mediaworker.payloads import VideoPreviewPayload, VideoPreviewResult
from mediaworker.processing.ffmpeg import PreviewSpec, preview_argv
from mediaworker.subprocesses import run_tool


async def generate_video_preview(ctx: Context, payload: VideoPreviewPayload) -> VideoPreviewResult:
    media = await load_media(ctx, payload.media_id, VIDEO_KINDS)
    done = await already_done(ctx, media.id, PREVIEW_TYPES)
    if done is not None and not payload.force:
        await av.finish(ctx, media.id, PREVIEW_TYPES)
        return VideoPreviewResult(
            media_id=media.id,
            skipped=True,
            duration_s=None,
            width=done[0].width,
            height=done[0].height,
            has_audio=None,
            derivatives=done,
        )

    video = ctx.settings.video
    async with av.fetched_original(ctx, media) as original:
        probe = await av.probe_of(ctx, media, original)
        clip = original.with_name("preview.mp4")
        argv = preview_argv(
            ctx.settings.media.ffmpeg_path, str(original), probe, str(clip), spec(video)
        )
        argv = av.scanning_end(argv, original, probe)
        run = await run_tool(argv, timeout_s=video.preview_timeout_s, what="preview encoding")
        await av.check_end(original, probe, run)
        made = await av.probe_file(ctx, av.non_empty(clip, "preview"), limits=False)
        await av.check_decoded(original, probe, run, made.duration_s, limit_s=spec(video).seconds)
        width, height = made.display_size or (None, None)
        derivatives = await av.store_outputs(
            ctx, media.id, [Output(DT.PREVIEW, path=clip, width=width, height=height)]
        )
    await av.finish(ctx, media.id, PREVIEW_TYPES)
    return VideoPreviewResult(
        media_id=media.id,
        skipped=False,
        duration_s=made.duration_s,
        width=width,
        height=height,
        has_audio=made.has_audio,
        derivatives=derivatives,
    )


def spec(config: VideoConfig) -> PreviewSpec:
    return PreviewSpec(
        seconds=config.preview_seconds,
        max_lines=config.preview_max_lines,
        crf=config.preview_crf,
        preset=config.preview_preset,
        audio_kbps=config.preview_audio_kbps,
    )
