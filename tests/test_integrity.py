"""processing/integrity.py and the decoder whitelist, without Redis or Postgres: what counts as
cut short or damaged (and what does not), on files made with lavfi and cut or damaged here.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from media_fixtures import clip, corrupt_middle, cut_short, ffmpeg, tone
from mediaworker.errors import BadInputError
from mediaworker.processing import integrity
from mediaworker.processing.ffmpeg import (
    CODEC_WHITELIST,
    PreviewSpec,
    decode_pcm_argv,
    preview_argv,
    probe_argv,
)
from mediaworker.processing.frame import frame_request, poster_thumbnails
from mediaworker.processing.image import EncodeSpec, SizeSpec
from mediaworker.processing.integrity import DamagedError, TruncatedError
from mediaworker.processing.probe import Probe, parse_probe, probe_failure, require_media
from mediaworker.processing.speech import chunks_argv
from mediaworker.subprocesses import run_tool

SIZES = [SizeSpec("THUMBNAIL", 150, 150, crop=True)]


async def probe(path: Path) -> Probe:
    done = await run_tool(probe_argv("ffprobe", str(path)), timeout_s=30, what="p", check=False)
    if done.returncode != 0:
        raise probe_failure(done.stderr)
    return require_media(parse_probe(done.stdout))


async def end_check(path: Path, tmp_path: Path) -> None:
    """The poster frame's decode, scanning the end, as `generate_video_thumbnail` runs it."""
    found = await probe(path)
    integrity.check_container(str(path), found)
    request = frame_request(str(path), found, preferred_s=1.0, max_pixels=10**8)
    poster = await asyncio.to_thread(poster_thumbnails, request, SIZES, EncodeSpec("jpeg", 80))
    integrity.check_end_found(found, str(path), poster.end_s, poster.log)


async def decode_check(path: Path, tmp_path: Path) -> None:
    found = await probe(path)
    pcm = tmp_path / "out.pcm"
    argv = decode_pcm_argv("ffmpeg", str(path), found, str(pcm), max_duration_s=3600)
    done = await run_tool(argv, timeout_s=60, what="decode")
    integrity.check_container(str(path), found)
    decoded_s = pcm.stat().st_size / 2 / 48000 if pcm.exists() else 0.0
    integrity.check_decode(found, str(path), done.stderr, decoded_s, limit_s=3600)


# --- the decoder whitelist and -t ------------------------------------------------------------


def test_every_run_on_an_upload_names_its_decoders() -> None:
    found = parse_probe(
        '{"format": {"format_name": "mov,mp4", "duration": "5"}, "streams": ['
        '{"index": 0, "codec_type": "video", "width": 64, "height": 64},'
        '{"index": 1, "codec_type": "audio", "sample_rate": "48000"}]}'
    )
    runs = [
        probe_argv("ffprobe", "/s/in"),
        decode_pcm_argv("ffmpeg", "/s/in", found, "/s/o.pcm", max_duration_s=60),
        integrity.with_end_scan(
            decode_pcm_argv("ffmpeg", "/s/in", found, "/s/o.pcm", max_duration_s=60), "/s/in", found
        ),
        chunks_argv(
            "ffmpeg",
            "/s/in",
            found,
            "/s/c-%d.mp3",
            "/s/l.csv",
            codec="mp3",
            seconds=60,
            max_duration_s=90,
        ),
    ]
    for argv in runs:
        inputs = [at for at, option in enumerate(argv) if option == "-i"]
        for begin, at in zip([0, *inputs], inputs, strict=False):
            options = dict(itertools.pairwise(argv[begin:at]))
            assert options["-codec_whitelist"] == CODEC_WHITELIST, argv
    chunker = dict(itertools.pairwise(runs[-1][: runs[-1].index("-i")]))
    assert chunker["-t"] == "90.000", "the chunker reads at most the longest accepted duration"
    assert "cinepak" not in CODEC_WHITELIST.split(",")


async def test_a_codec_off_the_whitelist_is_refused_at_the_probe(tmp_path: Path) -> None:
    path = tmp_path / "old.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:duration=1", "-c:v", "cinepak", str(path))

    with pytest.raises(BadInputError, match="cinepak codec is not accepted"):
        await probe(path)


