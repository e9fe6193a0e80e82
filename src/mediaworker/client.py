"""What Python producers import: one typed `enqueue_<job>()` per job, beside `create_pool()`
(queue/connection.py) and `job_status()` (queue/inspect.py).

    pool = await create_pool()
    job = await enqueue_thumbnails(pool, media_id)
    print(await job_status(pool, job.job_id))

Each helper builds its job's payload and hands it to `registry.enqueue()`, so its job id and
default priority are the job's declaration in registry.py. With `db` (an asyncpg pool), the
job is written to the ledger before Redis, so a Redis flush before its pickup loses nothing;
without, it gets its ledger row when a worker takes it. The job id names the work, so
enqueueing the same work twice gives one job. Without `force`, enqueueing work whose result is
still kept returns that job, whose result holds the outputs. With `force=True`, a kept result
is dropped and the job runs again (arq alone would silently return None); if the job is still
queued or running, that job is returned as it is.
"""

from __future__ import annotations

import uuid

from arq.connections import ArqRedis
from arq.jobs import Job

from mediaworker import registry
from mediaworker.db.pool import Pool
from mediaworker.payloads import (
    AnalyzePhotoPayload,
    ArExportPayload,
    ArProduct,
    GenerateImagePayload,
    ImageQuality,
    SpeechFormat,
    SpeechPayload,
    SyncInventoryPayload,
    TranscribePayload,
    UpscaleFactor,
    UpscalePayload,
)
from mediaworker.queue.connection import create_pool as create_pool
from mediaworker.queue.inspect import job_status as job_status


async def _enqueue_row_job(
    pool: ArqRedis,
    job: registry.JobDeclaration,
    media_id: str,
    force: bool,
    priority: int | None,
    db: Pool | None,
) -> Job:
    """A job whose payload is one media row and `force` (MediaRowPayload's fields)."""
    payload = job.payload.model_validate({"media_id": media_id, "force": force})
    return await registry.enqueue(pool, job.name, payload, priority=priority, force=force, db=db)


async def enqueue_thumbnails(
    pool: ArqRedis,
    media_id: str,
    *,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `generate_thumbnails` for one media row."""
    return await _enqueue_row_job(pool, registry.GENERATE_THUMBNAILS, media_id, force, priority, db)


async def enqueue_process_upload(
    pool: ArqRedis,
    media_id: str,
    *,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `process_upload`, the one job to enqueue after an upload.

    It probes the file, records what it is, and enqueues the jobs it needs (thumbnails,
    waveform, preview, poster frame) at their priorities.
    """
    return await _enqueue_row_job(pool, registry.PROCESS_UPLOAD, media_id, force, priority, db)


async def enqueue_waveform(
    pool: ArqRedis,
    media_id: str,
    *,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `generate_waveform` (audio, or a video's audio)."""
    return await _enqueue_row_job(pool, registry.GENERATE_WAVEFORM, media_id, force, priority, db)


async def enqueue_video_preview(
    pool: ArqRedis,
    media_id: str,
    *,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `generate_video_preview`, a short H.264 clip of a video."""
    return await _enqueue_row_job(
        pool, registry.GENERATE_VIDEO_PREVIEW, media_id, force, priority, db
    )


async def enqueue_video_thumbnail(
    pool: ArqRedis,
    media_id: str,
    *,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `generate_video_thumbnail`, a video's poster frame in the thumbnail sizes."""
    return await _enqueue_row_job(
        pool, registry.GENERATE_VIDEO_THUMBNAIL, media_id, force, priority, db
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
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `generate_image`, named by the id of the image to make (a new uuid unless
    given). Its result names that row; on a prompt-cache hit it holds a copy of the image made
    earlier for the same prompt and options."""
    media_id = media_id or uuid.uuid4().hex
    payload = GenerateImagePayload(
        prompt=prompt, media_id=media_id, size=size, quality=quality, force=force
    )
    return await registry.enqueue(
        pool, registry.GENERATE_IMAGE.name, payload, priority=priority, force=force, db=db
    )


async def enqueue_enhance_image(
    pool: ArqRedis,
    media_id: str,
    *,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `enhance_image`; the enhanced copy is a media row of its own
    (storage.layout.enhanced_media_id)."""
    return await _enqueue_row_job(pool, registry.ENHANCE_IMAGE, media_id, force, priority, db)


async def enqueue_upscale(
    pool: ArqRedis,
    media_id: str,
    *,
    scale: UpscaleFactor = 2,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `upscale_image` (scale 2 or 4); one job per media row and scale."""
    payload = UpscalePayload(media_id=media_id, scale=scale, force=force)
    return await registry.enqueue(
        pool, registry.UPSCALE_IMAGE.name, payload, priority=priority, force=force, db=db
    )


async def enqueue_transcription(
    pool: ArqRedis,
    media_id: str,
    *,
    language: str | None = None,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `transcribe_audio`. Every run that completes adds a transcription version;
    `force` runs again while an earlier result is kept."""
    payload = TranscribePayload(media_id=media_id, language=language)
    return await registry.enqueue(
        pool, registry.TRANSCRIBE_AUDIO.name, payload, priority=priority, force=force, db=db
    )


async def enqueue_speech(
    pool: ArqRedis,
    text: str,
    *,
    voice: str | None = None,
    audio_format: SpeechFormat = "mp3",
    language: str | None = None,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `synthesize_speech`, named by a hash of voice, format, language and text, so
    the same phrase asked twice is one job; its result holds the audio's URL."""
    payload = SpeechPayload(text=text, voice=voice, format=audio_format, language=language)
    return await registry.enqueue(
        pool, registry.SYNTHESIZE_SPEECH.name, payload, priority=priority, db=db
    )


async def enqueue_ar_export(
    pool: ArqRedis,
    media_id: str,
    product: ArProduct,
    *,
    width_m: float | None = None,
    handle: bool = True,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `export_ar`: GLB, USDZ and a still of a "poster" or a "mug" with the design of
    an image media row; one job per media row and product."""
    payload = ArExportPayload(
        media_id=media_id, product=product, width_m=width_m, handle=handle, force=force
    )
    return await registry.enqueue(
        pool, registry.EXPORT_AR.name, payload, priority=priority, force=force, db=db
    )


# --- photo analysis and the moving inventory (functions/analyze_photo.py, sync_inventory.py) --


async def enqueue_photo_analysis(
    pool: ArqRedis,
    media_id: str,
    *,
    room_type: str | None = None,
    force: bool = False,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `analyze_photo`. A DONE photo is skipped unless `force`, which adds a version.
    `room_type`, when the app knows it, is kept as a fact."""
    payload = AnalyzePhotoPayload.model_validate(
        {"media_id": media_id, "room_type": room_type, "force": force}
    )
    return await registry.enqueue(
        pool, registry.ANALYZE_PHOTO.name, payload, priority=priority, db=db
    )


async def enqueue_inventory_sync(
    pool: ArqRedis,
    project_id: str,
    *,
    defer_s: float | None = None,
    priority: int | None = None,
    db: Pool | None = None,
) -> Job:
    """Enqueue `sync_inventory`. Requests made while one is queued (or deferred by `defer_s`,
    the debounce) are that one job; a kept result of an earlier run does not block a new one."""
    payload = SyncInventoryPayload(project_id=project_id)
    return await registry.enqueue(
        pool,
        registry.SYNC_INVENTORY.name,
        payload,
        priority=priority,
        defer_s=defer_s,
        force=True,
        db=db,
    )
