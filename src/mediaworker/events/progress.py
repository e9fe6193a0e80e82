"""Job progress: `await ctx.progress(fraction, stage)` from job code, the latest value in Redis.

The job wrapper opens a `Reporter` for every attempt (`start()`); job code reports through
`Context.progress`, which finds the reporter of the job running in its task (arq runs each job
in a task of its own). The value is one JSON string at `keys.progress_key(job_id)`:

    {"fraction": 0.42, "stage": "encoding", "updated_at": 1767225600.123}

kept PROGRESS_TTL_S after its last write, so status reads see it while the job runs and a
while after. Writes are throttled to one per MIN_INTERVAL_S, except a new stage and the end
(fraction 1), which are written at once; a fraction is clamped to 0..1 and never goes back
within a stage. A write that fails (Redis away) is logged and dropped: progress is advice,
never a reason for a job to fail. Outside a job, reporting does nothing.
"""

from __future__ import annotations

import json
import time
from contextvars import ContextVar
from dataclasses import dataclass

from arq.connections import ArqRedis
from loguru import logger

from mediaworker.errors import map_error
from mediaworker.queue import keys

MIN_INTERVAL_S = 0.5


@dataclass(frozen=True)
class Progress:
    fraction: float
    stage: str | None
    updated_at: float


class Reporter:
    def __init__(self, redis: ArqRedis, job_id: str) -> None:
        self.redis = redis
        self.job_id = job_id
        self.last: Progress | None = None  # the latest value written
        self._written_at = 0.0

    async def report(self, fraction: float, stage: str | None = None) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        last = self.last
        same_stage = last is not None and last.stage == stage
        if same_stage and last is not None:
            if fraction < last.fraction:
                return
            too_soon = time.monotonic() - self._written_at < MIN_INTERVAL_S
            if fraction < 1.0 and too_soon:
                return
        await self._write(Progress(round(fraction, 4), stage, time.time()))

    async def _write(self, value: Progress) -> None:
        text = json.dumps(
            {"fraction": value.fraction, "stage": value.stage, "updated_at": value.updated_at}
        )
        try:
            await self.redis.set(keys.progress_key(self.job_id), text, ex=keys.PROGRESS_TTL_S)
        except Exception as exc:
            logger.bind(job_id=self.job_id).warning(
                f"progress not written: {map_error(exc).message}"
            )
            return
        self.last = value
        self._written_at = time.monotonic()


_REPORTER: ContextVar[Reporter | None] = ContextVar("mediaworker_progress", default=None)


def start(redis: ArqRedis, job_id: str) -> Reporter:
    """The reporter of the attempt running in this task (the job wrapper calls this)."""
    reporter = Reporter(redis, job_id)
    _REPORTER.set(reporter)
    return reporter


async def finish() -> None:
    """The job succeeded: 1.0, stage "done", if it reported progress at all."""
    reporter = _REPORTER.get()
    if reporter is not None and reporter.last is not None:
        await reporter.report(1.0, "done")


async def report(fraction: float, stage: str | None = None) -> None:
    """Report the running job's progress; nothing outside a job."""
    reporter = _REPORTER.get()
    if reporter is not None:
        await reporter.report(fraction, stage)


def scaled(start_at: float, end_at: float) -> ProgressScale:
    """A part of a job's progress: `await part(0.5, stage)` reports start + 0.5 * (end - start)."""
    return ProgressScale(start_at, end_at)


@dataclass(frozen=True)
class ProgressScale:
    start_at: float
    end_at: float

    async def __call__(self, fraction: float, stage: str | None = None) -> None:
        await report(self.start_at + fraction * (self.end_at - self.start_at), stage)


async def read(redis: ArqRedis, job_id: str) -> Progress | None:
    """The latest progress of `job_id`, or None if it never reported (or it has expired)."""
    raw = await redis.get(keys.progress_key(job_id))
    if raw is None:
        return None
    try:
        found = json.loads(raw)
        stage = found.get("stage")
        return Progress(
            float(found["fraction"]),
            None if stage is None else str(stage),
            float(found["updated_at"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
