"""`mediaworker demo`: the whole path on one machine, offline, with nothing configured.

Starts a private Redis and Postgres when REDIS_URL / DATABASE_URL are not set, migrates, runs a
worker in this process and shows the breadth on samples it makes (samples.py): photos (one of
them a truncated JPEG, the one failure), a spoken clip (waveform, transcript), a short video
(preview, poster frame, waveform); beside them an enhanced and a generated image, speech, an
AR poster, and the analysis of a project's photo with its inventory. Every AI capability is
the local provider (unless AI_* says otherwise): the generated image is a labelled
placeholder and says so. It prints each result with its size and full path, and stops
everything it started (with `--serve`, keeps a worker and the dashboard up first).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker

from mediaworker import registry
from mediaworker.cli.output import console
from mediaworker.cli.services import Services, media_view, open_services, wait_for_media
from mediaworker.config import Settings
from mediaworker.db import inventories as inventories_db
from mediaworker.db import jobs as jobs_db
from mediaworker.db import photos as photos_db
from mediaworker.db import transcriptions as transcriptions_db
from mediaworker.db.migrate import migrate
from mediaworker.db.pool import Pool
from mediaworker.dev import report
from mediaworker.dev.local_services import LocalServices, start_local_services
from mediaworker.dev.samples import SPOKEN_TEXT, Samples, make_samples
from mediaworker.ingest import ingest_file
from mediaworker.logging import configure_logging
from mediaworker.payloads import (
    ArExportPayload,
    EnhanceImagePayload,
    GenerateImagePayload,
    Payload,
    SpeechPayload,
)
from mediaworker.queue import keys
from mediaworker.queue.submit import submit_job
from mediaworker.registry import JobDeclaration

PROMPT = "a moving van at sunrise, watercolour"
SPEECH_TEXT = "Your photos, audio and video are ready."
WAIT_S = 150
# Offline unless the environment chose otherwise; a smaller AR still keeps the demo quick.
OFFLINE_DEFAULTS = {
    "AI_IMAGE_GENERATOR": "local",
    "AI_IMAGE_ENHANCER": "local",
    "AI_TRANSCRIBER": "local",
    "AI_SPEECH": "local",
    "AI_PHOTO_ANALYZER": "local",
    "AR_STILL_PX": "512",
}


async def run_demo(workdir: Path, *, keep: bool = False, serve: bool = False) -> int:
    await asyncio.to_thread(_fresh_folder, workdir)
    configure_logging(os.environ.get("LOG_LEVEL", "WARNING"), os.environ.get("LOG_FORMAT", "text"))
    services = _start_services(workdir)
    try:
        os.environ.setdefault("WORKER_STORAGE_PATH", str((workdir / "storage").resolve()))
        os.environ.setdefault("LOG_FORMAT", "text")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        for name, value in OFFLINE_DEFAULTS.items():
            os.environ.setdefault(name, value)
        code, tour = await _run(Settings(), workdir)
        if serve:
            from mediaworker.dev.showcase import keep_serving  # the `web` extra

            pages = {
                "the photo": f"/dashboard/media/{tour.design_id}",
                "its AR poster": f"/dashboard/media/{tour.design_id}/ar?product=poster",
            }
            code = code if await keep_serving(Settings(), pages) else 1
        return code
    finally:
        if services is not None:
            services.stop()
        if not keep:
            shutil.rmtree(workdir / "services", ignore_errors=True)


def _fresh_folder(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)


def _start_services(workdir: Path) -> LocalServices | None:
    need_redis = not (os.environ.get("REDIS_URL") or os.environ.get("REDIS_HOST"))
    need_postgres = not os.environ.get("DATABASE_URL")
    if not (need_redis or need_postgres):
        return None
    console.print("starting a private Redis and Postgres for the demo")
    services = start_local_services(
        workdir / "services", need_redis=need_redis, need_postgres=need_postgres
    )
    if need_redis:
        os.environ["REDIS_URL"] = services.redis_url
    if need_postgres:
        os.environ["DATABASE_URL"] = services.database_url
    return services


async def _run(settings: Settings, workdir: Path) -> tuple[int, Tour]:
    from mediaworker.settings import worker_options

    await migrate(settings.database.dsn())
    samples = await asyncio.to_thread(make_samples, workdir / "samples")
    worker = Worker(**worker_options(settings), handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    try:
        async with open_services(settings, storage=True) as svc:
            tour = await _start_tour(svc, samples)
            await wait_for_media(svc.db, tour.media_ids, timeout_s=WAIT_S, show=True)
            await _wait_for_jobs(svc.db, tour)
            await _drain(worker, svc.redis)
            code = await _report(svc.db, settings.storage.path.resolve(), samples, tour)
            return code, tour
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()


@dataclass(frozen=True)
class Tour:
    media_ids: list[str]  # one per upload, in Samples.uploads order
    jobs: dict[str, str]  # title -> job id, of the jobs enqueued beside the uploads
    project_id: str  # the landscape photo's: a new one each run, its inventory new too

    @property
    def design_id(self) -> str:
        return self.media_ids[0]


async def _start_tour(svc: Services, samples: Samples) -> Tour:
    """Upload every sample (the landscape photo of a project, to be analysed), then enqueue
    what the uploads do not: an enhanced and a generated image, speech, an AR poster."""
    ids = []
    project_id = f"demo-{uuid.uuid4().hex[:8]}"
    for path in samples.uploads:
        photo = path == samples.photos[0]
        ingested = await ingest_file(
            svc.db, svc.storage, svc.redis, path,
            project_id=project_id if photo else None, analyze=photo,
        )  # fmt: skip
        ids.append(ingested.media.id)
    work: dict[str, tuple[JobDeclaration, Payload]] = {
        "enhanced image": (registry.ENHANCE_IMAGE, EnhanceImagePayload(media_id=ids[0])),
        "generated image": (
            registry.GENERATE_IMAGE,
            GenerateImagePayload(prompt=PROMPT, media_id=uuid.uuid4().hex, size="1024x1024"),
        ),
        "speech": (registry.SYNTHESIZE_SPEECH, SpeechPayload(text=SPEECH_TEXT)),
        "AR poster": (registry.EXPORT_AR, ArExportPayload(media_id=ids[0], product="poster")),
    }
    jobs = {}
    for title, (job, payload) in work.items():
        jobs[title] = (await submit_job(svc.db, svc.redis, job.name, payload)).job.job_id
    return Tour(ids, jobs, project_id)


async def _wait_for_jobs(db: Pool, tour: Tour) -> None:
    """Until every job of the tour's media and the tour's own jobs have ended, and the
    project's inventory (synced by the photo analysis, debounced) is there."""
    async with asyncio.timeout(WAIT_S):
        while True:
            jobs = [await jobs_db.get(db, job_id) for job_id in tour.jobs.values()]
            for media_id in tour.media_ids:
                jobs += (await jobs_db.list_jobs(db, search=media_id, limit=100)).jobs
            ended = all(j is not None and j.status in jobs_db.FINAL for j in jobs)
            photo = await photos_db.get(db, tour.design_id)
            status = None if photo is None else photo.status
            if ended and (status == "ERROR" or (status == "DONE" and await _inventory(db, tour))):
                return
            await asyncio.sleep(0.2)


