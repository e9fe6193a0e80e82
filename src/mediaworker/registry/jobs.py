"""Every job's declaration, and the jobs by name (`JOBS`).

Import them from `mediaworker.registry`.
"""

from __future__ import annotations

from operator import attrgetter

from mediaworker.functions.hooks import (
    mark_media_failed,
    mark_photo_failed,
    mark_tts_job_failed,
    mark_webhook_failed,
)
from mediaworker.payloads import (
    AnalyzePhotoPayload,
    AnalyzePhotoResult,
    ArExportPayload,
    ArExportResult,
    ClaimTtsPayload,
    ClaimTtsResult,
    DeliverWebhookPayload,
    DeliverWebhookResult,
    EnhanceImagePayload,
    EnhanceImageResult,
    GenerateImagePayload,
    GenerateImageResult,
    ProcessUploadPayload,
    ProcessUploadResult,
    PruneHistoryResult,
    ReconcileJobsResult,
    ReconcilePayload,
    ReconcileResult,
    RefreshInventoriesPayload,
    RefreshInventoriesResult,
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
from mediaworker.registry.declaration import CronSchedule, JobDeclaration, fixed_s

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
    timeout_s=fixed_s(60),
    external=False,
    cron=CronSchedule(second=7, keep_result_s=300),
)
RECONCILE_JOBS = JobDeclaration(
    name="reconcile_jobs",
    payload=ReconcilePayload,
    result=ReconcileJobsResult,
    job_id=(),  # cron: arq names each run
    timeout_s=fixed_s(60),
    external=False,
    cron=CronSchedule(second=47, keep_result_s=300),
)
PRUNE_HISTORY = JobDeclaration(
    name="prune_history",
    payload=ReconcilePayload,
    result=PruneHistoryResult,
    job_id=(),  # cron: arq names each run
    timeout_s=fixed_s(600),
    external=False,
    cron=CronSchedule(minute=17, second=23, arq_timeout_s=900, keep_result_s=3600),
)
CLAIM_TTS_JOBS = JobDeclaration(
    name="claim_tts_jobs",
    payload=ClaimTtsPayload,
    result=ClaimTtsResult,
    job_id=(),  # cron: arq names each run
    timeout_s=fixed_s(60),
    external=False,
    cron=CronSchedule(second=frozenset(range(3, 60, 10))),
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
    timeout_s=fixed_s(120),
)
REFRESH_INVENTORIES = JobDeclaration(
    name="refresh_inventories",
    payload=RefreshInventoriesPayload,
    result=RefreshInventoriesResult,
    job_id=(),  # cron: arq names each run
    timeout_s=fixed_s(60),
    external=False,
    cron=CronSchedule(minute=frozenset(range(0, 60, 2)), second=37),
)

DELIVER_WEBHOOK = JobDeclaration(
    name="deliver_webhook",
    payload=DeliverWebhookPayload,
    result=DeliverWebhookResult,
    job_id=("webhook-{webhook_id}",),  # one delivery per event (events/webhooks.py)
    timeout_s=lambda settings: settings.webhooks.timeout_s + 5,
    priority=5,  # a callback is small and someone waits for it
    on_failure=mark_webhook_failed,
    external=False,
)
REQUEUE_WEBHOOKS = JobDeclaration(
    name="requeue_webhooks",
    payload=ReconcilePayload,
    result=ReconcileResult,
    job_id=(),  # cron: arq names each run
    timeout_s=fixed_s(60),
    external=False,
    cron=CronSchedule(second=53),
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
        DELIVER_WEBHOOK,
        REQUEUE_WEBHOOKS,
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
