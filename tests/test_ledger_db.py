"""The ledger's queries (db/jobs.py) and retention (queue/retention.py), on real Postgres."""

from __future__ import annotations

import datetime as dt

import pytest

from mediaworker.config import RetentionConfig
from mediaworker.db import job_runs
from mediaworker.db import jobs as jobs_db
from mediaworker.db.jobs import JobEvent, JobStatus
from mediaworker.db.pool import Pool
from mediaworker.queue.retention import apply_retention


def event(job_id: str, status: JobStatus, *, at: dt.datetime, attempts: int = 1) -> JobEvent:
    return JobEvent(
        job_id=job_id,
        function="generate_thumbnails",
        payload={"media_id": job_id},
        priority=5,
        status=status,
        attempts=attempts,
        at=at,
        started_at=at if status is JobStatus.RUNNING else None,
    )


async def add(db: Pool, job_id: str, function: str = "generate_thumbnails", **kw: object) -> None:
    await jobs_db.insert(
        db, job_id=job_id, function=function, payload={"media_id": job_id}, priority=5, **kw
    )


async def finish(db: Pool, job_id: str, status: JobStatus, *, age_s: float) -> None:
    await db.execute(
        "UPDATE jobs SET status = $2, finished_at = now() - make_interval(secs => $3) "
        "WHERE job_id = $1",
        job_id,
        status.value,
        age_s,
    )


async def test_the_same_job_id_is_one_row_with_its_first_payload(db: Pool) -> None:
    _, created = await jobs_db.insert(
        db, job_id="j1", function="f", payload={"a": 1}, priority=3, webhook_url="https://x.test/h"
    )
    again, created_again = await jobs_db.insert(
        db, job_id="j1", function="f", payload={"a": 2}, priority=9
    )

    assert created and not created_again
    assert again.payload == {"a": 1} and again.priority == 3
    assert again.webhook_url == "https://x.test/h" and again.status == "queued"
    assert again.run_at is None
    assert await db.fetchval("SELECT count(*) FROM jobs") == 1


async def test_a_deferred_enqueue_is_deferred_until_its_time(db: Pool) -> None:
    job, _ = await jobs_db.insert(
        db, job_id="later", function="f", payload={}, priority=10, defer_s=60
    )
    assert job.status == "deferred" and job.run_at is not None
    assert job.run_at > job.created_at + dt.timedelta(seconds=59)


async def test_a_job_first_seen_at_pickup_gets_its_row(db: Pool) -> None:
    now = dt.datetime.now(dt.UTC)
    await jobs_db.record(db, [event("plain", JobStatus.RUNNING, at=now)])

    job = await jobs_db.get(db, "plain")
    assert job is not None
    assert (job.status, job.source, job.attempts) == ("running", "pickup", 1)
    assert job.started_at == now and job.payload == {"media_id": "plain"}


async def test_an_older_event_never_overwrites_a_newer_one(db: Pool) -> None:
    now = dt.datetime.now(dt.UTC)
    await add(db, "j")
    done = JobEvent(**{**event("j", JobStatus.SUCCEEDED, at=now).__dict__, "result": {"ok": 1}})
    await jobs_db.record(db, [done])
    await jobs_db.record(db, [event("j", JobStatus.RUNNING, at=now - dt.timedelta(seconds=1))])

    job = await jobs_db.get(db, "j")
    assert job is not None and job.status == "succeeded" and job.result == {"ok": 1}
    assert job.finished_at == now


async def test_a_workers_first_write_wins_whatever_its_clock_says(db: Pool) -> None:
    await add(db, "skewed")  # stamped with the database's clock
    an_hour_behind = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await jobs_db.record(db, [event("skewed", JobStatus.RUNNING, at=an_hour_behind)])

    job = await jobs_db.get(db, "skewed")
    assert job is not None and job.status == "running"


async def test_one_batch_keeps_the_newest_event_of_each_job(db: Pool) -> None:
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(milliseconds=5)
    await jobs_db.record(
        db,
        [
            event("j", JobStatus.DEFERRED, at=later, attempts=1),
            event("j", JobStatus.RUNNING, at=now),
        ],
    )
    job = await jobs_db.get(db, "j")
    assert job is not None and job.status == "deferred"


async def test_a_cancelled_job_stays_cancelled_whatever_the_worker_reports(db: Pool) -> None:
    await add(db, "c")
    cancelled = await jobs_db.cancel(db, "c")
    await jobs_db.record(
        db, [event("c", JobStatus.RUNNING, at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))]
    )

    assert cancelled is not None and cancelled.status == "cancelled"
    job = await jobs_db.get(db, "c")
    assert job is not None and job.status == "cancelled"
    assert await jobs_db.cancel(db, "c") is None  # not active any more
    assert await jobs_db.cancel(db, "unknown") is None


async def test_requeue_takes_only_a_job_in_the_given_states(db: Pool) -> None:
    await add(db, "f")
    assert await jobs_db.requeue(db, "f", only_from=[JobStatus.FAILED]) is None
    await jobs_db.record(
        db,
        [
            JobEvent(
                **{
                    **event("f", JobStatus.FAILED, at=dt.datetime.now(dt.UTC), attempts=4).__dict__,
                    "error_code": "BAD_INPUT",
                    "error_message": "corrupt",
                }
            )
        ],
    )
    again = await jobs_db.requeue(db, "f", only_from=[JobStatus.FAILED])

    assert again is not None
    assert (again.status, again.attempts, again.error_code, again.finished_at) == (
        "queued",
        0,
        None,
        None,
    )
    assert again.payload == {"media_id": "f"}


