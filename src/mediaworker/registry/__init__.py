"""Every job, declared once: its name, payload and result, job-id rule, priority, timeout,
failure hook, and whether it may be enqueued from outside.

`WorkerSettings` registers the declared jobs, the client helpers, the upload fan-out, the
reconciler, the CLI and the HTTP API enqueue through `enqueue()`; nothing else spells a job's
name or the form of its id.

    job = await registry.enqueue(pool, "generate_thumbnails", {"media_id": "m1"})

A job-id rule is a tuple of templates over the payload's fields (and properties): the first
whose fields are all set names the job, so the same work enqueued twice is one job. The cron
jobs are declared here too, with their schedules (`cron=CronSchedule(...)`, not external);
settings.py builds arq's cron list from them.

The declarations are in registry/jobs.py, their form (`JobDeclaration`) in
registry/declaration.py; every name is imported from `mediaworker.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job

from mediaworker.db.pool import Pool
from mediaworker.errors import NotFoundError
from mediaworker.events.targets import check_url
from mediaworker.ids import validate_job_id
from mediaworker.payloads import Payload
from mediaworker.queue import keys, ledger
from mediaworker.queue.enqueue import enqueue_job
from mediaworker.queue.serializer import deserialize
from mediaworker.registry.declaration import CronSchedule, JobDeclaration, OnFailure
from mediaworker.registry.jobs import (
    ANALYZE_PHOTO,
    CLAIM_TTS_JOBS,
    DELIVER_WEBHOOK,
    ENHANCE_IMAGE,
    EXPORT_AR,
    GENERATE_IMAGE,
    GENERATE_THUMBNAILS,
    GENERATE_VIDEO_PREVIEW,
    GENERATE_VIDEO_THUMBNAIL,
    GENERATE_WAVEFORM,
    JOBS,
    MEDIA_JOBS,
    PROCESS_UPLOAD,
    PRUNE_HISTORY,
    RECONCILE_JOBS,
    RECONCILE_MEDIA,
    REFRESH_INVENTORIES,
    REQUEUE_WEBHOOKS,
    SYNC_INVENTORY,
    SYNTHESIZE_SPEECH,
    TRANSCRIBE_AUDIO,
    UPSCALE_IMAGE,
)

__all__ = [
    "ANALYZE_PHOTO",
    "CLAIM_TTS_JOBS",
    "DELIVER_WEBHOOK",
    "ENHANCE_IMAGE",
    "EXPORT_AR",
    "GENERATE_IMAGE",
    "GENERATE_THUMBNAILS",
    "GENERATE_VIDEO_PREVIEW",
    "GENERATE_VIDEO_THUMBNAIL",
    "GENERATE_WAVEFORM",
    "JOBS",
    "MEDIA_JOBS",
    "PROCESS_UPLOAD",
    "PRUNE_HISTORY",
    "RECONCILE_JOBS",
    "RECONCILE_MEDIA",
    "REFRESH_INVENTORIES",
    "REQUEUE_WEBHOOKS",
    "SYNC_INVENTORY",
    "SYNTHESIZE_SPEECH",
    "TRANSCRIBE_AUDIO",
    "UPSCALE_IMAGE",
    "CronSchedule",
    "JobDeclaration",
    "OnFailure",
    "enqueue",
    "lookup",
]


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
    db: Pool | None = None,
    webhook_url: str | None = None,
) -> Job:
    """Enqueue job `name` with `payload` (a model or its fields, validated: BAD_INPUT).

    The id is `job_id` or the job's rule; the priority `priority` or the job's own. With
    `force` (or the payload's own `force`), a kept result of an earlier run does not block
    the new run; a job still queued or running is returned as it is (queue/enqueue.py).
    With `db`, the job is written to the ledger first (queue/ledger.py), so a Redis flush
    before its pickup loses nothing; without, it gets its ledger row when a worker takes it.
    With `webhook_url`, the job's final success or failure is POSTed there, signed
    (events/webhooks.py).
    """
    job = lookup(name)
    work = job.validate(payload)
    job_id = validate_job_id(job_id) if job_id is not None else job.job_id_for(work)
    priority = job.priority if priority is None else priority
    rerun = force or bool(getattr(work, "force", False))
    if webhook_url is not None:  # http(s) with a host, or TargetRefusedError (BAD_INPUT)
        webhook_url = check_url(webhook_url, allow_private=True).geturl()
    if db is None:
        return await enqueue_job(
            pool,
            job.name,
            job_id,
            work,
            priority=priority,
            defer_s=defer_s,
            rerun=rerun,
            webhook_url=webhook_url,
        )
    payload_json = work.model_dump(mode="json")
    await ledger.submit(
        db,
        pool,
        function=job.name,
        job_id=job_id,
        payload=payload_json,
        priority=priority,
        defer_s=defer_s,
        force=rerun,
        webhook_url=webhook_url,
    )
    return Job(job_id, pool, _queue_name=keys.QUEUE_NAME, _deserializer=deserialize)
