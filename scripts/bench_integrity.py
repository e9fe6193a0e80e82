"""Benchmark what refusing truncated and damaged media costs, against the decode each job does.

On media generated with lavfi (a 60 s 1080p30 H.264 + AAC faststart MP4; 60 s of audio as MP3,
FLAC, WAV and Ogg Vorbis), each job's ffmpeg run as it was (before) and with the checks of
`processing/integrity.py` (after); the ratio is after / before:

  poster     before: the frame at 2 s as a raw TIFF by the ffmpeg command (`frame_argv`: how
                     the poster job got its frame until it decoded it in the CPU pool, see
                     processing/frame.py and bench_media.py)
             after:  the same run given the end scan (`with_end_scan`: the last 5 s copied,
                     not decoded, to framecrc), then `check_container` and `check_end`
  preview    before: the 10 s 480-line H.264 + AAC preview (`preview_argv`)
             after:  the same with the end scan, `check_end` and `check_decode`
  waveform   before: the audio to mono s16le PCM (`decode_pcm_argv`)
             after:  the same, then `check_container`, the MP3 frame-count read, `check_decode`
  end scan as its own ffprobe: what the poster would pay for a separate process instead

Also shown: a second full decode of the input (`ffmpeg -i x -f null -`), the way a check could
have been made and was not. Runs alternate (before, after, ...); medians of --repeats.

    .venv/bin/python scripts/bench_integrity.py [--repeats 7] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mediaworker.processing import ffmpeg as ff
from mediaworker.processing import integrity
from mediaworker.processing import probe as fp  # what ffprobe found
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
        print(f"\n{'':<16} {'wall: before':>13} {'after':>9} {'ratio':>6}", end="")
        print(f" {'CPU: before':>12} {'after':>9} {'ratio':>6} {'2nd full decode':>16}")
        video = inputs["video.mp4"]
        probe = await probed(video)
        frame = frame_argv(video, probe, work / "f.tif")
        clip = ff.preview_argv("ffmpeg", str(video), probe, str(work / "p.mp4"), PREVIEW)
        rows = [
            ("poster (mp4)", tool(frame), scanned(frame, video, probe, None), video),
            ("preview (mp4)", tool(clip), scanned(clip, video, probe, work / "p.mp4"), video),
            ("end scan alone", tool(frame), separate_scan(frame, video, probe), video),
        ]
        for name in ("audio.mp3", "audio.flac", "audio.wav", "audio.ogg"):
            path = inputs[name]
            found = await probed(path)
            pcm = work / "a.pcm"
            decode = ff.decode_pcm_argv("ffmpeg", str(path), found, str(pcm), max_duration_s=3600)
            rows.append(
                (f"waveform ({path.suffix[1:]})", tool(decode), checked(decode, found, pcm), path)
            )
        for label, before_step, after_step, source in rows:
            before, after = await alternate(before_step, after_step, args.repeats)
            full_s = statistics.median([await timed(full_decode(source)) for _ in range(3)])
            print(f"{label:<16} {_row(before, after, 0)} {_row(before, after, 1)}", end="")
            print(f" {full_s * 1000:>14.0f}ms")
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


async def probed(path: Path) -> fp.Probe:
    done = await run_tool(ff.probe_argv("ffprobe", str(path)), timeout_s=60, what="ffprobe")
    return fp.require_media(fp.parse_probe(done.stdout))


def frame_argv(video: Path, probe: fp.Probe, output: Path) -> list[str]:
    """The frame at 2 s of `video` as an uncompressed RGB TIFF, in one ffmpeg run."""
    return [
        *("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", "2"),
        *("-protocol_whitelist", ff.PROTOCOLS, "-f", probe.demuxer, "-i", ff.file_url(str(video))),
        *("-map", "0:v:0", "-frames:v", "1", "-pix_fmt", "rgb24", "-c:v", "tiff"),
        *("-compression_algo", "raw", "-f", "image2", "-update", "1", ff.file_url(str(output))),
    ]


def tool(argv: list[str]) -> Step:
    async def step() -> Any:
        return await run_tool(argv, timeout_s=600, what=argv[0])

    return step


def scanned(argv: list[str], path: Path, probe: fp.Probe, made: Path | None) -> Step:
    """The job's run with the end scan, and its checks (the preview's: on its own output)."""
    with_scan = integrity.with_end_scan(argv, str(path), probe)

    async def step() -> None:
        done = await run_tool(with_scan, timeout_s=600, what="ffmpeg")
        await asyncio.to_thread(integrity.check_container, str(path), probe)
        integrity.check_end(probe, str(path), done.stdout.decode(), done.stderr)
        if made is not None:
            clip = await probed(made)
            integrity.check_decode(probe, str(path), done.stderr, clip.duration_s, limit_s=10)

    return step


def separate_scan(argv: list[str], path: Path, probe: fp.Probe) -> Step:
    """The run as it was, then an ffprobe of the packets of the last seconds."""
    start = integrity.end_scan_start_s(probe)
    scan = [
        *("ffprobe", "-v", "error", "-read_intervals", f"{start:.3f}%", "-show_entries"),
        *("packet=pts_time,duration_time", "-of", "csv=p=0", str(path)),
    ]

    async def step() -> None:
        await run_tool(argv, timeout_s=600, what="ffmpeg")
        await run_tool(scan, timeout_s=600, what="ffprobe")

    return step


def checked(argv: list[str], probe: fp.Probe, pcm: Path) -> Step:
    path = argv[argv.index("-i") + 1].removeprefix("file:")

    async def step() -> None:
        done = await run_tool(argv, timeout_s=600, what="ffmpeg")
        decoded_s = await asyncio.to_thread(lambda: pcm.stat().st_size / 2)
        decoded_s /= ff.pcm_sample_rate(probe)
        await asyncio.to_thread(integrity.check_container, path, probe)
        await asyncio.to_thread(
            integrity.check_decode, probe, path, done.stderr, decoded_s, limit_s=3600
        )

    return step


def full_decode(path: Path) -> Step:
    return tool(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"])


async def alternate(
    first: Step, second: Step, repeats: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Medians of (wall, CPU) seconds of `first` and of `second`."""
    await first()
    await second()
    a, b = [], []
    for _ in range(repeats):
        a.append(await measured(first))
        b.append(await measured(second))
    return _medians(a), _medians(b)


def _medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


async def measured(step: Step) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of this process and its children (ffmpeg, ffprobe): the
    CPU figure stays meaningful on a machine busy with other work."""
    cpu_before = _cpu_s()
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started, _cpu_s() - cpu_before


def _cpu_s() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def timed(step: Step) -> float:
    return (await measured(step))[0]


def _row(before: tuple[float, float], after: tuple[float, float], which: int) -> str:
    b, a = before[which] * 1000, after[which] * 1000
    return f"{b:>11.1f}ms {a:>7.1f}ms {a / b:>5.2f}x"


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
