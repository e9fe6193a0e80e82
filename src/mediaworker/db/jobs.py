"""Queries on `jobs`, the ledger: one row per job from its enqueue to its end.

queued/deferred/running are the active states (the reconciler enqueues an active job that
Redis lost; retention never touches one); succeeded/failed/cancelled are final. A worker's
write carries the time of the event it records (`updated_at`, the worker's clock): once a
worker has written a row (attempts > 0), a late write of an older event (a batch that waited
out a Postgres restart) never overwrites a newer state. Rows no worker has written yet take
any worker's write, so the producer's and the database's clocks never have to agree with the
workers'. The wrapper never overwrites `cancelled` (only a retry does).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from mediaworker.db.pool import Pool, to_dict


class JobStatus(StrEnum):
    QUEUED = "queued"
    DEFERRED = "deferred"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.RUNNING)
FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class LedgerJob:
    job_id: str
    function: str
    payload: dict[str, Any]
    priority: int
    status: str
    attempts: int
    result: Any
    error_code: str | None
    error_message: str | None
    webhook_url: str | None
    source: str
    created_at: dt.datetime
    updated_at: dt.datetime
    run_at: dt.datetime | None
    reconciled_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobEvent:
    """What the wrapper saw happen to a job (written in batches by the tracker)."""

    job_id: str
    function: str
    payload: dict[str, Any]
    priority: int
    status: JobStatus
    attempts: int
    at: dt.datetime
    started_at: dt.datetime | None = None  # of the attempt it belongs to
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None


def _job(record: Any) -> LedgerJob:
    return LedgerJob(**to_dict(record))


async def insert(
    db: Pool,
    *,
    job_id: str,
    function: str,
    payload: dict[str, Any],
    priority: int,
    webhook_url: str | None = None,
    defer_s: float | None = None,
) -> tuple[LedgerJob, bool]:
    """The job's row, and whether it was created now (False: that job id already exists)."""
    row = await db.fetchrow(
        """WITH new AS (
               INSERT INTO jobs (job_id, function, payload, priority, status, webhook_url, run_at)
               VALUES ($1, $2, $3, $4, $5, $6,
                       CASE WHEN $7 > 0 THEN now() + make_interval(secs => $7) END)
               ON CONFLICT (job_id) DO NOTHING
               RETURNING *, true AS created)
           SELECT * FROM new
           UNION ALL
           SELECT *, false AS created FROM jobs
           WHERE job_id = $1 AND NOT EXISTS (SELECT FROM new)""",
        job_id,
        function,
        payload,
        priority,
        JobStatus.DEFERRED if defer_s else JobStatus.QUEUED,
        webhook_url,
        float(defer_s or 0),
    )
    found = to_dict(row)
    created = found.pop("created")
    return LedgerJob(**found), created


async def requeue(
    db: Pool, job_id: str, *, only_from: Sequence[JobStatus] = FINAL
) -> LedgerJob | None:
    """Set a job back to queued for a new run (retry, forced rerun), if its state is one of
    `only_from`; its earlier attempts stay in job_runs. None when it is not."""
    return await _move(
        db,
        job_id,
        only_from,
        """status = 'queued', attempts = 0, result = NULL, error_code = NULL,
           error_message = NULL, started_at = NULL, finished_at = NULL, run_at = NULL""",
    )


async def cancel(db: Pool, job_id: str) -> LedgerJob | None:
    """Mark an active job cancelled; None when it is not active (or not known)."""
    return await _move(
        db,
        job_id,
        ACTIVE,
        "status = 'cancelled', finished_at = now(), error_code = NULL, error_message = 'cancelled'",
    )


async def _move(
    db: Pool, job_id: str, only_from: Sequence[JobStatus], assignments: str
) -> LedgerJob | None:
    row = await db.fetchrow(
        f"""UPDATE jobs SET {assignments}, updated_at = greatest(now(), updated_at)
            WHERE job_id = $1 AND status = ANY($2::text[])
            RETURNING *""",  # noqa: S608 - assignments are constants of this module
        job_id,
        [s.value for s in only_from],
    )
    return None if row is None else _job(row)


