"""The one job wrapper: tracking, error mapping, retry deferral, metrics, logs.

Every registered job goes through `run_job`, which adds what arq 0.28 does not do by itself:

- a job_runs row per attempt; attempts are counted there, not by arq (arq counts every pickup,
  kills and deferrals included, and drops a job unrun after its `max_tries`, which is therefore
  kept out of reach);
- our own time limit, so a timeout is retried like any transient error (arq fails a job whose
  timeout fires for good);
- retries only for retryable codes, deferred with `Retry(defer=...)`: 5 s, 20 s, 80 s by
  default, or the provider's Retry-After; nothing sleeps while holding a worker slot;
- a heartbeat that keeps arq's in-progress key short-lived while the job runs, so the job of a
  worker killed with `kill -9` is taken by another worker within IN_PROGRESS_TTL_S instead of
  after the largest timeout of all functions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from arq import Retry
from arq.worker import Function, func
from loguru import logger
from pydantic import BaseModel

from mediaworker import keys, metrics, priorities
from mediaworker.context import Context, get_context
from mediaworker.db import job_runs
from mediaworker.db.job_runs import Run, RunStatus
from mediaworker.errors import ErrorCode, JobFailedError, MappedError, backoff_s, map_error
from mediaworker.payloads import Payload

ARQ_MAX_TRIES = 1_000_000
ARQ_TIMEOUT_GRACE_S = 30.0

JobFunction = Callable[[Context, Any], Awaitable[BaseModel]]
OnFailure = Callable[[Context, Any, MappedError], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: JobFunction
    payload_model: type[Payload]
    timeout_s: float
    on_failure: OnFailure | None = None


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    job_try: int
    enqueued_at: dt.datetime
    score: float | None = None


def tracked(
    fn: JobFunction,
    *,
    timeout_s: float,
    on_failure: OnFailure | None = None,
    keep_result_s: float | None = None,
) -> Function:
    """Register `fn(ctx, payload)` with arq behind the wrapper; the payload type is its hint."""
    spec = JobSpec(fn.__name__, fn, get_type_hints(fn)["payload"], timeout_s, on_failure)

    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        info = JobInfo(ctx["job_id"], ctx["job_try"], ctx["enqueue_time"], ctx.get("score"))
        return await run_job(spec, get_context(ctx), info, kwargs)

    run.__name__ = run.__qualname__ = spec.name
    return func(
        run,
        name=spec.name,
        timeout=timeout_s + ARQ_TIMEOUT_GRACE_S,
        max_tries=ARQ_MAX_TRIES,
        keep_result=keep_result_s,
    )


async def run_job(spec: JobSpec, ctx: Context, job: JobInfo, kwargs: dict[str, Any]) -> Any:
    heartbeat = asyncio.create_task(_hold_in_progress(ctx, job.job_id))
    try:
        run = await job_runs.start(
            ctx.db,
            job_id=job.job_id,
            function=spec.name,
            arguments=kwargs,
            enqueued_at=job.enqueued_at,
            worker=ctx.worker_name,
        )
        return await _attempt(spec, ctx, job, run, kwargs)
    finally:
        heartbeat.cancel()


async def _attempt(
    spec: JobSpec, ctx: Context, job: JobInfo, run: Run, kwargs: dict[str, Any]
) -> Any:
    log = logger.bind(job_id=job.job_id, function=spec.name, attempt=run.attempt)
    log.info("job started")
    started = time.perf_counter()
    metrics.JOBS_RUNNING.labels(spec.name).inc()
    payload: Payload | None = None
    try:
        _check_attempts_left(ctx, run)
        payload = spec.payload_model.model_validate(kwargs)
        async with asyncio.timeout(spec.timeout_s):
            result = await spec.fn(ctx, payload)
    except asyncio.CancelledError:
        await asyncio.shield(job_runs.finish(ctx.db, run, RunStatus.INTERRUPTED))
        log.warning("job interrupted; arq will run it again")
        raise
    except Exception as exc:
        await _after_failure(spec, ctx, job, run, payload, map_error(exc), log)
        raise AssertionError("unreachable") from None  # _after_failure always raises
    else:
        await job_runs.finish(ctx.db, run, RunStatus.SUCCEEDED)
        await _count(ctx, keys.STATS_COMPLETED, spec.name)
        metrics.JOBS.labels(spec.name, "succeeded").inc()
        log.bind(outcome="succeeded", duration_ms=_ms_since(started)).info("job succeeded")
        return result.model_dump(mode="json")
    finally:
        metrics.JOBS_RUNNING.labels(spec.name).dec()
        metrics.JOB_SECONDS.labels(spec.name).observe(time.perf_counter() - started)


def _check_attempts_left(ctx: Context, run: Run) -> None:
    max_attempts = 1 + ctx.settings.queue.max_retries
    if run.attempt > max_attempts:
        raise JobFailedError(
            MappedError(
                ErrorCode.UNKNOWN,
                f"gave up after {max_attempts} attempts: the last one did not finish",
                retryable=False,
            )
        )


async def _after_failure(
    spec: JobSpec,
    ctx: Context,
    job: JobInfo,
    run: Run,
    payload: Payload | None,
    error: MappedError,
    log: Any,
) -> None:
    """Defer a retry with `Retry`, or record the final failure; always raises."""
    log = log.bind(error_code=error.code.value)
    if error.retryable and run.attempt <= ctx.settings.queue.max_retries:
        defer_s = error.retry_after_s
        if defer_s is None:
            defer_s = backoff_s(run.attempt, base_ms=ctx.settings.queue.backoff_delay_ms)
        priority = priorities.priority_of(job.score)
        if priority is None:
            priority = priorities.DEFAULT_PRIORITY
        arq_defer_s = await priorities.defer_retry(
            ctx.redis, job.job_id, priority=priority, defer_s=defer_s
        )
        await job_runs.finish(ctx.db, run, RunStatus.RETRYING, error)
        await _count(ctx, keys.STATS_RETRIED, spec.name)
        metrics.JOBS.labels(spec.name, "retrying").inc()
        log.bind(outcome="retrying", defer_s=round(defer_s, 2)).warning(error.message)
        raise Retry(defer=arq_defer_s)
    await job_runs.finish(ctx.db, run, RunStatus.FAILED, error)
    if spec.on_failure is not None and payload is not None:
        try:
            await spec.on_failure(ctx, payload, error)
        except Exception as exc:
            log.bind(outcome="failed").error(f"on_failure hook failed: {map_error(exc).message}")
    await _count(ctx, keys.STATS_FAILED, spec.name)
    metrics.JOBS.labels(spec.name, "failed").inc()
    log.bind(outcome="failed").error(error.message)
    raise JobFailedError(error)


async def _hold_in_progress(ctx: Context, job_id: str) -> None:
    key = keys.in_progress_key(job_id)
    ttl_ms = int(keys.IN_PROGRESS_TTL_S * 1000)
    while True:
        try:
            await ctx.redis.pexpire(key, ttl_ms)
        except Exception as exc:  # a Redis blip must not fail the job it guards
            logger.bind(job_id=job_id).warning(f"heartbeat: {map_error(exc).message}")
        await asyncio.sleep(keys.IN_PROGRESS_REFRESH_S)


async def _count(ctx: Context, key: str, function: str) -> None:
    try:
        await ctx.redis.hincrby(key, function, 1)  # type: ignore[misc]
    except Exception as exc:
        logger.warning(f"stats not counted: {map_error(exc).message}")


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
