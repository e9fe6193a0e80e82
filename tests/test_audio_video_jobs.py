"""generate_waveform, generate_video_preview and generate_video_thumbnail through the real
worker (Redis, Postgres, local storage, the process pool, ffmpeg), on media generated with
lavfi and on every audio and video file of ../shared/testdata.
"""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
import pyvips
from arq.connections import ArqRedis

from conftest import manifest, run_burst
from media_fixtures import clip, ffmpeg_descendants, silence, tone
from mediaworker import client, registry
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import job_runs
from mediaworker.db.pool import Pool
from mediaworker.payloads import Derivative
from mediaworker.queue import keys
from mediaworker.storage import layout
from mediaworker.storage.base import Storage
from support import POSTER, WAVEFORM, ingest, media_row, with_settings


async def outputs(db: Pool, media_id: str) -> dict[str, Derivative]:
    return {d.type: d for d in await derivatives_db.list_for(db, media_id)}


def ffprobe(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


async def saved(storage: Storage, derivative: Derivative, tmp_path: Path) -> Path:
    path = tmp_path / Path(derivative.storage_key).name
    await storage.download(derivative.storage_key, path)
    return path


# --- waveform ------------------------------------------------------------------------------


async def test_an_audio_upload_gets_a_waveform_in_four_formats_and_is_ready(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, tone(tmp_path / "a440.mp3", 3.0, rate=44100))

    await run_burst(settings)

    found = await media_row(db, media.id)
    assert (found.kind, found.status, found.error_code) == ("AUDIO", "READY", None)
    assert found.sample_rate == 44100 and found.channels == 1
    assert found.duration_s is not None and abs(found.duration_s - 3.0) < 0.08
    made = await outputs(db, media.id)
    assert set(made) == WAVEFORM
    document = json.loads(await storage.get(made["WAVEFORM_JSON"].storage_key))
    assert document["sample_rate"] == 44100 and document["samples_per_pixel"] == 256
    assert document["bits"] == 8 and document["length"] == len(document["data"]) // 2
    # A sine at 0.875 of full scale: peaks near +-112 in 8 bits.
    assert -118 <= min(document["data"]) <= -106 and 106 <= max(document["data"]) <= 118
    dat = await storage.get(made["WAVEFORM_DAT"].storage_key)
    assert struct.unpack("<iIiiIi", dat[:24]) == (2, 1, 44100, 256, document["length"], 1)
    png = pyvips.Image.new_from_buffer(await storage.get(made["WAVEFORM_PNG"].storage_key), "")
    assert (png.width, png.height) == (1800, 280)
    assert (made["WAVEFORM_PNG"].content_type, made["WAVEFORM_SVG"].content_type) == (
        "image/png",
        "image/svg+xml",
    )
    for derivative in made.values():
        ext = layout.DERIVATIVE_FORMATS[layout.DerivativeType(derivative.type)][1]
        assert derivative.storage_key == layout.derivative_key(media.id, derivative.type, ext)
        assert len(await storage.get(derivative.storage_key)) == derivative.size_bytes


async def test_waveform_options_are_settings(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    settings = with_settings(
        settings,
        "audio",
        waveform_bits=16,
        waveform_pixels_per_second=100,
        waveform_image_size=settings.audio.waveform_image_size.model_copy(
            update={"width": 400, "height": 60}
        ),
    )
    media = await ingest(db, storage, redis, tone(tmp_path / "a.wav", 2.0, rate=48000))

    await run_burst(settings)

    made = await outputs(db, media.id)
    document = json.loads(await storage.get(made["WAVEFORM_JSON"].storage_key))
    assert (document["bits"], document["samples_per_pixel"], document["length"]) == (16, 480, 200)
    assert 28000 < max(document["data"]) < 29500
    dat = await storage.get(made["WAVEFORM_DAT"].storage_key)
    assert struct.unpack("<iIiiIi", dat[:24]) == (2, 0, 48000, 480, 200, 1)
    assert len(dat) == 24 + 200 * 2 * 2
    assert (made["WAVEFORM_PNG"].width, made["WAVEFORM_PNG"].height) == (400, 60)


async def test_silence_gives_a_flat_waveform_not_an_error(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, silence(tmp_path / "quiet.wav", 1.5))

    await run_burst(settings)

    assert (await media_row(db, media.id)).status == "READY"
    made = await outputs(db, media.id)
    document = json.loads(await storage.get(made["WAVEFORM_JSON"].storage_key))
    assert set(document["data"]) == {0}


async def test_a_video_without_audio_asked_for_a_waveform_is_bad_input(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "mute.mp4", 1.0, audio=False))
    await run_burst(settings)  # preview and poster frame: READY, no waveform expected
    assert (await media_row(db, media.id)).status == "READY"

    await client.enqueue_waveform(redis, media.id)
    await run_burst(settings)

    state = await client.job_status(
        redis, registry.GENERATE_WAVEFORM.job_id_for({"media_id": media.id})
    )
    assert state.error is not None and state.error["code"] == "BAD_INPUT"
    assert "no audio track" in state.error["message"]
    runs = await job_runs.list_for_job(
        db, registry.GENERATE_WAVEFORM.job_id_for({"media_id": media.id})
    )
    assert [r["status"] for r in runs] == ["FAILED"]


# --- preview -------------------------------------------------------------------------------


async def test_the_preview_is_the_first_ten_seconds_h264_aac_480_lines_faststart(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "long.mp4", 14.0, size="1280x720"))

    await run_burst(settings)

    assert (await media_row(db, media.id)).status == "READY"
    preview = (await outputs(db, media.id))["PREVIEW"]
    assert (preview.content_type, preview.width, preview.height) == ("video/mp4", 854, 480)
    path = await saved(storage, preview, tmp_path)
    found = ffprobe(path)
    video = next(s for s in found["streams"] if s["codec_type"] == "video")
    audio = next(s for s in found["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == (
        "h264",
        "yuv420p",
        854,
        480,
    )
    assert audio["codec_name"] == "aac"
    assert abs(float(found["format"]["duration"]) - 10.0) < 0.2
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "+faststart: the index comes first"


async def test_a_short_silent_video_is_previewed_whole_without_an_audio_track(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "s.webm", 2.0, audio=False))

    await run_burst(settings)

    found_row = await media_row(db, media.id)
    assert (found_row.status, found_row.has_audio) == ("READY", False)
    made = await outputs(db, media.id)
    assert set(made) == POSTER | {"PREVIEW"}, "no waveform for a video without audio"
    found = ffprobe(await saved(storage, made["PREVIEW"], tmp_path))
    assert [s["codec_type"] for s in found["streams"]] == ["video"]
    assert abs(float(found["format"]["duration"]) - 2.0) < 0.2
    assert (made["PREVIEW"].width, made["PREVIEW"].height) == (640, 360), "never enlarged"


