"""Real `arq` worker processes for tests: started with our settings, stopped for sure.

The worker is `slow_worker.WorkerSettings`: our WorkerSettings plus the test jobs `nap` and
`flaky`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from arq.connections import ArqRedis

from conftest import DATABASE_URL, REDIS_URL
from mediaworker.db import job_runs
from mediaworker.db.pool import Pool
from mediaworker.queue.enqueue import enqueue_job
from slow_worker import NapPayload

TESTS = Path(__file__).parent
SRC = TESTS.parent / "src"  # this checkout's code, not whichever one the virtualenv installed


def start_worker(tmp_path: Path, redis_url: str = REDIS_URL, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(TESTS), str(SRC))),
        "REDIS_URL": redis_url,
        "DATABASE_URL": DATABASE_URL,
        "WORKER_STORAGE_PATH": str(tmp_path / "storage"),
        "QUEUE_POLL_DELAY_MS": "20",
        "LOG_LEVEL": "INFO",
        **env,
    }
    arq = Path(sys.executable).with_name("arq")
    log = (tmp_path / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [str(arq), "slow_worker.WorkerSettings"], env=environment, stdout=log, stderr=log
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(10)


async def enqueue_nap(pool: ArqRedis, job_id: str, seconds: float) -> None:
    await enqueue_job(pool, "nap", job_id, NapPayload(seconds=seconds))


async def runs(db: Pool, job_id: str) -> list[tuple[int, str]]:
    return [(r["attempt"], r["status"]) for r in await job_runs.list_for_job(db, job_id)]


async def has_run(db: Pool, job_id: str, status: str) -> bool:
    return any(s == status for _, s in await runs(db, job_id))
