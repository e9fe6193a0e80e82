"""Benchmark the audio and video jobs against the bare ffmpeg command that does the same work.

On media generated with lavfi (10 minutes of MP3 audio; a 60 s 1080p H.264 + AAC video):

  waveform   ours: the job's own code (`generate_waveform.draw`): copy the original out of
                   local storage, decode to mono s16le PCM (demuxer pinned from the probe
                   process_upload recorded), then peaks, audiowaveform JSON and .dat, SVG and
                   PNG in the (warm) CPU pool
             bare: `ffmpeg -i audio.mp3 -f s16le /dev/null`, a plain decode
  preview    ours: copy out, `preview_argv` (10 s, 480 lines, H.264 + AAC, faststart) with
                   the end scan of a truncated file, then ffprobe of the clip made and the
                   truncation checks, as `generate_video_preview` does
             bare: the same encode as one command, no probes (`-vf scale=-2:480`)
  thumbnail  ours: copy out, then in one CPU-pool task (`poster_of`, processing/frame.py)
                   the frame at 2 s decoded by libav, the last seconds' packets demuxed for
                   the truncation check, THUMBNAIL, MEDIUM, LARGE and the blurhash by libvips,
                   progressive JPEGs (the default)
  thumb/base ours, with IMAGE_JPEG_BASELINE_SIZES=THUMBNAIL,MEDIUM,LARGE: baseline JPEGs with
                   optimised tables, the kind ffmpeg writes (its mjpeg cannot write progressive)
             bare: one ffmpeg command: seek, decode one frame, scale it to the three sizes
                   (one cropped) and write three baseline JPEGs

Ours leaves out only the database rows and the upload of the outputs, which the bare command
has no equivalent of, and the one ffprobe per upload that `process_upload` runs (timed
apart). Runs alternate (ours, bare, ours, ...) so that load from other processes hits both
alike; the median of `--repeats` runs is reported.
Targets: waveform within 1.2x of the bare decode; preview and thumbnail within 1.1x.

    .venv/bin/python scripts/bench_media.py [--repeats 5] [--audio-minutes 10] [--video-s 60]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mediaworker.config import Settings, StorageConfig
from mediaworker.context import Context
from mediaworker.db.media import Media
from mediaworker.functions import audio_video as av
from mediaworker.functions.generate_video_preview import spec as preview_spec
from mediaworker.functions.generate_video_thumbnail import poster_of
from mediaworker.functions.generate_waveform import draw
from mediaworker.processing.ffmpeg import preview_argv
from mediaworker.processing.pool import CpuPool
from mediaworker.storage.local import LocalStorage
from mediaworker.subprocesses import run_tool

TARGETS = {"waveform": 1.2, "preview": 1.1, "thumbnail": 1.1, "thumb/base": 1.1}
BASELINE = ("THUMBNAIL", "MEDIUM", "LARGE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (5)")
    parser.add_argument("--audio-minutes", type=float, default=10.0)
    parser.add_argument("--video-s", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        work = Path(tmp)
        storage_dir = work / "storage"
        generate(storage_dir, args)
        print(f"generated the media in {time.perf_counter() - started:.0f} s; {load()}\n")
        ctx = await context(storage_dir)
        try:
            await warm_up(ctx)
            for key in ("bench/audio.mp3", "bench/video.mp4"):
                await probe(ctx, storage_dir, key)()
            probe_s = [await timed(probe(ctx, storage_dir, "bench/video.mp4")) for _ in range(5)]
            parts = await thumbnail_parts(ctx, storage_dir, work, args.repeats)
            rows = [
                await compare("waveform", waveform(ctx), bare_decode(storage_dir), args.repeats),
                await compare(
                    "preview", preview(ctx), bare_preview(storage_dir, work), args.repeats
                ),
                await compare(
                    "thumbnail", thumbnail(ctx), bare_thumbnail(storage_dir, work), args.repeats
                ),
                await compare(
                    "thumb/base",
                    thumbnail(baseline_jpegs(ctx)),
                    bare_thumbnail(storage_dir, work),
                    args.repeats,
                ),
            ]
        finally:
            ctx.cpu.close()
            await ctx.storage.close()
    print_report(rows, args)
    probe_ms = statistics.median(probe_s) * 1000
    print(f"\nffprobe of the video, once per upload in process_upload, not above: {probe_ms:.0f}ms")
    steps = [f"{name} {statistics.median(times) * 1000:.0f}ms" for name, times in parts.items()]
    print("thumbnail, step by step: " + ", ".join(steps))
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {load()}")


# --- inputs --------------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def generate(storage_dir: Path, args: argparse.Namespace) -> None:
    folder = storage_dir / "bench"
    folder.mkdir(parents=True)
    seconds = args.audio_minutes * 60
    # A chirp with noise, so the encoder and the peaks see a changing signal.
    speech_like = f"aevalsrc='0.4*sin(2*PI*(200+50*sin(t))*t)+0.05*random(0)':s=44100:d={seconds}"
    ffmpeg("-f", "lavfi", "-i", speech_like, "-ac", "2", "-b:a", "128k", str(folder / "audio.mp3"))
    video = f"testsrc2=size=1920x1080:rate=30:duration={args.video_s}"
    tone = f"sine=frequency=330:sample_rate=48000:duration={args.video_s}"
    ffmpeg(
        *("-f", "lavfi", "-i", video, "-f", "lavfi", "-i", tone),
        *("-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-shortest", str(folder / "video.mp4")),
    )


async def context(storage_dir: Path) -> Context:
    settings = Settings(
        storage=StorageConfig(STORAGE_TYPE="local", WORKER_STORAGE_PATH=str(storage_dir))
    )
    storage = await LocalStorage.open(settings.storage)
    cpu = CpuPool(settings.queue.cpu_workers)
    # Only what the measured steps use: settings, storage and the CPU pool (no db, no Redis).
    fields: dict[str, Any] = {"db": None, "redis": None, "exit_stack": None}
    fields.update(providers=None, tracker=None, outbox=None)
    return Context(settings, storage=storage, cpu=cpu, worker_name="bench", **fields)


def baseline_jpegs(ctx: Context) -> Context:
    """The same context with every JPEG rendition baseline, as ffmpeg writes its JPEGs."""
    image = ctx.settings.image.model_copy(update={"jpeg_baseline_sizes": BASELINE})
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"image": image}))


PROBES: dict[str, dict[str, Any]] = {}  # what process_upload records, by storage key


def media(key: str) -> Media:
    """The row as the job finds it after `process_upload`: with its probe recorded."""
    now = dt.datetime.now(dt.UTC)
    return Media(
        id="bench", kind="AUDIO", status="PROCESSING", storage_key=key,
        original_filename=None, content_type=None, size_bytes=None, width=None, height=None,
        blurhash=None, error_code=None, error_message=None, created_at=now, updated_at=now,
        processed_at=None, probe=PROBES[key],
    )  # fmt: skip


def probe(ctx: Context, storage_dir: Path, key: str) -> Callable[[], Awaitable[Any]]:
    """ffprobe with the whitelists, as `process_upload` runs it once per upload."""

    async def run() -> Any:
        found = await av.probe_file(ctx, storage_dir / key)
        PROBES[key] = found.summary()
        return found

    return run


async def warm_up(ctx: Context) -> None:
    """Start the CPU pool's workers (spawned, with their imports) before timing anything."""
    await asyncio.gather(*(ctx.cpu.run(os.getpid) for _ in range(ctx.cpu.max_workers * 2)))


