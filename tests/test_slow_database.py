"""A stalled database must not have a running job run twice: the in-progress key (the job's
lease) is renewed from Redis alone, whatever Postgres does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from arq.connections import ArqRedis

from conftest import DATABASE_URL, wait_until
from mediaworker.db.pool import Pool
from mediaworker.queue import keys
from tcp_proxy import TcpProxy
from worker_processes import enqueue_nap, has_run, runs, start_worker, stop

pytestmark = pytest.mark.slow
STALL_S = 22  # longer than IN_PROGRESS_TTL_S + IN_PROGRESS_REFRESH_S


async def test_a_job_runs_once_while_postgres_stalls_for_22_s(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    target = urlsplit(DATABASE_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.up()
    stalled_url = target._replace(netloc=f"postgres@127.0.0.1:{proxy.port}").geturl()
    worker = start_worker(tmp_path, DATABASE_URL=stalled_url)
    lease_ms: list[int] = []
    try:
        await enqueue_nap(redis, "nap-long", STALL_S + 3)
        await wait_until(lambda: has_run(db, "nap-long", "RUNNING"), timeout_s=30)
        proxy.pause()
        await enqueue_nap(redis, "nap-during", 0)  # its row waits for the database
        for _ in range(STALL_S):
            await asyncio.sleep(1)
            lease_ms.append(await redis.pttl(keys.in_progress_key("nap-long")))
        proxy.resume()
        await wait_until(lambda: has_run(db, "nap-long", "SUCCEEDED"), timeout_s=40)
        await wait_until(lambda: has_run(db, "nap-during", "SUCCEEDED"), timeout_s=20)
        await asyncio.sleep(0.5)  # a second run, if any, would have its row by now
    finally:
        stop(worker)
        await proxy.down()

    assert min(lease_ms) > 0, f"the lease lapsed during the stall: {lease_ms}"
    assert await runs(db, "nap-long") == [(1, "SUCCEEDED")]
    assert await runs(db, "nap-during") == [(1, "SUCCEEDED")]
