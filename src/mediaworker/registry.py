"""Every job, declared once: its name, payload and result, job-id rule, priority, timeout,
failure hook, and whether it may be enqueued from outside.

`WorkerSettings` registers the declared jobs, the client helpers, the upload fan-out, the
reconciler, the CLI and the HTTP API enqueue through `enqueue()`; nothing else spells a job's
name or the form of its id.

    job = await registry.enqueue(pool, "generate_thumbnails", {"media_id": "m1"})

A job-id rule is a tuple of templates over the payload's fields (and properties): the first
whose fields are all set names the job, so the same work enqueued twice is one job. The cron
jobs are declared here too (`cron=True`, not external); their schedules are wiring, read only
by arq, so they stay in settings.py's cron list beside the other worker options.
"""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis
from arq.jobs import Job
from pydantic import ValidationError

from mediaworker.errors import BadInputError, MappedError, NotFoundError, map_error
from mediaworker.functions.hooks import mark_media_failed, mark_photo_failed, mark_tts_job_failed
from mediaworker.ids import validate_job_id
from mediaworker.payloads import (
    AnalyzePhotoPayload,
    AnalyzePhotoResult,
    ArExportPayload,
    ArExportResult,
    ClaimTtsPayload,
    ClaimTtsResult,
    EnhanceImagePayload,
    EnhanceImageResult,
    GenerateImagePayload,
    GenerateImageResult,
    Payload,
    ProcessUploadPayload,
    ProcessUploadResult,
    PruneHistoryResult,
    ReconcileJobsResult,
    ReconcilePayload,
    ReconcileResult,
    RefreshInventoriesPayload,
    RefreshInventoriesResult,
    Result,
    SpeechPayload,
    SpeechResult,
    SyncInventoryPayload,
    SyncInventoryResult,
    ThumbnailsPayload,
    ThumbnailsResult,
    TranscribePayload,
    TranscribeResult,
    UpscalePayload,
    UpscaleResult,
    VideoPreviewPayload,
    VideoPreviewResult,
    VideoThumbnailPayload,
    VideoThumbnailResult,
    WaveformPayload,
    WaveformResult,
)
from mediaworker.queue.enqueue import enqueue_job
from mediaworker.queue.priorities import DEFAULT_PRIORITY

if TYPE_CHECKING:
    from mediaworker.config import Settings
    from mediaworker.context import Context

OnFailure = Callable[["Context", Any, MappedError], Awaitable[None]]
_FORMATTER = string.Formatter()


def _fixed_s(seconds: float) -> Callable[[Settings], float]:
    return lambda _settings: seconds


@dataclass(frozen=True, kw_only=True)
class JobDeclaration:
    name: str  # the function name arq runs
    payload: type[Payload]
    result: type[Result]
    job_id: tuple[str, ...]  # templates over the payload; the first whose fields are all set
    timeout_s: Callable[[Settings], float]  # of one attempt
    priority: int = DEFAULT_PRIORITY  # lower runs first
    on_failure: OnFailure | None = None  # called once the job has failed for good
    external: bool = True  # may be enqueued from outside (HTTP API, `mediaworker enqueue`)
    cron: bool = False  # run on its schedule (settings.py), not enqueued

    def validate(self, payload: Payload | Mapping[str, Any]) -> Payload:
        """The payload as this job's model; BadInputError (BAD_INPUT) when it does not fit."""
        if isinstance(payload, self.payload):
            return payload
        fields = payload.model_dump() if isinstance(payload, Payload) else payload
        try:
            return self.payload.model_validate(fields)
        except ValidationError as exc:
            raise BadInputError(map_error(exc).message) from exc

    def job_id_for(self, fields: Payload | Mapping[str, Any]) -> str:
        """The job id the rule gives `fields` (a payload, or a mapping of its fields)."""
        get = fields.get if isinstance(fields, Mapping) else lambda name: getattr(fields, name)
        for template in self.job_id:
            names = [n for _, n, _, _ in _FORMATTER.parse(template) if n]
            values = {n: get(n) for n in names}
            if all(v is not None for v in values.values()):
                return validate_job_id(template.format(**values))
        raise BadInputError(f"{self.name}: the payload names no job id")


