"""Jobs in the ledger: read one, list (paged, filtered), and the admin actions retry and
cancel. Enqueueing is routes/enqueue.py (one route per job the registry lets out)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from mediaworker.db import jobs as jobs_db
from mediaworker.db.jobs import JobStatus
from mediaworker.errors import NotFoundError
from mediaworker.events.progress import read as read_progress
from mediaworker.queue import admin
from mediaworker.web.auth import Admin, Producer
from mediaworker.web.schemas import JOB_ID_PATTERN, JobPage, JobView, ProgressView, Retried
from mediaworker.web.services import ServicesDep

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such job"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The job is not in a state the action applies to"}
}


@router.get("", dependencies=[Producer])
async def list_jobs(
    services: ServicesDep,
    state: JobStatus | None = None,
    function: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="A job id prefix or a payload value")
    ] = None,
    after: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> JobPage:
    limit = min(limit, services.settings.api.max_page_size)
    try:
        page = await jobs_db.list_jobs(
            services.db, status=state, function=function, search=search, after=after, limit=limit
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return JobPage(jobs=[JobView.of(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.post("/retry-failed", dependencies=[Admin])
async def retry_failed(
    services: ServicesDep,
    function: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Retried:
    done = await admin.retry_failed(services.db, services.redis, function=function, limit=limit)
    return Retried(retried=done.retried, skipped=done.skipped)


@router.get("/{job_id}", dependencies=[Producer], responses=NOT_FOUND)
async def get_job(services: ServicesDep, job_id: JobId) -> JobView:
    job = await jobs_db.get(services.db, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r}")
    reported = await read_progress(services.redis, job_id)  # ctx.progress() (events/)
    if reported is None:
        return JobView.of(job)
    return JobView.of(job, ProgressView(fraction=reported.fraction, stage=reported.stage))


@router.post("/{job_id}/retry", dependencies=[Admin], responses={**NOT_FOUND, **CONFLICT})
async def retry_job(services: ServicesDep, job_id: JobId) -> JobView:
    return JobView.of(await admin.retry(services.db, services.redis, job_id))


@router.delete("/{job_id}", dependencies=[Admin], responses={**NOT_FOUND, **CONFLICT})
async def cancel_job(services: ServicesDep, job_id: JobId) -> JobView:
    return JobView.of(await admin.cancel(services.db, services.redis, job_id))
