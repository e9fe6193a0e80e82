"""Per-worker bookkeeping of job attempts, kept off each job's path.

Every attempt is a `job_runs` row and every running job's arq in-progress key is kept short,
but no job waits for either: the wrapper hands a `RunRecord` to the `Tracker`, and two loops
per worker do the rest:

- the writer, about `COALESCE_S` after something changed: all new and finished attempts in one
  Postgres upsert (keyed by `run_key`), beside it the newest state of each job in the ledger
  (`jobs`, db/jobs.py) in one more, and the stats counters in one Redis pipeline;
- the lease keeper, when a job starts and every IN_PROGRESS_REFRESH_S: the in-progress keys of
  every job running here, set to IN_PROGRESS_TTL_S, so a job of a worker killed with `kill -9`
  is taken by another worker within that time. It only talks to Redis: a stalled database,
  which holds the writer up to the pool's command timeout, never lets a running job's key
  lapse (which would have the job run a second time while the first still runs).

A row the database refuses for what it holds (a NUL or a NaN in the arguments) is written
without its arguments, or dropped, alone and logged; it never holds back the others. While
Postgres is away, rows wait for it, at most MAX_PENDING_RUNS of them.

What a `kill -9` loses is at most the last `COALESCE_S` of rows and counts; the jobs themselves
are in Redis. Rows that reach a final status are never set back to RUNNING.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis
from loguru import logger

from mediaworker.background import WakeLoop
from mediaworker.db import job_runs
from mediaworker.db import jobs as jobs_db
from mediaworker.db.job_runs import RunStatus
from mediaworker.db.jobs import JobEvent
from mediaworker.db.pool import Pool
from mediaworker.errors import MappedError, map_error
from mediaworker.queue import keys

COALESCE_S = 0.03
MAX_PENDING_RUNS = 10_000  # rows kept for the next round while Postgres is away


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
    unwritable: bool = False  # the database refused its arguments: written without them

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
        self._lock = asyncio.Lock()
        self._writer = WakeLoop(self._write_round, every_s=keys.IN_PROGRESS_REFRESH_S)
        self._leases = WakeLoop(self._lease_round, every_s=keys.IN_PROGRESS_REFRESH_S)

    def start(self) -> None:
        self._writer.start()
        self._leases.start()

    async def close(self) -> None:
        loops = (self._writer, self._leases)
        for loop in loops:
            loop.request_stop()
        for loop in loops:
            await loop.stop()
        await self.flush()

    def job_started(self, job_id: str) -> None:
        self._running.add(job_id)
        self._leases.wake()

    def job_ended(self, job_id: str) -> None:
        self._running.discard(job_id)

    def record(self, run: RunRecord) -> None:
        self._pending[run.run_key] = run
        self._writer.wake()

    def ledger(self, event: JobEvent) -> None:
        self._events[event.job_id] = event
        self._writer.wake()

    def count(self, stats_key: str, function: str) -> None:
        self._counts[(stats_key, function)] += 1

    async def flush(self) -> None:
        """Write what accumulated now; what fails to be written is kept for the next round,
        except a row the database refuses for what it holds (see `_write_runs`)."""
        async with self._lock:
            runs, self._pending = self._pending, {}
            events, self._events = self._events, {}
            counts, self._counts = self._counts, Counter()
            results = await asyncio.gather(
                self._write_runs(list(runs.values())),
                self._redis_round(counts),
                self._write_events(list(events.values())),
                return_exceptions=True,
            )
        unwritten, counted, recorded = results
        if isinstance(unwritten, BaseException):  # not expected: _write_runs keeps, not raises
            unwritten = list(runs.values())
        self._pending = {**{r.run_key: r for r in unwritten}, **self._pending}
        self._bound_pending()
        if isinstance(counted, BaseException):
            self._counts.update(counts)
            _warn_not_written(counted)
        if isinstance(recorded, BaseException):  # not expected: _write_events keeps
            recorded = list(events.values())
        self._events = {**{e.job_id: e for e in recorded}, **self._events}

    def _bound_pending(self) -> None:
        """While the database is away rows wait here; past MAX_PENDING_RUNS the oldest go."""
        excess = len(self._pending) - MAX_PENDING_RUNS
        if excess > 0:
            self._pending = dict(list(self._pending.items())[excess:])
            logger.bind(count=excess).error("job_runs rows dropped: the database is away")

    async def _write_runs(self, runs: list[RunRecord]) -> list[RunRecord]:
        """Write `runs` in one statement; the runs to try again next round (database away).

        When the database refuses the batch for what a row holds (jsonb and a NUL, a NaN), the
        rows are written one by one: the refused row is written without its arguments, or
        dropped if even that is refused, and logged; it never holds back the others."""
        try:
            await job_runs.upsert(self.db, [_row(r) for r in runs])
        except Exception as exc:
            if not job_runs.cannot_store(exc):
                _warn_not_written(exc)
                return runs
        else:
            return []
        unwritten = []
        for run in runs:
            try:
                await self._write_alone(run)
            except Exception as exc:
                _warn_not_written(exc)
                unwritten.append(run)
        return unwritten

    async def _write_alone(self, run: RunRecord) -> None:
        while True:
            try:
                await job_runs.upsert(self.db, [_row(run)])
                return
            except Exception as exc:
                if not job_runs.cannot_store(exc):
                    raise
                if run.unwritable:
                    _log_refused(run, exc, "dropped")
                    return
                _log_refused(run, exc, "tried again without its arguments")
                run.unwritable = True  # and so are its later writes (its end)

    async def _write_events(self, events: list[JobEvent]) -> list[JobEvent]:
        """Ledger updates in one statement; those to try again next round. A state the
        database refuses for what it holds is dropped alone and logged."""
        try:
            await jobs_db.record(self.db, events)
            return []
        except Exception as exc:
            if not job_runs.cannot_store(exc):
                _warn_not_written(exc)
                return events
        unwritten = []
        for event in events:
            try:
                await jobs_db.record(self.db, [event])
            except Exception as exc:
                if not job_runs.cannot_store(exc):
                    unwritten.append(event)
                    continue
                logger.bind(job_id=event.job_id[:80]).error(
                    f"ledger update dropped: {map_error(exc).message}"
                )
        return unwritten

    async def _redis_round(self, counts: Counter[tuple[str, str]]) -> None:
        if not counts:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for (stats_key, function), n in counts.items():
                pipe.hincrby(stats_key, function, n)
            await pipe.execute()

    async def renew_leases(self) -> None:
        """Every running job's in-progress key set to live IN_PROGRESS_TTL_S from now."""
        if not self._running:
            return
        ttl_ms = int(keys.IN_PROGRESS_TTL_S * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in self._running:
                pipe.pexpire(keys.in_progress_key(job_id), ttl_ms)
            await pipe.execute()

    async def _lease_round(self) -> None:
        try:
            async with asyncio.timeout(keys.IN_PROGRESS_REFRESH_S):
                await self.renew_leases()
        except Exception as exc:  # Redis away for a moment: the next round tries again
            logger.warning(f"in-progress keys not renewed: {map_error(exc).message}")

    async def _write_round(self) -> None:
        await asyncio.sleep(COALESCE_S)  # starts and ends close together share one write
        # Shielded: closing the tracker mid-write must not drop what that write carries.
        await asyncio.shield(self.flush())


def _warn_not_written(exc: BaseException) -> None:
    logger.warning(f"job tracking not written yet: {map_error(exc).message}")


def _log_refused(run: RunRecord, exc: BaseException, outcome: str) -> None:
    """Fields from the logging allow-list only: never the arguments, nor the driver's message
    (which may quote them)."""
    logger.bind(
        job_id=job_runs.clean_text(run.job_id)[:200],
        function=job_runs.clean_text(run.function),
        attempt=run.attempt,
        outcome=outcome,
        error_code=getattr(exc, "sqlstate", None) or type(exc).__name__,
    ).error(f"job_runs row ({run.status.value}) refused by the database: {outcome}")


def _row(run: RunRecord) -> tuple[Any, ...]:
    """The columns of `run` for job_runs.upsert; a run whose row the database refused goes
    without its arguments and with no NUL in its texts."""
    duration_ms = None
    if run.finished_at is not None:
        duration_ms = int((run.finished_at - run.started_at).total_seconds() * 1000)
    scrubbed = run.unwritable
    text = job_runs.clean_text if scrubbed else str
    error_message = None if run.error is None else text(run.error.message)
    return (
        run.run_key,
        text(run.job_id),
        text(run.function),
        job_runs.UNWRITABLE_ARGUMENTS if scrubbed else run.arguments,
        run.status.value,
        run.attempt,
        text(run.worker),
        run.enqueued_at,
        run.started_at,
        run.finished_at,
        duration_ms,
        None if run.error is None else run.error.code.value,
        error_message,
    )