PROCESS_UPLOAD = JobDeclaration(
    name="process_upload",
    payload=ProcessUploadPayload,
    result=ProcessUploadResult,
    job_id=("upload-{media_id}",),
    timeout_s=attrgetter("media.upload_timeout_s"),
    priority=5,
    on_failure=mark_media_failed,
)
GENERATE_THUMBNAILS = JobDeclaration(
    name="generate_thumbnails",
    payload=ThumbnailsPayload,
    result=ThumbnailsResult,
    job_id=("thumbnails-{media_id}",),
    timeout_s=attrgetter("image.timeout_s"),
    priority=5,
    on_failure=mark_media_failed,
)
GENERATE_WAVEFORM = JobDeclaration(
    name="generate_waveform",
    payload=WaveformPayload,
    result=WaveformResult,
    job_id=("waveform-{media_id}",),
    timeout_s=attrgetter("audio.waveform_timeout_s"),
    priority=15,
    on_failure=mark_media_failed,
)
GENERATE_VIDEO_PREVIEW = JobDeclaration(
    name="generate_video_preview",
    payload=VideoPreviewPayload,
    result=VideoPreviewResult,
    job_id=("preview-{media_id}",),
    timeout_s=attrgetter("video.preview_timeout_s"),
    priority=10,
    on_failure=mark_media_failed,
)
GENERATE_VIDEO_THUMBNAIL = JobDeclaration(
    name="generate_video_thumbnail",
    payload=VideoThumbnailPayload,
    result=VideoThumbnailResult,
    job_id=("video-thumbnail-{media_id}",),
    timeout_s=attrgetter("video.thumbnail_timeout_s"),
    priority=10,
    on_failure=mark_media_failed,
)
GENERATE_IMAGE = JobDeclaration(
    name="generate_image",
    payload=GenerateImagePayload,
    result=GenerateImageResult,
    job_id=("generate-image-{media_id}",),  # the id of the image to make
    timeout_s=attrgetter("providers.job_timeout_s"),
)
ENHANCE_IMAGE = JobDeclaration(
    name="enhance_image",
    payload=EnhanceImagePayload,
    result=EnhanceImageResult,
    job_id=("enhance-{media_id}",),
    timeout_s=attrgetter("providers.job_timeout_s"),
)
UPSCALE_IMAGE = JobDeclaration(
    name="upscale_image",
    payload=UpscalePayload,
    result=UpscaleResult,
    job_id=("upscale-{media_id}-{scale}x",),
    timeout_s=attrgetter("providers.job_timeout_s"),
)
TRANSCRIBE_AUDIO = JobDeclaration(
    name="transcribe_audio",
    payload=TranscribePayload,
    result=TranscribeResult,
    job_id=("transcribe-{media_id}",),
    timeout_s=attrgetter("providers.job_timeout_s"),
)
SYNTHESIZE_SPEECH = JobDeclaration(
    name="synthesize_speech",
    payload=SpeechPayload,
    result=SpeechResult,
    # a tts_jobs row's job, or one job per phrase (voice, format, language, normalised text)
    job_id=("tts-job-{tts_job_id}", "speech-{phrase_hash}"),
    timeout_s=attrgetter("providers.job_timeout_s"),
    on_failure=mark_tts_job_failed,
)
EXPORT_AR = JobDeclaration(
    name="export_ar",
    payload=ArExportPayload,
    result=ArExportResult,
    job_id=("ar-{media_id}-{product}",),  # a poster and a mug of one design are two jobs
    timeout_s=attrgetter("ar.timeout_s"),
)
RECONCILE_MEDIA = JobDeclaration(
    name="reconcile_media",
    payload=ReconcilePayload,
    result=ReconcileResult,
    job_id=(),  # cron: arq names each run
    timeout_s=_fixed_s(60),
    external=False,
    cron=True,
)
RECONCILE_JOBS = JobDeclaration(
    name="reconcile_jobs",
    payload=ReconcilePayload,
    result=ReconcileJobsResult,
    job_id=(),  # cron: arq names each run
    timeout_s=_fixed_s(60),
    external=False,
    cron=True,
)
PRUNE_HISTORY = JobDeclaration(
    name="prune_history",
    payload=ReconcilePayload,
    result=PruneHistoryResult,
    job_id=(),  # cron: arq names each run
    timeout_s=_fixed_s(600),
    external=False,
    cron=True,
)
CLAIM_TTS_JOBS = JobDeclaration(
    name="claim_tts_jobs",
    payload=ClaimTtsPayload,
    result=ClaimTtsResult,
    job_id=(),  # cron: arq names each run
    timeout_s=_fixed_s(60),
    external=False,
    cron=True,
)
ANALYZE_PHOTO = JobDeclaration(
    name="analyze_photo",
    payload=AnalyzePhotoPayload,
    result=AnalyzePhotoResult,
    job_id=("photo-{media_id}",),  # the original deployment's photo-{photoId}
    timeout_s=attrgetter("providers.job_timeout_s"),
    on_failure=mark_photo_failed,
)
SYNC_INVENTORY = JobDeclaration(
    name="sync_inventory",
    payload=SyncInventoryPayload,
    result=SyncInventoryResult,
    job_id=("inventory-{project_id}",),
    timeout_s=_fixed_s(120),
)
REFRESH_INVENTORIES = JobDeclaration(
    name="refresh_inventories",
    payload=RefreshInventoriesPayload,
    result=RefreshInventoriesResult,
    job_id=(),  # cron: arq names each run
    timeout_s=_fixed_s(60),
    external=False,
    cron=True,
)

