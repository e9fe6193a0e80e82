"""Queries on `job_runs`: one row per attempt of every job, written by the job wrapper.

An attempt is identified by the job id and its enqueue time (a forced rerun under the same
job id is a new enqueue). The producer's arguments are stored on the first row of an enqueue
only; its later rows (retries, deferrals) have `{}`. A row still RUNNING when the next attempt
of the same enqueue starts belonged to a worker that died: it is closed as INTERRUPTED and
counts as a try. A row DEFERRED (our rate limiter had no slot) does not count: the attempt is
made again.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from enum import StrEnum
from typing import Any

from mediaworker.db.pool import Pool, storable, to_dict


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    DEFERRED = "DEFERRED"  # our rate limiter deferred it (ThrottledError): not an attempt


async def next_attempt(
    db: Pool,
    *,
    run_key: uuid.UUID,
    job_id: str,
    function: str,
    arguments: dict[str, Any],
    enqueued_at: dt.datetime,
    worker: str,
) -> int:
    """Insert the RUNNING row of a later pickup and return its attempt number.

    Rows of the same enqueue still RUNNING belonged to a worker that died: they are closed as
    INTERRUPTED and count. DEFERRED rows (the rate limiter) do not count. The arguments are
    kept once, on the enqueue's first row: a job deferred a hundred times by
    the rate limiter does not store them a hundred times.
    """
    attempt: int = await db.fetchval(
        """WITH interrupted AS (
               UPDATE job_runs SET status = 'INTERRUPTED', finished_at = now(),
                      error_message = 'the worker running this attempt stopped'
               WHERE job_id = $1 AND enqueued_at = $4 AND status = 'RUNNING'
           )
           INSERT INTO job_runs
               (job_id, function, arguments, status, attempt, worker, enqueued_at, run_key)
           VALUES ($1, $2,
                   CASE WHEN EXISTS (SELECT 1 FROM job_runs
                                     WHERE job_id = $1 AND enqueued_at = $4)
                        THEN '{}'::jsonb ELSE $3::jsonb END,
                   'RUNNING',
                   (SELECT count(*) + 1 FROM job_runs
                    WHERE job_id = $1 AND enqueued_at = $4 AND status <> 'DEFERRED'),
                   $5, $4, $6)
           RETURNING attempt""",
        job_id,
        function,
        jsonable(arguments),
        enqueued_at,
        worker,
        run_key,
    )
    return attempt


async def upsert(db: Pool, rows: list[tuple[Any, ...]]) -> None:
    """New attempts inserted, finished ones closed, in one statement (rows: tracking._row).

    A row already closed (SUCCEEDED, FAILED, ...) is never set back by a late RUNNING write.
    """
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await db.execute(
        """INSERT INTO job_runs (run_key, job_id, function, arguments, status, attempt, worker,
                                 enqueued_at, started_at, finished_at, duration_ms,
                                 error_code, error_message)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[],
                                $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                                $10::timestamptz[], $11::int[], $12::text[], $13::text[])
           ON CONFLICT (run_key) DO UPDATE SET
               status = EXCLUDED.status, finished_at = EXCLUDED.finished_at,
               duration_ms = EXCLUDED.duration_ms, error_code = EXCLUDED.error_code,
               error_message = EXCLUDED.error_message
           WHERE job_runs.status = 'RUNNING'""",
        *columns,
    )


async def list_for_job(db: Pool, job_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM job_runs WHERE job_id = $1 ORDER BY id", job_id)
    return [to_dict(r) for r in rows]


def jsonable(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as given by the producer, made storable in jsonb: bytes and odd types as
    text, NaN and Infinity as text, NUL characters dropped (jsonb refuses both)."""
    result: dict[str, Any] = storable(json.loads(json.dumps(arguments, default=repr)))
    return result


async def prune(db: Pool, *, older_than_s: float, batch: int = 5000) -> int:
    """Delete up to `batch` attempts started more than `older_than_s` ago, except those of a
    job the ledger still has queued, deferred or running."""
    deleted = await db.fetch(
        """DELETE FROM job_runs WHERE id IN (
               SELECT r.id FROM job_runs r
               WHERE r.started_at < now() - make_interval(secs => $1)
                 AND NOT EXISTS (SELECT FROM jobs j WHERE j.job_id = r.job_id
                                 AND j.status IN ('queued', 'deferred', 'running'))
               LIMIT $2)
           RETURNING id""",
        float(older_than_s),
        batch,
    )
    return len(deleted)
