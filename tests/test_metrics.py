"""The Prometheus counters a real worker keeps: AI calls, tokens and cost by provider and model,
retries and failures by error code, rate-limit deferrals, webhook deliveries."""

from __future__ import annotations

from pathlib import Path

from arq.connections import ArqRedis
from prometheus_client import REGISTRY

from ai_stand_ins import AiStandIn, ai_settings
from conftest import make_settings, run_burst, running_worker, wait_until
from mediaworker import client
from mediaworker.db.pool import Pool


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def ai_counts() -> dict[str, float]:
    """The counters of OpenAI image generation, and generate_image's PROVIDER_DOWN retries."""
    model = {"provider": "openai", "model": "gpt-image-2.5-flare"}
    calls = {**model, "operation": "image_generation"}
    return {
        "ok": value("mediaworker_ai_calls_total", **calls, outcome="ok"),
        "down": value("mediaworker_ai_calls_total", **calls, outcome="PROVIDER_DOWN"),
        "output": value("mediaworker_ai_tokens_total", **model, direction="output"),
        "cost": value("mediaworker_ai_cost_usd_total", **model),
        "retries": value(
            "mediaworker_job_retries_total", function="generate_image", code="PROVIDER_DOWN"
        ),
    }


async def test_ai_calls_tokens_cost_and_retries_by_code_are_counted(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    before = ai_counts()
    async with AiStandIn() as api:
        api.fail_nth("images.generate", 1, "500")
        await client.enqueue_generate_image(redis, "a lighthouse at dusk", size="512x512")
        await run_burst(ai_settings(make_settings(tmp_path / "storage"), api))
    after = ai_counts()
    assert after["ok"] - before["ok"] == 1
    assert after["down"] - before["down"] == 1
    assert after["retries"] - before["retries"] == 1
    assert after["output"] > before["output"], "the stand-in reports output tokens"
    assert after["cost"] > before["cost"]


async def test_a_rate_limited_job_counts_a_deferral_and_a_final_failure_its_code(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    deferrals = value("mediaworker_rate_limit_deferrals_total", function="generate_image")
    failures = value(
        "mediaworker_job_failures_total", function="generate_thumbnails", code="NOT_FOUND"
    )
    async with AiStandIn() as api:
        settings = ai_settings(
            make_settings(tmp_path / "storage"), api, RATE_LIMIT_IMAGE_GENERATION="1/60"
        )
        await client.enqueue_generate_image(redis, "first", size="512x512")
        await client.enqueue_generate_image(redis, "second", size="512x512")
        await client.enqueue_thumbnails(redis, "no-such-media")
        async with running_worker(settings):

            async def counted() -> bool:
                return (
                    value("mediaworker_rate_limit_deferrals_total", function="generate_image")
                    > deferrals
                    and value(
                        "mediaworker_job_failures_total",
                        function="generate_thumbnails",
                        code="NOT_FOUND",
                    )
                    > failures
                )

            await wait_until(counted)
