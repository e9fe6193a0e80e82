"""What job_runs keeps of a job that comes back many times: its arguments once, not once per
pickup. Real worker, Redis, Postgres, the OpenAI stand-in and the shared rate limiter."""

from __future__ import annotations

from pathlib import Path

from arq.connections import ArqRedis

from ai_stand_ins import AiStandIn, ai_settings
from conftest import make_settings, run_burst
from mediaworker import client
from mediaworker.db import job_runs
from mediaworker.db.pool import Pool


async def test_a_deferred_job_stores_its_arguments_once(
    db: Pool, redis: ArqRedis, tmp_path: Path, api: AiStandIn
) -> None:
    base = make_settings(tmp_path / "storage", QUEUE_MAX_RETRIES=0)
    settings = ai_settings(base, api, RATE_LIMIT_IMAGE_GENERATION="1/1")
    prompt = "a long prompt that should be stored only once " * 40
    jobs = [await client.enqueue_generate_image(redis, prompt, size=f"{w}x64") for w in (64, 65)]

    await run_burst(settings)

    deferred = max([await job_runs.list_for_job(db, job.job_id) for job in jobs], key=len)
    assert [r["status"] for r in deferred][:1] == ["DEFERRED"] and len(deferred) >= 2
    assert deferred[0]["arguments"]["prompt"] == prompt
    assert [r["arguments"] for r in deferred[1:]] == [{}] * (len(deferred) - 1)