async def test_the_poster_decode_refuses_a_decoder_off_the_whitelist_and_a_wrong_demuxer(
    tmp_path: Path,
) -> None:
    """The in-process poster decode holds to the whitelists even when handed a probe that is
    not this file's (a row's stored probe is data, not proof)."""
    path = tmp_path / "old.avi"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:duration=1", "-c:v", "cinepak", str(path))
    lied = parse_probe(
        '{"format": {"format_name": "avi", "duration": "1"}, "streams": ['
        '{"index": 0, "codec_type": "video", "codec_name": "h264", "width": 64, "height": 64}]}'
    )
    request = frame_request(str(path), lied, preferred_s=0.5, max_pixels=10**8)
    with pytest.raises(BadInputError, match="not an accepted video stream"):
        poster_thumbnails(request, SIZES, EncodeSpec("jpeg", 80))

    as_mp4 = frame_request(
        str(path), await probe(clip(tmp_path / "v.mp4", 1.0)), preferred_s=0.5, max_pixels=10**8
    )
    with pytest.raises(BadInputError, match="cannot open the video"):
        poster_thumbnails(as_mp4, SIZES, EncodeSpec("jpeg", 80))


def test_the_poster_decode_refuses_frames_over_the_pixel_limit(tmp_path: Path) -> None:
    path = clip(tmp_path / "v.mp4", 1.0, size="640x480")
    found = parse_probe(
        '{"format": {"format_name": "mov,mp4", "duration": "1"}, "streams": ['
        '{"index": 0, "codec_type": "video", "codec_name": "h264", "width": 640, "height": 480}]}'
    )
    request = frame_request(str(path), found, preferred_s=0.5, max_pixels=640 * 480 - 1)
    with pytest.raises(BadInputError, match="over the pixel limit"):
        poster_thumbnails(request, SIZES, EncodeSpec("jpeg", 80))


def test_the_preview_of_a_whitelisted_input_still_encodes_with_x264() -> None:
    found = parse_probe(
        '{"format": {"format_name": "matroska,webm", "duration": "5"}, "streams": ['
        '{"index": 0, "codec_type": "video", "width": 64, "height": 64}]}'
    )
    spec = PreviewSpec(seconds=10, max_lines=480, crf=23, preset="veryfast", audio_kbps=96)
    argv = preview_argv("ffmpeg", "/s/in", found, "/s/o.mp4", spec)
    assert argv[argv.index("-c:v") + 1] == "libx264"


# --- the end scan ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v.mp4", "v.webm"])
async def test_a_video_cut_to_a_third_is_found_by_its_last_packets(
    name: str, tmp_path: Path
) -> None:
    whole = clip(tmp_path / name, 6.0, size="160x120", faststart=True)
    await end_check(whole, tmp_path)

    with pytest.raises(TruncatedError, match="truncated"):
        await end_check(cut_short(whole, tmp_path / f"cut-{name}"), tmp_path)


# --- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["wav", "mp3", "flac", "ogg"])
async def test_audio_cut_in_half_is_truncated_and_whole_audio_is_not(
    ext: str, tmp_path: Path
) -> None:
    whole = tone(tmp_path / f"whole.{ext}", 10.0, rate=48000)
    await decode_check(whole, tmp_path)

    with pytest.raises(TruncatedError, match="truncated"):
        await decode_check(cut_short(whole, tmp_path / f"cut.{ext}", 0.5), tmp_path)


async def test_pcm_damaged_in_the_middle_is_still_sound(tmp_path: Path) -> None:
    """Any bytes are valid PCM: a damaged WAV decodes whole, and no check can tell."""
    damaged = corrupt_middle(tone(tmp_path / "w.wav", 4.0, rate=48000), tmp_path / "d.wav")
    await decode_check(damaged, tmp_path)


def test_one_frame_that_does_not_decode_is_not_damage_but_two_are() -> None:
    found = parse_probe('{"format": {"format_name": "mp3"}, "streams": []}')
    once = "Error while decoding stream #0:0: Invalid data found when processing input\n"
    integrity.check_decode(found, "/nowhere", once, None, limit_s=60)

    with pytest.raises(DamagedError, match="damaged: Error while decoding"):
        integrity.check_decode(
            found, "/nowhere", once + "    Last message repeated 1 times\n", None, limit_s=60
        )
    with pytest.raises(TruncatedError, match="partial file"):
        integrity.check_decode(
            found, "/n", "[mov,mp4 @ 0x55d] stream 1, offset 0x1: partial file", None, limit_s=60
        )


def test_an_mp3_without_a_frame_count_declares_no_duration(tmp_path: Path) -> None:
    with_count = tone(tmp_path / "xing.mp3", 2.0)
    without = tmp_path / "plain.mp3"
    ffmpeg("-i", str(with_count), "-c", "copy", "-write_xing", "0", str(without))

    assert integrity.mp3_has_frame_count(str(with_count))
    assert not integrity.mp3_has_frame_count(str(without))
