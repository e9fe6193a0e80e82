"""CpuPool: work runs in another process, errors come back intact, a dead worker is replaced.

The helpers the workers run are module-level functions of this file: spawned workers import
them by name (pytest puts tests/ on sys.path, and spawn passes sys.path to the children).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pyvips

from mediaworker.errors import (
    BadInputError,
    ErrorCode,
    RateLimitError,
    TransientError,
    map_error,
)
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.image import EncodeSpec, SizeSpec, Thumbnails, make_thumbnails
from mediaworker.processing.pool import CpuPool, ProcessingCrashedError

SIZES = [SizeSpec("THUMBNAIL", 150, 150, crop=True), SizeSpec("LARGE", 1920, 1080, crop=False)]
LIMITS = ImageLimits(max_input_bytes=10_000_000, max_pixels=10_000_000)


def worker_pid() -> int:
    return os.getpid()


def raise_rate_limited(message: str) -> None:
    raise RateLimitError(message, retry_after_s=7.5)


def exit_abruptly() -> None:
    os._exit(3)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def environment() -> dict[str, str]:
    return dict(os.environ)


def environment_at_start(pid: int) -> bytes:
    """What the kernel shows of a process's environment: the block it was started with."""
    return Path(f"/proc/{pid}/environ").read_bytes()


