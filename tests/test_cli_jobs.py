"""`mediaworker enqueue | failed | retry | cancel`, as scripts use them (--json)."""

from __future__ import annotations

import json
from typing import Any

from arq.connections import ArqRedis

from conftest import mediaworker_cli, run_burst
from mediaworker.config import Settings
from mediaworker.db import jobs as jobs_db
from mediaworker.db.pool import Pool


async def json_of(settings: Settings, *args: str) -> Any:
    code, out = await mediaworker_cli(settings, *args)
    assert code in (0, 1), out
    return json.loads(out)


async def test_enqueue_takes_the_payload_as_json_and_answers_in_json(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    first = await json_of(
        settings, "enqueue", "generate_thumbnails", "--json", '{"media_id": "cli-1"}'
    )
    again = await json_of(
        settings, "enqueue", "generate_thumbnails", "--json", '{"media_id": "cli-1"}'
    )
    code, text = await mediaworker_cli(
        settings, "enqueue", "synthesize_speech", "--json", '{"text": "hi"}', "--priority", "2"
    )

    assert (first["job_id"], first["state"], first["created"]) == (
        "thumbnails-cli-1",
        "queued",
        True,
    )
    assert again["created"] is False
    assert code == 0 and json.loads(text)["priority"] == 2


async def test_enqueue_refuses_bad_input_and_enqueues_nothing(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    for args in (
        ("generate_thumbnails", "--json", "{not json"),
        ("generate_thumbnails", "--json", "[1, 2]"),
        ("generate_thumbnails", "--json", '{"media_id": "../x"}'),
        ("no_such_job", "--json", "{}"),
        ("reconcile_media", "--json", "{}"),
    ):
        code, out = await mediaworker_cli(settings, "enqueue", *args)
        assert code == 1, (args, out)
        assert json.loads(out)["error"], out
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0


async def test_failed_retry_and_cancel(db: Pool, redis: ArqRedis, settings: Settings) -> None:
    for media_id in ("cli-gone-1", "cli-gone-2"):
        await mediaworker_cli(
            settings, "enqueue", "generate_thumbnails", "--json", json.dumps({"media_id": media_id})
        )
    await run_burst(settings)

    failed = await json_of(settings, "failed", "--json")
    code, table = await mediaworker_cli(settings, "failed")
    retried = await json_of(settings, "retry", "thumbnails-cli-gone-1", "--json")
    not_failed = await json_of(settings, "retry", "thumbnails-cli-gone-1", "--json")
    cancelled = await json_of(settings, "cancel", "thumbnails-cli-gone-1", "--json")
    everything = await json_of(settings, "retry", "--all-failed", "--json")

    assert [j["job_id"] for j in failed] == ["thumbnails-cli-gone-2", "thumbnails-cli-gone-1"]
    assert failed[0]["error_code"] == "NOT_FOUND" and failed[0]["attempts"] == 1
    assert retried == {"retried": ["thumbnails-cli-gone-1"], "skipped": []}
    assert "is queued, not failed" in not_failed["error"]
    assert cancelled["state"] == "cancelled"
    assert everything == {"retried": ["thumbnails-cli-gone-2"], "skipped": []}
    assert code == 0 and "thumbnails-cli-gone-2" in table and "NOT_FOUND" in table
    job = await jobs_db.get(db, "thumbnails-cli-gone-2")
    assert job is not None and job.status == "queued"
