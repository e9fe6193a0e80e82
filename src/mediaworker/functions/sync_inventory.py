"""sync_inventory: a project's moving inventory from its photos' current analyses.

Payload: SyncInventoryPayload(project_id).
Side effects: the `inventories` row of the project inserted or replaced (its `version` counts
the writes), only when the inputs hash changed; the rules are in `photos/inventory.py`.
Idempotency: job id `inventory-{project_id}`. One run per project at a time across every
worker: a transaction-scoped advisory lock; a second run returns "skipped, running
elsewhere". The read, the sums and the write are one transaction, so a worker killed mid-run
leaves the previous inventory as it was. Same inputs, same hash: nothing is written.
Retries: NETWORK and TIMEOUT (Postgres away) with backoff; nothing here is BAD_INPUT.
"""

from __future__ import annotations

import asyncio

from mediaworker.context import Context
from mediaworker.db import inventories as inventories_db
from mediaworker.payloads import SyncInventoryPayload, SyncInventoryResult
from mediaworker.photos import inventory
from mediaworker.queue import keys


async def sync_inventory(ctx: Context, payload: SyncInventoryPayload) -> SyncInventoryResult:
    project_id = payload.project_id
    async with inventories_db.locked(ctx.db, project_id) as conn:
        if conn is None:
            return SyncInventoryResult(
                project_id=project_id, outcome="skipped", reason="running elsewhere"
            )
        photos = await inventories_db.inputs(conn, project_id)
        digest = await asyncio.to_thread(inventory.inputs_hash, photos)
        if digest == await inventories_db.current_hash(conn, project_id):
            await _note_checked(ctx, project_id)
            return SyncInventoryResult(
                project_id=project_id, outcome="unchanged", inputs_hash=digest
            )
        made = await asyncio.to_thread(inventory.compute, project_id, photos, digest)
        version = await inventories_db.write(conn, made)
    return SyncInventoryResult(
        project_id=project_id,
        outcome="written",
        version=version,
        inputs_hash=digest,
        totalItems=made.total_items,
        totalVolume=float(made.total_volume_m3),
    )


async def _note_checked(ctx: Context, project_id: str) -> None:
    """For the cron: this project's inputs were looked at now and found unchanged."""
    now_ms = int((await ctx.redis.time())[0] * 1000)
    key = keys.inventory_checked_key(project_id)
    await ctx.redis.set(key, now_ms, ex=keys.INVENTORY_CHECKED_TTL_S)