def sleep_s(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def hold(marker: str, seconds: float) -> None:
    """Write this process's pid to `marker`, work `seconds`, then leave `marker`.done."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    Path(marker + ".done").touch()


def pid_in(marker: str) -> int:
    return int(Path(marker).read_text())


def finished(marker: str) -> bool:
    return Path(marker + ".done").exists()


def allocate_mb(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for its parent counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@pytest.fixture(scope="module")
def pool() -> Iterator[CpuPool]:
    cpu = CpuPool(max_workers=2)
    yield cpu
    cpu.close()


@pytest.fixture
def jpeg(tmp_path: Path) -> str:
    path = tmp_path / "in.jpg"
    (pyvips.Image.xyz(640, 480)[0] / 3).cast("uchar").jpegsave(str(path))
    return str(path)


async def test_work_runs_in_another_process(pool: CpuPool) -> None:
    assert await pool.run(worker_pid) != os.getpid()


async def test_make_thumbnails_runs_in_the_pool(pool: CpuPool, jpeg: str) -> None:
    result = await pool.run(make_thumbnails, jpeg, SIZES, EncodeSpec("jpeg", 80), LIMITS)

    assert isinstance(result, Thumbnails)
    assert [(r.name, r.width, r.height) for r in result.renditions] == [
        ("THUMBNAIL", 150, 150),
        ("LARGE", 640, 480),
    ]


async def test_bad_input_arrives_as_bad_input_with_its_message(
    pool: CpuPool, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.jpg"
    empty.touch()

    with pytest.raises(BadInputError) as raised:
        await pool.run(make_thumbnails, str(empty), SIZES, EncodeSpec("jpeg", 80), LIMITS)

    assert raised.value.message == "empty file (0 bytes)"
    assert map_error(raised.value).code == ErrorCode.BAD_INPUT


async def test_our_errors_keep_their_type_and_fields_across_processes(pool: CpuPool) -> None:
    with pytest.raises(RateLimitError) as raised:
        await pool.run(raise_rate_limited, "slow down")

    assert (raised.value.message, raised.value.retry_after_s) == ("slow down", 7.5)


def test_crash_error_pickles_and_is_retried() -> None:
    error = pickle.loads(pickle.dumps(ProcessingCrashedError()))  # noqa: S301 - our own bytes

    assert isinstance(error, TransientError)
    assert error.message == "the processing worker died (crash or out of memory)"
    mapped = map_error(error)
    assert (mapped.code, mapped.retryable) == (ErrorCode.UNKNOWN, True)


@pytest.mark.slow
@pytest.mark.parametrize("crash", [exit_abruptly, kill_self], ids=["os._exit", "SIGKILL"])
async def test_a_dead_worker_gives_crashed_error_and_the_pool_recovers(
    pool: CpuPool, crash: Callable[[], None], jpeg: str
) -> None:
    with pytest.raises(ProcessingCrashedError, match="the processing worker died"):
        await pool.run(crash)

    result = await pool.run(make_thumbnails, jpeg, SIZES, EncodeSpec("jpeg", 80), LIMITS)
    assert len(result.renditions) == 2


@pytest.mark.slow
async def test_jobs_caught_in_a_crash_all_fail_as_crashed_and_later_jobs_work(
    pool: CpuPool,
) -> None:
    results = await asyncio.gather(
        pool.run(sleep_s, 0.5), pool.run(kill_self), return_exceptions=True
    )

    assert any(isinstance(r, ProcessingCrashedError) for r in results)
    assert all(isinstance(r, ProcessingCrashedError | float) for r in results)
    later = await asyncio.gather(pool.run(sleep_s, 0.01), pool.run(sleep_s, 0.02))
    assert list(later) == [0.01, 0.02]


async def test_the_event_loop_keeps_running_while_a_worker_is_busy(pool: CpuPool) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        assert await pool.run(sleep_s, 0.5) == 0.5
    finally:
        ticker.cancel()

    assert ticks >= 20


async def test_two_workers_run_side_by_side(pool: CpuPool) -> None:
    await asyncio.gather(pool.run(sleep_s, 0), pool.run(sleep_s, 0))  # both workers started

    started = time.perf_counter()
    await asyncio.gather(pool.run(sleep_s, 0.6), pool.run(sleep_s, 0.6))

    assert time.perf_counter() - started < 1.1


def test_a_pool_needs_at_least_one_worker() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CpuPool(max_workers=0)


OWNER = """
import asyncio, os, signal
from mediaworker.processing.pool import CpuPool

async def main():
    pool = CpuPool(2)
    pids = await asyncio.gather(pool.run(os.getpid), pool.run(os.getpid))
    print(" ".join(str(p) for p in set(pids)), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_workers_of_a_killed_owner_do_not_outlive_it(tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    pids = [int(p) for p in out.stdout.split()]
    assert pids, out.stderr

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)

    assert not [p for p in pids if Path(f"/proc/{p}").exists()], "orphaned pool workers"


async def test_a_started_pool_has_every_process_running_and_warm() -> None:
    pool = CpuPool(2)
    try:
        await pool.start()
        assert len(pool.pids()) == 2

        started = time.perf_counter()
        await pool.run(worker_pid)

        assert time.perf_counter() - started < 0.2  # no spawn, no imports left to pay
    finally:
        pool.close()


@pytest.mark.slow
async def test_a_timed_out_task_has_its_process_killed_and_the_next_task_starts_promptly(
    tmp_path: Path,
) -> None:
    pool = CpuPool(1)
    marker = str(tmp_path / "work")
    try:
        await pool.start()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await pool.run(hold, marker, 5.0)
        old_pid = pid_in(marker)

        started = time.perf_counter()
        assert await pool.run(sleep_s, 0) == 0
        waited_s = time.perf_counter() - started

        assert waited_s < 3.0  # a fresh process, not the 4.5 s left of the old task
        assert wait_until(lambda: gone(old_pid), 2.0), "the timed-out work still runs"
        assert old_pid not in pool.pids()
        await asyncio.sleep(5.0)
        assert not finished(marker)  # it never finished in the background
    finally:
        pool.close()


async def test_a_task_waiting_for_a_slot_can_be_cancelled_without_killing_anything(
    pool: CpuPool,
) -> None:
    await pool.start()
    pids = set(pool.pids())
    busy = [asyncio.create_task(pool.run(sleep_s, 0.5)) for _ in range(pool.max_workers)]
    await asyncio.sleep(0.1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await pool.run(sleep_s, 0)  # queued behind the busy ones, never started

    assert await asyncio.gather(*busy) == [0.5] * pool.max_workers
    assert set(pool.pids()) == pids


@pytest.mark.slow
async def test_a_task_over_the_memory_limit_is_bad_input_and_the_pool_goes_on() -> None:
    pool = CpuPool(1, memory_limit_bytes=400 * 2**20)
    try:
        with pytest.raises(BadInputError, match="more memory than a processing worker may use"):
            await pool.run(allocate_mb, 600)

        assert await pool.run(allocate_mb, 100) == 100 * 2**20
    finally:
        pool.close()


async def test_pool_processes_see_no_secret_of_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://owner:pw@db/mediaworker")
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", "s3-secret")
    pool = CpuPool(1)
    try:
        seen = await pool.run(environment)
        pid = await pool.run(worker_pid)
        at_start = environment_at_start(pid)
    finally:
        pool.close()

    for name in ("OPENAI_API_KEY", "DATABASE_URL", "S3_SECRET_ACCESS_KEY"):
        assert name not in seen
    assert b"sk-test-secret" not in at_start and b"s3-secret" not in at_start
    assert seen.get("PATH") == os.environ["PATH"], "programs are still found"
    assert os.environ["OPENAI_API_KEY"] == "sk-test-secret", "the worker keeps its own"


def blas_threads() -> int:
    """The threads numpy's OpenBLAS uses in this process, as OpenBLAS itself reports them."""
    import ctypes

    import numpy as np

    np.ones((8, 8)) @ np.ones((8, 8))
    with open("/proc/self/maps") as maps:
        path = next(word for word in maps.read().split() if "openblas" in word)
    library = ctypes.CDLL(path)
    for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
        if hasattr(library, name):
            return int(getattr(library, name)())
    raise AssertionError(f"{path} reports no thread count")


async def test_pool_processes_give_numpy_one_blas_thread_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OpenBLAS's spare threads spin after each product, on the cores the other processes
    decode on; an operator's own OPENBLAS_NUM_THREADS still wins."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    pool = CpuPool(1)
    try:
        seen = await pool.run(environment)
        threads = await pool.run(blas_threads)
    finally:
        pool.close()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    told = CpuPool(1)
    try:
        threads_told = await told.run(blas_threads)
    finally:
        told.close()

    assert (seen["OPENBLAS_NUM_THREADS"], threads) == ("1", 1)
    assert threads_told == min(2, os.cpu_count() or 1), (
        "the operator's setting (at most a core each)"
    )
