"""Queries on `inventories`, and the inputs of a project's inventory.

`sync_inventory` works inside one transaction on one connection (`locked`): a
transaction-scoped advisory lock makes it one run per project across all workers, and a run
that dies before its commit leaves the previous inventory exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from asyncpg.pool import PoolConnectionProxy

from mediaworker.db.pool import Pool, to_dict
from mediaworker.photos.inventory import Inventory, PhotoInput

Conn: TypeAlias = "PoolConnectionProxy[Any]"
LOCK_CLASS = 0x0008_0002  # advisory locks of inventories: (LOCK_CLASS, hashtext(project_id))


@asynccontextmanager
async def locked(db: Pool, project_id: str) -> AsyncIterator[Conn | None]:
    """A connection in a transaction holding the project's lock, or None when another
    transaction holds it. The lock ends with the transaction (commit, rollback, lost link)."""
    async with db.acquire() as conn, conn.transaction():
        got = await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, project_id
        )
        yield conn if got else None


async def inputs(conn: Conn, project_id: str) -> list[PhotoInput]:
    """Every image of the project with its status and current analysis, by media id."""
    rows = await conn.fetch(
        """SELECT m.id, p.status, a.method, p.room_type, a.result::text AS result
           FROM media m
           LEFT JOIN photos p ON p.media_id = m.id
           LEFT JOIN photo_analyses a ON a.id = p.analysis_id
           WHERE m.project_id = $1 AND m.kind = 'IMAGE'
           ORDER BY m.id""",
        project_id,
    )
    return [_input(r) for r in rows]


def _input(row: Any) -> PhotoInput:
    return PhotoInput(row["id"], row["status"], row["method"], row["room_type"], row["result"])


async def current_hash(conn: Conn | Pool, project_id: str) -> str | None:
    found: str | None = await conn.fetchval(
        "SELECT inputs_hash FROM inventories WHERE project_id = $1", project_id
    )
    return found


async def write(conn: Conn, inventory: Inventory) -> int:
    """Insert or replace the project's inventory; the number of writes so far (its version)."""
    version: int = await conn.fetchval(
        """INSERT INTO inventories (
               project_id, total_items, total_volume_m3, volume_known_share, items_estimated,
               items_without_volume, dismountable_items, photos_total, photos_analysed,
               photos_not_analysed, photos_error, rooms, result, table_version, inputs_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (project_id) DO UPDATE SET
               version = inventories.version + 1, total_items = $2, total_volume_m3 = $3,
               volume_known_share = $4, items_estimated = $5, items_without_volume = $6,
               dismountable_items = $7, photos_total = $8, photos_analysed = $9,
               photos_not_analysed = $10, photos_error = $11, rooms = $12, result = $13,
               table_version = $14, inputs_hash = $15, computed_at = now()
           RETURNING version""",
        inventory.project_id,
        inventory.total_items,
        inventory.total_volume_m3,
        inventory.volume_known_share,
        inventory.items_estimated,
        inventory.items_without_volume,
        inventory.dismountable_items,
        inventory.photos_total,
        inventory.photos_analysed,
        inventory.photos_not_analysed,
        inventory.photos_error,
        inventory.rooms,
        inventory.result,
        inventory.table_version,
        inventory.inputs_hash,
    )
    return version


async def get(db: Pool, project_id: str) -> dict[str, Any] | None:
    row = await db.fetchrow("SELECT * FROM inventories WHERE project_id = $1", project_id)
    return None if row is None else to_dict(row)


async def changed_projects(db: Pool, *, limit: int = 500) -> list[tuple[str, dt.datetime]]:
    """Projects whose photos or analyses changed after their inventory (or that have none),
    with the time of the newest change."""
    rows = await db.fetch(
        """SELECT m.project_id, max(GREATEST(m.updated_at, p.updated_at)) AS changed_at
           FROM media m
           LEFT JOIN photos p ON p.media_id = m.id
           LEFT JOIN inventories i ON i.project_id = m.project_id
           WHERE m.project_id IS NOT NULL AND m.kind = 'IMAGE'
           GROUP BY m.project_id, i.computed_at
           HAVING i.computed_at IS NULL
               OR max(GREATEST(m.updated_at, p.updated_at)) > i.computed_at
           ORDER BY changed_at
           LIMIT $1""",
        limit,
    )
    return [(r["project_id"], r["changed_at"]) for r in rows]
