"""The AI jobs through the real worker: Redis, Postgres, storage, the SDKs against stand-ins or
the offline providers; rows, objects, ai_metrics, retries, and no key anywhere."""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
import pyvips
from arq.connections import ArqRedis

from ai_stand_ins import KEYS, TRANSCRIPT, AiStandIn, ai_settings
from conftest import TESTDATA, run_burst
from mediaworker import client, registry
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import job_runs, transcriptions, tts_jobs
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.payloads import ClaimTtsPayload
from mediaworker.queue import keys
from mediaworker.queue.enqueue import enqueue_job
from mediaworker.storage.base import Storage
from support import ai_metrics_rows, photo, probe_seconds, result_of, upload

JFK_MP3 = TESTDATA / "audio" / "speech_jfk_16k_mono.mp3"


# --- generate_image --------------------------------------------------------------------------


async def test_generate_image_makes_a_generated_row_and_meters_the_call(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, api: AiStandIn
) -> None:
    job = await client.enqueue_generate_image(redis, "a red fox in the snow", size="512x512")

    await run_burst(ai_settings(settings, api))

    result = await result_of(job)
    row = await media_db.get(ai_db, result["media_id"])
    assert row is not None and (row.kind, row.source, row.status) == ("IMAGE", "GENERATED", "READY")
    assert (row.prompt, row.width, row.height, row.is_enhanced) == (
        "a red fox in the snow",
        512,
        512,
        False,
    )
    image = pyvips.Image.new_from_buffer(await storage.get(row.storage_key), "")
    assert (image.width, image.height) == (512, 512)
    assert result["url"] == storage.url(row.storage_key) and not result["synthetic"]
    assert len(await derivatives_db.list_for(ai_db, row.id)) == 3, "its thumbnails ran"
    [metric] = await ai_metrics_rows(ai_db)
    assert (metric["provider"], metric["model"], metric["operation"]) == (
        "openai",
        "gpt-image-2.5-flare",
        "image_generation",
    )
    assert (metric["success"], metric["retries"], metric["job_id"]) == (True, 0, job.job_id)
    assert (metric["input_tokens"], metric["output_tokens"], metric["images"]) == (50, 4160, 1)
    assert metric["cost_usd"] == Decimal("0.12505")  # 50 x $5/M + 4160 x $30/M
    assert metric["usage"]["reported"]["total_tokens"] == 4210
    assert metric["meta"] == {"size": "512x512", "quality": "auto"}


@pytest.mark.parametrize("ttl_s", [600, 0])
async def test_the_prompt_cache_saves_the_second_call_unless_turned_off(
    ttl_s: int, ai_db: Pool, redis: ArqRedis, settings: Settings, api: AiStandIn
) -> None:
    configured = ai_settings(settings, api, PROMPT_CACHE_TTL_SECONDS=ttl_s)
    first = await client.enqueue_generate_image(redis, "a lighthouse at dusk")
    await run_burst(configured)
    second = await client.enqueue_generate_image(redis, "a lighthouse at dusk")
    await run_burst(configured)

    one, two = await result_of(first), await result_of(second)
    if ttl_s:  # a copy in the second job's own row
        assert two["cached"] and two["media_id"] != one["media_id"]
        assert len(api.calls("images.generate")) == 1 and len(await ai_metrics_rows(ai_db)) == 1
        assert await ai_db.fetchval("SELECT count(*) FROM media") == 2
    else:
        assert not two["cached"] and two["media_id"] != one["media_id"]
        assert len(api.calls("images.generate")) == 2


async def test_generate_image_offline_is_a_labelled_free_placeholder(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings
) -> None:
    job = await client.enqueue_generate_image(redis, "a cat", size="640x480")

    await run_burst(ai_settings(settings, None))

    result = await result_of(job)
    assert (result["provider"], result["model"], result["synthetic"]) == (
        "local",
        "placeholder",
        True,
    )
    [metric] = await ai_metrics_rows(ai_db)
    assert metric["cost_usd"] == 0 and metric["provider"] == "local"


# --- enhance_image and upscale_image ---------------------------------------------------------


