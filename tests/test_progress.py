"""Job progress: ffmpeg's -progress report read as a fraction, the reporter's throttling, and
a long ffmpeg job reporting increasing progress that job status reads can see."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from ai_stand_ins import AiStandIn, ai_settings
from conftest import TESTDATA, make_settings, running_worker
from media_fixtures import clip
from mediaworker import client, registry
from mediaworker.db.pool import Pool
from mediaworker.events import progress
from mediaworker.functions.audio_video import run_ffmpeg
from mediaworker.ingest import ingest_file
from mediaworker.processing.ffmpeg import PreviewSpec, preview_argv, probe_argv
from mediaworker.processing.ffmpeg_progress import ProgressReader
from mediaworker.processing.probe import Probe, parse_probe
from mediaworker.storage.base import Storage
from mediaworker.subprocesses import run_tool

JFK_MP3 = TESTDATA / "audio" / "speech_jfk_16k_mono.mp3"
FFMPEG_REPORT = """frame=50
out_time_us=N/A
progress=continue
frame=120
out_time_us=2000000
progress=continue
out_time_us=5000000
progress=continue
out_time_us=9000000
progress=end
"""


def test_ffmpeg_progress_blocks_become_fractions_of_the_expected_duration() -> None:
    reader = ProgressReader(expected_s=10)
    fractions = [f for line in FFMPEG_REPORT.splitlines() if (f := reader.feed(line)) is not None]
    assert fractions == [0.2, 0.5, 1.0], "no fraction before the first frame; 1.0 at the end"


def test_without_an_expected_duration_only_the_end_is_reported() -> None:
    reader = ProgressReader(expected_s=None)
    fractions = [f for line in FFMPEG_REPORT.splitlines() if (f := reader.feed(line)) is not None]
    assert fractions == [1.0]


async def test_reports_are_throttled_clamped_and_never_go_back_within_a_stage(
    redis: ArqRedis,
) -> None:
    reporter = progress.Reporter(redis, "job-a")
    await reporter.report(0.1, "decoding")
    await reporter.report(0.2, "decoding")  # within MIN_INTERVAL_S: not written
    assert (await progress.read(redis, "job-a")).fraction == 0.1  # type: ignore[union-attr]
    await reporter.report(0.3, "drawing")  # a new stage is written at once
    await reporter.report(0.25, "drawing")  # never back within a stage
    found = await progress.read(redis, "job-a")
    assert found is not None and (found.fraction, found.stage) == (0.3, "drawing")
    await reporter.report(7, "drawing")  # the end is written at once, clamped to 1
    found = await progress.read(redis, "job-a")
    assert found is not None and found.fraction == 1.0
    assert 0 < await redis.ttl("mediaworker:progress:job-a") <= 24 * 3600


async def test_reporting_outside_a_job_does_nothing(redis: ArqRedis) -> None:
    await progress.report(0.5, "nowhere")
    assert await redis.keys("mediaworker:progress:*") == []


async def test_a_long_ffmpeg_encode_reports_increasing_progress(
    redis: ArqRedis, tmp_path: Path
) -> None:
    source = clip(tmp_path / "long.mp4", seconds=40, size="640x360", audio=False)
    probe = await probe_of(source)
    # x264's "slow" preset: several seconds of encoding even on an idle machine, so the
    # reports (at most one every 0.5 s) have time to show more than one value
    spec = PreviewSpec(seconds=40, max_lines=360, crf=23, preset="slow", audio_kbps=96)
    argv = preview_argv("ffmpeg", str(source), probe, str(tmp_path / "p.mp4"), spec)
    seen: list[float] = []

    async def job() -> None:
        progress.start(redis, "preview-long")
        await run_ffmpeg(
            argv, timeout_s=120, what="preview encoding", expected_s=40, part=progress.scaled(0, 1)
        )

    task = asyncio.create_task(job())
    while True:
        done = task.done()
        found = await progress.read(redis, "preview-long")
        if found is not None and (not seen or found.fraction != seen[-1]):
            seen.append(found.fraction)
        if done:
            break
        await asyncio.sleep(0.05)
    await task
    between = [f for f in seen if 0 < f < 1]
    assert len(between) >= 2, f"several values while it ran: {seen}"
    assert seen == sorted(seen) and seen[-1] == 1.0


async def probe_of(path: Path) -> Probe:
    done = await run_tool(probe_argv("ffprobe", str(path)), timeout_s=30, what="ffprobe")
    return parse_probe(done.stdout)


def preview_spec(seconds: float) -> PreviewSpec:
    return PreviewSpec(seconds=seconds, max_lines=360, crf=23, preset="veryfast", audio_kbps=96)


async def test_a_preview_job_reports_increasing_progress_that_job_status_shows(
    db: Pool, redis: ArqRedis, storage: Storage, tmp_path: Path
) -> None:
    source = clip(tmp_path / "long.mp4", seconds=40, size="640x360", audio=False)
    media = (await ingest_file(db, storage, redis, source)).media
    settings = make_settings(tmp_path / "storage")
    video = settings.video.model_copy(update={"preview_seconds": 40})
    settings = settings.model_copy(update={"video": video})
    async with running_worker(settings):
        seen = await watch_progress(
            redis, registry.GENERATE_VIDEO_PREVIEW.job_id_for({"media_id": media.id})
        )
    fractions = [f for f, _ in seen]
    encoding = [f for f, stage in seen if stage == "preview encoding" and 0 < f < 1]
    assert len(encoding) >= 2, f"several values while ffmpeg encoded: {seen}"
    assert fractions == sorted(fractions), "progress only goes up"
    assert seen[-1] == (1.0, "done")


async def watch_progress(redis: ArqRedis, job_id: str) -> list[tuple[float, str | None]]:
    """Every distinct progress value of `job_id` until it completes."""
    seen: list[tuple[float, str | None]] = []
    while True:
        state = await client.job_status(redis, job_id)
        reported = state.progress
        if reported and (not seen or seen[-1] != (reported["fraction"], reported["stage"])):
            seen.append((reported["fraction"], reported["stage"]))
        if state.status == "complete":
            return seen
        await asyncio.sleep(0.05)


@pytest.mark.skipif(not JFK_MP3.is_file(), reason="../shared/testdata is not present")
async def test_a_chunked_transcription_reports_the_chunks_done(
    db: Pool, redis: ArqRedis, storage: Storage, tmp_path: Path
) -> None:
    media = (await ingest_file(db, storage, redis, JFK_MP3)).media
    await redis.flushdb()  # only the transcription runs
    async with AiStandIn() as api:
        api.slow_s = 0.7
        api.fail_always("audio.transcribe", "slow")  # each chunk takes 0.7 s
        settings = ai_settings(
            make_settings(tmp_path / "storage"), api, TRANSCRIPTION_MAX_UPLOAD_BYTES=30_000
        )
        job = await client.enqueue_transcription(redis, media.id)
        async with running_worker(settings):
            seen = await watch_progress(redis, job.job_id)
    transcribing = [f for f, stage in seen if stage == "transcribing"]
    chunks_done = {0.1: 0, 0.3833: 1, 0.6667: 2, 0.95: 3}  # 0.1 + 0.85 * done / 3
    assert set(transcribing) <= set(chunks_done), seen
    assert len(transcribing) >= 2 and transcribing == sorted(transcribing), seen
    assert seen[-1] == (1.0, "done")
