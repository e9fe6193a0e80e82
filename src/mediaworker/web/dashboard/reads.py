"""What the dashboard shows, read through the same functions the CLI and the API use: the
ledger (db/jobs.py), job_runs, ai_metrics, media and its outputs, worker heartbeats
(queue/workers.py), job progress. No SQL here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis

from mediaworker import registry
from mediaworker.db import ai_metrics as ai_metrics_db
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import job_runs as job_runs_db
from mediaworker.db import jobs as jobs_db
from mediaworker.db import media as media_db
from mediaworker.db import transcriptions as transcriptions_db
from mediaworker.db.jobs import JobStatus, LedgerJob
from mediaworker.db.media import Media
from mediaworker.db.transcriptions import Transcription
from mediaworker.events.progress import read as read_progress
from mediaworker.ids import ID_PATTERN
from mediaworker.payloads import Derivative
from mediaworker.queue.workers import WorkerInfo, alive_workers
from mediaworker.web.services import Services

STATES = [s.value for s in JobStatus]
LIST_LIMIT = 50
_MEDIA_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Bar:
    """A running job's latest progress."""

    fraction: float
    stage: str | None

    @property
    def percent(self) -> int:
        return round(self.fraction * 100)


async def progress_of(redis: ArqRedis, job_id: str) -> Bar | None:
    """The job's latest `ctx.progress()` (events/progress.py), or None if it reported none."""
    found = await read_progress(redis, job_id)
    return None if found is None else Bar(found.fraction, found.stage)


@dataclass(frozen=True)
class Running:
    job: LedgerJob
    progress: Bar | None


@dataclass(frozen=True)
class Overview:
    counts: dict[str, dict[str, int]]  # function -> state -> count
    totals: dict[str, int]
    running: list[Running]
    failed: list[LedgerJob]
    workers: list[WorkerInfo]


async def counts(services: Services) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    by_function = await jobs_db.counts(services.db)
    for name in registry.JOBS:  # every known job, even one never run yet
        by_function.setdefault(name, {})
    totals = {state: sum(c.get(state, 0) for c in by_function.values()) for state in STATES}
    return dict(sorted(by_function.items())), totals


async def running(services: Services) -> list[Running]:
    page = await jobs_db.list_jobs(services.db, status=JobStatus.RUNNING, limit=LIST_LIMIT)
    return [Running(j, await progress_of(services.redis, j.job_id)) for j in page.jobs]


async def failed(services: Services) -> list[LedgerJob]:
    page = await jobs_db.list_jobs(services.db, status=JobStatus.FAILED, limit=LIST_LIMIT)
    return page.jobs


async def workers(services: Services) -> list[WorkerInfo]:
    return await alive_workers(services.redis)


async def overview(services: Services) -> Overview:
    by_function, totals = await counts(services)
    return Overview(
        by_function,
        totals,
        await running(services),
        await failed(services),
        await workers(services),
    )


async def ai_costs(services: Services, *, days: int = 14) -> list[dict[str, Any]]:
    return await ai_metrics_db.cost_per_day(services.db, days=days)


@dataclass(frozen=True)
class JobDetail:
    job: LedgerJob
    runs: list[dict[str, Any]]
    progress: Bar | None
    ai_calls: list[dict[str, Any]]
    payload_json: str
    result_json: str | None


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


async def job_detail(services: Services, job_id: str) -> JobDetail | None:
    job = await jobs_db.get(services.db, job_id)
    if job is None:
        return None
    return JobDetail(
        job,
        await job_runs_db.list_for_job(services.db, job_id),
        await progress_of(services.redis, job_id) if job.active else None,
        await ai_metrics_db.list_recent(services.db, job_id=job_id, limit=LIST_LIMIT),
        pretty(job.payload),
        None if job.result is None else pretty(job.result),
    )


@dataclass(frozen=True)
class MediaDetail:
    media: Media
    derivatives: list[Derivative]
    transcriptions: list[Transcription]
    jobs: list[LedgerJob]


async def media_detail(services: Services, media_id: str) -> MediaDetail | None:
    media = await media_db.get(services.db, media_id)
    if media is None:
        return None
    jobs = await jobs_db.list_jobs(services.db, search=media_id, limit=LIST_LIMIT)
    return MediaDetail(
        media,
        await derivatives_db.list_for(services.db, media_id),
        await transcriptions_db.list_for(services.db, media_id),
        jobs.jobs,
    )


async def derivative(services: Services, media_id: str, kind: str) -> Derivative | None:
    found = await derivatives_db.list_for(services.db, media_id, [kind])
    return found[0] if found else None


@dataclass(frozen=True)
class Found:
    query: str
    job: LedgerJob | None = None  # the job of that exact id
    media: Media | None = None  # the media of that exact id
    function: str | None = None  # the query names a function: its jobs are listed
    jobs: list[LedgerJob] = field(default_factory=list)


async def search(services: Services, query: str) -> Found:
    """A job id (or its prefix), a function name, a media id, or any top-level payload value
    (`list_jobs(search=...)`: a jsonb path query on the ledger's payloads)."""
    query = query.strip()
    if not query:
        return Found(query)
    if query in registry.JOBS:
        page = await jobs_db.list_jobs(services.db, function=query, limit=LIST_LIMIT)
        return Found(query, function=query, jobs=page.jobs)
    media = await media_db.get(services.db, query) if _MEDIA_ID.match(query) else None
    page = await jobs_db.list_jobs(services.db, search=query, limit=LIST_LIMIT)
    exact = next((j for j in page.jobs if j.job_id == query), None)
    return Found(query, job=exact, media=media, jobs=page.jobs)
