"""Which workers are alive: each worker refreshes its own key every HEARTBEAT_EVERY_S, kept
HEARTBEAT_TTL_S, so a worker that died (even with `kill -9`) drops out within that time.

The key holds the worker's name (host:pid), when it started and when it last beat, as JSON.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from loguru import logger

from mediaworker.errors import map_error
from mediaworker.queue import keys


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    started_at: str
    last_seen: str


async def beat(redis: ArqRedis, name: str, started_at: dt.datetime) -> None:
    info = {
        "name": name,
        "started_at": started_at.isoformat(),
        "last_seen": dt.datetime.now(dt.UTC).isoformat(),
    }
    ttl_ms = int(keys.HEARTBEAT_TTL_S * 1000)
    await redis.set(keys.WORKER_PREFIX + name, json.dumps(info), px=ttl_ms)


async def beat_forever(redis: ArqRedis, name: str) -> None:
    started_at = dt.datetime.now(dt.UTC)
    while True:
        try:
            await beat(redis, name, started_at)
        except Exception as exc:  # Redis away for a moment: the next beat will do
            logger.warning(f"worker heartbeat: {map_error(exc).message}")
        await asyncio.sleep(keys.HEARTBEAT_EVERY_S)


async def stopped(redis: ArqRedis, name: str) -> None:
    await redis.delete(keys.WORKER_PREFIX + name)


async def alive_workers(redis: ArqRedis) -> list[WorkerInfo]:
    names = [key async for key in redis.scan_iter(match=keys.WORKER_PREFIX + "*", count=1000)]
    if not names:
        return []
    found: list[Any] = await redis.mget(names)
    workers = []
    for raw in found:
        if raw is None:
            continue
        try:
            data = json.loads(raw)
            workers.append(WorkerInfo(data["name"], data["started_at"], data["last_seen"]))
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(workers, key=lambda w: w.name)
