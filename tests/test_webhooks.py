"""Completion webhooks: signed per Standard Webhooks, delivered from the outbox by a real worker,
retried on 5xx with the same webhook id, and never sent to a private address unless allowed."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pyvips
from arq.connections import ArqRedis
from prometheus_client import REGISTRY

from conftest import make_settings, run_burst, running_worker, wait_until
from mediaworker import client, registry
from mediaworker.config import Settings, WebhookConfig
from mediaworker.db import job_runs
from mediaworker.db import webhooks as outbox
from mediaworker.db.pool import Pool
from mediaworker.errors import ErrorCode, MappedError, map_error
from mediaworker.events import delivery
from mediaworker.events.webhooks import (
    JobEnd,
    body_of,
    event_of,
    job_ended,
    requeue_stale,
    signed_headers,
    webhook_id,
)
from mediaworker.ingest import ingest_file
from mediaworker.queue.reconcile import requeue_lost
from mediaworker.storage.base import Storage
from webhook_receiver import Receiver, hook_config


def hook_settings(tmp_path: Path, **env: object) -> Settings:
    settings = make_settings(tmp_path / "storage")
    return settings.model_copy(update={"webhooks": hook_config(**env)})


def an_end(job_id: str = "thumbnails-m1", error: MappedError | None = None) -> JobEnd:
    now = dt.datetime.now(dt.UTC)
    return JobEnd(
        job_id=job_id,
        function="generate_thumbnails",
        enqueued_at=now - dt.timedelta(seconds=3),
        attempts=1,
        finished_at=now,
        result=None if error else {"media_id": "m1", "width": 640},
        error=error,
    )


async def wait_for_status(db: Pool, msg_id: str, status: str) -> outbox.OutboxRow:
    async def reached() -> bool:
        row = await outbox.get(db, msg_id)
        return row is not None and row.status == status

    await wait_until(reached, timeout_s=30)
    row = await outbox.get(db, msg_id)
    assert row is not None
    return row


def deliveries(outcome: str) -> float:
    found = REGISTRY.get_sample_value("mediaworker_webhook_deliveries_total", {"outcome": outcome})
    return found or 0.0


async def received(hook: Receiver) -> bool:
    return bool(hook.received)


async def delivered(db: Pool, job_id: str) -> bool:
    return any(row.status == "DELIVERED" for row in await outbox.list_for_job(db, job_id))


@pytest.fixture
async def hooks_db(db: Pool) -> AsyncIterator[Pool]:
    await db.execute("TRUNCATE webhook_outbox")
    yield db


async def test_a_signed_event_verifies_with_standardwebhooks_at_a_real_receiver() -> None:
    config = hook_config()
    event = {"type": "job.succeeded", "data": {"job_id": "x", "text": "naïve café"}}
    body = body_of(event)
    async with Receiver([200]) as hook:
        answer = await delivery.post(
            hook.url, body, signed_headers(config.secret, "msg_1", body), config
        )
    assert answer.status == 200
    [got] = hook.received
    assert got.error is None and got.event == event
    assert got.headers["webhook-id"] == "msg_1"


async def test_a_receiver_with_another_secret_rejects_the_signature() -> None:
    config = hook_config()
    body = body_of({"type": "job.failed"})
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    async with Receiver([200], secret=other) as hook:
        await delivery.post(hook.url, body, signed_headers(config.secret, "msg_2", body), config)
    assert hook.received[0].event is None
    assert "No matching signature" in (hook.received[0].error or "")


async def test_500_then_200_is_delivered_once_with_the_same_webhook_id(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path)
    counted = {o: deliveries(o) for o in ("delivered", "PROVIDER_DOWN")}
    async with Receiver([500, 200]) as hook:
        msg_id = await job_ended(hooks_db, redis, settings.webhooks, an_end(), hook.url)
        async with running_worker(settings):
            row = await wait_for_status(hooks_db, msg_id, "DELIVERED")
    assert [r.answered for r in hook.received] == [500, 200]
    assert {r.headers["webhook-id"] for r in hook.received} == {msg_id}
    assert all(r.error is None for r in hook.received), "every try is signed"
    event = hook.received[-1].event
    assert event["type"] == "job.succeeded"
    assert event["data"]["job_id"] == "thumbnails-m1"
    assert event["data"]["result"] == {"media_id": "m1", "width": 640}
    assert row.attempts == 2 and row.last_status_code == 200
    assert {o: deliveries(o) - n for o, n in counted.items()} == {
        "delivered": 1,
        "PROVIDER_DOWN": 1,
    }


async def test_the_same_job_end_written_twice_is_one_event(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path)
    end = an_end(error=map_error(ValueError("boom")))
    first = await job_ended(hooks_db, redis, settings.webhooks, end, "http://127.0.0.1:9/hook")
    second = await job_ended(hooks_db, redis, settings.webhooks, end, "http://127.0.0.1:9/hook")
    assert first == second == webhook_id(end.job_id, end.enqueued_at)
    rows = await outbox.list_for_job(hooks_db, end.job_id)
    assert len(rows) == 1
    assert rows[0].payload["type"] == "job.failed"
    assert rows[0].payload["data"]["error"]["code"] == ErrorCode.UNKNOWN.value


async def test_a_4xx_answer_fails_the_delivery_at_once(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path)
    async with Receiver([410]) as hook:
        msg_id = await job_ended(hooks_db, redis, settings.webhooks, an_end(), hook.url)
        async with running_worker(settings):
            row = await wait_for_status(hooks_db, msg_id, "FAILED")
    assert len(hook.received) == 1
    assert row.last_status_code == 410
    assert (row.last_error or "").startswith("BAD_INPUT")


async def test_a_target_that_never_answers_times_out_without_holding_the_job(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    config = hook_config(WEBHOOK_TIMEOUT_S=0.5)
    body = body_of({"type": "job.succeeded"})
    async with Receiver([0], stall_s=5) as hook:
        with pytest.raises(Exception) as caught:
            await delivery.post(
                hook.url, body, signed_headers(config.secret, "msg_3", body), config
            )
    error = map_error(caught.value)
    assert error.code is ErrorCode.TIMEOUT and error.retryable


async def test_no_secret_no_webhook() -> None:
    with pytest.raises(Exception) as caught:
        signed_headers(None, "msg_4", "{}")
    assert map_error(caught.value).code is ErrorCode.NOT_CONFIGURED


def test_a_malformed_secret_is_refused_at_startup_without_echoing_it() -> None:
    with pytest.raises(ValueError) as caught:
        WebhookConfig(WEBHOOK_SECRET="not-a-whsec-secret-value")  # noqa: S106
    assert "not-a-whsec" not in str(caught.value)


async def test_a_refused_target_fails_the_delivery_job_without_retries(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path, WEBHOOK_ALLOW_PRIVATE=False)
    async with Receiver([200]) as hook:
        msg_id = await job_ended(hooks_db, redis, settings.webhooks, an_end(), hook.url)
        async with running_worker(settings):
            row = await wait_for_status(hooks_db, msg_id, "FAILED")
    assert hook.received == []
    assert row.attempts == 1


async def test_an_event_whose_delivery_job_vanished_is_delivered_after_the_requeue(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path)
    async with Receiver([200]) as hook:
        msg_id = await job_ended(hooks_db, redis, settings.webhooks, an_end(), hook.url)
        await redis.flushdb()  # the delivery job is gone; the outbox row is not
        assert await requeue_stale(hooks_db, redis, idle_s=60) == [], "not idle long enough"
        await hooks_db.execute(
            "UPDATE webhook_outbox SET created_at = now() - interval '10 minutes'"
        )
        assert await requeue_stale(hooks_db, redis, idle_s=60) == [msg_id]
        await run_burst(settings)
    assert [r.headers["webhook-id"] for r in hook.verified] == [msg_id]
    assert (await wait_for_status(hooks_db, msg_id, "DELIVERED")).attempts == 1


# --- from a job's end ----------------------------------------------------------------------


async def test_a_job_enqueued_with_a_webhook_url_posts_its_failure_once_signed(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path)
    async with Receiver([200]) as hook:
        job = await registry.enqueue(
            redis, "generate_thumbnails", {"media_id": "missing"}, webhook_url=hook.url
        )
        async with running_worker(settings):  # the job fails (NOT_FOUND), then it is delivered
            await wait_until(lambda: delivered(hooks_db, job.job_id), timeout_s=30)
    [got] = hook.verified
    assert got.event["type"] == "job.failed"
    assert got.event["data"]["job_id"] == job.job_id
    assert got.event["data"]["error"]["code"] == "NOT_FOUND"
    assert got.event["data"]["attempts"] == 1
    [row] = await outbox.list_for_job(hooks_db, job.job_id)
    assert row.status == "DELIVERED" and row.webhook_id == got.headers["webhook-id"]


async def test_a_function_default_target_gets_the_success_with_its_result(
    hooks_db: Pool, redis: ArqRedis, storage: Storage, tmp_path: Path
) -> None:
    image = tmp_path / "a.jpg"
    pyvips.Image.black(64, 48).jpegsave(str(image))
    async with Receiver([200]) as hook:
        settings = hook_settings(tmp_path, WEBHOOK_URLS=f"generate_thumbnails={hook.url}")
        # the same storage folder as the `storage` fixture's
        media = (await ingest_file(hooks_db, storage, redis, image)).media
        async with running_worker(settings):
            await wait_until(lambda: received(hook), timeout_s=30)
            await asyncio.sleep(1.0)  # and nothing else comes while the worker goes on
    [got] = hook.verified  # thumbnails only: process_upload has no target
    assert got.event["type"] == "job.succeeded"
    assert got.event["data"]["function"] == "generate_thumbnails"
    assert got.event["data"]["result"]["media_id"] == media.id
    assert {d["type"] for d in got.event["data"]["result"]["derivatives"]} >= {"THUMBNAIL"}


async def test_a_target_that_never_answers_holds_no_worker_slot_for_long(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path, WEBHOOK_TIMEOUT_S=1)
    one_slot = settings.queue.model_copy(update={"concurrency": 1})
    settings = settings.model_copy(update={"queue": one_slot})
    async with Receiver([0], stall_s=20) as hook:
        msg_id = await job_ended(hooks_db, redis, settings.webhooks, an_end(), hook.url)
        other = await client.enqueue_thumbnails(redis, "not-there")  # runs after the delivery
        async with running_worker(settings):

            async def other_ran() -> bool:
                runs = await job_runs.list_for_job(hooks_db, other.job_id)
                return any(r["status"] == "FAILED" for r in runs)

            await wait_until(other_ran, timeout_s=10)  # well before the 20 s stall
        row = await outbox.get(hooks_db, msg_id)
    assert row is not None and row.status == "PENDING", "to be tried again"
    assert (row.last_error or "").startswith("TIMEOUT")


async def test_a_plain_arq_producer_may_pass_the_option_and_a_hostile_value_is_ignored(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path)
    await redis.enqueue_job(
        "generate_thumbnails", media_id="gone", webhook_url=["not", "a", "url"], _job_id="t-gone"
    )
    await run_burst(settings)
    [run] = await job_runs.list_for_job(hooks_db, "t-gone")
    assert run["error_code"] == "NOT_FOUND", "the option is not taken for a payload field"
    assert await outbox.list_for_job(hooks_db, "t-gone") == []


def test_a_result_too_large_for_the_body_limit_is_left_out_of_the_event() -> None:
    end = JobEnd(
        job_id="transcribe-m1",
        function="transcribe_audio",
        enqueued_at=dt.datetime.now(dt.UTC),
        attempts=1,
        finished_at=dt.datetime.now(dt.UTC),
        result={"text": "word " * 2000},
    )
    small = event_of(end, max_body_bytes=4096)
    assert small["data"]["result"] is None and small["data"]["result_omitted"] is True
    assert len(body_of(small).encode()) < 4096
    assert event_of(end, max_body_bytes=65536)["data"]["result"] == end.result


async def test_a_ledger_job_keeps_its_webhook_url_through_a_redis_flush(
    hooks_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    settings = hook_settings(tmp_path)
    async with Receiver([200]) as hook:
        job = await registry.enqueue(
            redis, "generate_thumbnails", {"media_id": "lost"}, db=hooks_db, webhook_url=hook.url
        )
        await redis.flushdb()  # the job is gone from Redis; its ledger row holds the target
        assert await requeue_lost(hooks_db, redis, idle_for_s=0) == [job.job_id]
        async with running_worker(settings):
            await wait_until(lambda: delivered(hooks_db, job.job_id), timeout_s=30)
    [got] = hook.verified
    assert got.event["data"]["job_id"] == job.job_id
    assert got.event["data"]["error"]["code"] == "NOT_FOUND"
