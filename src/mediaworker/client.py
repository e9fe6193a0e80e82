"""What producers import: a pool with the right serializer, typed enqueue helpers, status, stats.

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

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from arq.connections import create_pool as arq_create_pool
from arq.jobs import Job, JobStatus
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mediaworker import keys
from mediaworker.config import RedisConfig, Settings
from mediaworker.payloads import (
    AnalyzePhotoPayload,
    EnhanceImagePayload,
    GenerateImagePayload,
    ImageQuality,
    Payload,
    ProcessUploadPayload,
    SpeechFormat,
    SpeechPayload,
    SyncInventoryPayload,
    ThumbnailsPayload,
    TranscribePayload,
    UpscaleFactor,
    UpscalePayload,
    VideoPreviewPayload,
    VideoThumbnailPayload,
    WaveformPayload,
)
from mediaworker.priorities import DEFAULT_PRIORITY, enqueue_at_priority
from mediaworker.serializer import deserialize, serialize


class SafeRedisSettings(RedisSettings):
    """arq's RedisSettings, whose repr would print the password."""

    def __repr__(self) -> str:
        return f"RedisSettings(host={self.host!r}, port={self.port}, database={self.database})"


def redis_settings(config: RedisConfig) -> RedisSettings:
    """Connection settings that ride out a Redis restart of several seconds.

    Each command is retried with exponential backoff for about 15 s in all, so a worker's poll
    loop survives a restart instead of dying on the first ConnectionError.
    """
    base = RedisSettings.from_dsn(config.dsn())
    return SafeRedisSettings(
        **{
            **base.__dict__,
            "conn_timeout": 2,
            "conn_retries": 10,
            "conn_retry_delay": 1,
            "retry_on_timeout": True,
            "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError],
            "retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=12),
        }
    )


async def create_pool(settings: Settings | None = None) -> ArqRedis:
    settings = settings or Settings()
    return await arq_create_pool(
        redis_settings(settings.redis),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=keys.QUEUE_NAME,
        expires_extra_ms=settings.queue.job_expires_s * 1000,
    )


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
    digest = keys.request_hash(voice, audio_format, language, keys.normalise_text(text))
    job_id = keys.speech_job_id(digest)
    return await enqueue(pool, "synthesize_speech", job_id, payload, priority=priority)


# --- photo analysis and the moving inventory (functions/analyze_photo.py, sync_inventory.py) --


async def enqueue_photo_analysis(
    pool: ArqRedis,
    media_id: str,
    *,
    room_type: str | None = None,
    force: bool = False,
    priority: int = DEFAULT_PRIORITY,
) -> Job:
    """Enqueue `analyze_photo`; job id `photo-{media_id}`. A DONE photo is skipped unless
    `force`, which adds a version. `room_type`, when the app knows it, is kept as a fact."""
    payload = AnalyzePhotoPayload.model_validate(
        {"media_id": media_id, "room_type": room_type, "force": force}
    )
    job_id = keys.photo_job_id(media_id)
    return await enqueue(pool, "analyze_photo", job_id, payload, priority=priority, rerun=force)


async def enqueue_inventory_sync(
    pool: ArqRedis,
    project_id: str,
    *,
    defer_s: float | None = None,
    priority: int = DEFAULT_PRIORITY,
) -> Job:
    """Enqueue `sync_inventory`; job id `inventory-{project_id}`. Requests made while one is
    queued (or deferred by `defer_s`, the debounce) are that one job; a kept result of an
    earlier run does not block a new one."""
    payload = SyncInventoryPayload(project_id=project_id)
    job_id = keys.inventory_job_id(project_id)
    return await enqueue(
        pool, "sync_inventory", job_id, payload, priority=priority, defer_s=defer_s, rerun=True
    )


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


async def is_queued_or_running(pool: ArqRedis, job_id: str) -> bool:
    found = await pool.exists(keys.ARQ_JOB_PREFIX + job_id, keys.in_progress_key(job_id))
    return bool(found)


@dataclass(frozen=True)
class JobState:
    job_id: str
    status: str  # deferred | queued | in_progress | complete | not_found
    function: str | None = None
    tries: int | None = None
    enqueued_at: dt.datetime | None = None
    success: bool | None = None
    result: Any = None
    error: dict[str, str] | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def job_status(pool: ArqRedis, job_id: str) -> JobState:
    job = Job(job_id, pool, _queue_name=keys.QUEUE_NAME, _deserializer=deserialize)
    status = await job.status()
    info = await job.info()
    if info is None:
        return JobState(job_id, status.value)
    state = JobState(
        job_id,
        status.value,
        function=info.function,
        tries=info.job_try or 0,
        enqueued_at=info.enqueue_time,
    )
    if status is not JobStatus.complete:
        return state
    result_info = await job.result_info()
    if result_info is None:
        return state
    failed = not result_info.success
    return replace(
        state,
        success=result_info.success,
        result=None if failed else result_info.result,
        error=_as_error(result_info.result) if failed else None,
        started_at=result_info.start_time,
        finished_at=result_info.finish_time,
    )


def _as_error(result: Any) -> dict[str, str]:
    if isinstance(result, dict) and "code" in result:
        return {"code": str(result["code"]), "message": str(result.get("message", ""))}
    return {"code": "UNKNOWN", "message": str(result)[:200]}


async def _hgetall(pool: ArqRedis, key: str) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = await pool.hgetall(key)  # type: ignore[misc]
    return found


async def _count_running(pool: ArqRedis) -> int:
    """In-progress keys whose job still exists (arq keeps a finished cron job's key 60 s)."""
    prefix = keys.ARQ_IN_PROGRESS_PREFIX
    job_ids = [
        key.decode()[len(prefix) :] async for key in pool.scan_iter(match=prefix + "*", count=1000)
    ]
    if not job_ids:
        return 0
    async with pool.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(keys.ARQ_JOB_PREFIX + job_id)
        found = await pipe.execute()
    return sum(1 for n in found if n)


@dataclass(frozen=True)
class QueueStats:
    queued: int
    deferred: int
    in_progress: int
    completed: int
    failed: int
    retried: int
    by_function: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def queue_stats(pool: ArqRedis) -> QueueStats:
    """Counts now in Redis: ready to run, deferred (retry or `_defer_by`), running; totals."""
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    in_progress = await _count_running(pool)
    due = await pool.zcount(keys.QUEUE_NAME, "-inf", now_ms)
    deferred = await pool.zcount(keys.QUEUE_NAME, f"({now_ms}", "+inf")
    totals = {
        name: {k.decode(): int(v) for k, v in (await _hgetall(pool, key)).items()}
        for name, key in (
            ("completed", keys.STATS_COMPLETED),
            ("failed", keys.STATS_FAILED),
            ("retried", keys.STATS_RETRIED),
        )
    }
    by_function: dict[str, dict[str, int]] = {}
    for outcome, counts in totals.items():
        for function, count in counts.items():
            by_function.setdefault(function, {})[outcome] = count
    return QueueStats(
        queued=max(due - in_progress, 0),
        deferred=deferred,
        in_progress=in_progress,
        completed=sum(totals["completed"].values()),
        failed=sum(totals["failed"].values()),
        retried=sum(totals["retried"].values()),
        by_function=by_function,
    )
