"""Queries on `media_derivatives`: one row per media and type, upserted."""

from __future__ import annotations

from mediaworker.db.pool import Pool, to_dict
from mediaworker.payloads import Derivative


async def upsert(db: Pool, media_id: str, derivatives: list[Derivative]) -> None:
    await db.executemany(
        """INSERT INTO media_derivatives
               (media_id, type, storage_key, url, content_type, width, height, size_bytes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (media_id, type) DO UPDATE SET
               storage_key = EXCLUDED.storage_key, url = EXCLUDED.url,
               content_type = EXCLUDED.content_type, width = EXCLUDED.width,
               height = EXCLUDED.height, size_bytes = EXCLUDED.size_bytes, updated_at = now()""",
        [
            (
                media_id,
                d.type,
                d.storage_key,
                d.url,
                d.content_type,
                d.width,
                d.height,
                d.size_bytes,
            )
            for d in derivatives
        ],
    )


async def list_for(db: Pool, media_id: str, types: list[str] | None = None) -> list[Derivative]:
    rows = await db.fetch(
        """SELECT type, storage_key, url, content_type, width, height, size_bytes
           FROM media_derivatives
           WHERE media_id = $1 AND ($2::text[] IS NULL OR type = ANY($2::text[]))
           ORDER BY type""",
        media_id,
        types,
    )
    return [Derivative(**to_dict(r)) for r in rows]
