"""Per-worker bookkeeping of job attempts, kept off each job's path.

Every attempt is a `job_runs` row and every running job's arq in-progress key is kept short,
but no job waits for either: the wrapper hands a `RunRecord` to the `Tracker`, and one loop per
worker writes what accumulated, about `COALESCE_S` after it changed:

- all new and finished attempts in one Postgres upsert (keyed by `run_key`), and beside it
  the newest state of each job in the ledger (`jobs`, db/jobs.py) in one more;
- in one Redis pipeline, the in-progress keys of every job running here (set to
  IN_PROGRESS_TTL_S, so a job of a worker killed with `kill -9` is taken by another worker
  within that time) and the stats counters.

What a `kill -9` loses is at most the last `COALESCE_S` of rows and counts; the jobs themselves
are in Redis. Rows that reach a final status are never set back to RUNNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis
from loguru import logger

from mediaworker.db import job_runs
from mediaworker.db import jobs as jobs_db
from mediaworker.db.job_runs import RunStatus
from mediaworker.db.jobs import JobEvent
from mediaworker.db.pool import Pool
from mediaworker.errors import MappedError, map_error
from mediaworker.queue import keys

COALESCE_S = 0.03


@dataclass
class RunRecord:
    job_id: str
    function: str
    arguments: dict[str, Any]
    attempt: int
    worker: str
    enqueued_at: dt.datetime
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    run_key: uuid.UUID = field(default_factory=uuid.uuid4)
    status: RunStatus = RunStatus.RUNNING
    finished_at: dt.datetime | None = None
    error: MappedError | None = None

    def finish(self, status: RunStatus, error: MappedError | None = None) -> None:
        self.status = status
        self.error = error
        self.finished_at = dt.datetime.now(dt.UTC)


class Tracker:
    def __init__(self, db: Pool, redis: ArqRedis) -> None:
        self.db = db
        self.redis = redis
        self._pending: dict[uuid.UUID, RunRecord] = {}
        self._events: dict[str, JobEvent] = {}  # the newest per job id
        self._running: set[str] = set()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    def job_started(self, job_id: str) -> None:
        self._running.add(job_id)
        self._wake.set()

    def job_ended(self, job_id: str) -> None:
        self._running.discard(job_id)

    def record(self, run: RunRecord) -> None:
        self._pending[run.run_key] = run
        self._wake.set()

    def ledger(self, event: JobEvent) -> None:
        self._events[event.job_id] = event
        self._wake.set()

    def count(self, stats_key: str, function: str) -> None:
        self._counts[(stats_key, function)] += 1

    async def flush(self) -> None:
        """Write what accumulated now; what fails to be written is kept for the next round."""
        async with self._lock:
            runs, self._pending = self._pending, {}
            events, self._events = self._events, {}
            counts, self._counts = self._counts, Counter()
            results = await asyncio.gather(
                job_runs.upsert(self.db, [_row(r) for r in runs.values()]),
                self._redis_round(counts),
                jobs_db.record(self.db, list(events.values())),
                return_exceptions=True,
            )
        if isinstance(results[0], BaseException):
            self._pending = {**runs, **self._pending}
        if isinstance(results[1], BaseException):
            self._counts.update(counts)
        if isinstance(results[2], BaseException):
            self._events = {**events, **self._events}
        for problem in results:
            if isinstance(problem, BaseException):
                logger.warning(f"job tracking not written yet: {map_error(problem).message}")

    async def _redis_round(self, counts: Counter[tuple[str, str]]) -> None:
        if not (self._running or counts):
            return
        ttl_ms = int(keys.IN_PROGRESS_TTL_S * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in self._running:
                pipe.pexpire(keys.in_progress_key(job_id), ttl_ms)
            for (stats_key, function), n in counts.items():
                pipe.hincrby(stats_key, function, n)
            await pipe.execute()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=keys.IN_PROGRESS_REFRESH_S)
            self._wake.clear()
            await asyncio.sleep(COALESCE_S)  # starts and ends close together share one write
            # Shielded: closing the tracker mid-write must not drop what that write carries.
            await asyncio.shield(self.flush())


def _row(run: RunRecord) -> tuple[Any, ...]:
    duration_ms = None
    if run.finished_at is not None:
        duration_ms = int((run.finished_at - run.started_at).total_seconds() * 1000)
    return (
        run.run_key,
        run.job_id,
        run.function,
        run.arguments,
        run.status.value,
        run.attempt,
        run.worker,
        run.enqueued_at,
        run.started_at,
        run.finished_at,
        duration_ms,
        None if run.error is None else run.error.code.value,
        None if run.error is None else run.error.message,
    )
