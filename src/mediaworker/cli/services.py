"""What the commands open (Postgres, Redis, storage) and the media reads they share with the
demo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from arq.connections import ArqRedis
from rich.progress import Progress

from mediaworker.cli.output import console
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool, create_db_pool
from mediaworker.queue.connection import create_pool
from mediaworker.storage import open_storage
from mediaworker.storage.base import Storage

FINAL_STATUSES = {media_db.MediaStatus.READY.value, media_db.MediaStatus.ERROR.value}


@dataclass
class Services:
    settings: Settings
    db: Pool
    redis: ArqRedis
    store: Storage | None

    @property
    def storage(self) -> Storage:
        if self.store is None:
            raise RuntimeError("opened without storage")
        return self.store


@asynccontextmanager
async def open_services(settings: Settings, *, storage: bool = False) -> AsyncIterator[Services]:
    async with AsyncExitStack() as stack:
        db = await create_db_pool(settings.database.dsn(), min_size=1, max_size=4)
        stack.push_async_callback(db.close)
        redis = await create_pool(settings)
        stack.push_async_callback(redis.aclose)
        store = await open_storage(settings.storage) if storage else None
        if store is not None:
            stack.push_async_callback(store.close)
        yield Services(settings, db, redis, store)


async def media_view(db: Pool, media_id: str) -> dict[str, Any] | None:
    media = await media_db.get(db, media_id)
    if media is None:
        return None
    derivatives = await derivatives_db.list_for(db, media_id)
    return {**asdict(media), "derivatives": [d.model_dump() for d in derivatives]}


async def wait_for_media(db: Pool, ids: list[str], *, timeout_s: float, show: bool) -> None:
    pending = set(ids)
    with Progress(console=console, transient=True, disable=not show or len(ids) < 2) as bar:
        task = bar.add_task("processing", total=len(ids))
        async with asyncio.timeout(timeout_s):
            while pending:
                rows = await db.fetch(
                    "SELECT id FROM media WHERE id = ANY($1::text[]) AND status = ANY($2::text[])",
                    list(pending),
                    list(FINAL_STATUSES),
                )
                pending -= {r["id"] for r in rows}
                bar.update(task, completed=len(ids) - len(pending))
                if pending:
                    await asyncio.sleep(0.1)
