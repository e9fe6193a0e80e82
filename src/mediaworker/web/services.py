"""The services the API opens once, in the app's lifespan, and hands to every route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from arq.connections import ArqRedis
from fastapi import Depends, Request

from mediaworker.config import Settings
from mediaworker.db.migrate import migrate
from mediaworker.db.pool import Pool, create_db_pool
from mediaworker.queue.connection import create_pool
from mediaworker.storage import open_storage
from mediaworker.storage.base import Storage


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Pool
    redis: ArqRedis
    storage: Storage


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    async with AsyncExitStack() as stack:
        await migrate(settings.database.dsn())
        db = await create_db_pool(
            settings.database.dsn(),
            min_size=settings.database.pool_min_size,
            max_size=settings.database.pool_max_size,
        )
        stack.push_async_callback(db.close)
        redis = await create_pool(settings)
        stack.push_async_callback(redis.aclose)
        storage = await open_storage(settings.storage)
        stack.push_async_callback(storage.close)
        yield Services(settings, db, redis, storage)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
