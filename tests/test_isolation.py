"""What one job, producer or tenant may not see or touch of another's: kept chunk transcripts,
media rows the job did not make, tts_jobs rows it did not claim, images cached for others.

Real worker, Redis, Postgres and local storage; the AI APIs are the loopback stand-ins."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest
from arq.connections import ArqRedis

from ai_stand_ins import AiStandIn, ai_settings
from conftest import make_settings, run_burst, running_worker
from media_fixtures import tone
from mediaworker import client, registry
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.db import transcriptions, tts_jobs
from mediaworker.db.pool import Pool
from mediaworker.functions.claim_tts_jobs import claim_tts_jobs
from mediaworker.payloads import ClaimTtsPayload, Derivative
from mediaworker.queue import keys
from mediaworker.queue.enqueue import enqueue_job
from mediaworker.storage import layout
from mediaworker.storage.base import Storage
from support import error_of, photo, result_of, upload

CHUNKED = {"TRANSCRIPTION_MAX_UPLOAD_BYTES": 30_000}  # 3 chunks of a 10 s recording


# --- 1. kept chunk transcripts --------------------------------------------------------------


async def test_chunk_texts_kept_for_one_recording_never_reach_another_of_the_same_size(
    ai_db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    api: AiStandIn,
    tmp_path: Path,
) -> None:
    speech = await upload(ai_db, storage, tone(tmp_path / "a.wav", 10, frequency=300), "AUDIO")
    other = await upload(ai_db, storage, tone(tmp_path / "b.wav", 10, frequency=440), "AUDIO")
    assert speech.size_bytes == other.size_bytes
    configured = ai_settings(settings, api, **CHUNKED)
    api.transcript = "the private words of the first recording"
    api.fail_nth("audio.transcribe", 2, "401")  # fails for good after its first chunk
    await client.enqueue_transcription(redis, speech.id)
    await run_burst(configured)

    api.transcript = "a tone"
    job = await client.enqueue_transcription(redis, other.id)
    await run_burst(configured)

    result = await result_of(job)
    assert result["chunks"] == 3
    assert result["text"] == "a tone a tone a tone", "nothing of the first recording"


@pytest.fixture
async def transcription_insert_fails_once(ai_db: Pool) -> AsyncIterator[None]:
    """A real database fault: the first INSERT into transcriptions raises, later ones pass."""
    await ai_db.execute(
        """CREATE SEQUENCE IF NOT EXISTS harden_fail_once;
           CREATE OR REPLACE FUNCTION harden_fail_once() RETURNS trigger AS $$
           BEGIN
               IF nextval('harden_fail_once') = 1 THEN
                   RAISE EXCEPTION 'the database refused the row this time';
               END IF;
               RETURN NEW;
           END $$ LANGUAGE plpgsql;
           CREATE TRIGGER harden_fail_once BEFORE INSERT ON transcriptions
               FOR EACH ROW EXECUTE FUNCTION harden_fail_once();"""
    )
    try:
        yield
    finally:
        await ai_db.execute(
            """DROP TRIGGER IF EXISTS harden_fail_once ON transcriptions;
               DROP FUNCTION IF EXISTS harden_fail_once();
               DROP SEQUENCE IF EXISTS harden_fail_once;"""
        )


async def test_chunk_texts_are_kept_until_the_row_is_written(
    transcription_insert_fails_once: None,
    ai_db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    api: AiStandIn,
    tmp_path: Path,
) -> None:
    media = await upload(ai_db, storage, tone(tmp_path / "t.wav", 10), "AUDIO")
    job = await client.enqueue_transcription(redis, media.id)

    await run_burst(ai_settings(settings, api, **CHUNKED))

    assert (await result_of(job))["chunks"] == 3
    assert len(api.calls("audio.transcribe")) == 3, "the retry paid for no chunk again"
    assert len(await transcriptions.list_for(ai_db, media.id)) == 1
    left = [k async for k in redis.scan_iter(f"{keys.TRANSCRIPT_PARTS_PREFIX}*")]
    assert left == [], "dropped once the row was written"


# --- 2. rows a job did not make ---------------------------------------------------------------


class Snapshot(NamedTuple):
    row: media_db.Media
    derivatives: list[Derivative]
    sha256: str  # of the original


async def snapshot(db: Pool, storage: Storage, media_id: str) -> Snapshot:
    """A row as stored, its derivatives and the SHA-256 of its original."""
    row = await media_db.get(db, media_id)
    assert row is not None
    data = await storage.get(row.storage_key)
    derivatives = await derivatives_db.list_for(db, media_id)
    return Snapshot(row, derivatives, hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("force", [True, False])
async def test_generate_image_refuses_an_uploads_media_id_and_leaves_it_alone(
    force: bool,
    ai_db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    api: AiStandIn,
    tmp_path: Path,
) -> None:
    victim = await upload(ai_db, storage, photo(tmp_path / "v.jpg", 64, 48))
    before = await snapshot(ai_db, storage, victim.id)
    job = await client.enqueue_generate_image(redis, "a forgery", media_id=victim.id, force=force)

    await run_burst(ai_settings(settings, api))

    error = await error_of(redis, job)
    assert error["code"] == "CONFLICT" and victim.id in error["message"]
    assert await snapshot(ai_db, storage, victim.id) == before
    assert api.calls("images.generate") == [], "refused before the provider was paid"


async def test_enhance_image_refuses_an_enhanced_id_it_did_not_make(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    original = await upload(ai_db, storage, photo(tmp_path / "o.jpg", 64, 48))
    squatter = await storage.put_file(
        layout.original_key(f"{original.id}-enhanced", "jpg"),
        photo(tmp_path / "s.jpg", 32, 32),
        content_type="image/jpeg",
    )
    new = media_db.NewMedia(
        f"{original.id}-enhanced", media_db.MediaKind.IMAGE, squatter.key, "s.jpg", None, 1
    )
    await media_db.insert(ai_db, new)
    before = await snapshot(ai_db, storage, new.id)
    job = await client.enqueue_enhance_image(redis, original.id, force=True)

    await run_burst(ai_settings(settings, None))

    assert (await error_of(redis, job))["code"] == "CONFLICT"
    assert await snapshot(ai_db, storage, new.id) == before
    assert await storage.exists(layout.enhanced_key(original.id)) is False


async def test_generate_image_may_redo_the_row_it_made(
    ai_db: Pool, redis: ArqRedis, settings: Settings, api: AiStandIn
) -> None:
    configured = ai_settings(settings, api)
    first = await client.enqueue_generate_image(redis, "a red kite", media_id="kite")
    await run_burst(configured)
    again = await client.enqueue_generate_image(redis, "a red kite", media_id="kite", force=True)
    await run_burst(configured)

    assert (await result_of(first))["media_id"] == (await result_of(again))["media_id"] == "kite"
    row = await media_db.get(ai_db, "kite")
    assert row is not None and (row.made_by_function, row.made_by_job) == (
        "generate_image",
        registry.GENERATE_IMAGE.job_id_for({"media_id": "kite"}),
    )
    assert len(api.calls("images.generate")) == 2


# --- 7. the prompt cache ----------------------------------------------------------------------


async def test_a_prompt_cache_hit_is_a_copy_in_the_asking_jobs_own_row(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, api: AiStandIn
) -> None:
    configured = ai_settings(settings, api)
    tenant_a = await client.enqueue_generate_image(redis, "our new logo", media_id="a-logo")
    await run_burst(configured)
    a_before = await snapshot(ai_db, storage, "a-logo")
    tenant_b = await client.enqueue_generate_image(redis, "our new logo", media_id="b-logo")
    await run_burst(configured)

    result = await result_of(tenant_b)
    assert (result["media_id"], result["cached"]) == ("b-logo", True)
    assert result["storage_key"] == layout.original_key("b-logo", "jpg")
    b_copy = await snapshot(ai_db, storage, "b-logo")
    assert (b_copy.row.status, b_copy.row.made_by_job) == ("READY", tenant_b.job_id)
    assert b_copy.sha256 == a_before.sha256 and len(b_copy.derivatives) == 3
    assert await snapshot(ai_db, storage, "a-logo") == a_before, "A's row is not B's to touch"
    assert (await result_of(tenant_a))["media_id"] == "a-logo"
    assert len(api.calls("images.generate")) == 1


# --- 6. tts_jobs rows -------------------------------------------------------------------------


async def test_speech_finishes_only_the_tts_row_its_job_claimed(
    ai_db: Pool, redis: ArqRedis, settings: Settings, api: AiStandIn
) -> None:
    row = await tts_jobs.add(ai_db, "The store closes in ten minutes.")
    forged = {"text": "Free drinks at the bar.", "tts_job_id": row.id}
    no_token = await redis.enqueue_job("synthesize_speech", _job_id="forged-1", **forged)
    guessed = {**forged, "tts_claim_token": str(uuid.uuid4())}
    wrong_token = await redis.enqueue_job("synthesize_speech", _job_id="forged-2", **guessed)
    configured = ai_settings(settings, api)
    await run_burst(configured)  # no cron fires: the row is claimed below

    assert no_token is not None and wrong_token is not None
    assert (await error_of(redis, no_token))["code"] == "BAD_INPUT"
    assert (await error_of(redis, wrong_token))["code"] == "CONFLICT"
    untouched = await tts_jobs.get(ai_db, row.id)
    assert untouched is not None and (untouched.status, untouched.audio_url) == ("PENDING", None)
    assert api.calls("audio.speech") == [], "refused before the provider was paid"

    await enqueue_job(redis, "claim_tts_jobs", "claim-1", ClaimTtsPayload())
    await run_burst(configured)
    done = await tts_jobs.get(ai_db, row.id)
    assert done is not None and done.status == "DONE"
    [call] = api.calls("audio.speech")
    assert call.body["input"] == "The store closes in ten minutes."


async def test_a_rerun_that_finds_its_row_without_the_image_makes_it_again(
    ai_db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, api: AiStandIn
) -> None:
    """The row is written before the image: what a store that failed after it leaves."""
    configured = ai_settings(settings, api)
    await client.enqueue_generate_image(redis, "a heron", media_id="heron")
    await run_burst(configured)
    made = await media_db.get(ai_db, "heron")
    assert made is not None
    await storage.delete(made.storage_key)
    await redis.delete(keys.result_key(registry.GENERATE_IMAGE.job_id_for({"media_id": "heron"})))

    again = await client.enqueue_generate_image(redis, "a heron", media_id="heron")
    await run_burst(configured)

    assert (await result_of(again))["skipped"] is False
    assert await storage.exists(made.storage_key)
    assert len(api.calls("images.generate")) == 2


async def test_a_row_whose_job_was_lost_is_no_longer_that_jobs_to_finish(
    ai_db: Pool, redis: ArqRedis, tmp_path: Path, api: AiStandIn
) -> None:
    settings = ai_settings(make_settings(tmp_path / "storage", QUEUE_RECONCILE_IDLE_S=0), api)
    row = await tts_jobs.add(ai_db, "The platform has changed.")
    # A worker on another queue: its context, and no job of ours taken from the queue.
    async with running_worker(settings, queue_name="harden:elsewhere") as worker:
        context = worker.ctx["mw"]
        await claim_tts_jobs(context, ClaimTtsPayload())
        first = await tts_jobs.get(ai_db, row.id)
        await claim_tts_jobs(context, ClaimTtsPayload())  # idle, but its job is still queued
        kept = await tts_jobs.get(ai_db, row.id)
        await redis.flushdb()  # the job is lost
        await claim_tts_jobs(context, ClaimTtsPayload())
        second = await tts_jobs.get(ai_db, row.id)
    assert first is not None and kept is not None and second is not None
    assert first.claim_token is not None and kept.claim_token == first.claim_token
    assert second.claim_token not in (None, first.claim_token)

    await run_burst(settings)
    lost = {"text": "Ignore the last announcement.", "tts_job_id": row.id}
    late = await redis.enqueue_job(
        "synthesize_speech", _job_id="lost", tts_claim_token=str(first.claim_token), **lost
    )
    await run_burst(settings)

    assert late is not None and (await error_of(redis, late))["code"] == "CONFLICT"
    done = await tts_jobs.get(ai_db, row.id)
    assert done is not None and done.status == "DONE"
    [call] = api.calls("audio.speech")
    assert call.body["input"] == "The platform has changed."
