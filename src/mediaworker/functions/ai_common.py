"""Steps the AI jobs share: the image row, storing a made image, the prompt cache, chunks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mediaworker import client
from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.errors import BadInputError
from mediaworker.functions.audio_video import check_decoded
from mediaworker.functions.steps import load_media
from mediaworker.ids import request_hash
from mediaworker.metering import metered
from mediaworker.payloads import GenerateImagePayload
from mediaworker.processing import retouch
from mediaworker.processing.ffmpeg import Probe
from mediaworker.processing.image import ImageLimits
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
from mediaworker.subprocesses import run_tool

IMAGE_KINDS = (media_db.MediaKind.IMAGE, media_db.MediaKind.UNKNOWN)
JPEG_QUALITY = 92


def image_limits(ctx: Context) -> ImageLimits:
    return ImageLimits(ctx.settings.image.max_input_bytes, ctx.settings.image.max_pixels)


async def load_image(ctx: Context, media_id: str) -> media_db.Media:
    media = await load_media(ctx, media_id)
    if media.kind not in IMAGE_KINDS:
        raise BadInputError(f"media {media_id} is {media.kind.lower()}, not an image")
    return media


async def store_made_image(
    ctx: Context,
    media_id: str,
    key: str,
    image: bytes,
    origin: media_db.Origin,
    filename: str | None = None,
) -> media_db.Media:
    """Check and store a provider's image as JPEG under `key`, write its media row (PENDING),
    and enqueue its thumbnails, which make it READY."""
    encoded = await ctx.cpu.run(retouch.to_jpeg, image, image_limits(ctx), JPEG_QUALITY)
    stored = await ctx.storage.put(key, encoded.data, content_type=encoded.content_type)
    new = media_db.NewMedia(
        media_id, media_db.MediaKind.IMAGE, key, filename, encoded.content_type, stored.size_bytes
    )
    media = await media_db.upsert_made(ctx.db, new, origin)
    await client.enqueue_thumbnails(ctx.redis, media_id, force=True)
    return media


class PromptCache:
    """{provider, model, prompt, options} -> the media id of the image made for them, kept
    PROMPT_CACHE_TTL_SECONDS (0: no cache)."""

    def __init__(self, ctx: Context, generator: ImageGenerator, payload: GenerateImagePayload):
        self._ctx = ctx
        self._ttl_s = ctx.settings.providers.prompt_cache_ttl_s
        digest = request_hash(
            generator.provider, generator.model, payload.prompt, payload.size, payload.quality
        )
        self._key = keys.prompt_cache_key(digest)

    async def lookup(self) -> media_db.Media | None:
        if self._ttl_s <= 0:
            return None
        media_id = await self._ctx.redis.get(self._key)
        if media_id is None:
            return None
        media = await media_db.get(self._ctx.db, media_id.decode())
        return media if media is not None and media.status != media_db.MediaStatus.ERROR else None

    async def store(self, media_id: str) -> None:
        if self._ttl_s > 0:
            await self._ctx.redis.set(self._key, media_id, ex=self._ttl_s)


@dataclass(frozen=True)
class Heard:
    text: str
    language: str | None
    segments: list[dict[str, float | str]]
    chunks: int


async def transcribe_file(
    ctx: Context, transcriber: Transcriber, source: Path, probe: Probe, language: str | None
) -> Heard:
    """The transcript of `source`, sent in chunks small enough for the provider's upload limit.
    Each chunk's transcript is kept in Redis until the job ends, so a retry or a rate-limit
    deferral does not pay for a chunk twice."""
    chunks = await split_audio(ctx, transcriber, source, probe)
    spans = [(c.start_s, c.end_s) for c in chunks]
    digest = request_hash(
        transcriber.provider, transcriber.model, probe.size_bytes, spans, language
    )
    parts_key = keys.transcript_parts_key(digest)
    heard: list[Transcript] = []
    for index, chunk in enumerate(chunks):
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
    await ctx.redis.delete(parts_key)
    return _join(heard, language, len(chunks))


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


def _join(parts: list[Transcript], language: str | None, chunks: int) -> Heard:
    text = " ".join(p.text.strip() for p in parts if p.text.strip())
    found = language or next((p.language for p in parts if p.language), None)
    segments: list[dict[str, float | str]] = [asdict(s) for p in parts for s in p.segments]
    return Heard(text, found, segments, chunks)
