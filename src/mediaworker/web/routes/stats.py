"""GET /v1/stats: per function, waiting, active, delayed, completed, failed and total (the
original deployments' shape), from the ledger; and how many workers are alive."""

from __future__ import annotations

from fastapi import APIRouter

from mediaworker.db import jobs as jobs_db
from mediaworker.queue.workers import alive_workers
from mediaworker.web.auth import Producer
from mediaworker.web.schemas import FunctionStats, Stats
from mediaworker.web.services import ServicesDep

router = APIRouter(prefix="/v1", tags=["stats"])
FIELD_OF_STATE = {
    "queued": "waiting",
    "running": "active",
    "deferred": "delayed",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


@router.get("/stats", dependencies=[Producer])
async def stats(services: ServicesDep) -> Stats:
    counts = await jobs_db.counts(services.db)
    functions = {name: _stats(by_state) for name, by_state in sorted(counts.items())}
    totals: dict[str, int] = {}
    for view in functions.values():
        for name, n in view.model_dump().items():
            totals[name] = totals.get(name, 0) + n
    workers = await alive_workers(services.redis)
    return Stats(functions=functions, totals=FunctionStats(**totals), workers_alive=len(workers))


def _stats(by_state: dict[str, int]) -> FunctionStats:
    fields = {FIELD_OF_STATE[state]: n for state, n in by_state.items() if state in FIELD_OF_STATE}
    return FunctionStats(**fields, total=sum(by_state.values()))
