"""The worker's outbox writer: job ends with a webhook target, written off the job's path.

The job wrapper hands each such end to `OutboxWriter.add()`, which returns at once; one loop
per worker writes the events to `webhook_outbox` and enqueues their deliveries. An event whose
write fails (Postgres or Redis away) is kept and tried again every RETRY_EVERY_S, and closing
the writer (worker shutdown) writes what is left. Both steps are idempotent (the webhook id
names the job's end), so writing an event twice sends it once. What a `kill -9` loses is what
was not written yet, a few milliseconds' worth, as with the job_runs tracker.
"""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis
from loguru import logger

from mediaworker.background import WakeLoop
from mediaworker.config import WebhookConfig
from mediaworker.db.pool import Pool
from mediaworker.db.webhooks import NewEvent
from mediaworker.errors import map_error
from mediaworker.events.webhooks import JobEnd, new_event, write

RETRY_EVERY_S = 5.0


class OutboxWriter:
    def __init__(self, db: Pool, redis: ArqRedis, config: WebhookConfig) -> None:
        self.db = db
        self.redis = redis
        self.config = config
        self._pending: dict[str, NewEvent] = {}
        self._loop = WakeLoop(self._write_round, every_s=RETRY_EVERY_S)

    def start(self) -> None:
        self._loop.start()

    async def close(self) -> None:
        await self._loop.stop()
        await self.flush()

    def add(self, end: JobEnd, url: str) -> str:
        """Queue the event of `end` for `url`; returns its webhook id."""
        event = new_event(self.config, end, url)
        self._pending[event.webhook_id] = event
        self._loop.wake()
        return event.webhook_id

    async def flush(self) -> None:
        for msg_id, event in list(self._pending.items()):
            try:
                await write(self.db, self.redis, event)
            except Exception as exc:
                logger.bind(job_id=event.job_id).warning(
                    f"webhook event not written yet: {map_error(exc).message}"
                )
                return
            self._pending.pop(msg_id, None)

    async def _write_round(self) -> None:
        await asyncio.shield(self.flush())
