"""Uploads cut short or damaged in the middle end in BAD_INPUT saying so, through the real
worker (Redis, Postgres, local storage, ffmpeg): preview, poster frame, waveform and
transcription. Complete files, however short, stay fine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from ai_stand_ins import AiStandIn, ai_settings
from conftest import run_burst
from media_fixtures import clip, corrupt_middle, cut_short, ffmpeg, tone
from mediaworker import client, registry
from mediaworker.config import Settings
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.ingest import ingest_file
from mediaworker.queue import keys
from mediaworker.storage.base import Storage

BROKEN = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "broken"


def job_of(job: registry.JobDeclaration, media_id: str) -> str:
    return job.job_id_for({"media_id": media_id})


async def failure(redis: ArqRedis, job_id: str) -> dict[str, Any]:
    state = await client.job_status(redis, job_id)
    assert state.error is not None, f"{job_id} did not fail: {state}"
    error: dict[str, Any] = state.error
    return error


async def upload_and_run(
    db: Pool, storage: Storage, redis: ArqRedis, settings: Settings, path: Path
) -> media_db.Media:
    media = (await ingest_file(db, storage, redis, path)).media
    await run_burst(settings)
    found = await media_db.get(db, media.id)
    assert found is not None
    return found


async def test_a_faststart_mp4_cut_to_a_third_fails_preview_and_poster_as_truncated(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    whole = clip(tmp_path / "whole.mp4", 6.0, size="320x240", faststart=True)
    cut = cut_short(whole, tmp_path / "cut.mp4")

    found = await upload_and_run(db, storage, redis, settings, cut)

    assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")
    assert found.duration_s == pytest.approx(6.0, abs=0.1), "the header still says 6 s"
    for job_id in (
        job_of(registry.GENERATE_VIDEO_PREVIEW, found.id),
        job_of(registry.GENERATE_VIDEO_THUMBNAIL, found.id),
    ):
        error = await failure(redis, job_id)
        assert error["code"] == "BAD_INPUT" and "truncated" in error["message"], error


async def test_a_webm_cut_short_fails_its_poster_frame_as_truncated(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    cut = cut_short(clip(tmp_path / "whole.webm", 6.0, size="320x240"), tmp_path / "cut.webm")

    found = await upload_and_run(db, storage, redis, settings, cut)

    error = await failure(redis, job_of(registry.GENERATE_VIDEO_THUMBNAIL, found.id))
    assert error["code"] == "BAD_INPUT" and "truncated" in error["message"], error


async def test_a_video_damaged_in_the_middle_fails_its_preview(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    whole = clip(tmp_path / "whole.mp4", 6.0, size="320x240", faststart=True)
    damaged = corrupt_middle(whole, tmp_path / "damaged.mp4")

    found = await upload_and_run(db, storage, redis, settings, damaged)

    error = await failure(redis, job_of(registry.GENERATE_VIDEO_PREVIEW, found.id))
    assert error["code"] == "BAD_INPUT", error
    assert "damaged" in error["message"] or "truncated" in error["message"], error
    assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")


@pytest.mark.parametrize("ext", ["wav", "mp3", "flac", "ogg"])
async def test_truncated_audio_fails_its_waveform_as_truncated(
    ext: str, db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    whole = tone(tmp_path / f"whole.{ext}", 10.0)
    cut = cut_short(whole, tmp_path / f"cut.{ext}", 0.5)

    found = await upload_and_run(db, storage, redis, settings, cut)

    error = await failure(redis, job_of(registry.GENERATE_WAVEFORM, found.id))
    assert error["code"] == "BAD_INPUT" and "truncated" in error["message"], error
    assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")


@pytest.mark.parametrize("ext", ["mp3", "ogg"])
async def test_audio_damaged_in_the_middle_fails_its_waveform(
    ext: str, db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    damaged = corrupt_middle(tone(tmp_path / f"whole.{ext}", 10.0), tmp_path / f"bad.{ext}")

    found = await upload_and_run(db, storage, redis, settings, damaged)

    error = await failure(redis, job_of(registry.GENERATE_WAVEFORM, found.id))
    assert error["code"] == "BAD_INPUT", error
    assert "damaged" in error["message"] or "truncated" in error["message"], error


@pytest.mark.parametrize("name", ["short.mp4", "short.webm", "short.mp3", "short.ogg"])
async def test_a_complete_but_short_file_is_fine(
    name: str, db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / name
    made = tone(path, 0.5) if name.endswith(("mp3", "ogg")) else clip(path, 0.5, faststart=True)

    found = await upload_and_run(db, storage, redis, settings, made)

    assert (found.status, found.error_code) == ("READY", None), found.error_message


@pytest.mark.parametrize("name", ["half-sound.mp4", "half-sound.mkv"])
async def test_a_video_whose_sound_stops_half_way_is_complete(
    name: str, db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / name
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=6"),
        *("-f", "lavfi", "-i", "sine=duration=3", "-c:v", "libx264", "-preset", "ultrafast"),
        *("-pix_fmt", "yuv420p", "-c:a", "aac", str(path)),
    )

    found = await upload_and_run(db, storage, redis, settings, path)

    assert (found.status, found.error_code) == ("READY", None), found.error_message


async def test_a_truncated_recording_is_not_sent_for_transcription(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    cut = cut_short(tone(tmp_path / "whole.flac", 6.0), tmp_path / "cut.flac")
    media = (await ingest_file(db, storage, redis, cut)).media
    await redis.delete(keys.QUEUE_NAME)  # only the job under test
    async with AiStandIn() as api:
        job = await client.enqueue_transcription(redis, media.id)
        await run_burst(ai_settings(settings, api))
        calls = api.calls("audio.transcribe")

    error = await failure(redis, job.job_id)
    assert error["code"] == "BAD_INPUT" and "truncated" in error["message"], error
    assert calls == [], "no chunk of it was paid for"


async def test_a_file_cut_inside_its_header_is_bad_input_saying_truncated(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    cut = cut_short(tone(tmp_path / "whole.ogg", 2.0), tmp_path / "cut.ogg", 0.1)

    found = await upload_and_run(db, storage, redis, settings, cut)

    assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")
    assert found.error_message is not None and "truncated" in found.error_message


@pytest.mark.skipif(not (BROKEN / "corrupt.mkv").is_file(), reason="no shared broken corpus")
async def test_the_corpus_corrupt_mkv_is_bad_input(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings
) -> None:
    found = await upload_and_run(db, storage, redis, settings, BROKEN / "corrupt.mkv")

    assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")
