"""The worker's /metrics, /healthz and /readyz: served from the worker on 127.0.0.1 by default,
ready only while Redis and Postgres answer, and the queue depth per function and state."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from arq.connections import ArqRedis
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conftest import DATABASE_URL, free_port, make_settings, running_worker
from mediaworker import client, health, metrics
from mediaworker.config import QueueConfig
from mediaworker.db.pool import Pool, create_db_pool
from mediaworker.queue import keys
from tcp_proxy import TcpProxy


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.text()


def samples(text: str, name: str) -> dict[tuple[str, str], float]:
    """{(function, state): value} of the gauge `name` in a Prometheus text page."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[(sample.labels["function"], sample.labels["state"])] = sample.value
    return found


def test_the_metrics_endpoint_binds_loopback_unless_told_otherwise() -> None:
    assert QueueConfig().metrics_host == "127.0.0.1"
    assert QueueConfig(METRICS_HOST="0.0.0.0").metrics_host == "0.0.0.0"  # noqa: S104


async def test_a_running_worker_answers_healthz_readyz_and_metrics_on_loopback(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(tmp_path / "storage", METRICS_PORT=port)
    async with running_worker(settings):
        base = f"http://127.0.0.1:{port}"
        assert (await get(f"{base}/healthz"))[0] == 200
        status, text = await get(f"{base}/readyz")
        assert status == 200 and '"redis": "ok"' in text and '"postgres": "ok"' in text
        status, text = await get(f"{base}/metrics")
        assert status == 200 and "mediaworker_jobs_total" in text
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the endpoint stops with the worker"


async def test_readyz_answers_503_while_postgres_is_unreachable(redis: ArqRedis) -> None:
    target = urlsplit(DATABASE_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.up()
    dsn = DATABASE_URL.replace(target.netloc.split("@")[-1], f"127.0.0.1:{proxy.port}")
    pool = await create_db_pool(dsn, min_size=1, max_size=1)
    try:
        assert await health.check_ready(redis, pool) == {"redis": "ok", "postgres": "ok"}
        await proxy.down()
        checks = await health.check_ready(redis, pool)
        assert checks["redis"] == "ok" and checks["postgres"] != "ok"
        port = free_port()
        runner = await health.serve(redis, pool, host="127.0.0.1", port=port)
        assert runner is not None
        try:
            status, text = await get(f"http://127.0.0.1:{port}/readyz")
        finally:
            await runner.cleanup()
        assert status == 503 and "not ready" in text
    finally:
        await proxy.down()
        pool.terminate()


async def test_the_queue_gauge_counts_jobs_per_function_and_state(redis: ArqRedis) -> None:
    running = await client.enqueue_thumbnails(redis, "m1")
    await redis.set(keys.in_progress_key(running.job_id), b"1")  # what arq sets when it starts
    await client.enqueue_thumbnails(redis, "m2")
    await client.enqueue_thumbnails(redis, "m5")
    await client.enqueue_waveform(redis, "m3")
    job = await client.enqueue_video_preview(redis, "m4")
    await redis.zadd(keys.QUEUE_NAME, {job.job_id: 9_999_999_999_999})  # due in the far future
    await metrics.refresh_queue(redis)
    found = samples(generate_latest().decode(), "mediaworker_queue_jobs")
    assert found == {
        ("generate_thumbnails", "running"): 1,
        ("generate_thumbnails", "queued"): 2,
        ("generate_waveform", "queued"): 1,
        ("generate_video_preview", "deferred"): 1,
    }


async def test_past_the_read_limit_jobs_are_counted_as_unread(redis: ArqRedis) -> None:
    for n in range(5):
        await client.enqueue_thumbnails(redis, f"m{n}")
    await metrics.refresh_queue(redis, read_limit=3)
    found = samples(generate_latest().decode(), "mediaworker_queue_jobs")
    assert found == {("generate_thumbnails", "queued"): 3, ("_unread", "queued"): 2}
