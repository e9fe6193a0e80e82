"""The ledger through real workers: rows from enqueue to end, retry, cancel, and a Redis
flush that loses no job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from conftest import make_settings, run_burst, running_worker, wait_until
from mediaworker import client
from mediaworker.config import RetentionConfig, Settings
from mediaworker.db import job_runs
from mediaworker.db import jobs as jobs_db
from mediaworker.db import media as media_db
from mediaworker.db.jobs import LedgerJob
from mediaworker.db.pool import Pool
from mediaworker.errors import NotFoundError
from mediaworker.functions.prune_history import prune_history
from mediaworker.functions.reconcile_jobs import reconcile_jobs
from mediaworker.ingest import store_upload
from mediaworker.payloads import ReconcilePayload
from mediaworker.queue import admin, keys, ledger
from mediaworker.queue.reconcile import requeue_lost
from mediaworker.queue.submit import submit_job
from mediaworker.settings import worker_options
from mediaworker.storage.base import Storage
from slow_worker import extra_functions


def with_test_jobs(settings: Settings) -> dict[str, Any]:
    return {"functions": [*worker_options(settings)["functions"], *extra_functions()]}


async def submit(db: Pool, redis: ArqRedis, function: str, job_id: str, **payload: Any) -> None:
    await ledger.submit(db, redis, function=function, job_id=job_id, payload=payload, priority=10)


async def row(db: Pool, job_id: str) -> LedgerJob:
    job = await jobs_db.get(db, job_id)
    assert job is not None, job_id
    return job


async def test_a_submitted_job_is_one_row_from_enqueue_to_success(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await submit(db, redis, "nap", "nap-1", seconds=0)
    queued = await row(db, "nap-1")

    await run_burst(settings, **with_test_jobs(settings))

    done = await row(db, "nap-1")
    assert (queued.status, queued.attempts, queued.source) == ("queued", 0, "producer")
    assert (done.status, done.attempts, done.result) == ("succeeded", 1, {"slept_s": 0.0})
    assert done.started_at is not None and done.finished_at is not None
    assert done.error_code is None


async def test_a_job_plain_arq_enqueued_gets_its_row_at_pickup(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await redis.enqueue_job("nap", seconds=0, _job_id="plain-nap")

    await run_burst(settings, **with_test_jobs(settings))

    job = await row(db, "plain-nap")
    assert (job.status, job.source, job.function) == ("succeeded", "pickup", "nap")
    assert job.payload == {"seconds": 0}


async def test_a_transient_failure_shows_as_deferred_then_succeeded(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await submit(db, redis, "flaky", "flaky-once", key="once", failures=1)

    await run_burst(settings, **with_test_jobs(settings))

    job = await row(db, "flaky-once")
    assert (job.status, job.attempts, job.error_code) == ("succeeded", 2, None)
    statuses = [r["status"] for r in await job_runs.list_for_job(db, "flaky-once")]
    assert statuses == ["RETRYING", "SUCCEEDED"]


async def test_a_failed_job_is_retried_with_its_payload_and_its_history_kept(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, QUEUE_MAX_RETRIES=0)
    await submit(db, redis, "flaky", "flaky-retried", key="retried", failures=1)
    await run_burst(settings, **with_test_jobs(settings))
    failed = await row(db, "flaky-retried")

    again = await admin.retry(db, redis, "flaky-retried")
    await run_burst(settings, **with_test_jobs(settings))

    done = await row(db, "flaky-retried")
    assert (failed.status, failed.error_code) == ("failed", "NETWORK")
    assert "simulated outage" in (failed.error_message or "")
    assert (again.status, again.payload) == ("queued", {"key": "retried", "failures": 1})
    assert (done.status, done.attempts) == ("succeeded", 1)
    statuses = [r["status"] for r in await job_runs.list_for_job(db, "flaky-retried")]
    assert statuses == ["FAILED", "SUCCEEDED"]


async def test_only_a_failed_job_is_retried(db: Pool, redis: ArqRedis, settings: Settings) -> None:
    await submit(db, redis, "nap", "nap-ok", seconds=0)
    with pytest.raises(admin.StateConflictError, match="is queued, not failed"):
        await admin.retry(db, redis, "nap-ok")
    await run_burst(settings, **with_test_jobs(settings))
    with pytest.raises(admin.StateConflictError, match="is succeeded, not failed"):
        await admin.retry(db, redis, "nap-ok")
    with pytest.raises(NotFoundError):
        await admin.retry(db, redis, "never-enqueued")


async def test_retry_failed_takes_every_failed_job_of_a_function(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, QUEUE_MAX_RETRIES=0)
    for n in range(3):
        await submit(db, redis, "flaky", f"flaky-{n}", key=f"many-{n}", failures=1)
    await submit(db, redis, "nap", "nap-fine", seconds=0)
    await run_burst(settings, **with_test_jobs(settings))

    done = await admin.retry_failed(db, redis, function="flaky")
    await run_burst(settings, **with_test_jobs(settings))

    assert sorted(done.retried) == ["flaky-0", "flaky-1", "flaky-2"] and done.skipped == []
    counts = await jobs_db.counts(db)
    assert (counts["flaky"], counts["nap"]) == ({"succeeded": 3}, {"succeeded": 1})


async def test_a_cancelled_queued_job_never_runs(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await submit(db, redis, "nap", "nap-cancelled", seconds=0)
    await submit(db, redis, "nap", "nap-kept", seconds=0)

    cancelled = await admin.cancel(db, redis, "nap-cancelled")
    await run_burst(settings, **with_test_jobs(settings))

    assert cancelled.status == "cancelled"
    assert (await row(db, "nap-cancelled")).status == "cancelled"
    assert await job_runs.list_for_job(db, "nap-cancelled") == []
    assert (await row(db, "nap-kept")).status == "succeeded"
    with pytest.raises(admin.StateConflictError, match="is cancelled, not queued or running"):
        await admin.cancel(db, redis, "nap-cancelled")


async def test_a_cancelled_running_job_is_aborted(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await submit(db, redis, "nap", "nap-long", seconds=60)
    async with running_worker(settings, **with_test_jobs(settings)):
        await wait_until(lambda: _is(db, "nap-long", "running"))

        await admin.cancel(db, redis, "nap-long")

        await wait_until(lambda: _gone_from_redis(redis, "nap-long"))
    assert (await row(db, "nap-long")).status == "cancelled"
    statuses = [r["status"] for r in await job_runs.list_for_job(db, "nap-long")]
    assert statuses == ["INTERRUPTED"]


async def test_a_redis_flush_loses_no_ledger_job(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    for n in range(3):
        await submit(db, redis, "nap", f"nap-flushed-{n}", seconds=0)
    await submit(db, redis, "flaky", "flaky-flushed", key="flushed", failures=0)
    await redis.flushdb()

    requeued = await requeue_lost(db, redis, idle_for_s=0)
    again = await requeue_lost(db, redis, idle_for_s=0)
    await run_burst(settings, **with_test_jobs(settings))

    assert sorted(requeued) == ["flaky-flushed", *(f"nap-flushed-{n}" for n in range(3))]
    assert again == []  # in Redis again: nothing to do
    counts = await jobs_db.counts(db)  # (and any cron job the burst worker ran meanwhile)
    assert (counts["nap"], counts["flaky"]) == ({"succeeded": 3}, {"succeeded": 1})


async def _is(db: Pool, job_id: str, status: str) -> bool:
    job = await jobs_db.get(db, job_id)
    return job is not None and job.status == status


async def _gone_from_redis(redis: ArqRedis, job_id: str) -> bool:
    return not await redis.exists(keys.in_progress_key(job_id), keys.ARQ_JOB_PREFIX + job_id)


async def test_a_flush_loses_no_job_of_any_kind(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, testdata: Path
) -> None:
    """An AI job with no media row (lost before the ledger), an upload's process_upload, and a
    job plain arq enqueued that had failed once and waited for its retry."""
    slow_retries = make_settings(settings.storage.path, QUEUE_BACKOFF_DELAY=600_000)
    await redis.enqueue_job("flaky", key="plain-flushed", failures=1, _job_id="plain-flaky")
    await run_burst(slow_retries, max_burst_jobs=1, **with_test_jobs(slow_retries))
    await submit_job(db, redis, "synthesize_speech", {"text": "nothing is lost"})
    upload = await store_upload(
        db, storage, redis, testdata / "images" / "progressive.jpg",
        media_id="flushed-photo", filename="photo.jpg",
    )  # fmt: skip
    deferred = await row(db, "plain-flaky")

    await redis.flushdb()
    requeued = await requeue_lost(db, redis, idle_for_s=0)
    await run_burst(settings, **with_test_jobs(settings))

    assert (deferred.status, deferred.source, deferred.error_code) == (
        "deferred",
        "pickup",
        "NETWORK",
    )
    assert len(requeued) == 3 and "plain-flaky" in requeued
    counts = await jobs_db.counts(db)
    assert counts["synthesize_speech"] == {"succeeded": 1}
    assert counts["flaky"] == {"succeeded": 1}
    assert counts["process_upload"] == {"succeeded": 1}
    media = await media_db.get(db, upload.media.id)
    assert media is not None and media.status == "READY"


async def test_the_crons_reconcile_and_prune_through_a_worker(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await submit(db, redis, "nap", "nap-lost", seconds=0)
    await redis.flushdb()
    await db.execute("UPDATE jobs SET updated_at = now() - interval '2 minutes'")
    await db.execute(
        "INSERT INTO jobs (job_id, function, status, finished_at) "
        "VALUES ('old-done', 'nap', 'succeeded', now() - interval '2 days')"
    )
    lean = settings.model_copy(update={"retention": RetentionConfig(RETENTION_COMPLETED_COUNT=0)})
    async with running_worker(lean, **with_test_jobs(lean)) as worker:
        ctx = worker.ctx["mw"]
        reconciled = await reconcile_jobs(ctx, ReconcilePayload())
        pruned = await prune_history(ctx, ReconcilePayload())
        await wait_until(lambda: _is(db, "nap-lost", "succeeded"))

    assert reconciled.requeued == ["nap-lost"]
    assert pruned.succeeded == 1 and await jobs_db.get(db, "old-done") is None
    names = {job.name for job in worker_options(settings)["cron_jobs"]}
    assert {"reconcile_jobs", "prune_history"} <= names


async def test_a_client_helper_given_the_database_writes_the_ledger_first(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    job = await client.enqueue_speech(redis, "in the ledger before Redis", db=db)
    again = await client.enqueue_speech(redis, "in the ledger before Redis", db=db)
    await redis.flushdb()

    requeued = await requeue_lost(db, redis, idle_for_s=0)
    await run_burst(settings)

    assert again.job_id == job.job_id and requeued == [job.job_id]
    assert (await row(db, job.job_id)).status == "succeeded"
