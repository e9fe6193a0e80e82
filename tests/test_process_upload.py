"""process_upload: the probe, the fan-out with its priorities, the READY rule, hostile and
broken uploads, and the reconciler, with the real worker, Redis and Postgres.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from conftest import run_burst
from media_fixtures import clip, concat_list, hls_playlist, mp3_with_cover, tone
from mediaworker import client, registry
from mediaworker.config import Settings
from mediaworker.context import Context, get_context, shutdown, startup
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import job_runs
from mediaworker.db.pool import Pool
from mediaworker.functions.generate_video_preview import generate_video_preview
from mediaworker.functions.generate_video_thumbnail import generate_video_thumbnail
from mediaworker.functions.generate_waveform import generate_waveform
from mediaworker.functions.process_upload import process_upload
from mediaworker.functions.reconcile_media import reconcile_media
from mediaworker.ingest import ingest_file
from mediaworker.payloads import (
    ProcessUploadPayload,
    ReconcilePayload,
    VideoPreviewPayload,
    VideoThumbnailPayload,
    WaveformPayload,
)
from mediaworker.queue import keys
from mediaworker.queue.priorities import priority_of
from mediaworker.storage.base import Storage
from support import POSTER, WAVEFORM, gradient_photo, ingest, media_row, with_settings


@contextlib.asynccontextmanager
async def worker_context(settings: Settings, redis: ArqRedis) -> AsyncIterator[Context]:
    """The context a worker builds, to call job functions directly (no queue, no wrapper)."""
    ctx = {"settings": settings, "redis": redis}
    await startup(ctx)
    try:
        yield get_context(ctx)
    finally:
        await shutdown(ctx)


async def derivative_types(db: Pool, media_id: str) -> set[str]:
    return {d.type for d in await derivatives_db.list_for(db, media_id)}


async def queued_priorities(redis: ArqRedis) -> dict[str, int | None]:
    scores = await redis.zrange(keys.QUEUE_NAME, 0, -1, withscores=True)
    return {job_id.decode(): priority_of(score) for job_id, score in scores}


# --- the fan-out ---------------------------------------------------------------------------


async def test_ingest_enqueues_process_upload_only(
    db: Pool, redis: ArqRedis, storage: Storage, tmp_path: Path
) -> None:
    ingested = await ingest_file(db, storage, redis, clip(tmp_path / "v.mp4", 1.0))

    assert ingested.job_id == registry.PROCESS_UPLOAD.job_id_for({"media_id": ingested.media.id})
    assert await queued_priorities(redis) == {ingested.job_id: 5}


async def test_a_video_fans_out_preview_and_poster_at_10_and_waveform_at_15(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 2.0, size="320x240"))
    await redis.delete(keys.QUEUE_NAME)

    async with worker_context(settings, redis) as ctx:
        result = await process_upload(ctx, ProcessUploadPayload(media_id=media.id))

    assert [(j.function, j.priority) for j in result.enqueued] == [
        ("generate_video_preview", 10),
        ("generate_video_thumbnail", 10),
        ("generate_waveform", 15),
    ]
    assert await queued_priorities(redis) == {
        registry.GENERATE_VIDEO_PREVIEW.job_id_for({"media_id": media.id}): 10,
        registry.GENERATE_VIDEO_THUMBNAIL.job_id_for({"media_id": media.id}): 10,
        registry.GENERATE_WAVEFORM.job_id_for({"media_id": media.id}): 15,
    }
    found = await media_row(db, media.id)
    assert (found.kind, found.status, found.container) == (
        "VIDEO",
        "PROCESSING",
        "mov,mp4,m4a,3gp,3g2,mj2",
    )
    assert (found.video_codec, found.audio_codec, found.has_audio, found.has_video) == (
        "h264",
        "aac",
        True,
        True,
    )
    assert (found.width, found.height, found.rotation, found.frame_rate) == (320, 240, 0, 25.0)
    assert found.duration_s is not None and abs(found.duration_s - 2.0) < 0.1
    assert found.sample_rate == 48000 and found.channels == 1
    assert found.probe is not None and found.probe["streams"][0]["codec"] == "h264"
    assert sorted(found.expected_derivatives or []) == sorted(POSTER | WAVEFORM | {"PREVIEW"})


async def test_audio_with_cover_art_is_audio_and_gets_a_waveform_at_15(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, mp3_with_cover(tmp_path / "song.mp3"))
    await redis.delete(keys.QUEUE_NAME)

    async with worker_context(settings, redis) as ctx:
        result = await process_upload(ctx, ProcessUploadPayload(media_id=media.id))

    assert result.kind == "AUDIO"
    assert await queued_priorities(redis) == {
        registry.GENERATE_WAVEFORM.job_id_for({"media_id": media.id}): 15
    }
    found = await media_row(db, media.id)
    assert (found.kind, found.has_video, found.video_codec) == ("AUDIO", False, None)
    assert sorted(found.expected_derivatives or []) == sorted(WAVEFORM)


async def test_an_audio_upload_is_also_transcribed_at_5_when_upload_transcribe_is_on(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    settings = with_settings(settings, "media", transcribe_uploads=True)
    media = await ingest(db, storage, redis, mp3_with_cover(tmp_path / "note.mp3"))
    await redis.delete(keys.QUEUE_NAME)

    async with worker_context(settings, redis) as ctx:
        result = await process_upload(ctx, ProcessUploadPayload(media_id=media.id))

    assert await queued_priorities(redis) == {
        registry.GENERATE_WAVEFORM.job_id_for({"media_id": media.id}): 15,
        registry.TRANSCRIBE_AUDIO.job_id_for({"media_id": media.id}): 5,
    }
    assert "transcribe_audio" in {job.function for job in result.enqueued}
    found = await media_row(db, media.id)
    assert sorted(found.expected_derivatives or []) == sorted(WAVEFORM), "READY does not wait"


async def test_an_image_goes_to_thumbnails_at_5_without_a_probe(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, gradient_photo(tmp_path / "p.jpg", 300, 200))
    await redis.delete(keys.QUEUE_NAME)
    await storage.delete(media.storage_key)  # not needed: the declared type decides

    async with worker_context(settings, redis) as ctx:
        result = await process_upload(ctx, ProcessUploadPayload(media_id=media.id))

    assert (result.kind, result.expected_derivatives) == ("IMAGE", None)
    assert await queued_priorities(redis) == {
        registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id}): 5
    }
    assert (await media_row(db, media.id)).probe is None


@pytest.mark.parametrize(
    ("category", "enhanced"), [("DISP", True), ("decd", True), ("ROOM", False)]
)
async def test_images_of_the_auto_enhance_categories_also_get_an_enhanced_copy(
    category: str,
    enhanced: bool,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    tmp_path: Path,
) -> None:
    path = gradient_photo(tmp_path / "design.jpg", 640, 480)
    media = (await ingest_file(db, storage, redis, path, category=category)).media
    await redis.delete(keys.QUEUE_NAME)

    async with worker_context(settings, redis) as ctx:
        await process_upload(ctx, ProcessUploadPayload(media_id=media.id))

    expected = {registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id}): 5}
    if enhanced:
        expected[registry.ENHANCE_IMAGE.job_id_for({"media_id": media.id})] = 10
    assert await queued_priorities(redis) == expected
    assert (await media_row(db, media.id)).category == category


@pytest.mark.parametrize("audio", [True, False])
async def test_a_video_is_ready_with_its_derivatives_through_the_worker(
    audio: bool, db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 2.5, audio=audio))

    await run_burst(settings)

    found = await media_row(db, media.id)
    assert (found.status, found.error_code, found.processed_at is not None) == (
        "READY",
        None,
        True,
    )
    expected = POSTER | {"PREVIEW"} | (WAVEFORM if audio else set())
    assert await derivative_types(db, media.id) == expected
    assert set(found.expected_derivatives or []) == expected
    state = await client.job_status(
        redis, registry.PROCESS_UPLOAD.job_id_for({"media_id": media.id})
    )
    assert state.success and state.result["kind"] == "VIDEO"


async def test_the_content_decides_the_kind_not_the_name(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    video = clip(tmp_path / "v.mp4", 1.0)
    unnamed = await ingest(db, storage, redis, shutil.copy(video, tmp_path / "upload.bin"))
    audio_as_video = await ingest(db, storage, redis, tone(tmp_path / "voice.m4a", 1.0))
    jpeg_as_video = await ingest(
        db,
        storage,
        redis,
        shutil.copy(gradient_photo(tmp_path / "p.jpg", 320, 240), tmp_path / "p.mp4"),
    )
    assert (unnamed.kind, jpeg_as_video.kind) == ("UNKNOWN", "VIDEO")

    await run_burst(settings)

    for media, kind, outputs in (
        (unnamed, "VIDEO", POSTER | WAVEFORM | {"PREVIEW"}),
        (audio_as_video, "AUDIO", WAVEFORM),
        (jpeg_as_video, "IMAGE", POSTER),
    ):
        found = await media_row(db, media.id)
        assert (found.kind, found.status) == (kind, "READY"), found
        assert await derivative_types(db, media.id) == outputs


# --- the READY rule ------------------------------------------------------------------------


async def test_the_row_is_ready_only_once_the_last_expected_derivative_exists(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 1.0))
    statuses = []
    async with worker_context(settings, redis) as ctx:
        await process_upload(ctx, ProcessUploadPayload(media_id=media.id))
        statuses.append((await media_row(db, media.id)).status)
        await generate_waveform(ctx, WaveformPayload(media_id=media.id))
        statuses.append((await media_row(db, media.id)).status)
        await generate_video_preview(ctx, VideoPreviewPayload(media_id=media.id))
        statuses.append((await media_row(db, media.id)).status)
        await generate_video_thumbnail(ctx, VideoThumbnailPayload(media_id=media.id))
        statuses.append((await media_row(db, media.id)).status)

    assert statuses == ["PROCESSING", "PROCESSING", "PROCESSING", "READY"]


async def test_one_job_failing_for_good_makes_the_row_error_and_it_stays_so(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    settings = with_settings(settings, "audio", waveform_timeout_s=0.01)
    settings = settings.model_copy(
        update={"queue": settings.queue.model_copy(update={"max_retries": 0})}
    )
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 4.0))

    await run_burst(settings)

    found = await media_row(db, media.id)
    assert (found.status, found.error_code) == ("ERROR", "TIMEOUT")
    assert {"PREVIEW", "THUMBNAIL"} <= await derivative_types(db, media.id), "others finished"
    runs = await job_runs.list_for_job(
        db, registry.GENERATE_WAVEFORM.job_id_for({"media_id": media.id})
    )
    assert [r["status"] for r in runs] == ["FAILED"]

    # Forcing the upload again is the way back: probed again, every job redone, READY.
    await client.enqueue_process_upload(redis, media.id, force=True)
    await run_burst(with_settings(settings, "audio", waveform_timeout_s=60))
    found = await media_row(db, media.id)
    assert (found.status, found.error_code) == ("READY", None)


# --- hostile and broken uploads ------------------------------------------------------------


async def test_an_hls_playlist_named_mp4_is_bad_input_and_reads_nothing(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    # Another user's video on the same disk, and a "video" upload that is a playlist of it.
    (tmp_path / "private").mkdir()
    secret = clip(tmp_path / "private" / "secret.ts", 2.0)
    hostile = await ingest(db, storage, redis, hls_playlist(tmp_path / "holiday.mp4", secret))
    unnamed = await ingest(db, storage, redis, hls_playlist(tmp_path / "list.dat", secret))
    good = await ingest(db, storage, redis, tone(tmp_path / "ok.wav", 1.0))

    await run_burst(settings)

    for media in (hostile, unnamed):
        found = await media_row(db, media.id)
        assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")
        assert found.error_message == (
            "not an audio or video file this worker can read: hls is not an accepted format"
        )
        assert await derivative_types(db, media.id) == set(), "no preview of the other file"
        runs = await job_runs.list_for_job(
            db, registry.PROCESS_UPLOAD.job_id_for({"media_id": media.id})
        )
        assert [r["status"] for r in runs] == ["FAILED"], "not retried"
    assert (await media_row(db, good.id)).status == "READY", "the worker kept going"


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.mp4", "empty file (0 bytes)"),
        ("list.mkv", "concat is not an accepted format"),
        ("corrupt.mkv", "Invalid data found when processing input"),
        ("short.mp4", "only 0.040 s long; the shortest accepted is 0.1 s"),
        ("long.mp3", "over the"),
    ],
)
async def test_broken_uploads_end_in_bad_input_and_the_worker_keeps_going(
    name: str,
    message: str,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    tmp_path: Path,
    testdata: Path,
) -> None:
    settings = with_settings(settings, "media", max_duration_s=30)
    makers = {
        "empty.mp4": lambda p: (p.write_bytes(b""), p)[1],
        "list.mkv": lambda p: concat_list(p, clip(tmp_path / "c.mp4", 1.0)),
        "corrupt.mkv": lambda p: shutil.copy(testdata / "broken" / "corrupt.mkv", p),
        "short.mp4": lambda p: clip(p, 0.04, audio=False),
        "long.mp3": lambda p: tone(p, 31.0, rate=8000),
    }
    broken = await ingest(db, storage, redis, makers[name](tmp_path / name))
    good = await ingest(db, storage, redis, clip(tmp_path / "good.mp4", 1.0, audio=False))

    await run_burst(settings)

    found = await media_row(db, broken.id)
    assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")
    assert found.error_message is not None and message in found.error_message
    assert len(found.error_message) <= 200 and "/tmp" not in found.error_message
    assert (await media_row(db, good.id)).status == "READY"


async def test_a_text_file_of_unknown_type_is_bad_input(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "notes"
    path.write_text("just some words, not a picture or a sound\n" * 20)
    media = await ingest(db, storage, redis, path)

    await run_burst(settings)

    found = await media_row(db, media.id)
    assert (found.kind, found.status, found.error_code) == ("UNKNOWN", "ERROR", "BAD_INPUT")


# --- idempotency and the reconciler --------------------------------------------------------


async def test_a_rerun_of_a_finished_upload_redoes_nothing(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, tone(tmp_path / "a.mp3", 1.0))
    await run_burst(settings)
    before = {d.type: d.size_bytes for d in await derivatives_db.list_for(db, media.id)}
    await storage.delete(media.storage_key)  # a rerun that downloaded it would fail

    await redis.delete(keys.result_key(registry.PROCESS_UPLOAD.job_id_for({"media_id": media.id})))
    await client.enqueue_process_upload(redis, media.id)
    await run_burst(settings)

    assert (await media_row(db, media.id)).status == "READY"
    state = await client.job_status(
        redis, registry.GENERATE_WAVEFORM.job_id_for({"media_id": media.id})
    )
    assert state.success and state.result["skipped"] is True
    after = {d.type: d.size_bytes for d in await derivatives_db.list_for(db, media.id)}
    assert after == before


async def test_the_reconciler_finishes_an_upload_whose_jobs_vanished(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"queue": settings.queue.model_copy(update={"reconcile_idle_s": 0})}
    )
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 1.0))
    async with worker_context(settings, redis) as ctx:
        await process_upload(ctx, ProcessUploadPayload(media_id=media.id))
        await redis.flushdb()  # Redis lost every job
        assert (await media_row(db, media.id)).status == "PROCESSING"
        result = await reconcile_media(ctx, ReconcilePayload())
    assert result.requeued == [media.id]

    await run_burst(settings)

    assert (await media_row(db, media.id)).status == "READY"
    assert await derivative_types(db, media.id) == POSTER | WAVEFORM | {"PREVIEW"}
