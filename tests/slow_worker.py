"""A worker for the resilience tests: our WorkerSettings plus `nap`, a slow job that goes
through the same wrapper as every real job (job_runs, retries, heartbeat).

    arq slow_worker.WorkerSettings      (with tests/ on PYTHONPATH)
"""

from __future__ import annotations

import asyncio

from mediaworker.config import Settings
from mediaworker.context import Context
from mediaworker.jobs import tracked
from mediaworker.payloads import Payload, Result
from mediaworker.settings import worker_options


class NapPayload(Payload):
    seconds: float


class NapResult(Result):
    slept_s: float


async def nap(ctx: Context, payload: NapPayload) -> NapResult:
    await asyncio.sleep(payload.seconds)
    return NapResult(slept_s=payload.seconds)


class WorkerSettings:
    pass


_options = worker_options(Settings())
_options["functions"] = [*_options["functions"], tracked(nap, timeout_s=120)]
for _name, _value in _options.items():
    setattr(WorkerSettings, _name, _value)
