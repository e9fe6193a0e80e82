"""Producer-side upload: store the original, write the media row, enqueue its jobs.

Used by `mediaworker ingest` and the demo; an application that stores uploads itself writes
the row and calls `client.enqueue_*` the same way.
"""

from __future__ import annotations

import asyncio
import mimetypes
import uuid
from dataclasses import dataclass
from pathlib import Path

from arq.connections import ArqRedis

from mediaworker import client
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.errors import BadInputError
from mediaworker.ids import validate_id
from mediaworker.storage import layout
from mediaworker.storage.base import Storage

_KINDS = {
    "image": media_db.MediaKind.IMAGE,
    "audio": media_db.MediaKind.AUDIO,
    "video": media_db.MediaKind.VIDEO,
}


@dataclass(frozen=True)
class Ingested:
    media: media_db.Media
    job_id: str | None


def guess_kind(path: Path) -> tuple[media_db.MediaKind, str]:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    kind = _KINDS.get(content_type.split("/")[0], media_db.MediaKind.UNKNOWN)
    return kind, content_type


def extension(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    return ext if ext.isalnum() and len(ext) <= 8 else "bin"


async def ingest_file(
    db: Pool,
    storage: Storage,
    redis: ArqRedis,
    path: Path,
    *,
    category: str | None = None,
    project_id: str | None = None,
    analyze: bool = False,
) -> Ingested:
    """Store `path`, write its row (of `project_id` when given) and enqueue process_upload;
    with `analyze`, an image's analyze_photo too."""
    if project_id is not None:
        validate_id(project_id, what="project_id")
    if not await asyncio.to_thread(path.is_file):
        raise BadInputError(f"{path.name}: not a file")
    media_id = uuid.uuid4().hex
    kind, content_type = guess_kind(path)
    key = layout.original_key(media_id, extension(path))
    stored = await storage.put_file(key, path, content_type=content_type)
    media = await media_db.insert(
        db,
        media_db.NewMedia(
            media_id,
            kind,
            key,
            path.name[:255],
            content_type,
            stored.size_bytes,
            category,
            project_id,
        ),
    )
    if analyze and kind == media_db.MediaKind.IMAGE:
        await client.enqueue_photo_analysis(redis, media_id)
    # process_upload decides what the file needs: thumbnails for an image; waveform, preview
    # and poster frame for audio and video, at their priorities.
    job_id = (await client.enqueue_process_upload(redis, media_id)).job_id
    return Ingested(media, job_id)
