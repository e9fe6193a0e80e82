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
from mediaworker.functions.common import mark_media_failed
from mediaworker.functions.generate_thumbnails import generate_thumbnails
from mediaworker.functions.reconcile_media import reconcile_media
from mediaworker.jobs import ARQ_MAX_TRIES, tracked
from mediaworker.serializer import deserialize, serialize


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`, from one `Settings`."""
    queue = settings.queue
    reconcile = tracked(reconcile_media, timeout_s=60)
    return {
        "functions": [
            tracked(
                generate_thumbnails,
                timeout_s=settings.image.timeout_s,
                on_failure=mark_media_failed,
            ),
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
    }


class WorkerSettings:
    """Read by `arq mediaworker.WorkerSettings` and `arq --check mediaworker.WorkerSettings`."""


for _name, _value in worker_options(Settings()).items():
    setattr(WorkerSettings, _name, _value)
