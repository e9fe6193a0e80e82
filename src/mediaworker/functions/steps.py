"""Steps that several jobs share: scratch space, loading a row, the image renditions."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mediaworker import scratch
from mediaworker.config import ImageConfig
from mediaworker.context import Context
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.errors import BadInputError, NotFoundError
from mediaworker.payloads import Derivative
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.image import (
    EncodeSpec,
    Rendition,
    SizeSpec,
    Thumbnails,
    make_thumbnails,
)
from mediaworker.storage import layout

THUMBNAIL_TYPES = [
    layout.DerivativeType.THUMBNAIL.value,
    layout.DerivativeType.MEDIUM.value,
    layout.DerivativeType.LARGE.value,
]


@asynccontextmanager
async def scratch_dir() -> AsyncIterator[Path]:
    path = await asyncio.to_thread(scratch.make_dir)
    try:
        yield path
    finally:
        await asyncio.to_thread(shutil.rmtree, path, True)


def thumbnail_sizes(config: ImageConfig) -> list[SizeSpec]:
    """The three sizes, named by plain strings: what goes to the CPU pool must unpickle with
    `processing` alone (an enum of storage/layout.py made a fresh pool process import the
    storage backends, aioboto3 included, in its first job: +300 ms)."""
    return [
        SizeSpec(layout.DerivativeType.THUMBNAIL.value, *_wh(config.thumbnail_size), crop=True),
        SizeSpec(layout.DerivativeType.MEDIUM.value, *_wh(config.medium_size), crop=False),
        SizeSpec(layout.DerivativeType.LARGE.value, *_wh(config.large_size), crop=False),
    ]


def _wh(size: Any) -> tuple[int, int]:
    return size.width, size.height


async def render_thumbnails(ctx: Context, source: Path) -> Thumbnails:
    """THUMBNAIL, MEDIUM and LARGE from one decode of `source`, in the CPU pool."""
    return await ctx.cpu.run(make_thumbnails, *thumbnail_task(ctx.settings.image, source))


def thumbnail_task(
    config: ImageConfig, source: Path
) -> tuple[str, list[SizeSpec], EncodeSpec, ImageLimits, bool]:
    """The arguments of `make_thumbnails` for `source` (plain values: see thumbnail_sizes)."""
    return (
        str(source),
        thumbnail_sizes(config),
        EncodeSpec(config.format.value, config.quality, frozenset(config.jpeg_baseline_sizes)),
        ImageLimits(config.max_input_bytes, config.max_pixels, config.max_gif_pixels),
        config.jpeg_decode_eighths,
    )


async def store_renditions(
    ctx: Context, media_id: str, renditions: tuple[Rendition, ...]
) -> list[Derivative]:
    async def store(r: Rendition) -> Derivative:
        key = layout.derivative_key(media_id, r.name, r.ext)
        stored = await ctx.storage.put(key, r.data, content_type=r.content_type)
        return Derivative(
            type=r.name,
            storage_key=key,
            url=stored.url,
            content_type=r.content_type,
            width=r.width,
            height=r.height,
            size_bytes=stored.size_bytes,
        )

    return list(await asyncio.gather(*(store(r) for r in renditions)))


Kind = media_db.MediaKind
# The kinds of media each family of jobs works on; UNKNOWN: the decoder or the probe decides.
IMAGE_KINDS = (Kind.IMAGE, Kind.UNKNOWN)
SOUND_KINDS = (Kind.AUDIO, Kind.VIDEO, Kind.UNKNOWN)  # audio, or a video's audio track
VIDEO_KINDS = (Kind.VIDEO, Kind.UNKNOWN)


async def load_media(
    ctx: Context, media_id: str, kinds: tuple[media_db.MediaKind, ...] | None = None
) -> media_db.Media:
    """The row, checked before any work: it exists, and it is of one of `kinds` (a job that
    does not fit the media fails with BAD_INPUT at once, its row and files untouched)."""
    media = await media_db.get(ctx.db, media_id)
    if media is None:
        raise NotFoundError(f"media {media_id} does not exist")
    if kinds is not None and media.kind not in kinds:
        wanted = " or ".join(k.lower() for k in kinds if k != Kind.UNKNOWN)
        raise BadInputError(f"media {media_id} is {media.kind.lower()}: this job needs {wanted}")
    return media


async def already_done(ctx: Context, media_id: str, types: list[str]) -> list[Derivative] | None:
    """The derivatives of `types` when all exist (the job has nothing to do), else None."""
    done = await derivatives_db.list_for(ctx.db, media_id, types)
    return done if len(done) == len(types) else None
