"""The worker does not recheck, at every poll, the jobs it is running itself, and reads the set
of running jobs to cancel a few times a second, not at every poll (polling.py).

Counted with Redis MONITOR on this test's DB index: arq checks a job with WATCH on its
in-progress key before starting it; without the fix it did so again for every running job
at every poll (every 5 ms here). It read its abort set (ZRANGE arq:abort) at every poll too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss

from conftest import REDIS_URL, run_burst
from mediaworker.config import Settings
from mediaworker.context import Context
from mediaworker.db.pool import Pool
from mediaworker.payloads import Payload, Result
from mediaworker.queue.wrapper import tracked
from mediaworker.settings import worker_options

DB_INDEX = int(urlsplit(REDIS_URL).path.lstrip("/") or 0)


class HoldPayload(Payload):
    seconds: float


class HoldResult(Result):
    pass


async def hold(ctx: Context, payload: HoldPayload) -> HoldResult:
    await asyncio.sleep(payload.seconds)
    return HoldResult()


async def count_commands(counted: Counter[str], ready: asyncio.Event) -> None:
    """WATCH commands and reads of the abort set, in `counted`."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with client.monitor() as monitor:
            ready.set()
            async for command in monitor.listen():
                if command["db"] != DB_INDEX:
                    continue
                words = command["command"].split()
                if words[0].upper() == "WATCH":
                    counted["WATCH"] += 1
                elif words[0].upper() == "ZRANGE" and words[1] == abort_jobs_ss:
                    counted["abort reads"] += 1
    finally:
        await client.aclose()


async def test_jobs_the_worker_runs_are_not_rechecked_at_every_poll(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    functions = [*worker_options(settings)["functions"], tracked(hold, timeout_s=30)]
    for i in range(3):
        await redis.enqueue_job("hold", _job_id=f"hold-{i}", seconds=1.0)
    counted: Counter[str] = Counter()
    ready = asyncio.Event()
    monitor = asyncio.create_task(count_commands(counted, ready))
    await ready.wait()

    worker = await run_burst(settings, functions=functions)
    monitor.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await monitor

    assert worker.jobs_complete == 3
    assert counted["WATCH"] <= 6, f"{counted['WATCH']} WATCH commands for 3 jobs"  # was ~1800
    # Once every ABORT_CHECK_S (0.1 s) over the ~1 s the jobs run, not at every 5 ms poll.
    assert 1 <= counted["abort reads"] <= 20, f"{counted['abort reads']} reads of the abort set"
