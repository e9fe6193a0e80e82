"""WorkerSettings: the wiring that `arq mediaworker.WorkerSettings` reads, and nothing else.

Every job is registered here from its declaration in the registry (timeout, failure hook), and
every cron job on the schedule declared with it. arq ignores keys it does not know; a test
checks that every attribute below is a parameter of `arq.Worker`.
"""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.cron import CronJob
from arq.worker import Function

from mediaworker import registry
from mediaworker.config import Settings
from mediaworker.context import shutdown, startup
from mediaworker.functions.analyze_photo import analyze_photo
from mediaworker.functions.claim_tts_jobs import claim_tts_jobs
from mediaworker.functions.deliver_webhook import deliver_webhook
from mediaworker.functions.enhance_image import enhance_image
from mediaworker.functions.export_ar import export_ar
from mediaworker.functions.generate_image import generate_image
from mediaworker.functions.generate_thumbnails import generate_thumbnails
from mediaworker.functions.generate_video_preview import generate_video_preview
from mediaworker.functions.generate_video_thumbnail import generate_video_thumbnail
from mediaworker.functions.generate_waveform import generate_waveform
from mediaworker.functions.process_upload import process_upload
from mediaworker.functions.prune_history import prune_history
from mediaworker.functions.reconcile_jobs import reconcile_jobs
from mediaworker.functions.reconcile_media import reconcile_media
from mediaworker.functions.refresh_inventories import refresh_inventories
from mediaworker.functions.requeue_webhooks import requeue_webhooks
from mediaworker.functions.sync_inventory import sync_inventory
from mediaworker.functions.synthesize_speech import synthesize_speech
from mediaworker.functions.transcribe_audio import transcribe_audio
from mediaworker.functions.upscale_image import upscale_image
from mediaworker.queue import keys
from mediaworker.queue.connection import redis_settings
from mediaworker.queue.polling import check_aborts_every, skip_own_running_jobs
from mediaworker.queue.serializer import deserialize, serialize
from mediaworker.queue.wrapper import ARQ_MAX_TRIES, JobFunction, tracked

# What each declared job runs; a test checks every declared job has its function here.
JOB_FUNCTIONS: dict[registry.JobDeclaration, JobFunction] = {
    registry.PROCESS_UPLOAD: process_upload,
    registry.GENERATE_THUMBNAILS: generate_thumbnails,
    registry.GENERATE_WAVEFORM: generate_waveform,
    registry.GENERATE_VIDEO_PREVIEW: generate_video_preview,
    registry.GENERATE_VIDEO_THUMBNAIL: generate_video_thumbnail,
    registry.GENERATE_IMAGE: generate_image,
    registry.ENHANCE_IMAGE: enhance_image,
    registry.UPSCALE_IMAGE: upscale_image,
    registry.TRANSCRIBE_AUDIO: transcribe_audio,
    registry.SYNTHESIZE_SPEECH: synthesize_speech,
    registry.EXPORT_AR: export_ar,
    registry.RECONCILE_MEDIA: reconcile_media,
    registry.RECONCILE_JOBS: reconcile_jobs,
    registry.PRUNE_HISTORY: prune_history,
    registry.CLAIM_TTS_JOBS: claim_tts_jobs,
    registry.ANALYZE_PHOTO: analyze_photo,
    registry.SYNC_INVENTORY: sync_inventory,
    registry.REFRESH_INVENTORIES: refresh_inventories,
    registry.DELIVER_WEBHOOK: deliver_webhook,
    registry.REQUEUE_WEBHOOKS: requeue_webhooks,
}


def registered(job: registry.JobDeclaration, settings: Settings) -> Function:
    """`job`'s function behind the wrapper, with the job's timeout and failure hook."""
    fn = JOB_FUNCTIONS[job]
    if fn.__name__ != job.name:
        raise RuntimeError(f"{job.name} is declared to run {fn.__name__}")
    return tracked(fn, timeout_s=job.timeout_s(settings), on_failure=job.on_failure)


def cron_jobs(settings: Settings) -> list[CronJob]:
    """Every cron job on the schedule its declaration gives; arq runs each once per tick
    across all workers (`unique`)."""
    return [scheduled(job, settings) for job in registry.JOBS.values() if job.cron]


def scheduled(job: registry.JobDeclaration, settings: Settings) -> CronJob:
    """`job`'s function behind the wrapper, on the job's schedule."""
    if job.cron is None:
        raise RuntimeError(f"{job.name} has no schedule")
    fn, when = registered(job, settings), job.cron
    return cron(
        fn.coroutine,
        name=fn.name,
        minute=_arq_option(when.minute),
        second=_arq_option(when.second),
        unique=when.unique,
        run_at_startup=when.run_at_startup,
        timeout=when.arq_timeout_s,
        max_tries=ARQ_MAX_TRIES,
        keep_result=when.keep_result_s,
    )


def _arq_option(value: int | frozenset[int] | None) -> int | set[int] | None:
    return set(value) if isinstance(value, frozenset) else value


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`, from one `Settings`."""
    skip_own_running_jobs()  # polling.py: no Redis round trips for our own running jobs
    check_aborts_every()  # polling.py: running jobs to cancel, read 10 times a second
    queue = settings.queue
    return {
        "functions": [registered(job, settings) for job in registry.JOBS.values() if not job.cron],
        "cron_jobs": cron_jobs(settings),
        "redis_settings": redis_settings(settings.redis),
        "queue_name": keys.QUEUE_NAME,
        "health_check_key": keys.HEALTH_CHECK_KEY,
        "health_check_interval": queue.health_check_interval_s,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "max_jobs": queue.concurrency,
        "job_timeout": queue.job_timeout_s,
        "keep_result": queue.keep_result_s,
        "poll_delay": queue.poll_delay_ms / 1000,
        "job_completion_wait": queue.drain_timeout_s,
        "max_tries": ARQ_MAX_TRIES,
        "retry_jobs": True,
        "allow_abort_jobs": True,  # `cancel` of a running job (queue/admin.py)
    }


_OPTIONS = worker_options(Settings())


class WorkerSettings:
    """Read by `arq mediaworker.WorkerSettings` and `arq --check mediaworker.WorkerSettings`."""

    functions = _OPTIONS["functions"]
    cron_jobs = _OPTIONS["cron_jobs"]
    redis_settings = _OPTIONS["redis_settings"]
    queue_name = _OPTIONS["queue_name"]
    health_check_key = _OPTIONS["health_check_key"]
    health_check_interval = _OPTIONS["health_check_interval"]
    on_startup = _OPTIONS["on_startup"]
    on_shutdown = _OPTIONS["on_shutdown"]
    ctx = _OPTIONS["ctx"]
    job_serializer = _OPTIONS["job_serializer"]
    job_deserializer = _OPTIONS["job_deserializer"]
    max_jobs = _OPTIONS["max_jobs"]
    job_timeout = _OPTIONS["job_timeout"]
    keep_result = _OPTIONS["keep_result"]
    poll_delay = _OPTIONS["poll_delay"]
    job_completion_wait = _OPTIONS["job_completion_wait"]
    max_tries = _OPTIONS["max_tries"]
    retry_jobs = _OPTIONS["retry_jobs"]
    allow_abort_jobs = _OPTIONS["allow_abort_jobs"]