JOBS: dict[str, JobDeclaration] = {
    job.name: job
    for job in (
        PROCESS_UPLOAD,
        GENERATE_THUMBNAILS,
        GENERATE_WAVEFORM,
        GENERATE_VIDEO_PREVIEW,
        GENERATE_VIDEO_THUMBNAIL,
        GENERATE_IMAGE,
        ENHANCE_IMAGE,
        UPSCALE_IMAGE,
        TRANSCRIBE_AUDIO,
        SYNTHESIZE_SPEECH,
        EXPORT_AR,
        RECONCILE_MEDIA,
        RECONCILE_JOBS,
        PRUNE_HISTORY,
        CLAIM_TTS_JOBS,
        ANALYZE_PHOTO,
        SYNC_INVENTORY,
        REFRESH_INVENTORIES,
    )
}
# The jobs of one media row, whose ids the reconciler checks before enqueueing it again.
MEDIA_JOBS = (
    PROCESS_UPLOAD,
    GENERATE_THUMBNAILS,
    GENERATE_WAVEFORM,
    GENERATE_VIDEO_PREVIEW,
    GENERATE_VIDEO_THUMBNAIL,
)


def lookup(name: str, *, external: bool = False) -> JobDeclaration:
    """The job called `name`; NotFoundError when there is none (or, with `external`, when it
    may not be enqueued from outside)."""
    job = JOBS.get(name)
    if job is None or (external and not job.external):
        raise NotFoundError(f"no job named {name[:60]!r}")
    return job


async def enqueue(
    pool: ArqRedis,
    name: str,
    payload: Payload | Mapping[str, Any],
    *,
    job_id: str | None = None,
    priority: int | None = None,
    defer_s: float | None = None,
    force: bool = False,
) -> Job:
    """Enqueue job `name` with `payload` (a model or its fields, validated: BAD_INPUT).

    The id is `job_id` or the job's rule; the priority `priority` or the job's own. With
    `force` (or the payload's own `force`), a kept result of an earlier run does not block
    the new run; a job still queued or running is returned as it is (queue/enqueue.py).
    """
    job = lookup(name)
    work = job.validate(payload)
    return await enqueue_job(
        pool,
        job.name,
        validate_job_id(job_id) if job_id is not None else job.job_id_for(work),
        work,
        priority=job.priority if priority is None else priority,
        defer_s=defer_s,
        rerun=force or bool(getattr(work, "force", False)),
    )