async def _drain(worker: Worker, redis: ArqRedis) -> None:
    """Until no job is due in the queue and the worker runs none: the follow-ups the tour's
    jobs enqueued (the enhanced copy's thumbnails) have no ledger row before they start, and
    stopping under them printed an "interrupted" warning. Deferred jobs are not waited for."""
    async with asyncio.timeout(WAIT_S):
        while True:
            due = await redis.zcount(keys.QUEUE_NAME, "-inf", time.time() * 1000)
            if due == 0 and all(task.done() for task in worker.tasks.values()):
                return
            await asyncio.sleep(0.1)


async def _inventory(db: Pool, tour: Tour) -> dict[str, Any] | None:
    return await inventories_db.get(db, tour.project_id)


async def _report(db: Pool, root: Path, samples: Samples, tour: Tour) -> int:
    """Print everything; 0 when the broken JPEG alone failed (an AR export may be
    NOT_CONFIGURED: usd-core is the optional `ar` extra)."""
    views = [v for v in [await media_view(db, i) for i in tour.media_ids] if v]
    jobs = {title: await jobs_db.get(db, job_id) for title, job_id in tour.jobs.items()}
    made_by_jobs = frozenset().union(*(report.job_files(j) for j in jobs.values()))
    console.print()
    for view in views:
        report.print_upload(view, root, skip=made_by_jobs)
    audio_id = tour.media_ids[samples.uploads.index(samples.audio)]
    transcripts = await transcriptions_db.list_for(db, audio_id)
    report.print_transcript(samples.audio.name, SPOKEN_TEXT, transcripts)
    for title, job in jobs.items():
        report.print_job(title, job, root)
    photo = await photos_db.polling_view(db, tour.design_id)
    report.print_photo(photo, await _inventory(db, tour))
    console.print(f"\nall files are under {root}")
    broken_failed = views[-1]["status"] == "ERROR" and views[-1]["error_code"] == "BAD_INPUT"
    others_ready = all(v["status"] == "READY" for v in views[:-1])
    jobs_done = all(
        j is not None and (j.status == "succeeded" or j.error_code == "NOT_CONFIGURED")
        for j in jobs.values()
    )
    return 0 if broken_failed and others_ready and jobs_done and photo["status"] == "DONE" else 1
