"""Retries: transient errors are deferred with backoff and retried; permanent ones are not."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from arq.connections import ArqRedis

from conftest import make_settings, run_burst, running_worker, wait_until
from mediaworker import registry
from mediaworker.config import Settings
from mediaworker.db import job_runs
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.errors import backoff_s
from mediaworker.ingest import ingest_file
from mediaworker.queue import keys
from mediaworker.storage import open_storage
from s3_stand_in import make_bucket, s3_config
from support import gradient_photo
from tcp_proxy import TcpProxy


def test_the_default_backoff_is_5_20_80_seconds_with_a_little_jitter() -> None:
    for retry, expected_s in ((1, 5), (2, 20), (3, 80)):
        delays = [backoff_s(retry, base_ms=5000) for _ in range(200)]
        assert all(0.9 * expected_s <= d <= 1.1 * expected_s for d in delays)
        assert len(set(delays)) > 1, "jitter spreads the retries"


async def held_upload(
    db: Pool, redis: ArqRedis, tmp_path: Path, s3_endpoint: str, size: int, **queue: object
) -> tuple[TcpProxy, Settings, media_db.Media]:
    """An image stored on S3 behind a proxy the test can take down; its upload job held back
    until `release()`, so that the worker starts while S3 still answers."""
    target = urlsplit(s3_endpoint)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 80)
    await proxy.up()
    bucket = f"retry-{tmp_path.name[-20:].lower().replace('_', '-')}"
    make_bucket(s3_endpoint, bucket)
    settings = make_settings(tmp_path / "unused", **queue)
    settings = settings.model_copy(update={"storage": s3_config(proxy.url, bucket)})
    storage = await open_storage(settings.storage)
    image = gradient_photo(tmp_path / "a.jpg", size, size * 3 // 4)
    media = (await ingest_file(db, storage, redis, image)).media
    await storage.close()
    await redis.zrem(keys.QUEUE_NAME, registry.PROCESS_UPLOAD.job_id_for({"media_id": media.id}))
    return proxy, settings, media


async def release(redis: ArqRedis, media_id: str) -> None:
    await redis.zadd(
        keys.QUEUE_NAME,
        {registry.PROCESS_UPLOAD.job_id_for({"media_id": media_id}): int(time.time() * 1000)},
    )


async def test_a_storage_outage_is_retried_after_the_backoff_then_succeeds(
    db: Pool, redis: ArqRedis, tmp_path: Path, s3_endpoint: str
) -> None:
    proxy, settings, media = await held_upload(
        db, redis, tmp_path, s3_endpoint, 640, QUEUE_BACKOFF_DELAY=2000
    )
    job_id = registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id})

    async with running_worker(settings):
        await proxy.down()
        await release(redis, media.id)

        async def retrying() -> bool:
            return any(r["status"] == "RETRYING" for r in await job_runs.list_for_job(db, job_id))

        await wait_until(retrying)
        deferred_s = (await redis.zscore(keys.DEFERRED, job_id)) / 1000 - time.time()
        row = await media_db.get(db, media.id)
        await proxy.up()

        async def ready() -> bool:
            found = await media_db.get(db, media.id)
            return found is not None and found.status == "READY"

        await wait_until(ready, timeout_s=15)

    assert 1.2 < deferred_s <= 2.2, "deferred about QUEUE_BACKOFF_DELAY, not run at once"
    assert row is not None and row.status == "PROCESSING", "still in hand while it waits"
    runs = await job_runs.list_for_job(db, job_id)
    assert [(r["attempt"], r["status"], r["error_code"]) for r in runs] == [
        (1, "RETRYING", "STORAGE"),
        (2, "SUCCEEDED", None),
    ]
    await proxy.down()


async def test_a_storage_outage_that_outlasts_the_retries_fails_with_storage(
    db: Pool, redis: ArqRedis, tmp_path: Path, s3_endpoint: str
) -> None:
    proxy, settings, media = await held_upload(
        db, redis, tmp_path, s3_endpoint, 64, QUEUE_MAX_RETRIES=2
    )
    job_id = registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id})

    async with running_worker(settings):
        await proxy.down()
        await release(redis, media.id)

        async def failed() -> bool:
            found = await media_db.get(db, media.id)
            return found is not None and found.status == "ERROR"

        await wait_until(failed, timeout_s=15)

    runs = await job_runs.list_for_job(db, job_id)
    assert [(r["attempt"], r["status"]) for r in runs] == [
        (1, "RETRYING"),
        (2, "RETRYING"),
        (3, "FAILED"),
    ]
    assert {r["error_code"] for r in runs} == {"STORAGE"}
    row = await media_db.get(db, media.id)
    assert row is not None and row.error_code == "STORAGE"


@pytest.mark.parametrize("max_retries", [0, 2])
async def test_a_timeout_is_retried_unlike_arqs_own_timeout(
    max_retries: int, db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "storage", QUEUE_MAX_RETRIES=max_retries)
    settings = settings.model_copy(
        update={"image": settings.image.model_copy(update={"timeout_s": 0.0005})}
    )
    storage = await open_storage(settings.storage)
    media = (
        await ingest_file(db, storage, redis, gradient_photo(tmp_path / "a.jpg", 2000, 1500))
    ).media
    await storage.close()

    await run_burst(settings)

    runs = await job_runs.list_for_job(
        db, registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id})
    )
    assert [r["status"] for r in runs] == ["RETRYING"] * max_retries + ["FAILED"]
    assert {r["error_code"] for r in runs} == {"TIMEOUT"}
    row = await media_db.get(db, media.id)
    assert row is not None and (row.status, row.error_code) == ("ERROR", "TIMEOUT")
