"""A worker for the resilience tests: our WorkerSettings plus `nap`, a slow job that goes
through the same wrapper as every real job (job_runs, retries, heartbeat).

    arq slow_worker.WorkerSettings      (with tests/ on PYTHONPATH)
"""

from __future__ import annotations

import asyncio

from arq.worker import Function

from mediaworker.config import Settings
from mediaworker.context import Context
from mediaworker.errors import NetworkError
from mediaworker.payloads import Payload, Result
from mediaworker.queue.wrapper import tracked
from mediaworker.settings import worker_options


class NapPayload(Payload):
    seconds: float


class NapResult(Result):
    slept_s: float


async def nap(ctx: Context, payload: NapPayload) -> NapResult:
    await asyncio.sleep(payload.seconds)
    return NapResult(slept_s=payload.seconds)


class FlakyPayload(Payload):
    key: str
    failures: int = 1


async def flaky(ctx: Context, payload: FlakyPayload) -> NapResult:
    """Fails with a transient network error the first `failures` times it runs."""
    runs = await ctx.redis.incr(f"test:flaky:{payload.key}")
    if runs <= payload.failures:
        raise NetworkError(f"simulated outage, run {runs}")
    return NapResult(slept_s=0)


def extra_functions() -> list[Function]:
    return [tracked(nap, timeout_s=120), tracked(flaky, timeout_s=120)]


class WorkerSettings:
    pass


_options = worker_options(Settings())
_options["functions"] = [*_options["functions"], *extra_functions()]
for _name, _value in _options.items():
    setattr(WorkerSettings, _name, _value)