async def test_rotated_video_gives_an_upright_preview_and_poster(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(
        db, storage, redis, clip(tmp_path / "phone.mp4", 3.0, size="1280x720", rotate=90)
    )

    await run_burst(settings)

    found_row = await media_row(db, media.id)
    assert (found_row.status, found_row.rotation) == ("READY", 90)
    assert (found_row.width, found_row.height) == (720, 1280)
    made = await outputs(db, media.id)
    assert (made["PREVIEW"].width, made["PREVIEW"].height) == (270, 480)
    video = ffprobe(await saved(storage, made["PREVIEW"], tmp_path))["streams"][0]
    assert (video["width"], video["height"]) == (270, 480)
    assert not any("rotation" in d for d in video.get("side_data_list", [])), "no double turn"
    assert (made["LARGE"].width, made["LARGE"].height) == (608, 1080)
    assert (made["MEDIUM"].width, made["MEDIUM"].height) == (338, 600)


# --- poster frame --------------------------------------------------------------------------


async def test_the_poster_frame_is_at_two_seconds_in_three_sizes(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 5.0, size="1920x1080"))

    await run_burst(settings)

    state = await client.job_status(
        redis, registry.GENERATE_VIDEO_THUMBNAIL.job_id_for({"media_id": media.id})
    )
    assert state.success and state.result["at_s"] == 2.0
    made = await outputs(db, media.id)
    sizes = {t: (made[t].width, made[t].height) for t in POSTER}
    assert sizes == {"THUMBNAIL": (150, 150), "MEDIUM": (800, 450), "LARGE": (1920, 1080)}
    found = await media_row(db, media.id)
    assert found.blurhash and (found.width, found.height) == (1920, 1080)
    image = pyvips.Image.new_from_buffer(await storage.get(made["LARGE"].storage_key), "")
    assert image.interpretation == "srgb" and made["LARGE"].content_type == "image/jpeg"


async def test_a_video_shorter_than_two_seconds_gives_its_middle_frame(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 1.2, audio=False))

    await run_burst(settings)

    state = await client.job_status(
        redis, registry.GENERATE_VIDEO_THUMBNAIL.job_id_for({"media_id": media.id})
    )
    assert state.success and abs(state.result["at_s"] - 0.6) < 0.05


async def test_when_no_frame_is_found_at_the_time_the_first_frame_is_used(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, testdata: Path
) -> None:
    # One frame, 0.07 s: nothing at half the duration. Allowed here by a 0 s minimum.
    settings = with_settings(settings, "media", min_duration_s=0)
    path = testdata / "video" / "vp8_vorbis_0.07s.webm"
    media = await ingest(db, storage, redis, path)

    await run_burst(settings)

    state = await client.job_status(
        redis, registry.GENERATE_VIDEO_THUMBNAIL.job_id_for({"media_id": media.id})
    )
    assert state.success and state.result["at_s"] == 0.0
    assert (await media_row(db, media.id)).status == "READY"


# --- idempotency and time limits -----------------------------------------------------------