async def test_list_filters_searches_and_pages_newest_first(db: Pool) -> None:
    for i in range(5):
        await add(db, f"thumbs-{i}")
    await add(db, "speech-1", function="synthesize_speech")
    await finish(db, "thumbs-1", JobStatus.FAILED, age_s=0)

    failed = await jobs_db.list_jobs(db, status="failed")
    by_function = await jobs_db.list_jobs(db, function="synthesize_speech")
    by_value = await jobs_db.list_jobs(db, search="thumbs-3")
    by_prefix = await jobs_db.list_jobs(db, search="thumbs-")
    first = await jobs_db.list_jobs(db, function="generate_thumbnails", limit=2)
    assert first.next_cursor is not None
    rest = await jobs_db.list_jobs(
        db, function="generate_thumbnails", limit=10, after=first.next_cursor
    )

    assert [j.job_id for j in failed.jobs] == ["thumbs-1"]
    assert [j.job_id for j in by_function.jobs] == ["speech-1"]
    assert [j.job_id for j in by_value.jobs] == ["thumbs-3"]
    assert len(by_prefix.jobs) == 5
    pages = [j.job_id for j in first.jobs + rest.jobs]
    assert pages == [f"thumbs-{i}" for i in (4, 3, 2, 1, 0)] and rest.next_cursor is None
    with pytest.raises(ValueError, match="cursor"):
        await jobs_db.list_jobs(db, after="not-a-cursor")


async def test_search_treats_like_wildcards_as_text(db: Pool) -> None:
    await add(db, "a_b")
    await add(db, "axb")
    found = await jobs_db.list_jobs(db, search="a_")
    assert [j.job_id for j in found.jobs] == ["a_b"]


async def test_counts_per_function_and_state(db: Pool) -> None:
    await add(db, "a")
    await add(db, "b")
    await finish(db, "b", JobStatus.SUCCEEDED, age_s=0)
    await add(db, "s", function="synthesize_speech")
    assert await jobs_db.counts(db) == {
        "generate_thumbnails": {"queued": 1, "succeeded": 1},
        "synthesize_speech": {"queued": 1},
    }


async def test_lost_candidates_are_active_idle_and_due(db: Pool) -> None:
    await add(db, "idle")
    await add(db, "fresh")
    await add(db, "done")
    await add(db, "not-due", defer_s=3600)
    await finish(db, "done", JobStatus.SUCCEEDED, age_s=0)
    await db.execute("UPDATE jobs SET updated_at = now() - interval '2 minutes'")
    await jobs_db.touch(db, ["fresh"])

    found = await jobs_db.list_lost_candidates(db, idle_for_s=60)
    assert [j.job_id for j in found] == ["idle"]


async def test_retention_keeps_the_newest_per_function_and_every_active_job(db: Pool) -> None:
    for i in range(6):
        await add(db, f"ok-{i}")
        await finish(db, f"ok-{i}", JobStatus.SUCCEEDED, age_s=2 * 86400 + i)
    await add(db, "recent")
    await finish(db, "recent", JobStatus.SUCCEEDED, age_s=10)
    for i in range(4):
        await add(db, f"bad-{i}")
        await finish(db, f"bad-{i}", JobStatus.FAILED, age_s=8 * 86400 + i)
    await add(db, "other", function="synthesize_speech")
    await finish(db, "other", JobStatus.SUCCEEDED, age_s=2 * 86400)
    await add(db, "waiting")
    await db.execute("UPDATE jobs SET created_at = now() - interval '30 days'")
    config = RetentionConfig(RETENTION_COMPLETED_COUNT=2, RETENTION_FAILED_COUNT=1)

    pruned = await apply_retention(db, config)

    left = {r["job_id"] for r in await db.fetch("SELECT job_id FROM jobs")}
    # the newest 2 succeeded of the function are "recent" and ok-0; the rest are over a day old
    assert left == {"recent", "ok-0", "bad-0", "other", "waiting"}
    assert (pruned.succeeded, pruned.failed) == (5, 3)


async def test_retention_removes_old_history_except_an_active_jobs(db: Pool) -> None:
    await db.execute("TRUNCATE ai_metrics")
    await add(db, "active")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    for job_id in ("active", "gone"):
        await db.execute(
            "INSERT INTO job_runs (job_id, function, status, attempt, enqueued_at, started_at) "
            "VALUES ($1, 'f', 'FAILED', 1, $2, $2)",
            job_id,
            old,
        )
    await db.execute(
        "INSERT INTO ai_metrics (provider, model, operation, latency_ms, success, created_at) "
        "VALUES ('local', 'm', 'op', 1, true, $1), ('local', 'm', 'op', 1, true, now())",
        old,
    )

    pruned = await apply_retention(db, RetentionConfig())

    assert [r["job_id"] for r in await job_runs.list_for_job(db, "active")] == ["active"]
    assert await job_runs.list_for_job(db, "gone") == []
    assert (pruned.job_runs, pruned.ai_metrics) == (1, 1)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM ai_metrics WHERE created_at > now() - interval '1 day'"
        )
        == 1
    )
