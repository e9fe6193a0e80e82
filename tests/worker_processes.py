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

from conftest import DATABASE_URL, REDIS_URL

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
