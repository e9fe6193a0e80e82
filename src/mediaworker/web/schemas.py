"""The API's response bodies (request bodies are the registry's payload models)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from mediaworker.db.jobs import LedgerJob

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"


class ErrorView(BaseModel):
    code: str = Field(description="A stable code: BAD_INPUT, NOT_FOUND, TIMEOUT, ...")
    message: str


class ProgressView(BaseModel):
    fraction: float = Field(ge=0, le=1)
    stage: str | None = None


class JobView(BaseModel):
    job_id: str
    function: str
    state: str = Field(description="queued, deferred, running, succeeded, failed or cancelled")
    priority: int
    attempts: int
    progress: ProgressView | None = None
    payload: dict[str, Any]
    result: Any = None
    error: ErrorView | None = None
    webhook_url: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    run_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    @classmethod
    def of(cls, job: LedgerJob, progress: ProgressView | None = None) -> JobView:
        """From the ledger's row, trusted: constructed, not validated again."""
        error = None
        if job.error_code is not None:
            error = ErrorView.model_construct(code=job.error_code, message=job.error_message or "")
        return cls.model_construct(
            job_id=job.job_id,
            function=job.function,
            state=job.status,
            priority=job.priority,
            attempts=job.attempts,
            progress=progress,
            payload=job.payload,
            result=job.result,
            error=error,
            webhook_url=job.webhook_url,
            created_at=job.created_at,
            updated_at=job.updated_at,
            run_at=job.run_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class JobPage(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None = Field(description="Pass as `after` for the next page")


class Retried(BaseModel):
    retried: list[str]
    skipped: list[str] = Field(description="No longer failed when their turn came")


class FunctionStats(BaseModel):
    """The original deployments' queue stats, per function, from the ledger."""

    waiting: int = 0
    active: int = 0
    delayed: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class Stats(BaseModel):
    functions: dict[str, FunctionStats]
    totals: FunctionStats
    workers_alive: int
