"""Job history under poison input: a row the database refuses (a NUL or NaN the arguments
still carry, a NUL in a job id) never holds back the others, and a refused insert on a retry
still ends in the job's retry or failure hook.

Jobs are put straight into Redis with our msgpack serializer, as any writer of the queue can,
bypassing the producer's payload validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arq.connections import ArqRedis

from conftest import make_settings, run_burst
from mediaworker.context import Context
from mediaworker.db import job_runs
from mediaworker.db.pool import Pool
from mediaworker.errors import MappedError
from mediaworker.queue.wrapper import tracked
from mediaworker.settings import worker_options
from slow_worker import FlakyPayload, extra_functions, flaky

HOOK_KEY = "test:failure-hook"


async def remember_failure(ctx: Context, payload: FlakyPayload, error: MappedError) -> None:
    await ctx.redis.set(HOOK_KEY, error.code.value)


async def burst_with_test_jobs(tmp_path: Path, *functions: Any, **queue: Any) -> None:
    settings = make_settings(tmp_path / "storage", **queue)
    options = worker_options(settings)
    await run_burst(settings, functions=[*options["functions"], *functions])


async def statuses(db: Pool, job_id: str) -> list[tuple[int, str]]:
    return [(r["attempt"], r["status"]) for r in await job_runs.list_for_job(db, job_id)]


async def test_a_nul_in_a_jobs_arguments_does_not_stop_the_job_history(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    await redis.enqueue_job("flaky", _job_id="flaky-nul", key="nul\x00key", failures=1)
    for n in range(5):
        await redis.enqueue_job("nap", _job_id=f"nap-{n}", seconds=0)

    await burst_with_test_jobs(tmp_path, *extra_functions())

    for n in range(5):
        assert await statuses(db, f"nap-{n}") == [(1, "SUCCEEDED")]
    poisoned = await job_runs.list_for_job(db, "flaky-nul")
    assert poisoned, "its rows are written too (without the NUL, or without the arguments)"
    assert poisoned[-1]["status"] in {"SUCCEEDED", "FAILED"}, "it ended, it is not re-queued"
    assert await db.fetchval("SELECT count(*) FROM job_runs") >= 6


async def test_a_nan_in_a_jobs_arguments_does_not_stop_the_job_history(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    await redis.enqueue_job("nap", _job_id="nap-nan", seconds=0, ratio=float("nan"))
    for n in range(5):
        await redis.enqueue_job("nap", _job_id=f"nap-{n}", seconds=0)

    await burst_with_test_jobs(tmp_path, *extra_functions())

    assert await db.fetchval("SELECT count(*) FROM job_runs WHERE status = 'SUCCEEDED'") == 5
    [refused] = await job_runs.list_for_job(db, "nap-nan")
    assert (refused["status"], refused["error_code"]) == ("FAILED", "BAD_INPUT")


async def test_a_retry_whose_row_the_database_refuses_still_runs_the_failure_hook(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    # A NUL in the job id: Postgres text refuses it, whatever the payload validation says.
    await redis.enqueue_job("flaky", _job_id="flaky-\x00-id", key="always", failures=99)
    for n in range(5):
        await redis.enqueue_job("nap", _job_id=f"nap-{n}", seconds=0)
    hooked = tracked(flaky, timeout_s=30, on_failure=remember_failure)
    nap = next(f for f in extra_functions() if f.name == "nap")

    await burst_with_test_jobs(tmp_path, hooked, nap, QUEUE_MAX_RETRIES=1)

    assert await redis.get(HOOK_KEY) == b"NETWORK", "the failure hook ran"
    refused = await job_runs.list_for_job(db, "flaky-\ufffd-id")
    assert [(r["attempt"], r["status"]) for r in refused] == [(1, "RETRYING"), (2, "FAILED")]
    assert refused[0]["arguments"] == job_runs.UNWRITABLE_ARGUMENTS
    for n in range(5):
        assert await statuses(db, f"nap-{n}") == [(1, "SUCCEEDED")], "not held back"
