"""/healthz: the process answers. /readyz: Redis and Postgres answer too (503 otherwise).
Neither needs a token, nor says more than which dependency failed."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mediaworker.web.services import ServicesDep

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Redis or Postgres does not answer"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    async def redis() -> object:
        return await services.redis.ping()

    async def postgres() -> object:
        return await services.db.fetchval("SELECT 1")

    checks = {}
    for name, check in (("redis", redis), ("postgres", postgres)):
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await check()
        except Exception:
            checks[name] = "down"
        else:
            checks[name] = "up"
    ready = all(state == "up" for state in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", **checks}, 200 if ready else 503
    )
