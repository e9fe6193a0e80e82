"""A paid provider call is made once per job enqueue: a rerun of the job after a failure that
came after the call takes the first result instead of paying again."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from arq.connections import ArqRedis

from ai_stand_ins import AiStandIn, ai_settings
from conftest import make_settings, running_worker, wait_until
from mediaworker import client
from mediaworker.db import job_runs
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from s3_stand_in import make_bucket, s3_config
from tcp_proxy import TcpProxy


async def test_a_retry_after_a_storage_outage_does_not_pay_for_the_image_again(
    db: Pool, redis: ArqRedis, tmp_path: Path, s3_endpoint: str
) -> None:
    await db.execute("TRUNCATE ai_metrics")
    target = urlsplit(s3_endpoint)
    s3 = TcpProxy(target.hostname or "127.0.0.1", target.port or 80)
    await s3.up()
    bucket = f"paid-{tmp_path.name[-20:].lower().replace('_', '-')}"
    make_bucket(s3_endpoint, bucket)
    async with AiStandIn() as api:
        settings = ai_settings(make_settings(tmp_path, QUEUE_BACKOFF_DELAY=1000), api)
        settings = settings.model_copy(update={"storage": s3_config(s3.url, bucket)})
        async with running_worker(settings):
            await s3.down()  # the image is paid for, then cannot be stored
            job = await client.enqueue_generate_image(redis, "a paid-for harbour at dawn")

            async def has(status: str) -> bool:
                rows = await job_runs.list_for_job(db, job.job_id)
                return any(r["status"] == status for r in rows)

            await wait_until(lambda: has("RETRYING"), timeout_s=30)
            await s3.up()
            await wait_until(lambda: has("SUCCEEDED"), timeout_s=30)
        calls = len(api.calls("images.generate"))
    await s3.down()

    runs = await job_runs.list_for_job(db, job.job_id)
    assert [(r["attempt"], r["status"], r["error_code"]) for r in runs] == [
        (1, "RETRYING", "STORAGE"),
        (2, "SUCCEEDED", None),
    ]
    assert calls == 1, "the second attempt used the image the first one paid for"
    assert await db.fetchval("SELECT count(*) FROM ai_metrics") == 1
    info = await job.result_info()
    assert info is not None and info.success
    row = await media_db.get(db, info.result["media_id"])
    assert row is not None and row.source == "GENERATED"
