"""Enqueue a job by name through the ledger: what the HTTP API, the CLI and the upload path
call, and what a Python producer with a database pool calls instead of `registry.enqueue()`
(which writes Redis only; such a job gets its ledger row at its first pickup).

    submitted = await submit_job(db, pool, "generate_thumbnails", {"media_id": "m1"})

The payload is validated by the job's model (BAD_INPUT), the job named by its id rule unless
`job_id` is given, then written to the ledger and queued (queue/ledger.py): the same job id
again returns the existing job, never a second run, unless `force` and it has ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arq.connections import ArqRedis

from mediaworker import registry
from mediaworker.db.pool import Pool
from mediaworker.ids import validate_job_id
from mediaworker.payloads import Payload
from mediaworker.queue import ledger


async def submit_job(
    db: Pool,
    pool: ArqRedis,
    name: str,
    payload: Payload | Mapping[str, Any],
    *,
    job_id: str | None = None,
    priority: int | None = None,
    defer_s: float | None = None,
    webhook_url: str | None = None,
    force: bool = False,
    external: bool = False,
) -> ledger.Submitted:
    """With `external`, only the jobs the registry lets out (NOT_FOUND for the others)."""
    job = registry.lookup(name, external=external)
    work = job.validate(payload)
    return await ledger.submit(
        db,
        pool,
        function=job.name,
        job_id=validate_job_id(job_id) if job_id is not None else job.job_id_for(work),
        payload=work.model_dump(mode="json"),
        priority=job.priority if priority is None else priority,
        defer_s=defer_s,
        webhook_url=webhook_url,
        force=force or bool(getattr(work, "force", False)),
    )
