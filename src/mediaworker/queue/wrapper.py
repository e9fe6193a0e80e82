"""The one job wrapper: tracking, error mapping, retry deferral, metrics, logs.

Every registered job goes through `run_job`, which adds what arq 0.28 does not do by itself:

- a job_runs row per attempt; attempts are counted there, not by arq (arq counts every pickup,
  kills and deferrals included, and drops a job unrun after its `max_tries`, which is therefore
  kept out of reach);
- our own time limit, so a timeout is retried like any transient error (arq fails a job whose
  timeout fires for good);
- retries only for retryable codes, deferred with `Retry(defer=...)`: 5 s, 20 s, 80 s by
  default, or the provider's Retry-After; nothing sleeps while holding a worker slot;
- a job our rate limiter turns away (`ThrottledError`) is deferred until a slot frees, and the
  deferral is not an attempt (its job_runs row is DEFERRED, which attempts do not count);
- arq's in-progress key kept short-lived while the job runs (tracking.py), so the job of a
  worker killed with `kill -9` is taken by another worker within IN_PROGRESS_TTL_S instead of
  after the largest timeout of all functions;
- progress: each attempt gets a reporter for `ctx.progress()` (events/progress.py), set to 1.0
  "done" when a job that reported progress succeeds;
- the `webhook_url` job option is taken out of the arguments before the payload is validated;
  at a job's final success or failure, if it has a target (its option, or the function's
  default), the event goes to the worker's outbox writer (events/outbox.py), not awaited.

Its bookkeeping (job_runs rows, in-progress keys, stats) goes through the worker's `Tracker`,
which writes in batches: a job's first attempt makes no round trip of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, get_type_hints

from arq import Retry
from arq.worker import Function, func
from loguru import logger
from pydantic import BaseModel

from mediaworker import metrics
from mediaworker.context import Context, get_context
from mediaworker.db import job_runs
from mediaworker.db.job_runs import RunStatus
from mediaworker.db.jobs import JobStatus
from mediaworker.errors import ErrorCode, JobFailedError, MappedError, backoff_s, map_error
from mediaworker.events import progress, webhooks
from mediaworker.payloads import WEBHOOK_OPTION, Payload
from mediaworker.queue import keys, ledger, priorities
from mediaworker.queue.tracking import RunRecord

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
    webhook_url: str | None = None  # the producer's `webhook_url` option (events/webhooks.py)


@dataclass(frozen=True)
class RunInfo:
    """The attempt running in this task, for code that records it (ai_metrics)."""

    job_id: str
    function: str
    attempt: int
    enqueued_at: dt.datetime  # with the job id, names one enqueue: every attempt of it


_CURRENT_RUN: ContextVar[RunInfo | None] = ContextVar("mediaworker_run", default=None)


def current_run() -> RunInfo | None:
    """The job attempt this task runs (arq runs each job in its own task), or None."""
    return _CURRENT_RUN.get()


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
        webhook_url = kwargs.pop(WEBHOOK_OPTION, None)  # an option, not the payload
        info = JobInfo(
            ctx["job_id"], ctx["job_try"], ctx["enqueue_time"], ctx.get("score"), webhook_url
        )
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
    run = RunRecord(
        job_id=job.job_id,
        function=spec.name,
        arguments=job_runs.jsonable(kwargs),
        attempt=max(job.job_try, 1),  # arq's count, until Postgres has counted (_count_attempt)
        worker=ctx.worker_name,
        enqueued_at=job.enqueued_at,
    )
    progress.start(ctx.redis, job.job_id)
    ctx.tracker.job_started(job.job_id)
    try:
        return await _attempt(spec, ctx, job, run, kwargs)
    finally:
        ctx.tracker.job_ended(job.job_id)


async def _count_attempt(ctx: Context, job: JobInfo, run: RunRecord) -> None:
    """A first pickup is attempt 1 and costs no round trip; a later one (retry, deferral, a
    dead worker's job) is counted in Postgres before it runs."""
    if job.job_try <= 1:
        run.attempt = 1
        ctx.tracker.record(run)
        return
    await ctx.tracker.flush()  # this worker's earlier rows of the job come first
    run.attempt = await job_runs.next_attempt(
        ctx.db,
        run_key=run.run_key,
        job_id=run.job_id,
        function=run.function,
        arguments=run.arguments,
        enqueued_at=run.enqueued_at,
        worker=run.worker,
    )


async def _attempt(
    spec: JobSpec, ctx: Context, job: JobInfo, run: RunRecord, kwargs: dict[str, Any]
) -> Any:
    """Everything that may fail, counting the attempt included, is inside the one error
    handling: a failure always ends in a retry or in the failure hook."""
    log = logger.bind(job_id=job.job_id, function=spec.name)
    started = time.perf_counter()
    metrics.JOBS_RUNNING.labels(spec.name).inc()
    payload: Payload | None = None
    try:
        payload = spec.payload_model.model_validate(kwargs)
        await _count_attempt(ctx, job, run)
        ledger.report(ctx.tracker, run, job.score, JobStatus.RUNNING)
        _CURRENT_RUN.set(RunInfo(job.job_id, spec.name, run.attempt, job.enqueued_at))
        log = log.bind(attempt=run.attempt)
        log.debug("job started")
        _check_attempts_left(ctx, run)
        async with asyncio.timeout(spec.timeout_s):
            result = await spec.fn(ctx, payload)
    except asyncio.CancelledError:
        _finish(ctx, run, RunStatus.INTERRUPTED)
        log.warning("job interrupted; arq will run it again")
        raise
    except Exception as exc:
        await _after_failure(
            spec, ctx, job, run, payload, map_error(exc), log.bind(attempt=run.attempt)
        )
        raise AssertionError("unreachable") from None  # _after_failure always raises
    else:
        _finish(ctx, run, RunStatus.SUCCEEDED)
        outcome = result.model_dump(mode="json")
        ledger.report(ctx.tracker, run, job.score, JobStatus.SUCCEEDED, result=outcome)
        ctx.tracker.count(keys.STATS_COMPLETED, spec.name)
        metrics.JOBS.labels(spec.name, "succeeded").inc()
        # DEBUG: a log line costs loguru ~45 us, a third of what tracking may cost in all;
        # every attempt is in job_runs and the metrics anyway. Failures log at WARNING+.
        log.bind(outcome="succeeded", duration_ms=_ms_since(started)).debug("job succeeded")
        await progress.finish()
        _job_ended(spec, ctx, job, run, result=outcome)
        return outcome
    finally:
        metrics.JOBS_RUNNING.labels(spec.name).dec()
        metrics.JOB_SECONDS.labels(spec.name).observe(time.perf_counter() - started)


def _finish(
    ctx: Context, run: RunRecord, status: RunStatus, error: MappedError | None = None
) -> None:
    run.finish(status, error)
    ctx.tracker.record(run)


def _check_attempts_left(ctx: Context, run: RunRecord) -> None:
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
    run: RunRecord,
    payload: Payload | None,
    error: MappedError,
    log: Any,
) -> None:
    """Defer a retry with `Retry`, or record the final failure; always raises."""
    log = log.bind(error_code=error.code.value)
    if error.throttled:  # our rate limiter: wait for a slot, not an attempt
        arq_defer_s = await _defer(ctx, job, error.retry_after_s or 1.0)
        _finish(ctx, run, RunStatus.DEFERRED, error)
        ledger.report(ctx.tracker, run, job.score, JobStatus.DEFERRED, error=error, tried=False)
        metrics.RATE_LIMIT_DEFERRALS.labels(spec.name).inc()
        log.bind(outcome="deferred", defer_s=round(error.retry_after_s or 1.0, 2)).info(
            error.message
        )
        raise Retry(defer=arq_defer_s)
    if error.retryable and run.attempt <= ctx.settings.queue.max_retries:
        defer_s = error.retry_after_s
        if defer_s is None:
            defer_s = backoff_s(run.attempt, base_ms=ctx.settings.queue.backoff_delay_ms)
        arq_defer_s = await _defer(ctx, job, defer_s)
        _finish(ctx, run, RunStatus.RETRYING, error)
        ledger.report(ctx.tracker, run, job.score, JobStatus.DEFERRED, error=error)
        ctx.tracker.count(keys.STATS_RETRIED, spec.name)
        metrics.JOBS.labels(spec.name, "retrying").inc()
        metrics.JOB_RETRIES.labels(spec.name, error.code.value).inc()
        log.bind(outcome="retrying", defer_s=round(defer_s, 2)).warning(error.message)
        raise Retry(defer=arq_defer_s)
    _finish(ctx, run, RunStatus.FAILED, error)
    ledger.report(ctx.tracker, run, job.score, JobStatus.FAILED, error=error)
    if spec.on_failure is not None and payload is not None:
        try:
            await spec.on_failure(ctx, payload, error)
        except Exception as exc:
            log.bind(outcome="failed").error(f"on_failure hook failed: {map_error(exc).message}")
    ctx.tracker.count(keys.STATS_FAILED, spec.name)
    metrics.JOBS.labels(spec.name, "failed").inc()
    metrics.JOB_FAILURES.labels(spec.name, error.code.value).inc()
    _job_ended(spec, ctx, job, run, error=error)
    log.bind(outcome="failed").error(error.message)
    raise JobFailedError(error)


def _job_ended(
    spec: JobSpec,
    ctx: Context,
    job: JobInfo,
    run: RunRecord,
    *,
    result: Any = None,
    error: MappedError | None = None,
) -> None:
    """The final end of a job with a webhook target: its event to the outbox (off the path)."""
    url = webhooks.target_of(ctx.settings.webhooks, spec.name, job.webhook_url)
    if url is None:
        return
    end = webhooks.JobEnd(
        job_id=job.job_id,
        function=spec.name,
        enqueued_at=job.enqueued_at,
        attempts=run.attempt,
        finished_at=run.finished_at or dt.datetime.now(dt.UTC),
        result=result,
        error=error,
    )
    ctx.outbox.add(end, url)


async def _defer(ctx: Context, job: JobInfo, defer_s: float) -> float:
    """Note the job's due time at its priority; the deferral to give arq's `Retry`."""
    priority = priorities.priority_of(job.score)
    if priority is None:
        priority = priorities.DEFAULT_PRIORITY
    return await priorities.defer_retry(ctx.redis, job.job_id, priority=priority, defer_s=defer_s)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