async def test_reruns_skip_done_work_and_force_redoes_it(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 1.0))
    await run_burst(settings)
    first = await outputs(db, media.id)
    await storage.put(first["PREVIEW"].storage_key, b"marker", content_type="video/mp4")
    await redis.delete(
        keys.result_key(registry.GENERATE_VIDEO_PREVIEW.job_id_for({"media_id": media.id}))
    )

    again = await client.enqueue_video_preview(redis, media.id)
    await run_burst(settings)
    info = await again.result_info()
    assert info is not None and info.success and info.result["skipped"] is True
    assert await storage.get(first["PREVIEW"].storage_key) == b"marker"

    forced = await client.enqueue_video_preview(redis, media.id, force=True)
    await run_burst(settings)
    info = await forced.result_info()
    assert info is not None and info.success and info.result["skipped"] is False
    assert await storage.get(first["PREVIEW"].storage_key) != b"marker"
    count = await db.fetchval(
        "SELECT count(*) FROM media_derivatives WHERE media_id = $1", media.id
    )
    assert count == len(first) == 8


@pytest.mark.parametrize(
    "section, field, enqueue, job",
    [
        (
            "video",
            "preview_timeout_s",
            client.enqueue_video_preview,
            registry.GENERATE_VIDEO_PREVIEW,
        ),
        ("audio", "waveform_timeout_s", client.enqueue_waveform, registry.GENERATE_WAVEFORM),
    ],
)
async def test_a_job_that_times_out_leaves_no_ffmpeg_behind(
    section: str,
    field: str,
    enqueue: Any,
    job: registry.JobDeclaration,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    tmp_path: Path,
) -> None:
    # An ffmpeg that reads its input at real-time speed: 10 s of video take 10 s.
    slow = tmp_path / "ffmpeg"
    slow.write_text('#!/bin/sh\nexec ffmpeg -re "$@"\n')
    slow.chmod(0o755)
    settings = with_settings(settings, "media", ffmpeg_path=str(slow))
    settings = with_settings(settings, section, **{field: 0.8})
    settings = with_settings(settings, "queue", max_retries=1)
    media = await ingest(db, storage, redis, clip(tmp_path / "v.mp4", 10.0, size="320x240"))
    await redis.delete(keys.QUEUE_NAME)  # only the job under test
    await enqueue(redis, media.id)
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.extend(ffmpeg_descendants(names=("ffmpeg",)))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        await run_burst(settings)
    finally:
        watcher.cancel()

    assert len(set(seen)) == 2, "ffmpeg ran on each of the two attempts"
    assert ffmpeg_descendants() == [], "and was killed and reaped each time"
    runs = await job_runs.list_for_job(db, job.job_id_for({"media_id": media.id}))
    assert [(r["status"], r["error_code"]) for r in runs] == [
        ("RETRYING", "TIMEOUT"),
        ("FAILED", "TIMEOUT"),
    ]
    found = await media_row(db, media.id)
    assert (found.status, found.error_code) == ("ERROR", "TIMEOUT")


# --- the real-world corpus -----------------------------------------------------------------

CORPUS = [e for e in manifest("audio") + manifest("video")]
TOO_SHORT = "video/vp8_vorbis_0.07s.webm"


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: Path(e["path"]).name)
async def test_every_audio_and_video_file_of_the_corpus(
    entry: dict[str, Any],
    testdata: Path,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
) -> None:
    expect = entry["expect"]
    media = await ingest(db, storage, redis, testdata / entry["path"])

    await run_burst(settings)

    found = await media_row(db, media.id)
    if entry["path"] == TOO_SHORT:
        assert (found.status, found.error_code) == ("ERROR", "BAD_INPUT")
        assert found.error_message and "shortest accepted" in found.error_message
        return
    assert (found.status, found.kind) == ("READY", entry["kind"].upper()), found
    assert found.duration_s is not None
    assert abs(found.duration_s - expect["duration_s"]) < max(0.06, 0.02 * expect["duration_s"])
    made = await outputs(db, media.id)
    if entry["kind"] == "audio":
        assert set(made) == WAVEFORM
        assert (found.sample_rate, found.channels) == (
            expect["sample_rate"],
            expect["channels"],
        )
        document = json.loads(await storage.get(made["WAVEFORM_JSON"].storage_key))
        assert (document["sample_rate"], document["channels"]) == (expect["sample_rate"], 1)
        assert (max(document["data"]) == 0) == expect["silent"] or expect["max_volume_db"] < -48
        return
    assert set(made) == POSTER | {"PREVIEW"} | (WAVEFORM if expect["has_audio"] else set())
    assert found.has_audio == expect["has_audio"]
    assert found.rotation == expect["rotation"] % 360
    display = (expect["display_width"], expect["display_height"])
    assert (found.width, found.height) == display
    preview = made["PREVIEW"]
    assert preview.width is not None and preview.height is not None
    assert preview.height <= 480 and preview.width % 2 == 0 and preview.height % 2 == 0
    assert abs(preview.width / preview.height - display[0] / display[1]) < 0.02
    large = made["LARGE"]
    assert large.width is not None and large.height is not None
    assert abs(large.width / large.height - display[0] / display[1]) < 0.02
