"""Producer-side upload: store the original, write the media row, enqueue its jobs.

Used by `mediaworker ingest`, the demo and `POST /v1/media`; an application that stores
uploads itself writes the row and calls `client.enqueue_*` (or `submit_job`) the same way.
"""

from __future__ import annotations

import asyncio
import mimetypes
import uuid
from dataclasses import dataclass
from pathlib import Path

from arq.connections import ArqRedis

from mediaworker import registry
from mediaworker.db import media as media_db
from mediaworker.db.jobs import LedgerJob
from mediaworker.db.pool import Pool
from mediaworker.errors import BadInputError
from mediaworker.ids import validate_id
from mediaworker.payloads import AnalyzePhotoPayload, ProcessUploadPayload
from mediaworker.queue.submit import submit_job
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
    if not await asyncio.to_thread(path.is_file):
        raise BadInputError(f"{path.name}: not a file")
    stored = await store_upload(
        db,
        storage,
        redis,
        path,
        media_id=uuid.uuid4().hex,
        filename=path.name,
        category=category,
        project_id=project_id,
        analyze=analyze,
    )
    return Ingested(stored.media, stored.job.job_id)


@dataclass(frozen=True)
class StoredUpload:
    media: media_db.Media
    job: LedgerJob


async def store_upload(
    db: Pool,
    storage: Storage,
    redis: ArqRedis,
    path: Path,
    *,
    media_id: str,
    filename: str,
    category: str | None = None,
    project_id: str | None = None,
    analyze: bool = False,
) -> StoredUpload:
    """Store the file at `path` as the original of a new media row named `filename` (of
    `project_id` when given), write the row, and submit its `process_upload` through the
    ledger (so a Redis flush before it runs loses nothing). It decides what the file needs:
    thumbnails for an image; waveform, preview and poster frame for audio and video, at their
    priorities. With `analyze`, an image's analyze_photo too."""
    if project_id is not None:
        validate_id(project_id, what="project_id")
    kind, content_type = guess_kind(Path(filename))
    key = layout.original_key(media_id, extension(Path(filename)))
    stored = await storage.put_file(key, path, content_type=content_type)
    media = await media_db.insert(
        db,
        media_db.NewMedia(
            media_id,
            kind,
            key,
            filename[:255],
            content_type,
            stored.size_bytes,
            category,
            project_id,
        ),
    )
    if analyze and kind == media_db.MediaKind.IMAGE:
        await submit_job(
            db, redis, registry.ANALYZE_PHOTO.name, AnalyzePhotoPayload(media_id=media_id)
        )
    work = ProcessUploadPayload(media_id=media_id)
    submitted = await submit_job(db, redis, registry.PROCESS_UPLOAD.name, work)
    return StoredUpload(media, submitted.job)
