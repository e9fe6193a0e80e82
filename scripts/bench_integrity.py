"""Benchmark what refusing truncated and damaged media costs, against the decode each job does.

On media generated with lavfi (a 60 s 1080p30 H.264 + AAC faststart MP4; 60 s of audio as MP3,
FLAC, WAV and Ogg Vorbis), for each job the decode it runs anyway (the reference), and the
checks `processing/integrity.py` adds to it:

  poster     decode: the frame at 2 s as a raw TIFF (`thumbnail_frame_argv`)
             check:  the container check and the end scan (ffprobe demuxing, not decoding,
                     the last 5 s: `end_scan_argv`, `check_end`)
  preview    decode: the 10 s 480-line H.264 + AAC preview (`preview_argv`)
             check:  the end scan, as for the poster (the stderr and duration checks on the
                     preview's own run cost microseconds)
  waveform   decode: the audio to mono s16le PCM (`decode_pcm_argv`)
             check:  the container check, the MP3 frame-count read, the stderr and duration
                     checks (`check_decode`)

Also shown: a second full decode of the input (`ffmpeg -i x -f null -`), the way a check could
have been done and was not. Runs alternate (decode, check, decode, ...); medians of --repeats.

    .venv/bin/python scripts/bench_integrity.py [--repeats 7] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mediaworker.processing import ffmpeg as ff
from mediaworker.processing import integrity
from mediaworker.subprocesses import run_tool

Step = Callable[[], Awaitable[Any]]
PREVIEW = ff.PreviewSpec(seconds=10, max_lines=480, crf=23, preset="veryfast", audio_kbps=128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-integrity-") as tmp:
        work = Path(tmp)
        inputs = generate(work, args.seconds)
        print(
            f"{args.seconds:g} s inputs; median of {args.repeats}; {os.cpu_count()} cores; {load()}"
        )
        print(f"\n{'':<18} {'decode':>9} {'check':>9} {'ratio':>7} {'2nd full decode':>16}")
        video = inputs["video.mp4"]
        probe = await probed(video)
        frame = ff.thumbnail_frame_argv("ffmpeg", str(video), probe, str(work / "f.tif"), at_s=2)
        clip = ff.preview_argv("ffmpeg", str(video), probe, str(work / "p.mp4"), PREVIEW)
        rows = [
            ("poster (mp4)", tool(frame), end_check(video, probe), video),
            ("preview (mp4)", tool(clip), end_check(video, probe), video),
        ]
        for name in ("audio.mp3", "audio.flac", "audio.wav", "audio.ogg"):
            path = inputs[name]
            found = await probed(path)
            pcm = work / "a.pcm"
            decode = ff.decode_pcm_argv("ffmpeg", str(path), found, str(pcm), max_duration_s=3600)
            done = await run_tool(decode, timeout_s=600, what="decode")
            check = decode_check(path, found, done.stderr, pcm)
            rows.append((f"waveform ({path.suffix[1:]})", tool(decode), check, path))
        for label, decode_step, check_step, source in rows:
            decode_s, check_s = await alternate(decode_step, check_step, args.repeats)
            full_s = statistics.median([await timed(full_decode(source)) for _ in range(3)])
            print(
                f"{label:<18} {decode_s * 1000:>7.1f}ms {check_s * 1000:>7.1f}ms "
                f"{check_s / decode_s:>6.3f}x {full_s * 1000:>14.0f}ms"
            )
    print(f"\n{load()}")


def generate(work: Path, seconds: float) -> dict[str, Path]:
    def ffmpeg(*argv: str) -> None:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *argv], check=True)

    video = f"testsrc2=size=1920x1080:rate=30:duration={seconds}"
    tone = f"sine=frequency=330:sample_rate=48000:duration={seconds}"
    ffmpeg(
        *("-f", "lavfi", "-i", video, "-f", "lavfi", "-i", tone),
        *("-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-shortest", "-movflags", "+faststart", str(work / "video.mp4")),
    )
    chirp = f"aevalsrc='0.4*sin(2*PI*(200+50*sin(t))*t)+0.05*random(0)':s=44100:d={seconds}"
    for name in ("audio.mp3", "audio.flac", "audio.wav", "audio.ogg"):
        ffmpeg("-f", "lavfi", "-i", chirp, "-ac", "2", str(work / name))
    return {p.name: p for p in work.iterdir()}


async def probed(path: Path) -> ff.Probe:
    done = await run_tool(ff.probe_argv("ffprobe", str(path)), timeout_s=60, what="ffprobe")
    return ff.require_media(ff.parse_probe(done.stdout))


def tool(argv: list[str]) -> Step:
    async def step() -> Any:
        return await run_tool(argv, timeout_s=600, what=argv[0])

    return step


def end_check(path: Path, probe: ff.Probe) -> Step:
    async def step() -> None:
        await asyncio.to_thread(integrity.check_container, str(path), probe)
        argv = integrity.end_scan_argv("ffprobe", str(path), probe)
        done = await run_tool(argv, timeout_s=60, what="ffprobe end scan")
        integrity.check_end(probe, str(path), done.stdout.decode(), done.stderr)

    return step


def decode_check(path: Path, probe: ff.Probe, stderr: str, pcm: Path) -> Step:
    decoded_s = pcm.stat().st_size / 2 / ff.pcm_sample_rate(probe)

    async def step() -> None:
        await asyncio.to_thread(integrity.check_container, str(path), probe)
        await asyncio.to_thread(
            integrity.check_decode, probe, str(path), stderr, decoded_s, limit_s=3600
        )

    return step


def full_decode(path: Path) -> Step:
    return tool(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"])


async def alternate(first: Step, second: Step, repeats: int) -> tuple[float, float]:
    await first()
    await second()
    a, b = [], []
    for _ in range(repeats):
        a.append(await timed(first))
        b.append(await timed(second))
    return statistics.median(a), statistics.median(b)


async def timed(step: Step) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
