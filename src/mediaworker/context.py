"""The typed worker context: built once per worker process, closed in reverse order.

arq hands every job a plain dict; `startup()` puts one `Context` in it under "mw" and the job
wrapper hands that to the job functions.
"""

from __future__ import annotations

import asyncio
import os
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from loguru import logger

from mediaworker import metrics, scratch
from mediaworker.config import Settings
from mediaworker.db.migrate import migrate
from mediaworker.db.pool import Pool, create_db_pool
from mediaworker.errors import map_error
from mediaworker.logging import configure_logging
from mediaworker.processing.pool import CpuPool
from mediaworker.providers import Providers, build_providers
from mediaworker.queue import workers
from mediaworker.queue.priorities import PROMOTE_EVERY_S, promote_due
from mediaworker.queue.tracking import Tracker
from mediaworker.storage import open_storage
from mediaworker.storage.base import Storage
from mediaworker.subprocesses import TOOL_LIMITS

CTX_KEY = "mw"


@dataclass
class Context:
    settings: Settings
    db: Pool
    storage: Storage
    cpu: CpuPool
    redis: ArqRedis
    worker_name: str
    exit_stack: AsyncExitStack
    providers: Providers  # the AI providers chosen by the settings (providers/__init__.py)
    tracker: Tracker  # job_runs rows, in-progress keys and stats, written in batches


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or Settings()
    configure_logging(settings.log_level, settings.log_format)
    TOOL_LIMITS.memory_bytes = settings.media.tool_max_memory_bytes
    stack = AsyncExitStack()
    try:
        # The pool's processes start and import their libraries while we connect.
        cpu = CpuPool(
            settings.queue.cpu_workers,
            memory_limit_bytes=settings.queue.cpu_worker_max_memory_bytes,
        )
        stack.callback(cpu.close)
        await migrate(settings.database.dsn())
        db = await create_db_pool(
            settings.database.dsn(),
            min_size=settings.database.pool_min_size,
            max_size=settings.database.pool_max_size,
        )
        stack.push_async_callback(db.close)
        tracker = Tracker(db, ctx["redis"])
        tracker.start()
        stack.push_async_callback(tracker.close)  # closed (flushed) before the pool
        storage = await open_storage(settings.storage)
        stack.push_async_callback(storage.close)
        providers = build_providers(settings, cpu)
        stack.push_async_callback(providers.aclose)
        promoter = asyncio.create_task(_promote_forever(ctx["redis"]))
        stack.callback(promoter.cancel)
        await cpu.start()  # warm before the first job (the first would wait ~1.4 s otherwise)
    except BaseException:
        await stack.aclose()
        raise
    metrics.serve(settings.queue.metrics_port, settings.queue.metrics_host)
    worker_name = f"{socket.gethostname()}:{os.getpid()}"
    swept = await asyncio.to_thread(scratch.sweep_stale)
    if swept:
        log = logger.bind(worker=worker_name)
        log.info(f"removed {len(swept)} scratch folders of dead workers")
    heartbeat = asyncio.create_task(workers.beat_forever(ctx["redis"], worker_name))
    stack.push_async_callback(workers.stopped, ctx["redis"], worker_name)
    stack.callback(heartbeat.cancel)  # first; killed, the key lapses within HEARTBEAT_TTL_S
    ctx[CTX_KEY] = Context(
        settings,
        db,
        storage,
        cpu,
        ctx["redis"],
        worker_name,
        stack,
        providers=providers,
        tracker=tracker,
    )
    logger.bind(worker=worker_name).info("worker started")


async def shutdown(ctx: dict[str, Any]) -> None:
    context: Context | None = ctx.pop(CTX_KEY, None)
    if context is not None:
        await context.exit_stack.aclose()
        logger.bind(worker=context.worker_name).info("worker stopped")


async def _promote_forever(redis: ArqRedis) -> None:
    """Deferred jobs whose time has come go back to their priority (see queue/priorities.py)."""
    while True:
        try:
            await promote_due(redis)
        except Exception as exc:  # Redis away for a moment: try again next round
            logger.warning(f"promoting deferred jobs: {map_error(exc).message}")
        await asyncio.sleep(PROMOTE_EVERY_S)


def get_context(ctx: dict[str, Any]) -> Context:
    context: Context = ctx[CTX_KEY]
    return context
