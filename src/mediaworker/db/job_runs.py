"""Queries on `job_runs`: one row per attempt of every job, written by the job wrapper.

An attempt is identified by the job id and its enqueue time (a forced rerun under the same
job id is a new enqueue). A row still RUNNING when the next attempt of the same enqueue
starts belonged to a worker that died: it is closed as INTERRUPTED and counts as a try.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mediaworker.db.pool import Pool, to_dict
from mediaworker.errors import MappedError


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"


@dataclass(frozen=True)
class Run:
    id: int
    attempt: int


async def start(
    db: Pool,
    *,
    job_id: str,
    function: str,
    arguments: dict[str, Any],
    enqueued_at: dt.datetime,
    worker: str,
) -> Run:
    row = await db.fetchrow(
        """WITH interrupted AS (
               UPDATE job_runs SET status = 'INTERRUPTED', finished_at = now(),
                      error_message = 'the worker running this attempt stopped'
               WHERE job_id = $1 AND enqueued_at = $4 AND status = 'RUNNING'
           )
           INSERT INTO job_runs (job_id, function, arguments, status, attempt, worker, enqueued_at)
           VALUES ($1, $2, $3, 'RUNNING',
                   (SELECT count(*) + 1 FROM job_runs WHERE job_id = $1 AND enqueued_at = $4),
                   $5, $4)
           RETURNING id, attempt""",
        job_id,
        function,
        _jsonable(arguments),
        enqueued_at,
        worker,
    )
    if row is None:  # INSERT ... RETURNING always gives the row
        raise RuntimeError("job_runs insert returned nothing")
    return Run(id=row["id"], attempt=row["attempt"])


async def finish(db: Pool, run: Run, status: RunStatus, error: MappedError | None = None) -> None:
    await db.execute(
        """UPDATE job_runs SET status = $2, error_code = $3, error_message = $4,
                  finished_at = now(),
                  duration_ms = (extract(epoch FROM now() - started_at) * 1000)::integer
           WHERE id = $1""",
        run.id,
        status.value,
        None if error is None else error.code.value,
        None if error is None else error.message,
    )


async def list_for_job(db: Pool, job_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM job_runs WHERE job_id = $1 ORDER BY id", job_id)
    return [to_dict(r) for r in rows]


def _jsonable(arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as given by the producer, made JSON-safe (bytes and odd types as text)."""
    result: dict[str, Any] = json.loads(json.dumps(arguments, default=repr))
    return result
