"""Putting one job in the queue under its id, at its priority: what `registry.enqueue()` does
once it has validated the payload and named the job.

Without `rerun`, enqueueing work whose result is still kept returns that job. With `rerun`, a
kept result of an earlier run is dropped and the job runs again (arq alone would silently
return None); a job still queued or running is returned as it is.
"""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job

from mediaworker.payloads import WEBHOOK_OPTION, Payload
from mediaworker.queue import keys
from mediaworker.queue.inspect import is_queued_or_running
from mediaworker.queue.priorities import DEFAULT_PRIORITY, enqueue_at_priority
from mediaworker.queue.serializer import deserialize


async def enqueue_job(
    pool: ArqRedis,
    function: str,
    job_id: str,
    payload: Payload,
    *,
    priority: int = DEFAULT_PRIORITY,
    defer_s: float | None = None,
    rerun: bool = False,
    webhook_url: str | None = None,
) -> Job:
    """Enqueue under `job_id` at `priority` (lower runs first), after `defer_s` if given.

    A job not started within QUEUE_JOB_EXPIRES_S (the pool's `expires_extra_ms`) is dropped by
    arq; the reconciler enqueues its work again. `webhook_url` travels beside the payload's
    fields as the WEBHOOK_OPTION (the wrapper takes it out; its address is checked when the
    event is delivered).
    """
    kwargs = payload.model_dump(mode="json")
    await enqueue_kwargs(
        pool,
        function,
        job_id,
        kwargs,
        priority=priority,
        defer_s=defer_s,
        rerun=rerun,
        webhook_url=webhook_url,
    )
    return Job(job_id, pool, _queue_name=keys.QUEUE_NAME, _deserializer=deserialize)


async def enqueue_kwargs(
    pool: ArqRedis,
    function: str,
    job_id: str,
    kwargs: dict[str, Any],
    *,
    priority: int = DEFAULT_PRIORITY,
    defer_s: float | None = None,
    rerun: bool = False,
    webhook_url: str | None = None,
) -> bool:
    """`enqueue_job` for arguments already validated (the ledger's payloads); False when the
    job id is taken: queued or running, or, without `rerun`, its result kept."""
    if webhook_url is not None:  # checked by registry.enqueue; delivery checks it again
        kwargs = {**kwargs, WEBHOOK_OPTION: webhook_url}
    expires_s = pool.expires_extra_ms / 1000

    async def add() -> bool:
        return await enqueue_at_priority(
            pool, function, job_id, kwargs, priority=priority, expires_s=expires_s, defer_s=defer_s
        )

    if await add():
        return True
    if rerun and not await is_queued_or_running(pool, job_id):
        await pool.delete(keys.result_key(job_id))
        return await add()
    return False
