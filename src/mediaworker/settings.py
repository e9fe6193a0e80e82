"""WorkerSettings: the wiring that `arq mediaworker.WorkerSettings` reads, and nothing else.

Every job and cron job is listed here with its policy. arq ignores keys it does not know; a
test checks that every attribute below is a parameter of `arq.Worker`.
"""

from __future__ import annotations

from typing import Any

from arq import cron

from mediaworker import keys
from mediaworker.client import redis_settings
from mediaworker.config import Settings
from mediaworker.context import shutdown, startup
from mediaworker.functions.claim_tts_jobs import claim_tts_jobs
from mediaworker.functions.common import mark_media_failed
from mediaworker.functions.enhance_image import enhance_image
from mediaworker.functions.generate_image import generate_image
from mediaworker.functions.generate_thumbnails import generate_thumbnails
from mediaworker.functions.generate_video_preview import generate_video_preview
from mediaworker.functions.generate_video_thumbnail import generate_video_thumbnail
from mediaworker.functions.generate_waveform import generate_waveform
from mediaworker.functions.process_upload import process_upload
from mediaworker.functions.reconcile_media import reconcile_media
from mediaworker.functions.synthesize_speech import mark_tts_job_failed, synthesize_speech
from mediaworker.functions.transcribe_audio import transcribe_audio
from mediaworker.functions.upscale_image import upscale_image
from mediaworker.jobs import ARQ_MAX_TRIES, tracked
from mediaworker.serializer import deserialize, serialize


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`, from one `Settings`."""
    queue = settings.queue
    reconcile = tracked(reconcile_media, timeout_s=60)
    media, audio, video, failed = settings.media, settings.audio, settings.video, mark_media_failed
    ai_s, claim_tts = settings.providers.job_timeout_s, tracked(claim_tts_jobs, timeout_s=60)
    return {
        "functions": [
            tracked(
                generate_thumbnails,
                timeout_s=settings.image.timeout_s,
                on_failure=mark_media_failed,
            ),
            tracked(process_upload, timeout_s=media.upload_timeout_s, on_failure=failed),
            tracked(generate_waveform, timeout_s=audio.waveform_timeout_s, on_failure=failed),
            tracked(generate_video_preview, timeout_s=video.preview_timeout_s, on_failure=failed),
            tracked(
                generate_video_thumbnail, timeout_s=video.thumbnail_timeout_s, on_failure=failed
            ),
            tracked(generate_image, timeout_s=ai_s),
            tracked(enhance_image, timeout_s=ai_s),
            tracked(upscale_image, timeout_s=ai_s),
            tracked(transcribe_audio, timeout_s=ai_s),
            tracked(synthesize_speech, timeout_s=ai_s, on_failure=mark_tts_job_failed),
        ],
        "cron_jobs": [
            cron(
                reconcile.coroutine,
                name="reconcile_media",
                second=7,
                unique=True,
                timeout=90,
                max_tries=ARQ_MAX_TRIES,
                keep_result=300,
            ),
            cron(
                claim_tts.coroutine,
                name="claim_tts_jobs",
                second=set(range(3, 60, 10)),
                unique=True,
                timeout=90,
                max_tries=ARQ_MAX_TRIES,
                keep_result=60,
            ),
        ],
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


class WorkerSettings:
    """Read by `arq mediaworker.WorkerSettings` and `arq --check mediaworker.WorkerSettings`."""


for _name, _value in worker_options(Settings()).items():
    setattr(WorkerSettings, _name, _value)
