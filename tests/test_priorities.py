"""Priorities inside one arq queue: lower numbers first, FIFO within a level, kept on retry."""

from __future__ import annotations

import time

from arq.connections import ArqRedis

from conftest import make_settings, run_burst
from mediaworker.config import Settings
from mediaworker.db.pool import Pool
from mediaworker.queue import inspect, keys
from mediaworker.queue.enqueue import enqueue_job
from mediaworker.queue.priorities import LEVEL, priority_of
from mediaworker.settings import worker_options
from slow_worker import FlakyPayload, NapPayload, extra_functions


async def run_with_test_jobs(settings: Settings, **options: object) -> None:
    functions = [*worker_options(settings)["functions"], *extra_functions()]
    await run_burst(settings, functions=functions, **options)


async def start_order(db: Pool) -> list[str]:
    rows = await db.fetch("SELECT job_id FROM job_runs ORDER BY id")
    return [r["job_id"] for r in rows]


def test_a_score_encodes_its_priority_and_a_time_score_none() -> None:
    assert priority_of(5 * LEVEL + 123) == 5
    assert priority_of(0) == 0
    assert priority_of(time.time() * 1000) is None


async def test_every_urgent_job_starts_before_any_waiting_bulk_job_each_level_fifo(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    for i in range(200):
        await enqueue_job(redis, "nap", f"bulk-{i:03}", NapPayload(seconds=0), priority=15)
    for i in range(10):
        await enqueue_job(redis, "nap", f"urgent-{i:02}", NapPayload(seconds=0), priority=5)

    await run_with_test_jobs(settings, max_jobs=1)

    order = await start_order(db)
    assert order == [f"urgent-{i:02}" for i in range(10)] + [f"bulk-{i:03}" for i in range(200)]


async def test_a_retried_job_keeps_its_priority(
    db: Pool, redis: ArqRedis, tmp_path: object
) -> None:
    settings = make_settings(tmp_path, QUEUE_BACKOFF_DELAY=300)  # type: ignore[arg-type]
    await redis.delete("test:flaky:f1")
    await enqueue_job(redis, "flaky", "flaky-1", FlakyPayload(key="f1"), priority=1)
    for i in range(60):
        await enqueue_job(redis, "nap", f"bulk-{i:02}", NapPayload(seconds=0.02), priority=50)

    await run_with_test_jobs(settings, max_jobs=1)

    order = await start_order(db)
    second_try = order.index("flaky-1", 1)
    assert order[0] == "flaky-1"
    assert 3 <= second_try < 40, f"came back at its priority after ~0.3 s, at {second_try}"
    assert len(order) == 62


async def test_a_deferred_job_waits_then_runs_at_its_priority(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    for i in range(60):
        await enqueue_job(redis, "nap", f"bulk-{i:02}", NapPayload(seconds=0.02), priority=50)
    startup = worker_options(settings)["on_startup"]
    started, stats = [], []

    async def defer_once_started(ctx: dict[str, object]) -> None:
        await startup(ctx)  # the CPU pool warms up here: the 0.6 s count from the first poll
        await enqueue_job(redis, "nap", "later", NapPayload(seconds=0), priority=0, defer_s=0.6)
        stats.append(await inspect.queue_stats(redis))
        started.append(time.monotonic())

    await run_with_test_jobs(settings, max_jobs=1, on_startup=defer_once_started)

    assert (stats[0].queued, stats[0].deferred) == (60, 1)
    order = await start_order(db)
    assert 10 <= order.index("later") < 50
    assert time.monotonic() - started[0] >= 0.6
    assert await redis.zcard(keys.DEFERRED) == 0


async def test_a_job_enqueued_by_plain_arq_gets_the_default_priority(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    for i in range(30):
        await enqueue_job(redis, "nap", f"bulk-{i:02}", NapPayload(seconds=0.03), priority=50)
    await redis.enqueue_job("nap", _job_id="plain", seconds=0)

    await run_with_test_jobs(settings, max_jobs=1)

    order = await start_order(db)
    assert order.index("plain") < 25, "promoted ahead of the priority-50 backlog"
