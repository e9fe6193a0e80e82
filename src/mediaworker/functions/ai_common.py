"""Steps the AI jobs share: the image row, storing a made image, the prompt cache, chunks."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from mediaworker import client
from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.errors import BadInputError, ConflictError
from mediaworker.events.progress import scaled
from mediaworker.functions.audio_video import check_decoded
from mediaworker.functions.steps import IMAGE_KINDS, load_media
from mediaworker.ids import request_hash
from mediaworker.metering import metered
from mediaworker.payloads import GenerateImagePayload
from mediaworker.processing import retouch
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.probe import Probe
from mediaworker.processing.speech import Chunk, chunk_seconds, chunks_argv, parse_chunk_list
from mediaworker.providers.base import (
    Capability,
    ImageGenerator,
    Segment,
    Transcriber,
    Transcript,
    Usage,
)
from mediaworker.queue import keys
from mediaworker.queue.wrapper import current_run
from mediaworker.subprocesses import run_tool

JPEG_QUALITY = 92


def image_limits(ctx: Context, *, max_pixels: int | None = None) -> ImageLimits:
    """The upload limits; `max_pixels` lowers the pixel cap for an operation that needs
    more memory per pixel than thumbnails (enhancement)."""
    image = ctx.settings.image
    cap = image.max_pixels if max_pixels is None else min(max_pixels, image.max_pixels)
    return ImageLimits(image.max_input_bytes, cap, image.max_gif_pixels)


async def load_image(ctx: Context, media_id: str) -> media_db.Media:
    return await load_media(ctx, media_id, IMAGE_KINDS)


def maker(function: str) -> media_db.Maker:
    """This job as the maker of the rows it makes: its function and the id of the job that
    runs (the job id names the work, so a rerun of the same work is the same maker)."""
    run = current_run()
    return media_db.Maker(function, run.job_id if run is not None else function)


async def own_row(ctx: Context, media_id: str, made_by: media_db.Maker) -> media_db.Media | None:
    """The row `made_by` made earlier under `media_id`, None when there is none yet; any other
    row (an upload, another job's) is refused before any work, and left as it is."""
    found = await media_db.get(ctx.db, media_id)
    if found is not None and not media_db.made_by(found, made_by):
        raise _not_ours(media_id)
    return found


async def reusable(ctx: Context, made: media_db.Media | None) -> media_db.Media | None:
    """A made row a rerun may return as it is: not ERROR, and its image in storage (the row
    is written just before the image, so a retry after a failed store makes it again)."""
    if made is None or made.status == media_db.MediaStatus.ERROR:
        return None
    return made if await ctx.storage.exists(made.storage_key) else None


def _not_ours(media_id: str) -> ConflictError:
    return ConflictError(f"media {media_id} exists and this job did not make it: left untouched")


async def store_made_image(
    ctx: Context,
    made_by: media_db.Maker,
    new: media_db.NewMedia,
    origin: media_db.Origin,
    image: bytes,
) -> media_db.Media:
    """Check and store a provider's image as JPEG at `new.storage_key` (`store_image`)."""
    encoded = await ctx.cpu.run(retouch.to_jpeg, image, image_limits(ctx), JPEG_QUALITY)
    return await store_image(ctx, made_by, new, origin, encoded.data, encoded.content_type)


async def store_image(
    ctx: Context,
    made_by: media_db.Maker,
    new: media_db.NewMedia,
    origin: media_db.Origin,
    data: bytes,
    content_type: str,
) -> media_db.Media:
    """Write the media row (PENDING), store `data` at `new.storage_key` and enqueue the
    thumbnails, which make the row READY. The row is written first, and only if it is new or
    `made_by`'s own: a refused row leaves every file as it was."""
    new = dataclasses.replace(new, content_type=content_type, size_bytes=len(data))
    media = await media_db.upsert_made(ctx.db, new, origin, made_by)
    if media is None:
        raise _not_ours(new.id)
    await ctx.storage.put(new.storage_key, data, content_type=content_type)
    await client.enqueue_thumbnails(ctx.redis, new.id, force=True)
    return media


class PromptCache:
    """{provider, model, prompt, options} -> the media id of the image made for them, kept
    PROMPT_CACHE_TTL_SECONDS (0: no cache). A hit is copied into the asking job's own row
    (`generate_image`): no job is ever handed a row that another producer asked for."""

    def __init__(self, ctx: Context, generator: ImageGenerator, payload: GenerateImagePayload):
        self._ctx = ctx
        self._ttl_s = ctx.settings.providers.prompt_cache_ttl_s
        digest = request_hash(
            generator.provider, generator.model, payload.prompt, payload.size, payload.quality
        )
        self._key = keys.prompt_cache_key(digest)

    async def lookup(self, media_id: str) -> media_db.Media | None:
        """The generated image kept for this request, to copy into the row `media_id`: not
        that row itself, not a row in ERROR or whose image is gone."""
        if self._ttl_s <= 0:
            return None
        found = await self._ctx.redis.get(self._key)
        if found is None or found.decode() == media_id:
            return None
        media = await media_db.get(self._ctx.db, found.decode())
        if media is None or media.source != media_db.MediaSource.GENERATED:
            return None
        return await reusable(self._ctx, media)

    async def store(self, media_id: str) -> None:
        if self._ttl_s > 0:
            await self._ctx.redis.set(self._key, media_id, ex=self._ttl_s)


@dataclass(frozen=True)
class Heard:
    text: str
    language: str | None
    segments: list[dict[str, float | str]]
    chunks: int
    parts_key: str  # the chunks' transcripts in Redis: drop once the row is written


async def transcribe_file(
    ctx: Context,
    transcriber: Transcriber,
    media_id: str,
    source: Path,
    probe: Probe,
    language: str | None,
) -> Heard:
    """The transcript of `source`, sent in chunks small enough for the provider's upload limit.
    Each chunk's transcript is kept in Redis until the caller has written the row
    (`forget_parts`), so a retry or a rate-limit deferral does not pay for a chunk twice. The
    kept parts are named by the media id and the SHA-256 of the file: another file of the same
    size and length never gets them."""
    chunks = await split_audio(ctx, transcriber, source, probe)
    spans = [(c.start_s, c.end_s) for c in chunks]
    content_sha256 = await asyncio.to_thread(_sha256_of, source)
    digest = request_hash(
        media_id, content_sha256, transcriber.provider, transcriber.model, spans, language
    )
    parts_key = keys.transcript_parts_key(digest)
    heard: list[Transcript] = []
    chunks_part = scaled(0.1, 0.95)
    for index, chunk in enumerate(chunks):
        await chunks_part(index / len(chunks), "transcribing")
        done = await ctx.redis.hget(parts_key, str(index))  # type: ignore[misc]
        if done is None:
            part = await metered(
                ctx,
                Capability.TRANSCRIPTION,
                transcriber,
                _transcribe(Path(chunk.path), language),
                meta={"chunk": index, "chunks": len(chunks)},
            )
            done = json.dumps(_part_json(part, chunk.start_s))
            await ctx.redis.hset(parts_key, str(index), done)  # type: ignore[misc]
            await ctx.redis.expire(parts_key, keys.TRANSCRIPT_PARTS_TTL_S)
        heard.append(_part_from_json(json.loads(done)))
    await chunks_part(1.0, "transcribing")
    return _join(heard, language, len(chunks), parts_key)


async def forget_parts(ctx: Context, heard: Heard) -> None:
    """Drop the kept chunk transcripts: the transcription row is written. Best effort: failing
    here must not fail (and rerun) a job whose row is written; the parts expire anyway."""
    with contextlib.suppress(RedisError, OSError):
        await ctx.redis.delete(heard.parts_key)


def _sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


async def split_audio(
    ctx: Context, transcriber: Transcriber, source: Path, probe: Probe
) -> list[Chunk]:
    """16 kHz mono chunks of the audio in the transcriber's format, in `source`'s folder."""
    codec = transcriber.input_format
    limits = [transcriber.max_upload_bytes, ctx.settings.providers.transcription_max_upload_bytes]
    max_bytes = min(n for n in limits if n is not None)
    seconds = chunk_seconds(
        probe.duration_s, codec, max_bytes, ctx.settings.providers.transcription_chunk_s
    )
    folder = source.parent / "chunks"
    await asyncio.to_thread(folder.mkdir)
    pattern, listing = folder / f"chunk-%04d.{codec}", folder / "chunks.csv"
    argv = chunks_argv(
        ctx.settings.media.ffmpeg_path,
        str(source),
        probe,
        str(pattern),
        str(listing),
        codec=codec,
        seconds=seconds,
        max_duration_s=ctx.settings.media.max_duration_s,
    )
    timeout_s = ctx.settings.providers.command_timeout_s
    await ctx.progress(0.0, "splitting")
    done = await run_tool(argv, timeout_s=timeout_s, what="ffmpeg split")
    chunks = parse_chunk_list(await asyncio.to_thread(listing.read_text), str(folder))
    if not chunks:
        raise BadInputError("the audio gave no chunk to transcribe")
    limit_s = ctx.settings.media.max_duration_s
    await check_decoded(source, probe, done, chunks[-1].end_s, limit_s=limit_s, audio_only=True)
    return chunks


def _transcribe(path: Path, language: str | None) -> Callable[[Transcriber], Awaitable[Transcript]]:
    return lambda transcriber: transcriber.transcribe(path, language=language)


def _part_json(part: Transcript, offset_s: float) -> dict[str, Any]:
    segments = [
        asdict(Segment(round(s.start_s + offset_s, 3), round(s.end_s + offset_s, 3), s.text))
        for s in part.segments
    ]
    return {"text": part.text, "language": part.language, "segments": segments}


def _part_from_json(found: dict[str, Any]) -> Transcript:
    segments = tuple(Segment(**s) for s in found.get("segments") or [])
    language = found.get("language")
    return Transcript(str(found["text"]), str(language) if language else None, Usage(), segments)


def _join(parts: list[Transcript], language: str | None, chunks: int, parts_key: str) -> Heard:
    text = " ".join(p.text.strip() for p in parts if p.text.strip())
    found = language or next((p.language for p in parts if p.language), None)
    segments: list[dict[str, float | str]] = [asdict(s) for p in parts for s in p.segments]
    return Heard(text, found, segments, chunks, parts_key)
