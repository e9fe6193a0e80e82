"""Enqueue and poll over HTTP, the failed-job list, retry and cancel, stats; and the bad
requests that get a clear 4xx with nothing enqueued."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis

from conftest import ADMIN_TOKEN, run_burst, running_worker, wait_until
from mediaworker.config import Settings
from mediaworker.db.pool import Pool
from mediaworker.queue import keys

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def queued_in_redis(redis: ArqRedis) -> int:
    return int(await redis.zcard(keys.QUEUE_NAME))


async def test_a_job_is_enqueued_once_by_its_id(
    http_api: httpx.AsyncClient, db: Pool, redis: ArqRedis
) -> None:
    first = await http_api.post("/v1/jobs/generate_thumbnails", json={"media_id": "m1"})
    again = await http_api.post("/v1/jobs/generate_thumbnails", json={"media_id": "m1"})

    assert first.status_code == 202, first.text
    assert again.status_code == 200
    job = first.json()
    assert (job["job_id"], job["state"], job["attempts"]) == ("thumbnails-m1", "queued", 0)
    assert job["payload"] == {"media_id": "m1", "force": False}
    assert again.json()["created_at"] == job["created_at"]
    assert await db.fetchval("SELECT count(*) FROM jobs") == 1
    assert await queued_in_redis(redis) == 1


async def test_the_options_beside_the_payload(http_api: httpx.AsyncClient, db: Pool) -> None:
    answer = await http_api.post(
        "/v1/jobs/synthesize_speech",
        json={
            "text": "later",
            "job_id": "my-own-id",
            "priority": 3,
            "defer_s": 60,
            "webhook_url": "https://hooks.example.com/done",
        },
    )

    job = answer.json()
    assert answer.status_code == 202, answer.text
    assert (job["job_id"], job["priority"], job["state"]) == ("my-own-id", 3, "deferred")
    assert job["webhook_url"] == "https://hooks.example.com/done"
    assert "job_id" not in job["payload"] and job["payload"]["text"] == "later"
    assert job["run_at"] is not None


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/jobs/generate_thumbnails", {"media_id": "../../etc/passwd"}, 422),
        ("/v1/jobs/generate_thumbnails", {"media_id": "m1", "colour": "red"}, 422),
        ("/v1/jobs/generate_thumbnails", {}, 422),
        ("/v1/jobs/generate_thumbnails", ["media_id", "m1"], 422),
        ("/v1/jobs/generate_thumbnails", {"media_id": "m1", "priority": 101}, 422),
        ("/v1/jobs/generate_thumbnails", {"media_id": "m1", "webhook_url": "ftp://x"}, 422),
        ("/v1/jobs/generate_thumbnails", {"media_id": "m1", "job_id": "a/b"}, 422),
        ("/v1/jobs/synthesize_speech", {"text": ""}, 422),
        ("/v1/jobs/no_such_job", {"media_id": "m1"}, 404),
        ("/v1/jobs/reconcile_media", {}, 404),  # a cron job: not enqueued from outside
    ],
)
async def test_a_bad_enqueue_gets_a_clear_4xx_and_enqueues_nothing(
    http_api: httpx.AsyncClient, db: Pool, redis: ArqRedis, path: str, body: Any, status: int
) -> None:
    answer = await http_api.post(path, json=body)

    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] in ("BAD_INPUT", "NOT_FOUND") and error["message"]
    if status == 422:
        assert error["fields"] and all(f["loc"] for f in error["fields"])
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
    assert await queued_in_redis(redis) == 0


async def test_a_body_that_is_not_json_is_refused(
    http_api: httpx.AsyncClient, db: Pool, redis: ArqRedis
) -> None:
    for content, content_type in (
        (b'{"media_id": "m1"', "application/json"),
        (b"media_id=m1", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00", "application/json"),
    ):
        answer = await http_api.post(
            "/v1/jobs/generate_thumbnails", content=content, headers={"Content-Type": content_type}
        )
        assert answer.status_code in (400, 422), (content, answer.text)
        assert answer.json()["error"]["code"] == "BAD_INPUT"
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
    assert await queued_in_redis(redis) == 0


async def test_a_job_is_polled_to_its_result(
    http_api: httpx.AsyncClient, settings: Settings
) -> None:
    job_id = (await http_api.post("/v1/jobs/synthesize_speech", json={"text": "hello"})).json()[
        "job_id"
    ]

    await run_burst(settings)

    job = (await http_api.get(f"/v1/jobs/{job_id}")).json()
    assert (job["state"], job["attempts"], job["error"]) == ("succeeded", 1, None)
    assert job["result"]["url"] and job["result"]["content_type"] == "audio/mpeg"
    assert job["started_at"] and job["finished_at"]


async def test_failed_jobs_are_listed_retried_and_cancelled_by_an_admin(
    http_api: httpx.AsyncClient, settings: Settings
) -> None:
    for media_id in ("gone-1", "gone-2"):  # no such media rows: NOT_FOUND, not retried
        await http_api.post("/v1/jobs/generate_thumbnails", json={"media_id": media_id})
    await run_burst(settings)

    failed = (await http_api.get("/v1/jobs", params={"state": "failed"})).json()
    retried = await http_api.post("/v1/jobs/thumbnails-gone-1/retry", headers=ADMIN)
    not_failed = await http_api.post("/v1/jobs/thumbnails-gone-1/retry", headers=ADMIN)
    cancelled = await http_api.delete("/v1/jobs/thumbnails-gone-1", headers=ADMIN)
    cancelled_again = await http_api.delete("/v1/jobs/thumbnails-gone-1", headers=ADMIN)
    unknown = await http_api.post("/v1/jobs/no-such-job/retry", headers=ADMIN)
    all_failed = await http_api.post("/v1/jobs/retry-failed", headers=ADMIN)

    assert [j["job_id"] for j in failed["jobs"]] == ["thumbnails-gone-2", "thumbnails-gone-1"]
    assert failed["jobs"][0]["error"]["code"] == "NOT_FOUND"
    assert retried.status_code == 200 and retried.json()["state"] == "queued"
    assert not_failed.status_code == 409
    assert "is queued, not failed" in not_failed.json()["error"]["message"]
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled_again.status_code == 409 and unknown.status_code == 404
    assert all_failed.json() == {"retried": ["thumbnails-gone-2"], "skipped": []}


async def test_stats_per_function_in_the_original_shape(
    http_api: httpx.AsyncClient, settings: Settings
) -> None:
    await http_api.post("/v1/jobs/generate_thumbnails", json={"media_id": "gone"})
    await run_burst(settings)
    await http_api.post("/v1/jobs/synthesize_speech", json={"text": "soon", "defer_s": 600})
    await http_api.post("/v1/jobs/synthesize_speech", json={"text": "now"})

    stats = (await http_api.get("/v1/stats")).json()

    assert stats["functions"]["generate_thumbnails"] == {
        "waiting": 0, "active": 0, "delayed": 0, "completed": 0, "failed": 1,
        "cancelled": 0, "total": 1,
    }  # fmt: skip
    speech = stats["functions"]["synthesize_speech"]
    assert (speech["waiting"], speech["delayed"], speech["total"]) == (1, 1, 2)
    assert stats["totals"]["total"] == 3
    assert stats["workers_alive"] == 0  # the burst worker has stopped


async def test_stats_count_the_workers_alive(
    http_api: httpx.AsyncClient, settings: Settings
) -> None:
    async def alive() -> int:
        return int((await http_api.get("/v1/stats")).json()["workers_alive"])

    async with running_worker(settings):
        await wait_until(lambda: _equals(alive(), 1))
    assert await alive() == 0  # a worker that stops takes its heartbeat with it


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)
