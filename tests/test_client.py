"""The producer API: idempotent enqueue, job status, queue stats."""

from __future__ import annotations

from arq.connections import ArqRedis

from conftest import run_burst
from mediaworker import client
from mediaworker.config import Settings
from mediaworker.db.pool import Pool
from mediaworker.payloads import ThumbnailsPayload
from mediaworker.queue import inspect, keys
from mediaworker.queue.enqueue import enqueue_job


async def test_the_same_work_enqueued_twice_is_one_job(redis: ArqRedis) -> None:
    first = await client.enqueue_thumbnails(redis, "m1")
    second = await client.enqueue_thumbnails(redis, "m1")

    assert first.job_id == second.job_id == "thumbnails-m1"
    assert await redis.zcard(keys.QUEUE_NAME) == 1


async def test_stats_count_queued_deferred_and_finished_jobs(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await client.enqueue_thumbnails(redis, "m1")
    await client.enqueue_thumbnails(redis, "m2")
    await redis.enqueue_job(
        "generate_thumbnails", _job_id="thumbnails-m3", _defer_by=3600, media_id="m3"
    )

    before = await inspect.queue_stats(redis)
    state = await client.job_status(redis, "thumbnails-m1")
    await redis.zrem(keys.QUEUE_NAME, "thumbnails-m3")  # a burst worker waits for deferred jobs
    await run_burst(settings)
    after = await inspect.queue_stats(redis)

    assert (before.queued, before.deferred, before.in_progress) == (2, 1, 0)
    assert (state.status, state.function, state.tries) == ("queued", "generate_thumbnails", 0)
    assert (after.queued, after.deferred, after.in_progress) == (0, 0, 0)
    assert after.failed == 2, "m1 and m2 have no media rows: NOT_FOUND"
    assert after.by_function["generate_thumbnails"]["failed"] == 2


async def test_status_of_an_unknown_job_is_not_found(redis: ArqRedis) -> None:
    state = await client.job_status(redis, "thumbnails-nothing")

    assert (state.status, state.result, state.error) == ("not_found", None, None)


async def test_a_failed_job_reports_its_code_and_message(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await enqueue_job(redis, "generate_thumbnails", "t-1", ThumbnailsPayload(media_id="gone"))
    await run_burst(settings)

    state = await client.job_status(redis, "t-1")

    assert state.success is False and state.result is None
    assert state.error == {"code": "NOT_FOUND", "message": "media gone does not exist"}
