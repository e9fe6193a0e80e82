"""arq's poll loop, without the round trips for jobs this worker is already running, and with
its check for running jobs to cancel made a few times a second instead of at every poll.

arq keeps a job in the queue's sorted set until it ends, and a worker reads the due part of
that set at every poll (every QUEUE_POLL_DELAY_MS) while it has a free slot. For every id read
it then makes three Redis round trips (WATCH, EXISTS of the in-progress key, ZSCORE) before
finding that the job is running, even when the job runs in this very worker. With long jobs
(thumbnails of large photos, previews) and fewer queued than QUEUE_CONCURRENCY, that is
3 x running jobs round trips every 10 ms: measured 21 ms of the worker's CPU per 24 MP
thumbnail job (48 ms instead of 27), CPU the job's own pool processes wanted.

`skip_own_running_jobs()` makes `Worker.start_jobs` leave out the ids of jobs this worker runs
(arq's own `tasks` table) before it makes those round trips. It changes nothing else: those
jobs would have been skipped a moment later as "already running"; a job that ended and is due
again is read at the next poll, once arq has dropped its finished task.

`check_aborts_every(interval_s)`: with `allow_abort_jobs` (queue/admin.py cancels running
jobs), arq reads its set of jobs to abort in a MULTI/EXEC at every poll, 100 times a second,
whether or not this worker runs anything: measured 6 ms of the worker's CPU per 24 MP
thumbnail job, and as much again in Redis, on the cores the pool processes need. Checked every
ABORT_CHECK_S instead, a running job is cancelled at most that much later. A queued job's
abort is unchanged: arq reads it when the job is picked up.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable

from arq.worker import Worker

StartJobs = Callable[[Worker, list[bytes]], Awaitable[None]]
CancelAborted = Callable[[Worker], Awaitable[None]]
_PATCHED = "_mediaworker_skips_own_running_jobs"
_THROTTLED = "_mediaworker_checks_aborts_every"
_LAST_CHECK = "_mediaworker_last_abort_check_s"
ABORT_CHECK_S = 0.1


def skip_own_running_jobs() -> None:
    """Patch `arq.worker.Worker.start_jobs` once (idempotent)."""
    original: StartJobs = Worker.start_jobs
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    async def start_jobs(self: Worker, job_ids: list[bytes]) -> None:
        running = self.tasks
        await original(self, [j for j in job_ids if j.decode() not in running])

    setattr(start_jobs, _PATCHED, True)
    Worker.start_jobs = start_jobs  # type: ignore[method-assign]


def check_aborts_every(interval_s: float = ABORT_CHECK_S) -> None:
    """Patch `arq.worker.Worker._cancel_aborted_jobs` once to run at most every `interval_s`
    per worker (idempotent)."""
    original: CancelAborted = Worker._cancel_aborted_jobs
    if getattr(original, _THROTTLED, False):
        return

    @functools.wraps(original)
    async def cancel_aborted_jobs(self: Worker) -> None:
        now_s = time.monotonic()
        last_s: float | None = getattr(self, _LAST_CHECK, None)
        if last_s is not None and now_s - last_s < interval_s:
            return
        setattr(self, _LAST_CHECK, now_s)
        await original(self)

    setattr(cancel_aborted_jobs, _THROTTLED, True)
    Worker._cancel_aborted_jobs = cancel_aborted_jobs  # type: ignore[method-assign]
