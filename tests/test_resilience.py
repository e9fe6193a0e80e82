"""The worker as operators meet it: killed, stopped for a deploy, cut off from Redis.

Each test runs real `arq` worker processes against real Redis and Postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as sync_redis
from arq.connections import ArqRedis

from conftest import DATABASE_URL, REDIS_URL, make_settings, wait_until
from mediaworker import client
from mediaworker.config import RedisConfig
from mediaworker.db import job_runs
from mediaworker.db.pool import Pool
from mediaworker.queue import keys
from mediaworker.queue.enqueue import enqueue_job
from worker_processes import start_worker, stop

pytestmark = pytest.mark.slow
TESTS = Path(__file__).parent


async def enqueue_nap(pool: ArqRedis, job_id: str, seconds: float) -> None:
    from slow_worker import NapPayload

    await enqueue_job(pool, "nap", job_id, NapPayload(seconds=seconds))


async def runs(db: Pool, job_id: str) -> list[tuple[int, str]]:
    return [(r["attempt"], r["status"]) for r in await job_runs.list_for_job(db, job_id)]


async def test_a_job_of_a_worker_killed_mid_job_runs_again_within_30_s(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    first = start_worker(tmp_path)
    second = None
    try:
        await enqueue_nap(redis, "nap-killed", 3)
        await wait_until(lambda: _has(db, "nap-killed", "RUNNING"), timeout_s=30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.time()
        second = start_worker(tmp_path)

        await wait_until(lambda: _has(db, "nap-killed", "SUCCEEDED"), timeout_s=40)

        rerun = next(r for r in await job_runs.list_for_job(db, "nap-killed") if r["attempt"] == 2)
        picked_up_s = rerun["started_at"].timestamp() - killed_at
    finally:
        stop(first)
        if second is not None:
            stop(second)
    print(f"picked up again {picked_up_s:.1f} s after the kill")
    assert picked_up_s < 30, f"picked up again after {picked_up_s:.1f} s"
    assert await runs(db, "nap-killed") == [(1, "INTERRUPTED"), (2, "SUCCEEDED")]


async def test_sigterm_lets_a_running_job_finish_before_the_worker_exits(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    worker = start_worker(tmp_path, WORKER_DRAIN_TIMEOUT_S="20")
    try:
        await enqueue_nap(redis, "nap-drained", 2)
        await wait_until(lambda: _has(db, "nap-drained", "RUNNING"), timeout_s=30)
        worker.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(worker.wait, 30)
    finally:
        stop(worker)

    assert exit_code == 0
    assert await runs(db, "nap-drained") == [(1, "SUCCEEDED")]


async def test_a_job_longer_than_the_drain_deadline_is_interrupted_and_run_again(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    worker = start_worker(tmp_path, WORKER_DRAIN_TIMEOUT_S="1")
    try:
        await enqueue_nap(redis, "nap-cut", 4)
        await wait_until(lambda: _has(db, "nap-cut", "RUNNING"), timeout_s=30)
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 30)
    finally:
        stop(worker)
    assert await runs(db, "nap-cut") == [(1, "INTERRUPTED")]

    successor = start_worker(tmp_path)
    try:
        await wait_until(lambda: _has(db, "nap-cut", "SUCCEEDED"), timeout_s=30)
    finally:
        stop(successor)
    assert await runs(db, "nap-cut") == [(1, "INTERRUPTED"), (2, "SUCCEEDED")]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, int]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield binary, port
    with contextlib.suppress(sync_redis.ConnectionError):
        sync_redis.Redis(port=port).shutdown(nosave=True)


def start_redis(binary: str, port: int, folder: Path) -> None:
    subprocess.run(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(folder),
            "--logfile",
            str(folder / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        try:
            if sync_redis.Redis(port=port).ping():
                return
        except sync_redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis did not start")


async def test_a_five_second_redis_restart_does_not_stop_the_worker(
    db: Pool, private_redis: tuple[str, int], tmp_path: Path
) -> None:
    binary, port = private_redis
    start_redis(binary, port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    worker = start_worker(tmp_path, redis_url=url)
    settings = make_settings(tmp_path).model_copy(update={"redis": RedisConfig(REDIS_URL=url)})
    pool = await client.create_pool(settings)
    try:
        await enqueue_nap(pool, "nap-before", 0)
        await wait_until(lambda: _has(db, "nap-before", "SUCCEEDED"), timeout_s=30)

        sync_redis.Redis(port=port).shutdown(nosave=True)
        await asyncio.sleep(5)
        start_redis(binary, port, tmp_path)

        await enqueue_nap(pool, "nap-after", 0)
        await wait_until(lambda: _has(db, "nap-after", "SUCCEEDED"), timeout_s=30)
        assert worker.poll() is None, "the worker is still running"
    finally:
        await pool.aclose()
        stop(worker)


async def _has(db: Pool, job_id: str, status: str) -> bool:
    return any(s == status for _, s in await runs(db, job_id))


async def test_arq_check_reports_a_running_worker_healthy(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DATABASE_URL": DATABASE_URL}
    arq = str(Path(sys.executable).with_name("arq"))

    def check() -> int:
        command = [arq, "--check", "mediaworker.WorkerSettings"]
        return subprocess.run(command, env=env, capture_output=True, check=False).returncode

    before = await asyncio.to_thread(check)
    worker = start_worker(tmp_path)
    try:
        await wait_until(lambda: _exists(redis, keys.HEALTH_CHECK_KEY), timeout_s=30)
        during = await asyncio.to_thread(check)
    finally:
        stop(worker)

    assert (before, during) == (1, 0)


async def _exists(redis: ArqRedis, key: str) -> bool:
    return bool(await redis.exists(key))