# --- ours ----------------------------------------------------------------------------------


def waveform(ctx: Context) -> Callable[[], Awaitable[Any]]:
    async def run() -> Any:
        return await draw(ctx, media("bench/audio.mp3"))

    return run


def preview(ctx: Context) -> Callable[[], Awaitable[Any]]:
    async def run() -> Any:
        row = media("bench/video.mp4")
        async with av.fetched_original(ctx, row) as original:
            probe = await av.probe_of(ctx, row, original)
            clip = original.with_name("preview.mp4")
            argv = preview_argv(
                ctx.settings.media.ffmpeg_path,
                str(original),
                probe,
                str(clip),
                preview_spec(ctx.settings.video),
            )
            done = await run_tool(
                av.scanning_end(argv, original, probe), timeout_s=600, what="preview encoding"
            )
            await av.check_end(original, probe, done)
            made = await av.probe_file(ctx, av.non_empty(clip, "preview"), limits=False)
            limit_s = preview_spec(ctx.settings.video).seconds
            await av.check_decoded(original, probe, done, made.duration_s, limit_s=limit_s)
            return made

    return run


def thumbnail(ctx: Context) -> Callable[[], Awaitable[Any]]:
    async def run() -> Any:
        row = media("bench/video.mp4")
        async with av.fetched_original(ctx, row) as original:
            probe = await av.probe_of(ctx, row, original)
            return await poster_of(ctx, original, probe)

    return run


