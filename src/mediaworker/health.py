"""The worker's own HTTP endpoint: /metrics, /healthz and /readyz, for Prometheus and Kubernetes.

Served from the worker's event loop on METRICS_HOST:METRICS_PORT (127.0.0.1 by default; set
METRICS_HOST=0.0.0.0 in a pod so that the kubelet and Prometheus reach it; METRICS_PORT=0, the
default, serves nothing). Nothing here needs a token: it shows counts, never payloads or
settings.

- `/healthz`: 200 while the event loop answers (a liveness probe).
- `/readyz`: 200 when Redis answers PING and Postgres answers `SELECT 1`, each within
  READY_TIMEOUT_S; else 503 with which one failed (a readiness probe). The API server has
  its own /readyz; `check_ready()` is the one both answer from.
- `/metrics`: the Prometheus text format, the queue gauge read from Redis just before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from arq.connections import ArqRedis
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mediaworker import metrics
from mediaworker.db.pool import Pool
from mediaworker.errors import map_error

READY_TIMEOUT_S = 2.0


async def check_ready(redis: ArqRedis, db: Pool) -> dict[str, str]:
    """{"redis": "ok" | why not, "postgres": "ok" | why not}."""
    checks: dict[str, Callable[[], Awaitable[Any]]] = {
        "redis": redis.ping,
        "postgres": lambda: db.fetchval("SELECT 1"),
    }
    found = {}
    for name, check in checks.items():
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                await check()
            found[name] = "ok"
        except Exception as exc:
            found[name] = f"{map_error(exc).code.value}: {type(exc).__name__}"
    return found


def make_app(redis: ArqRedis, db: Pool) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        checks = await check_ready(redis, db)
        ready = all(v == "ok" for v in checks.values())
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )

    async def metrics_page(request: web.Request) -> web.Response:
        try:
            await metrics.refresh_queue(redis)
        except Exception as exc:  # Redis away: serve the counters anyway
            logger.warning(f"queue metrics not read: {map_error(exc).message}")
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


async def serve(redis: ArqRedis, db: Pool, *, host: str, port: int) -> web.AppRunner | None:
    """Start the endpoint (port 0: none); the runner's `cleanup()` stops it."""
    if not port:
        return None
    runner = web.AppRunner(make_app(redis, db), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.bind(host=host, port=port).info("worker metrics and readiness served")
    return runner
