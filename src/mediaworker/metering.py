"""Every provider call goes through `metered()`: a rate-limit slot, the call, an ai_metrics row.

It is used by the job recipes, at the one line where each calls a provider, rather than inside
each adapter: the rate limit, the timing, the cost and the row are then written once for all
providers (OpenAI, Anthropic, Gemini and the local ones alike), and the adapters stay plain
translations of an SDK.

- Remote providers (and local ones with RATE_LIMIT_LOCAL) take a slot of the shared limiter
  first; none free raises `ThrottledError` and the job is deferred without using an attempt.
- One ai_metrics row per call, success or failure: provider, model, operation, latency, the
  error code, retries (earlier attempts of the job plus the SDK's own retries within the
  call), the usage as reported and as counted, the cost (pricing.py), the job id, `meta`.
- Writing the row must not fail a call that succeeded and was paid for: a failed insert is
  logged and dropped.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from loguru import logger

from mediaworker.context import Context
from mediaworker.db import ai_metrics
from mediaworker.errors import map_error
from mediaworker.pricing import cost_usd
from mediaworker.providers.base import Capability, Provider, Usage, start_counting_requests
from mediaworker.providers.http_errors import InvalidReplyError, RefusedError
from mediaworker.queue import keys
from mediaworker.queue.ratelimit import RateLimiter
from mediaworker.queue.wrapper import current_run

P = TypeVar("P", bound=Provider)


class _Reported(Protocol):
    @property
    def usage(self) -> Usage: ...


R = TypeVar("R", bound=_Reported)


async def metered(
    ctx: Context,
    capability: Capability,
    provider: P,
    call: Callable[[P], Awaitable[R]],
    *,
    meta: dict[str, Any] | None = None,
) -> R:
    """`await call(provider)`, rate-limited and recorded."""
    await _take_slot(ctx, capability, provider)
    requests = start_counting_requests()
    started = time.perf_counter()
    try:
        result = await call(provider)
    except Exception as exc:
        usage = exc.usage if isinstance(exc, RefusedError | InvalidReplyError) else None
        await _record(ctx, capability, provider, started, requests, usage, exc, meta)
        raise
    await _record(ctx, capability, provider, started, requests, result.usage, None, meta)
    return result


async def _take_slot(ctx: Context, capability: Capability, provider: Provider) -> None:
    config = ctx.settings.providers
    if not (provider.remote or config.rate_limit_local):
        return
    limit = config.rate_limit(_limit_name(capability))
    model = provider.model if config.rate_limit_per_model else None
    key = keys.rate_limit_key(capability.value, provider.provider, model)
    what = f"{provider.provider} {capability.value.replace('_', ' ')}"
    await RateLimiter(ctx.redis).acquire(key, limit, what=what)


def _limit_name(capability: Capability) -> str:
    names = {Capability.UPSCALE: "image_edit", Capability.ANALYSIS: "analysis"}
    return names.get(capability, capability.value)


async def _record(
    ctx: Context,
    capability: Capability,
    provider: Provider,
    started: float,
    requests: list[int],
    usage: Usage | None,
    error: BaseException | None,
    meta: dict[str, Any] | None,
) -> None:
    run = current_run()
    earlier_attempts = run.attempt - 1 if run else 0
    row = ai_metrics.Call(
        provider=provider.provider,
        model=provider.model,
        operation=capability.value,
        latency_ms=int((time.perf_counter() - started) * 1000),
        success=error is None,
        error_code=None if error is None else map_error(error).code.value,
        retries=earlier_attempts + max(requests[0] - 1, 0),
        usage=usage or Usage(),
        cost_usd=None if usage is None else cost_usd(provider.provider, provider.model, usage),
        job_id=run.job_id if run else None,
        meta=meta or {},
    )
    try:
        await ai_metrics.insert(ctx.db, row)
    except Exception as exc:
        logger.bind(provider=provider.provider).warning(
            f"ai_metrics row not written: {map_error(exc).message}"
        )