async def thumbnail_parts(
    ctx: Context, storage_dir: Path, work: Path, repeats: int
) -> dict[str, list[float]]:
    """Where the thumbnail's time goes: the copy, then the frame and renditions in the pool."""
    row = media("bench/video.mp4")
    original = work / "original"
    parts: dict[str, list[float]] = {"copy out of storage": []}
    parts["frame, end scan and renditions (CPU pool)"] = []
    for _ in range(repeats):
        copy = functools.partial(ctx.storage.download, row.storage_key, original)
        parts["copy out of storage"].append(await timed(copy))
        probe = await av.probe_of(ctx, row, original)
        poster = functools.partial(poster_of, ctx, original, probe)
        parts["frame, end scan and renditions (CPU pool)"].append(await timed(poster))
    return parts


# --- bare ffmpeg ---------------------------------------------------------------------------


def command(argv: list[str]) -> Callable[[], Awaitable[Any]]:
    async def run() -> Any:
        return await run_tool(argv, timeout_s=600, what=argv[0])

    return run


def bare_decode(storage_dir: Path) -> Callable[[], Awaitable[Any]]:
    source = storage_dir / "bench" / "audio.mp3"
    decode = ["-i", str(source), "-f", "s16le", "-y", "/dev/null"]
    return command(["ffmpeg", "-nostdin", "-v", "error", *decode])


def bare_preview(storage_dir: Path, work: Path) -> Callable[[], Awaitable[Any]]:
    source = storage_dir / "bench" / "video.mp4"
    return command(
        [
            *("ffmpeg", "-nostdin", "-v", "error", "-y", "-t", "10", "-i", str(source)),
            *("-vf", "scale=-2:480", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"),
            *("-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"),
            *("-movflags", "+faststart", str(work / "bare-preview.mp4")),
        ]
    )


def bare_thumbnail(storage_dir: Path, work: Path) -> Callable[[], Awaitable[Any]]:
    source = storage_dir / "bench" / "video.mp4"
    graph = (
        "split=3[a][b][c];"
        "[a]scale=150:150:force_original_aspect_ratio=increase,crop=150:150[t];"
        "[b]scale=800:600:force_original_aspect_ratio=decrease[m];"
        "[c]scale=1920:1080:force_original_aspect_ratio=decrease[l]"
    )
    outputs = []
    for label, name in (("t", "thumb"), ("m", "medium"), ("l", "large")):
        outputs += ["-map", f"[{label}]", "-frames:v", "1", "-q:v", "4", str(work / f"{name}.jpg")]
    return command(
        [
            *("ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", "2", "-i", str(source)),
            *("-filter_complex", graph, *outputs),
        ]
    )


# --- timing and report ---------------------------------------------------------------------


async def compare(
    name: str,
    ours: Callable[[], Awaitable[Any]],
    bare: Callable[[], Awaitable[Any]],
    repeats: int,
) -> tuple[str, list[float], list[float]]:
    await ours()  # once untimed: file cache and pool warm for both
    await bare()
    ours_s: list[float] = []
    bare_s: list[float] = []
    for _ in range(repeats):
        ours_s.append(await timed(ours))
        bare_s.append(await timed(bare))
    return name, ours_s, bare_s


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


def print_report(
    rows: list[tuple[str, list[float], list[float]]], args: argparse.Namespace
) -> None:
    print(
        f"{args.audio_minutes:g} min MP3 (44.1 kHz stereo); {args.video_s:g} s 1080p30 H.264 + AAC"
    )
    print(f"median of {args.repeats} runs each; {os.cpu_count()} cores\n")
    print(f"{'':<10} {'ours':>9} {'bare':>9} {'ratio':>7} {'target':>7}")
    for name, ours_s, bare_s in rows:
        ours, bare = statistics.median(ours_s), statistics.median(bare_s)
        ratio = ours / bare
        verdict = "ok" if ratio <= TARGETS[name] else "OVER"
        print(
            f"{name:<10} {ours * 1000:>7.0f}ms {bare * 1000:>7.0f}ms {ratio:>6.2f}x "
            f"{TARGETS[name]:>6.1f}x  {verdict}"
        )


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
