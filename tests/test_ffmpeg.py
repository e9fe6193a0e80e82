"""processing/ffmpeg.py (argument lists, the probe) and subprocesses.py (the runner), without
Redis or Postgres: safety flags, the format check against hostile files, probe parsing on
generated media and on ../shared/testdata, and processes killed on timeout and cancellation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import manifest
from media_fixtures import (
    clip,
    concat_list,
    ffmpeg_descendants,
    hls_playlist,
    mp3_with_cover,
    tone,
)
from mediaworker.errors import BadInputError, NotConfiguredError, TimeoutExceededError
from mediaworker.processing import ffmpeg
from mediaworker.processing.ffmpeg import PreviewSpec
from mediaworker.processing.probe import (
    MediaLimits,
    NotMediaError,
    Probe,
    Stream,
    check_limits,
    failure_reason,
    parse_probe,
    probe_failure,
    require_media,
)
from mediaworker.subprocesses import ToolCrashedError, run_tool

PREVIEW = PreviewSpec(seconds=10, max_lines=480, crf=23, preset="veryfast", audio_kbps=128)
LIMITS = MediaLimits(max_duration_s=3600, min_duration_s=0.1, max_video_pixels=8192 * 4320)


async def run_sync(*argv: str) -> bytes:
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, check=False)
    return done.stdout


async def probe(path: Path) -> Probe:
    done = await run_tool(
        ffmpeg.probe_argv("ffprobe", str(path)), timeout_s=30, what="ffprobe", check=False
    )
    if done.returncode != 0:
        raise probe_failure(done.stderr)
    return require_media(parse_probe(done.stdout))


def video_probe(**video: Any) -> Probe:
    stream = Stream(index=0, type="video", codec="h264", width=1280, height=720)
    audio = Stream(index=1, type="audio", codec="aac", sample_rate=48000, channels=6)
    return Probe(
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration_s=12.0,
        size_bytes=1000,
        bit_rate=None,
        streams=(Stream(**{**stream.__dict__, **video}), audio),
    )


# --- argument lists ------------------------------------------------------------------------


def test_every_ffmpeg_run_is_locked_down() -> None:
    probe_ = video_probe()
    runs = [
        ffmpeg.decode_pcm_argv("ffmpeg", "/s/in", probe_, "/s/out.pcm", max_duration_s=60),
        ffmpeg.preview_argv("ffmpeg", "/s/in", probe_, "/s/out.mp4", PREVIEW),
    ]
    for argv in runs:
        assert argv[:2] == ["ffmpeg", "-nostdin"]
        at = argv.index("-i")
        inputs = dict(itertools.pairwise(argv[:at]))
        assert inputs["-protocol_whitelist"] == "file,pipe"
        assert inputs["-format_whitelist"] == "mov" and inputs["-f"] == "mov", "demuxer pinned"
        assert argv[at + 1] == "file:/s/in"
        assert argv[-1].startswith("file:/s/")


def test_the_probe_accepts_only_listed_containers() -> None:
    argv = ffmpeg.probe_argv("ffprobe", "/s/in")
    options = dict(itertools.pairwise(argv))

    accepted = options["-format_whitelist"].split(",")
    assert {"mov", "matroska", "mp3", "wav", "flac", "ogg"} <= set(accepted)
    assert not {"hls", "concat", "image2", "dash", "tee", "subfile"} & set(accepted)
    assert options["-protocol_whitelist"] == "file,pipe"
    assert argv[-2:] == ["-i", "file:/s/in"]


def test_relative_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="absolute"):
        ffmpeg.probe_argv("ffprobe", "-i")


def test_the_preview_maps_its_streams_by_index_and_downmixes_surround() -> None:
    argv = ffmpeg.preview_argv("ffmpeg", "/s/in", video_probe(), "/s/o.mp4", PREVIEW)
    text = " ".join(argv)

    assert "-map 0:0" in text and "-map 0:1" in text
    assert "-t 10.000 -i" in text, "only the first seconds are read"
    assert "-c:v libx264" in text and "-pix_fmt yuv420p" in text and "-c:a aac" in text
    assert "-ac 2" in text and "-movflags +faststart" in text and "-map_metadata -1" in text
    assert "min(480,ih)" in text


def test_the_poster_time_is_two_seconds_or_half_a_shorter_video() -> None:
    assert ffmpeg.thumbnail_at(video_probe(), 2.0) == 2.0
    short = Probe("matroska,webm", 1.5, None, None, video_probe().streams)
    assert ffmpeg.thumbnail_at(short, 2.0) == 0.75


# --- probe parsing -------------------------------------------------------------------------


def test_parse_probe_reads_streams_rotation_and_cover_pictures() -> None:
    found = parse_probe(
        json.dumps(
            {
                "format": {"format_name": "mp3", "duration": "2.5", "size": "1000"},
                "streams": [
                    {"index": 0, "codec_type": "audio", "codec_name": "mp3",
                     "sample_rate": "44100", "channels": 2, "duration": "2.5"},
                    {"index": 1, "codec_type": "video", "codec_name": "mjpeg", "width": 500,
                     "height": 500, "avg_frame_rate": "0/0",
                     "disposition": {"attached_pic": 1},
                     "side_data_list": [{"rotation": -90}]},
                ],
            }
        )
    )  # fmt: skip

    assert (found.kind, found.demuxer, found.duration_s, found.has_video) == (
        "AUDIO",
        "mp3",
        2.5,
        False,
    )
    cover = found.streams[1]
    assert cover.attached_pic and cover.rotation == 270 and cover.frame_rate is None
    assert found.audio is not None and (found.audio.sample_rate, found.audio.channels) == (
        44100,
        2,
    )
    assert json.loads(json.dumps(found.summary()))["streams"][0]["codec"] == "mp3"


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"format": {}}', "not json"])
def test_garbage_from_ffprobe_is_bad_input(text: str) -> None:
    with pytest.raises(BadInputError):
        parse_probe(text)


def test_limits_on_duration_and_frame_size() -> None:
    check_limits(video_probe(), LIMITS)
    with pytest.raises(BadInputError, match=r"12\.0 s long, over the 10\.0 s limit"):
        check_limits(video_probe(), MediaLimits(10, 0.1, 10**9))
    with pytest.raises(BadInputError, match="shortest accepted is 20 s"):
        check_limits(video_probe(), MediaLimits(3600, 20, 10**9))
    with pytest.raises(BadInputError, match="16384x16384, over the 35 MP limit"):
        check_limits(video_probe(width=16384, height=16384), LIMITS)


def test_failure_reasons_lose_their_paths() -> None:
    stderr = (
        "[matroska,webm @ 0x55be49cdd1c0] EBML header parsing failed\n"
        "file:/tmp/mediaworker-abc/original: Invalid data found when processing input\n"
    )
    assert failure_reason(stderr) == "Invalid data found when processing input"
    assert failure_reason("") == "no reason given"


async def test_generated_media_is_probed_as_what_it_is(tmp_path: Path) -> None:
    mp3 = await probe(tone(tmp_path / "t.mp3", 2.0, rate=22050, channels=2))
    cover = await probe(mp3_with_cover(tmp_path / "c.mp3"))
    movie = await probe(clip(tmp_path / "v.mp4", 2.0, size="320x240"))
    mute = await probe(clip(tmp_path / "m.webm", 1.0, audio=False))
    turned = await probe(clip(tmp_path / "r.mp4", 1.0, size="320x240", rotate=90))

    assert (mp3.kind, mp3.demuxer, mp3.audio and mp3.audio.channels) == ("AUDIO", "mp3", 2)
    assert cover.kind == "AUDIO", "an MP3 with cover art is audio"
    assert any(s.attached_pic for s in cover.streams)
    assert (movie.kind, movie.has_audio, movie.display_size) == ("VIDEO", True, (320, 240))
    assert movie.video is not None and movie.video.frame_rate == 25
    assert (mute.kind, mute.has_audio, mute.demuxer) == ("VIDEO", False, "matroska")
    assert turned.video is not None and turned.video.rotation == 90
    assert turned.display_size == (240, 320)


@pytest.mark.parametrize(
    "entry",
    [e for e in manifest("audio") + manifest("video")],
    ids=lambda e: Path(e["path"]).name,
)
async def test_the_corpus_is_probed_as_the_manifest_says(
    entry: dict[str, Any], testdata: Path
) -> None:
    expect = entry["expect"]
    found = await probe(testdata / entry["path"])

    assert found.kind == entry["kind"].upper()
    assert found.duration_s is not None and abs(found.duration_s - expect["duration_s"]) < 0.01
    if entry["kind"] == "audio":
        assert found.audio is not None
        assert (found.audio.sample_rate, found.audio.channels) == (
            expect["sample_rate"],
            expect["channels"],
        )
        assert found.audio.codec == expect["codec"]
        assert any(s.type == "video" for s in found.streams) == expect["has_video_stream"]
        return
    assert found.video is not None and found.video.codec == expect["video_codec"]
    assert found.has_audio == expect["has_audio"]
    assert found.video.rotation == expect["rotation"] % 360
    assert found.display_size == (expect["display_width"], expect["display_height"])
    assert found.container == expect["container"]


# --- hostile and broken files --------------------------------------------------------------


async def test_an_hls_playlist_named_mp4_is_refused_before_it_opens_its_segment(
    tmp_path: Path,
) -> None:
    secret = clip(tmp_path / "someone-elses.ts", 1.0, size="160x120")
    playlist = hls_playlist(tmp_path / "upload.mp4", secret)

    # Without the format whitelist, ffprobe follows the playlist into the other file...
    unsafe = await run_sync(
        *("ffprobe", "-v", "error", "-protocol_whitelist", "file,pipe", "-show_streams"),
        *("-of", "json", f"file:{playlist}"),
    )
    assert json.loads(unsafe)["streams"][0]["width"] == 160, "the attack works unguarded"

    # ...with it, the playlist is refused as a format: nothing is opened.
    with pytest.raises(NotMediaError) as caught:
        await probe(playlist)
    assert caught.value.refused == "hls" and not caught.value.image
    assert "hls is not an accepted format" in caught.value.message


async def test_a_playlist_pointing_at_system_files_and_a_concat_list_are_refused(
    tmp_path: Path,
) -> None:
    playlist = hls_playlist(tmp_path / "a.mp4", Path("/etc/passwd"))
    listing = concat_list(tmp_path / "b.mkv", clip(tmp_path / "c.mp4", 1.0))

    for path, demuxer in ((playlist, "hls"), (listing, "concat")):
        with pytest.raises(NotMediaError) as caught:
            await probe(path)
        assert caught.value.refused == demuxer


async def test_an_image_is_told_apart_from_a_broken_file(tmp_path: Path, testdata: Path) -> None:
    frame = tmp_path / "frame.mp4"
    await run_sync(
        *("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64"),
        *("-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", str(frame)),
    )

    with pytest.raises(NotMediaError) as image:
        await probe(frame)
    with pytest.raises(NotMediaError) as corrupt:
        await probe(testdata / "broken" / "corrupt.mkv")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(NotMediaError) as nothing:
        await probe(empty)

    assert image.value.image and image.value.refused == "jpeg_pipe"
    assert not corrupt.value.image and corrupt.value.refused is None
    assert "Invalid data found" in corrupt.value.message
    assert not nothing.value.image


# --- the runner ----------------------------------------------------------------------------


def endless_ffmpeg() -> list[str]:
    realtime_tone = ("-re", "-f", "lavfi", "-i", "sine")
    return ["ffmpeg", "-nostdin", "-v", "error", *realtime_tone, "-f", "null", "-"]


async def test_a_run_over_its_time_limit_is_killed_and_reaped() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutExceededError, match=r"encoding took longer than 0\.5 s"):
        await run_tool(endless_ffmpeg(), timeout_s=0.5, what="encoding")

    assert time.monotonic() - started < 3
    assert ffmpeg_descendants() == []


async def test_a_cancelled_run_is_killed_and_reaped() -> None:
    task = asyncio.create_task(run_tool(endless_ffmpeg(), timeout_s=60, what="encoding"))
    for _ in range(100):
        if ffmpeg_descendants():
            break
        await asyncio.sleep(0.02)
    assert ffmpeg_descendants(), "ffmpeg started"

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert ffmpeg_descendants() == []


async def test_a_failing_tool_gives_bad_input_with_its_last_error_line(tmp_path: Path) -> None:
    missing = f"file:{tmp_path}/missing.mp4"
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-i", missing, "-f", "null", "-"]
    with pytest.raises(BadInputError, match="decoding failed: No such file or directory"):
        await run_tool(argv, timeout_s=10, what="decoding")


async def test_a_missing_program_is_not_configured() -> None:
    with pytest.raises(NotConfiguredError, match="FFMPEG-NOPE_PATH"):
        await run_tool(["/nonexistent/ffmpeg-nope"], timeout_s=5, what="x")


async def test_a_tool_killed_by_a_signal_is_worth_retrying() -> None:
    argv = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    with pytest.raises(ToolCrashedError, match="signal 9 SIGKILL"):
        await run_tool(argv, timeout_s=10, what="decoding")


async def test_output_beyond_the_limit_is_refused_and_the_tool_stopped() -> None:
    argv = [sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'x' * 3_000_000)"]
    with pytest.raises(BadInputError, match="more than 1 MiB"):
        await run_tool(argv, timeout_s=10, what="ffprobe", max_stdout_bytes=2**20)