async def record(db: Pool, events: Sequence[JobEvent]) -> None:
    """Write what the wrapper saw, in one statement; a job unknown so far (plain arq, cron)
    gets its row here. Per job only the newest event counts."""
    newest: dict[str, JobEvent] = {}
    for event in events:
        if event.job_id not in newest or newest[event.job_id].at <= event.at:
            newest[event.job_id] = event
    if not newest:
        return
    final = {s.value for s in FINAL}
    columns = list(
        zip(
            *(
                (
                    *(e.job_id, e.function, e.payload, e.priority, e.status.value, e.attempts),
                    *(e.result, e.error_code, e.error_message, e.at),
                    e.started_at,
                    e.at if e.status.value in final else None,
                )
                for e in newest.values()
            ),
            strict=True,
        )
    )
    await db.execute(
        """INSERT INTO jobs AS j (job_id, function, payload, priority, status, attempts, result,
                                error_code, error_message, updated_at, started_at, finished_at,
                                created_at, source)
           SELECT job_id, function, payload, priority, status, attempts, result, error_code,
                  error_message, at, started, finished, at, 'pickup'
           FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int[], $5::text[], $6::int[],
                       $7::jsonb[], $8::text[], $9::text[], $10::timestamptz[],
                       $11::timestamptz[], $12::timestamptz[])
                AS u(job_id, function, payload, priority, status, attempts, result, error_code,
                     error_message, at, started, finished)
           ON CONFLICT (job_id) DO UPDATE SET
               status = EXCLUDED.status, attempts = EXCLUDED.attempts, result = EXCLUDED.result,
               error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
               updated_at = EXCLUDED.updated_at,
               started_at = coalesce(EXCLUDED.started_at, j.started_at),
               finished_at = EXCLUDED.finished_at, run_at = NULL
           WHERE j.status <> 'cancelled'
             AND (j.attempts = 0 OR j.updated_at <= EXCLUDED.updated_at)""",
        *columns,
    )


async def get(db: Pool, job_id: str) -> LedgerJob | None:
    row = await db.fetchrow("SELECT * FROM jobs WHERE job_id = $1", job_id)
    return None if row is None else _job(row)


@dataclass(frozen=True)
class Page:
    jobs: list[LedgerJob]
    next_cursor: str | None  # pass as `after` for the next page; None: this was the last


async def list_jobs(
    db: Pool,
    *,
    status: str | None = None,
    function: str | None = None,
    search: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> Page:
    """Newest first. `search` matches a job id (prefix) or any top-level payload value."""
    created, job_id = _parse_cursor(after)
    rows = await db.fetch(
        """SELECT * FROM jobs
           WHERE ($1::text IS NULL OR status = $1)
             AND ($2::text IS NULL OR function = $2)
             AND ($3::text IS NULL OR job_id LIKE $4 OR jsonb_path_exists(
                   payload, '$.* ? (@ == $v)', jsonb_build_object('v', $3::text)))
             AND ($5::timestamptz IS NULL OR (created_at, job_id) < ($5, $6))
           ORDER BY created_at DESC, job_id DESC
           LIMIT $7""",
        status,
        function,
        search,
        None if search is None else _like_prefix(search),
        created,
        job_id,
        limit + 1,
    )
    jobs = [_job(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(jobs, _cursor(jobs[-1]) if more and jobs else None)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _cursor(job: LedgerJob) -> str:
    return f"{job.created_at.isoformat()}~{job.job_id}"


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime | None, str | None]:
    if not cursor:
        return None, None
    stamp, sep, job_id = cursor.partition("~")
    try:
        created = dt.datetime.fromisoformat(stamp)
    except ValueError:
        raise ValueError("cursor is not valid") from None
    if not sep or not job_id:
        raise ValueError("cursor is not valid")
    return created, job_id


async def counts(db: Pool) -> dict[str, dict[str, int]]:
    """{function: {status: count}} over the ledger."""
    rows = await db.fetch("SELECT function, status, count(*) AS n FROM jobs GROUP BY 1, 2")
    found: dict[str, dict[str, int]] = {}
    for r in rows:
        found.setdefault(r["function"], {})[r["status"]] = r["n"]
    return found


async def list_lost_candidates(db: Pool, *, idle_for_s: float, limit: int = 500) -> list[LedgerJob]:
    """Active jobs untouched for `idle_for_s`: the reconciler checks each against Redis."""
    rows = await db.fetch(
        """SELECT * FROM jobs
           WHERE status = ANY($1::text[])
             AND greatest(updated_at, reconciled_at) < now() - make_interval(secs => $2)
             AND coalesce(run_at, updated_at) < now()
           ORDER BY updated_at LIMIT $3""",
        list(ACTIVE),
        float(idle_for_s),
        limit,
    )
    return [_job(r) for r in rows]


async def touch(db: Pool, job_ids: Sequence[str]) -> None:
    """Note that the reconciler enqueued these again now (so they are not picked twice)."""
    await db.execute(
        "UPDATE jobs SET reconciled_at = now() WHERE job_id = ANY($1::text[])",
        list(job_ids),
    )


async def prune(
    db: Pool, status: JobStatus, *, keep_last: int, older_than_s: float, batch: int = 5000
) -> int:
    """Delete `status` jobs finished more than `older_than_s` ago, keeping the newest
    `keep_last` of each function whatever their age. Active jobs are never touched."""
    if status in ACTIVE:
        raise ValueError(f"retention never removes {status} jobs")
    deleted = await db.fetch(
        """DELETE FROM jobs WHERE job_id IN (
               SELECT job_id FROM (
                   SELECT job_id, finished_at, row_number() OVER (
                       PARTITION BY function ORDER BY finished_at DESC NULLS LAST) AS newest
                   FROM jobs WHERE status = $1) ranked
               WHERE newest > $2 AND finished_at < now() - make_interval(secs => $3)
               LIMIT $4)
           AND status = $1
           RETURNING job_id""",
        status.value,
        keep_last,
        float(older_than_s),
        batch,
    )
    return len(deleted)
