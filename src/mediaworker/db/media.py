"""Queries on `media`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mediaworker.db.pool import Pool, to_dict
from mediaworker.errors import MappedError


class MediaStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    READY = "READY"
    ERROR = "ERROR"


class MediaKind(StrEnum):
    IMAGE = "IMAGE"
    AUDIO = "AUDIO"
    VIDEO = "VIDEO"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Media:
    id: str
    kind: str
    status: str
    storage_key: str
    original_filename: str | None
    content_type: str | None
    size_bytes: int | None
    width: int | None
    height: int | None
    blurhash: str | None
    error_code: str | None
    error_message: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    processed_at: dt.datetime | None
    # Facts of audio and video uploads (migration 0002), written by process_upload and the jobs.
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    rotation: int | None = None
    frame_rate: float | None = None
    has_audio: bool | None = None
    has_video: bool | None = None
    probe: dict[str, Any] | None = None
    expected_derivatives: list[str] | None = None
    # 0003_ai: where the row came from (see `Origin`)
    source: str = "UPLOAD"
    prompt: str | None = None
    is_enhanced: bool = False
    parent_id: str | None = None
    category: str | None = None
    # 0006_ownership: the job that made a row the worker made itself (see `Maker`)
    made_by_function: str | None = None
    made_by_job: str | None = None
    project_id: str | None = None  # 0008: the moving project a photo belongs to


@dataclass(frozen=True)
class NewMedia:
    id: str
    kind: MediaKind
    storage_key: str
    original_filename: str | None
    content_type: str | None
    size_bytes: int
    category: str | None = None
    project_id: str | None = None


async def insert(db: Pool, media: NewMedia) -> Media:
    row = await db.fetchrow(
        """INSERT INTO media (id, kind, storage_key, original_filename, content_type, size_bytes,
                              category, project_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING *""",
        media.id,
        media.kind.value,
        media.storage_key,
        media.original_filename,
        media.content_type,
        media.size_bytes,
        media.category,
        media.project_id,
    )
    return Media(**to_dict(row))


async def get(db: Pool, media_id: str) -> Media | None:
    row = await db.fetchrow("SELECT * FROM media WHERE id = $1", media_id)
    return None if row is None else Media(**to_dict(row))


async def mark_processing(db: Pool, media_id: str) -> None:
    await db.execute(
        """UPDATE media SET status = 'PROCESSING', error_code = NULL, error_message = NULL,
                  updated_at = now()
           WHERE id = $1""",
        media_id,
    )


async def mark_ready(
    db: Pool, media_id: str, *, width: int | None, height: int | None, blurhash: str | None
) -> None:
    await db.execute(
        """UPDATE media SET status = 'READY', width = $2, height = $3, blurhash = $4,
                  error_code = NULL, error_message = NULL, updated_at = now(),
                  processed_at = now()
           WHERE id = $1""",
        media_id,
        width,
        height,
        blurhash,
    )


async def mark_error(db: Pool, media_id: str, error: MappedError) -> None:
    """ERROR with the code and message, for a PENDING or PROCESSING row only: a READY row
    keeps its good outputs, an ERROR row its first error."""
    await db.execute(
        """UPDATE media SET status = 'ERROR', error_code = $2, error_message = $3,
                  updated_at = now(), processed_at = now()
           WHERE id = $1 AND status IN ('PENDING', 'PROCESSING')""",
        media_id,
        error.code.value,
        error.message,
    )


async def list_unfinished(db: Pool, *, idle_for_s: float, limit: int = 500) -> list[Media]:
    """PENDING or PROCESSING rows untouched for `idle_for_s`: candidates for the reconciler."""
    rows = await db.fetch(
        """SELECT * FROM media
           WHERE status IN ('PENDING', 'PROCESSING')
             AND updated_at < now() - make_interval(secs => $1)
           ORDER BY updated_at
           LIMIT $2""",
        idle_for_s,
        limit,
    )
    return [Media(**to_dict(r)) for r in rows]


async def touch(db: Pool, media_ids: list[str]) -> None:
    await db.execute("UPDATE media SET updated_at = now() WHERE id = ANY($1::text[])", media_ids)


# --- rows the worker makes itself: generated and enhanced images (0003_ai) ------------------


class MediaSource(StrEnum):
    UPLOAD = "UPLOAD"
    GENERATED = "GENERATED"


@dataclass(frozen=True)
class Origin:
    source: MediaSource
    prompt: str | None = None
    is_enhanced: bool = False
    parent_id: str | None = None


@dataclass(frozen=True)
class Maker:
    """The job that makes a row: the one job that may update that row later. Rows written by
    producers (uploads) have no maker, and no job may replace them."""

    function: str
    job_id: str


def made_by(media: Media, maker: Maker) -> bool:
    return (media.made_by_function, media.made_by_job) == (maker.function, maker.job_id)


async def upsert_made(db: Pool, media: NewMedia, origin: Origin, maker: Maker) -> Media | None:
    """A media row the worker made (PENDING until its thumbnails run); a rerun of its maker
    replaces it. None, and nothing written, when the row exists and `maker` did not make it."""
    row = await db.fetchrow(
        """INSERT INTO media (id, kind, storage_key, original_filename, content_type, size_bytes,
                              source, prompt, is_enhanced, parent_id, made_by_function,
                              made_by_job)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET
               storage_key = EXCLUDED.storage_key, content_type = EXCLUDED.content_type,
               size_bytes = EXCLUDED.size_bytes, source = EXCLUDED.source,
               prompt = EXCLUDED.prompt, is_enhanced = EXCLUDED.is_enhanced,
               parent_id = EXCLUDED.parent_id, status = 'PENDING', error_code = NULL,
               error_message = NULL, updated_at = now()
           WHERE media.made_by_function = EXCLUDED.made_by_function
             AND media.made_by_job = EXCLUDED.made_by_job
           RETURNING *""",
        media.id,
        media.kind.value,
        media.storage_key,
        media.original_filename,
        media.content_type,
        media.size_bytes,
        origin.source.value,
        origin.prompt,
        origin.is_enhanced,
        origin.parent_id,
        maker.function,
        maker.job_id,
    )
    return None if row is None else Media(**to_dict(row))