async def test_enhance_image_makes_a_linked_enhanced_copy_and_leaves_the_original(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    original = await upload(ai_db, storage, photo(tmp_path / "dull.jpg", 640, 480))
    before = hashlib.sha256(await storage.get(original.storage_key)).hexdigest()
    job = await client.enqueue_enhance_image(redis, original.id)

    await run_burst(ai_settings(settings, None))

    result = await result_of(job)
    copy = await media_db.get(ai_db, f"{original.id}-enhanced")
    assert copy is not None and result["enhanced_media_id"] == copy.id
    assert (copy.is_enhanced, copy.parent_id, copy.source) == (True, original.id, "UPLOAD")
    assert copy.storage_key == f"media/{original.id}/{original.id}-enhanced.jpg"
    assert (copy.status, copy.width, copy.height) == ("READY", 640, 480)
    assert hashlib.sha256(await storage.get(original.storage_key)).hexdigest() == before
    enhanced = pyvips.Image.new_from_buffer(await storage.get(copy.storage_key), "")
    source = pyvips.Image.new_from_file(str(tmp_path / "dull.jpg"))
    assert (enhanced - source).abs().avg() > 3
    [metric] = await ai_metrics_rows(ai_db)
    assert (metric["operation"], metric["model"]) == ("image_edit", "vips-clahe-sharpen")

    await redis.delete(keys.result_key(job.job_id))  # the kept result expired
    again = await client.enqueue_enhance_image(redis, original.id)
    await run_burst(ai_settings(settings, None))
    assert (await result_of(again))["skipped"] is True


async def test_enhance_image_with_openai_goes_through_the_edit_endpoint(
    ai_db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    api: AiStandIn,
    tmp_path: Path,
) -> None:
    original = await upload(ai_db, storage, photo(tmp_path / "p.jpg", 300, 200))
    job = await client.enqueue_enhance_image(redis, original.id)

    await run_burst(ai_settings(settings, api))

    assert (await result_of(job))["provider"] == "openai"
    [call] = api.calls("images.edit")
    assert call.body["image_size"] == "300x200"
    [metric] = await ai_metrics_rows(ai_db)
    assert metric["cost_usd"] > 0 and metric["usage"]["counted"]["priced"] == {
        "input_image_tokens": 323
    }


async def test_upscale_stores_the_derivative_and_refuses_past_the_pixel_limit(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    original = await upload(ai_db, storage, photo(tmp_path / "s.jpg", 300, 200))
    configured = ai_settings(settings, None, UPSCALE_MAX_PIXELS=500_000)
    twice = await client.enqueue_upscale(redis, original.id, scale=2)
    four = await client.enqueue_upscale(redis, original.id, scale=4)

    await run_burst(configured)

    result = await result_of(twice)
    derivative = result["derivative"]
    assert (derivative["type"], derivative["width"], derivative["height"]) == ("UPSCALED", 600, 400)
    assert derivative["storage_key"] == f"media/{original.id}/{original.id}-upscaled.jpg"
    image = pyvips.Image.new_from_buffer(await storage.get(derivative["storage_key"]), "")
    assert (image.width, image.height) == (600, 400)
    state = await client.job_status(redis, four.job_id)
    assert state.error is not None and state.error["code"] == "BAD_INPUT"
    assert "1200x800" in state.error["message"]
    runs = await job_runs.list_for_job(ai_db, four.job_id)
    assert [r["status"] for r in runs] == ["FAILED"], "bad input is not retried"


# --- transcribe_audio ------------------------------------------------------------------------


needs_jfk = pytest.mark.skipif(not JFK_MP3.is_file(), reason="../shared/testdata is not present")


@needs_jfk
async def test_long_audio_is_sent_in_chunks_below_the_upload_limit_and_versioned(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, api: AiStandIn
) -> None:
    media = await upload(ai_db, storage, JFK_MP3, "AUDIO")
    configured = ai_settings(settings, api, TRANSCRIPTION_MAX_UPLOAD_BYTES=30_000)

    first = await client.enqueue_transcription(redis, media.id)
    await run_burst(configured)
    second = await client.enqueue_transcription(redis, media.id, force=True)
    await run_burst(configured)

    result = await result_of(first)
    calls = api.calls("audio.transcribe")
    assert result["chunks"] == 3 and len(calls) == 6
    assert all(
        c.body["file_bytes"] <= 30_000 and c.body["file_name"].endswith(".mp3") for c in calls
    )
    assert result["text"] == " ".join([TRANSCRIPT] * 3) and result["language"] == "en"
    assert result["duration_s"] == pytest.approx(11.0, abs=0.1)
    rows = await transcriptions.list_for(ai_db, media.id)
    assert [(r.version, r.source, r.active) for r in rows] == [
        (1, "AUTO", False),
        (2, "AUTO", True),
    ]
    assert (rows[1].provider, rows[1].model, rows[1].job_id) == (
        "openai",
        "gpt-transcribe",
        second.job_id,
    )
    metrics = await ai_metrics_rows(ai_db)
    assert len(metrics) == 6 and {m["operation"] for m in metrics} == {"transcription"}
    assert metrics[0]["audio_seconds"] == 11.0 and metrics[0]["cost_usd"] == Decimal("0.000825")
    assert [m["meta"]["chunk"] for m in metrics[:3]] == [0, 1, 2]


@needs_jfk
async def test_a_chunk_done_before_a_failure_is_not_paid_for_twice(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, api: AiStandIn
) -> None:
    media = await upload(ai_db, storage, JFK_MP3, "AUDIO")
    configured = ai_settings(settings, api, TRANSCRIPTION_MAX_UPLOAD_BYTES=30_000)
    api.fail_nth("audio.transcribe", 2, "500")
    job = await client.enqueue_transcription(redis, media.id)

    await run_burst(configured)

    assert (await result_of(job))["chunks"] == 3
    assert [c.fault for c in api.calls("audio.transcribe")] == [None, "500", None, None]
    runs = await job_runs.list_for_job(ai_db, job.job_id)
    assert [(r["status"], r["error_code"]) for r in runs] == [
        ("RETRYING", "PROVIDER_DOWN"),
        ("SUCCEEDED", None),
    ]


@needs_jfk
@pytest.mark.slow
async def test_offline_transcription_hears_the_jfk_clip(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings
) -> None:
    media = await upload(ai_db, storage, JFK_MP3, "AUDIO")
    job = await client.enqueue_transcription(redis, media.id, language="en")

    await run_burst(ai_settings(settings, None))

    result = await result_of(job)
    assert {"country", "fellow"} & set(result["text"].split()), result["text"]
    [row] = await transcriptions.list_for(ai_db, media.id)
    assert row.model == "pocketsphinx-en-us" and row.segments and row.active
    assert row.segments[-1]["end_s"] > 10


# --- synthesize_speech and tts_jobs ----------------------------------------------------------


async def test_the_same_phrase_is_synthesized_once(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, api: AiStandIn
) -> None:
    configured = ai_settings(settings, api)
    job = await client.enqueue_speech(redis, "Welcome  to   the show.")
    await run_burst(configured)
    row = await tts_jobs.add(ai_db, "Welcome to the show. ")
    await enqueue_job(redis, "claim_tts_jobs", "claim-1", ClaimTtsPayload())
    await run_burst(configured)

    first = await result_of(job)
    assert not first["cached"] and first["content_type"] == "audio/mpeg"
    assert first["storage_key"].startswith("speech/") and first["url"].endswith(".mp3")
    assert len(api.calls("audio.speech")) == 1, "the row's phrase was already stored"
    done = await tts_jobs.get(ai_db, row.id)
    assert done is not None and (done.status, done.audio_url) == ("DONE", first["url"])
    [metric] = await ai_metrics_rows(ai_db)
    assert metric["characters"] == len("Welcome to the show.")
    assert metric["audio_seconds"] == pytest.approx(1.0, abs=0.1)
    assert metric["cost_usd"] == pytest.approx(Decimal("0.00025"), abs=Decimal("0.00003"))


async def test_offline_speech_is_a_stored_mp3_with_a_url(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    job = await client.enqueue_speech(redis, "Your order has shipped.", language="en")

    await run_burst(ai_settings(settings, None))

    result = await result_of(job)
    assert (result["provider"], result["model"], result["voice"]) == ("local", "espeak-ng", "en")
    path = tmp_path / "s.mp3"
    path.write_bytes(await storage.get(result["storage_key"]))
    seconds = await asyncio.to_thread(probe_seconds, path)
    assert 0.8 < seconds < 5


async def test_tts_rows_are_claimed_and_get_their_url_or_their_error(
    ai_db: Pool, redis: ArqRedis, settings: Settings, api: AiStandIn
) -> None:
    good = await tts_jobs.add(ai_db, "First announcement.")
    refused = await tts_jobs.add(ai_db, "Second announcement.")
    bad = await tts_jobs.add(ai_db, "Third.", audio_format="xyz")
    api.fail("audio.speech", "401")
    claim = await enqueue_job(redis, "claim_tts_jobs", "claim-2", ClaimTtsPayload())

    await run_burst(ai_settings(settings, api))

    assert sorted((await result_of(claim))["enqueued"]) == [good.id, refused.id]
    rows = [await tts_jobs.get(ai_db, r.id) for r in (good, refused, bad)]
    outcomes = sorted((r.status, r.error_code) for r in rows if r is not None)
    assert outcomes == [("DONE", None), ("ERROR", "BAD_INPUT"), ("ERROR", "NOT_CONFIGURED")]
    assert all(
        r is not None and r.job_id == registry.SYNTHESIZE_SPEECH.job_id_for({"tts_job_id": r.id})
        for r in rows[:2]
    )
    again = await tts_jobs.claim(ai_db, limit=10, stale_after_s=60)
    assert again == [], "finished rows are never claimed again"


# --- faults through the worker ---------------------------------------------------------------

WORKER_FAULTS = [
    ("429", [("RETRYING", "RATE_LIMIT"), ("SUCCEEDED", None)]),
    ("500", [("RETRYING", "PROVIDER_DOWN"), ("SUCCEEDED", None)]),
    ("slow", [("RETRYING", "TIMEOUT"), ("SUCCEEDED", None)]),
    ("reset", [("RETRYING", "NETWORK"), ("SUCCEEDED", None)]),
    ("malformed", [("RETRYING", "PROVIDER_DOWN"), ("SUCCEEDED", None)]),
    ("401", [("FAILED", "NOT_CONFIGURED")]),
    ("refusal", [("FAILED", "BAD_INPUT")]),
]


@pytest.mark.parametrize(("fault", "expected"), WORKER_FAULTS, ids=[f[0] for f in WORKER_FAULTS])
async def test_faults_are_retried_or_not_and_every_call_is_metered(
    fault: str,
    expected: list[tuple[str, str | None]],
    ai_db: Pool,
    redis: ArqRedis,
    settings: Settings,
    api: AiStandIn,
) -> None:
    api.retry_after = "1"
    api.fail("images.generate", fault)
    job = await client.enqueue_generate_image(redis, f"fault {fault}")

    await run_burst(ai_settings(settings, api))

    runs = await job_runs.list_for_job(ai_db, job.job_id)
    assert [(r["status"], r["error_code"]) for r in runs] == expected
    metrics = await ai_metrics_rows(ai_db)
    assert [(m["success"], m["error_code"], m["retries"]) for m in metrics] == [
        (status == "SUCCEEDED", code, n) for n, (status, code) in enumerate(expected)
    ]
    assert metrics[0]["cost_usd"] is None and metrics[0]["input_tokens"] is None
    if fault == "429":
        waited_s = (runs[1]["started_at"] - runs[0]["finished_at"]).total_seconds()
        assert 0.9 < waited_s < 3, "the job waited for Retry-After"


async def test_no_api_key_reaches_a_log_line_a_row_or_a_result(
    ai_db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    api: AiStandIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.fail_always("images.generate", "401")  # the stand-in echoes the key in its message
    api.fail_always("audio.speech", "400")
    api.fail_always("messages", "401")
    await client.enqueue_generate_image(redis, "a key leak test")
    await client.enqueue_speech(redis, "Say nothing secret.")
    await tts_jobs.add(ai_db, "A row too.")
    await enqueue_job(redis, "claim_tts_jobs", "claim-3", ClaimTtsPayload())

    configured = ai_settings(settings, api).model_copy(update={"log_level": "DEBUG"})
    await run_burst(configured)

    logs = capsys.readouterr()
    everything = logs.out + logs.err
    for table in ("job_runs", "ai_metrics", "media", "tts_jobs", "transcriptions"):
        for row in await ai_db.fetch(f"SELECT * FROM {table}"):  # noqa: S608 - fixed names
            everything += repr(dict(row))
    async for key in redis.scan_iter():
        if await redis.type(key) == b"string":
            everything += repr(await redis.get(key))
    assert "job failed" in everything or "NOT_CONFIGURED" in everything
    for secret in KEYS:
        assert secret not in everything
    assert "SECRET" not in everything
