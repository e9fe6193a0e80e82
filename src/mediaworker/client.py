"""What Python producers import: one typed `enqueue_<job>()` per job, beside `create_pool()`
(queue/connection.py) and `job_status()` (queue/inspect.py).

    pool = await create_pool()
    job = await enqueue_thumbnails(pool, media_id)
    print(await job_status(pool, job.job_id))

The job id names the work (`thumbnails-{media_id}`), so enqueueing the same work twice gives
one job. Without `force`, enqueueing work whose result is still kept returns that job, whose
result holds the outputs. With `force=True`, a kept result is dropped and the job runs again
(arq alone would silently return None); if the job is still queued or running, that job is
returned as it is.
"""

from __future__ import annotations

import uuid

from arq.connections import ArqRedis
from arq.jobs import Job

from mediaworker.ids import normalise_text, request_hash
from mediaworker.payloads import (
    EnhanceImagePayload,
    GenerateImagePayload,
    ImageQuality,
    Payload,
    ProcessUploadPayload,
    SpeechFormat,
    SpeechPayload,
    ThumbnailsPayload,
    TranscribePayload,
    UpscaleFactor,
    UpscalePayload,
    VideoPreviewPayload,
    VideoThumbnailPayload,
    WaveformPayload,
)
from mediaworker.queue import keys
from mediaworker.queue.connection import create_pool
from mediaworker.queue.inspect import is_queued_or_running, job_status
from mediaworker.queue.priorities import DEFAULT_PRIORITY, enqueue_at_priority
from mediaworker.queue.serializer import deserialize

# A producer needs a pool and its job's status beside the enqueue helpers.
__all__ = ["create_pool", "job_status"]


async def enqueue_thumbnails(
    pool: ArqRedis, media_id: str, *, force: bool = False, priority: int = 5
) -> Job:
    """Enqueue `generate_thumbnails` for one media row; job id `thumbnails-{media_id}`."""
    payload = ThumbnailsPayload(media_id=media_id, force=force)
    job_id = keys.thumbnails_job_id(media_id)
    return await enqueue(
        pool, "generate_thumbnails", job_id, payload, priority=priority, rerun=force
    )


async def enqueue_process_upload(
    pool: ArqRedis, media_id: str, *, force: bool = False, priority: int = 5
) -> Job:
    """Enqueue `process_upload`, the one job to enqueue after an upload; job `upload-{id}`.

    It probes the file, records what it is, and enqueues the jobs it needs (thumbnails,
    waveform, preview, poster frame) at their priorities.
    """
    payload = ProcessUploadPayload(media_id=media_id, force=force)
    job_id = keys.upload_job_id(media_id)
    return await enqueue(pool, "process_upload", job_id, payload, priority=priority, rerun=force)


async def enqueue_waveform(
    pool: ArqRedis, media_id: str, *, force: bool = False, priority: int = 15
) -> Job:
    """Enqueue `generate_waveform` (audio, or a video's audio); job id `waveform-{media_id}`."""
    payload = WaveformPayload(media_id=media_id, force=force)
    job_id = keys.waveform_job_id(media_id)
    return await enqueue(pool, "generate_waveform", job_id, payload, priority=priority, rerun=force)


async def enqueue_video_preview(
    pool: ArqRedis, media_id: str, *, force: bool = False, priority: int = 10
) -> Job:
    """Enqueue `generate_video_preview`; job id `preview-{media_id}`."""
    payload = VideoPreviewPayload(media_id=media_id, force=force)
    job_id = keys.preview_job_id(media_id)
    return await enqueue(
        pool, "generate_video_preview", job_id, payload, priority=priority, rerun=force
    )


async def enqueue_video_thumbnail(
    pool: ArqRedis, media_id: str, *, force: bool = False, priority: int = 10
) -> Job:
    """Enqueue `generate_video_thumbnail`; job id `video-thumbnail-{media_id}`."""
    payload = VideoThumbnailPayload(media_id=media_id, force=force)
    job_id = keys.video_thumbnail_job_id(media_id)
    return await enqueue(
        pool, "generate_video_thumbnail", job_id, payload, priority=priority, rerun=force
    )


# --- AI jobs (functions/generate_image.py, ... ; README "AI providers") ---------------------


