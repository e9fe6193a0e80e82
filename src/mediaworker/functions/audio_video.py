"""Steps the audio and video jobs share: the row, the original, the probe, outputs, READY.

A job refuses an original cut short or damaged (`processing/integrity.py`) without decoding it
twice: a job that decodes only the start (the poster frame, the preview) runs its ffmpeg
`scanning_end` and calls `check_end` on it; `check_decoded` checks the run of a job that
decodes (preview, waveform, transcription).

Every ffmpeg run pins the demuxer that a probe with the format whitelist found for the same
original (`-f`), and keeps the protocol whitelist. The probe is the one `process_upload`
recorded on the row (an original is never replaced under its key), or, for a job enqueued on
its own, a new one: each ffprobe start costs about as much as decoding a video frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from mediaworker.context import Context
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.db import media_facts
from mediaworker.errors import BadInputError
from mediaworker.events.progress import ProgressScale
from mediaworker.functions.steps import scratch_dir
from mediaworker.payloads import Derivative
from mediaworker.processing import integrity
from mediaworker.processing.ffmpeg import probe_argv
from mediaworker.processing.ffmpeg_progress import ProgressReader
from mediaworker.processing.probe import (
    MediaLimits,
    Probe,
    check_limits,
    parse_probe,
    probe_failure,
    require_media,
)
from mediaworker.storage import layout
from mediaworker.subprocesses import Completed, run_tool

DT = layout.DerivativeType
WAVEFORM_TYPES = [
    DT.WAVEFORM_JSON.value,
    DT.WAVEFORM_DAT.value,
    DT.WAVEFORM_SVG.value,
    DT.WAVEFORM_PNG.value,
]
PREVIEW_TYPES = [DT.PREVIEW.value]


@dataclass(frozen=True)
class Output:
    """One file a job made, to store as a derivative: bytes, or a local file (streamed)."""

    type: layout.DerivativeType
    data: bytes | None = None
    path: Path | None = None
    width: int | None = None
    height: int | None = None


@asynccontextmanager
async def fetched_original(ctx: Context, media: media_db.Media) -> AsyncIterator[Path]:
    """The original in a scratch folder (removed afterwards), its size checked before the
    download (from the row when it knows it, and from the storage) and after it."""
    limit = ctx.settings.media.max_input_bytes
    _check_size(media.size_bytes, limit)
    async with scratch_dir() as scratch:
        path = scratch / "original"
        _check_size(await ctx.storage.download(media.storage_key, path, max_bytes=limit), limit)
        yield path


def _check_size(size: int | None, limit: int) -> None:
    if size == 0:
        raise BadInputError("empty file (0 bytes)")
    if size is not None and size > limit:
        raise BadInputError(f"file is {size / 2**20:.0f} MiB, over the {limit >> 20} MiB limit")


async def probe_file(ctx: Context, path: Path, *, limits: bool = True) -> Probe:
    """ffprobe with the whitelists; audio or video (within the limits), or BadInputError."""
    config = ctx.settings.media
    done = await run_tool(
        probe_argv(config.ffprobe_path, str(path)),
        timeout_s=config.probe_timeout_s,
        what="ffprobe",
        check=False,
    )
    if done.returncode != 0:
        raise probe_failure(done.stderr)
    probe = require_media(parse_probe(done.stdout))
    if limits:
        bounds = MediaLimits(config.max_duration_s, config.min_duration_s, config.max_video_pixels)
        check_limits(probe, bounds)
    return probe


async def probe_of(ctx: Context, media: media_db.Media, path: Path) -> Probe:
    """The probe recorded for this upload by `process_upload`, or a new probe of `path`."""
    if media.probe is not None:
        with contextlib.suppress(ValueError):
            return Probe.from_summary(media.probe)
    return await probe_file(ctx, path)


def scanning_end(argv: list[str], path: Path, probe: Probe) -> list[str]:
    """The ffmpeg run `argv` of a job that decodes only the start of `path`, made to copy the
    packets of its last seconds too (no decoding, no second process)."""
    return integrity.with_end_scan(argv, str(path), probe)


async def check_end(path: Path, probe: Probe, done: Completed) -> None:
    """The run of a `scanning_end` argv found data up to the end the container declares, or
    TruncatedError (DamagedError for damage it reported)."""
    await asyncio.to_thread(integrity.check_container, str(path), probe)
    listing = done.stdout.decode("ascii", "replace")
    await asyncio.to_thread(integrity.check_end, probe, str(path), listing, done.stderr)


async def check_found_end(path: Path, probe: Probe, found_s: float | None, log: str) -> None:
    """An in-process end scan (processing/frame.py) found data up to the declared end, or
    TruncatedError (DamagedError for damage the log reports)."""
    await asyncio.to_thread(integrity.check_container, str(path), probe)
    await asyncio.to_thread(integrity.check_end_found, probe, str(path), found_s, log)


async def check_decoded(
    path: Path,
    probe: Probe,
    done: Completed,
    decoded_s: float | None,
    *,
    limit_s: float,
    audio_only: bool = False,
) -> None:
    """A decode of `path` (of its audio alone: `audio_only`) that reported no damage and lasted
    as long as declared (up to `limit_s`), or TruncatedError / DamagedError."""
    await asyncio.to_thread(integrity.check_container, str(path), probe)
    check = functools.partial(integrity.check_decode, limit_s=limit_s, audio_only=audio_only)
    await asyncio.to_thread(check, probe, str(path), done.stderr, decoded_s)


async def store_outputs(ctx: Context, media_id: str, outputs: list[Output]) -> list[Derivative]:
    """Store each output under its derivative key and upsert its media_derivatives row."""
    stored = []
    for output in outputs:
        content_type, ext = layout.DERIVATIVE_FORMATS[output.type]
        key = layout.derivative_key(media_id, output.type, ext)
        if output.path is not None:
            obj = await ctx.storage.put_file(key, output.path, content_type=content_type)
        else:
            obj = await ctx.storage.put(key, output.data or b"", content_type=content_type)
        stored.append(
            Derivative(
                type=output.type.value,
                storage_key=key,
                url=obj.url,
                content_type=content_type,
                width=output.width,
                height=output.height,
                size_bytes=obj.size_bytes,
            )
        )
    await derivatives_db.upsert(ctx.db, media_id, stored)
    return stored


async def finish(ctx: Context, media_id: str, produced: list[str]) -> None:
    """The READY rule (db/media_facts.py): READY once every expected derivative exists."""
    await media_facts.mark_ready_when_complete(ctx.db, media_id, produced)


async def run_ffmpeg(
    argv: list[str], *, timeout_s: float, what: str, expected_s: float | None, part: ProgressScale
) -> Completed:
    """Run an ffmpeg command, its `-progress` report (out of `expected_s`) as `part` of the
    job's progress, under the stage `what`."""
    reader = ProgressReader(expected_s)

    async def on_line(line: bytes) -> None:
        fraction = reader.feed(line)
        if fraction is not None:
            await part(fraction, what)

    return await run_tool(argv, timeout_s=timeout_s, what=what, on_progress=on_line)


def non_empty(path: Path, what: str) -> Path:
    """`path` if ffmpeg wrote something there (it exits 0 and writes nothing in some cases)."""
    if not path.is_file() or os.stat(path).st_size == 0:
        raise BadInputError(f"{what}: ffmpeg produced no output")
    return path


def facts_of(probe: Probe) -> media_facts.MediaFacts:
    """What the media row records of a probed audio or video file."""
    video, audio = probe.video, probe.audio
    width, height = probe.display_size or (None, None)
    return media_facts.MediaFacts(
        kind=probe.kind or "UNKNOWN",
        duration_s=probe.duration_s,
        sample_rate=audio.sample_rate if audio else None,
        channels=audio.channels if audio else None,
        container=probe.container,
        video_codec=video.codec if video else None,
        audio_codec=audio.codec if audio else None,
        rotation=video.rotation if video else None,
        frame_rate=video.frame_rate if video else None,
        has_audio=probe.has_audio,
        has_video=probe.has_video,
        width=width,
        height=height,
        probe=probe.summary(),
    )
