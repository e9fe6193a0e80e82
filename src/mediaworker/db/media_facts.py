"""Queries on `media` for audio and video uploads: the probe's facts, and when a row is READY.

The READY rule: `process_upload` records which derivative types an upload needs
(`expected_derivatives`); each derivative job, once its own rows are written, calls
`mark_ready_when_complete`, which sets READY only when every expected type has a row. The
last job to finish therefore makes the row READY, whatever the order the jobs ran in: each
check is one statement that sees every row committed before it started. A row that is
ERROR (one job failed for good) stays ERROR. Without a recorded set (a job enqueued on its own,
not through `process_upload`), the types of the job that just finished are the set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediaworker.db.pool import Pool


@dataclass(frozen=True)
class MediaFacts:
    kind: str  # "AUDIO" | "VIDEO"
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    container: str
    video_codec: str | None
    audio_codec: str | None
    rotation: int | None
    frame_rate: float | None
    has_audio: bool
    has_video: bool
    width: int | None  # upright
    height: int | None
    probe: dict[str, Any]


async def record_facts(db: Pool, media_id: str, facts: MediaFacts, expected: list[str]) -> None:
    """What the probe found, and the derivatives to expect; the row is PROCESSING again."""
    await db.execute(
        """UPDATE media SET kind = $2, duration_s = $3, sample_rate = $4, channels = $5,
                  container = $6, video_codec = $7, audio_codec = $8, rotation = $9,
                  frame_rate = $10, has_audio = $11, has_video = $12, width = $13,
                  height = $14, probe = $15, expected_derivatives = $16,
                  status = 'PROCESSING', error_code = NULL, error_message = NULL,
                  updated_at = now()
           WHERE id = $1""",
        media_id,
        facts.kind,
        facts.duration_s,
        facts.sample_rate,
        facts.channels,
        facts.container,
        facts.video_codec,
        facts.audio_codec,
        facts.rotation,
        facts.frame_rate,
        facts.has_audio,
        facts.has_video,
        facts.width,
        facts.height,
        facts.probe,
        expected,
    )


async def set_audio_facts(
    db: Pool, media_id: str, *, duration_s: float | None, sample_rate: int, channels: int | None
) -> None:
    """Duration as decoded (more exact than the container's; None keeps it), rate, channels."""
    await db.execute(
        """UPDATE media SET duration_s = coalesce($2, duration_s), sample_rate = $3,
                  channels = coalesce($4, channels), updated_at = now()
           WHERE id = $1""",
        media_id,
        duration_s,
        sample_rate,
        channels,
    )


async def set_poster_facts(
    db: Pool, media_id: str, *, width: int, height: int, blurhash: str | None
) -> None:
    """The upright size of a video's frames and the blurhash of its poster frame."""
    await db.execute(
        """UPDATE media SET width = $2, height = $3, blurhash = $4, updated_at = now()
           WHERE id = $1""",
        media_id,
        width,
        height,
        blurhash,
    )


async def mark_ready_when_complete(db: Pool, media_id: str, produced: list[str]) -> bool:
    """READY if every expected derivative exists (see the module docstring); True if so."""
    row = await db.fetchrow(
        """UPDATE media SET status = 'READY', error_code = NULL, error_message = NULL,
                  updated_at = now(), processed_at = now()
           WHERE id = $1 AND status <> 'ERROR'
             AND NOT EXISTS (
                 SELECT 1 FROM unnest(coalesce(expected_derivatives, $2::text[])) AS t(type)
                 WHERE NOT EXISTS (SELECT 1 FROM media_derivatives d
                                   WHERE d.media_id = $1 AND d.type = t.type))
           RETURNING id""",
        media_id,
        produced,
    )
    return row is not None


async def set_kind(db: Pool, media_id: str, kind: str) -> None:
    """The kind the content showed, when the upload's name said otherwise."""
    await db.execute("UPDATE media SET kind = $2, updated_at = now() WHERE id = $1", media_id, kind)