async def enqueue_generate_image(
    pool: ArqRedis,
    prompt: str,
    *,
    size: str = "1024x1024",
    quality: ImageQuality = "auto",
    media_id: str | None = None,
    force: bool = False,
    priority: int = DEFAULT_PRIORITY,
) -> Job:
    """Enqueue `generate_image`; job id `generate-image-{media_id}`, the id of the image to
    make (a new uuid unless given). Its result names the media row made, or on a prompt-cache
    hit the earlier image made for the same prompt and options."""
    media_id = media_id or uuid.uuid4().hex
    payload = GenerateImagePayload(
        prompt=prompt, media_id=media_id, size=size, quality=quality, force=force
    )
    job_id = keys.generate_image_job_id(media_id)
    return await enqueue(pool, "generate_image", job_id, payload, priority=priority, rerun=force)


async def enqueue_enhance_image(
    pool: ArqRedis, media_id: str, *, force: bool = False, priority: int = DEFAULT_PRIORITY
) -> Job:
    """Enqueue `enhance_image`; job id `enhance-{media_id}`; the copy is `{media_id}-enhanced`."""
    payload = EnhanceImagePayload(media_id=media_id, force=force)
    job_id = keys.enhance_job_id(media_id)
    return await enqueue(pool, "enhance_image", job_id, payload, priority=priority, rerun=force)


async def enqueue_upscale(
    pool: ArqRedis,
    media_id: str,
    *,
    scale: UpscaleFactor = 2,
    force: bool = False,
    priority: int = DEFAULT_PRIORITY,
) -> Job:
    """Enqueue `upscale_image` (scale 2 or 4); job id `upscale-{media_id}-{scale}x`."""
    payload = UpscalePayload(media_id=media_id, scale=scale, force=force)
    job_id = keys.upscale_job_id(media_id, scale)
    return await enqueue(pool, "upscale_image", job_id, payload, priority=priority, rerun=force)


async def enqueue_transcription(
    pool: ArqRedis,
    media_id: str,
    *,
    language: str | None = None,
    force: bool = False,
    priority: int = DEFAULT_PRIORITY,
) -> Job:
    """Enqueue `transcribe_audio`; job id `transcribe-{media_id}`. Every run that completes
    adds a transcription version; `force` runs again while an earlier result is kept."""
    payload = TranscribePayload(media_id=media_id, language=language)
    job_id = keys.transcribe_job_id(media_id)
    return await enqueue(pool, "transcribe_audio", job_id, payload, priority=priority, rerun=force)


async def enqueue_speech(
    pool: ArqRedis,
    text: str,
    *,
    voice: str | None = None,
    audio_format: SpeechFormat = "mp3",
    language: str | None = None,
    priority: int = DEFAULT_PRIORITY,
) -> Job:
    """Enqueue `synthesize_speech`; job id `speech-{hash of voice, format, language, text}`,
    so the same phrase asked twice is one job; its result holds the audio's URL."""
    payload = SpeechPayload(text=text, voice=voice, format=audio_format, language=language)
    digest = request_hash(voice, audio_format, language, normalise_text(text))
    job_id = keys.speech_job_id(digest)
    return await enqueue(pool, "synthesize_speech", job_id, payload, priority=priority)


async def enqueue(
    pool: ArqRedis,
    function: str,
    job_id: str,
    payload: Payload,
    *,
    priority: int = DEFAULT_PRIORITY,
    defer_s: float | None = None,
    rerun: bool = False,
) -> Job:
    """Enqueue under `job_id` at `priority` (lower runs first), after `defer_s` if given.

    With `rerun`, a kept result of an earlier run does not block the new run. A job not
    started within QUEUE_JOB_EXPIRES_S (the pool's `expires_extra_ms`) is dropped by arq; the
    reconciler enqueues its work again.
    """
    kwargs = payload.model_dump(mode="json")
    expires_s = pool.expires_extra_ms / 1000

    async def add() -> bool:
        return await enqueue_at_priority(
            pool, function, job_id, kwargs, priority=priority, expires_s=expires_s, defer_s=defer_s
        )

    if not await add() and rerun and not await is_queued_or_running(pool, job_id):
        await pool.delete(keys.result_key(job_id))
        await add()
    return Job(job_id, pool, _queue_name=keys.QUEUE_NAME, _deserializer=deserialize)
