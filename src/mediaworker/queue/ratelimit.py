"""A rate limiter in Redis shared by every worker: at most `max` calls in any `duration_s`.

Each limited name (capability and provider, plus the model when RATE_LIMIT_PER_MODEL is on)
has a sorted set of the times of the calls it granted. One Lua script, atomic in Redis, drops
the times that have left the window, then either records now (granted) or answers how long
until the oldest time leaves the window. That is a sliding log: exact, never more than `max`
grants in any window of `duration_s`, unlike a fixed window, which lets 2 x max through around
a boundary. The clock is Redis' own (TIME), so workers whose clocks disagree still agree here.
A set holds at most `max` members and expires one window after its last grant.

A call that gets no slot is not made: `acquire` raises `ThrottledError` with the wait, and the
job wrapper defers the job by that much with arq's `Retry`, so no worker slot sleeps and no
attempt is used up (see wrapper.py).
"""

from __future__ import annotations

import random
import secrets
from typing import Any

from arq.connections import ArqRedis

from mediaworker.config import RateLimit
from mediaworker.errors import ThrottledError

JITTER_S = 0.25  # spread of the deferrals, so that waiting jobs do not all wake at once

_ACQUIRE = """
local window_us = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window_us)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window_us / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window_us - now)
"""


class RateLimiter:
    def __init__(self, redis: ArqRedis) -> None:
        self._script: Any = redis.register_script(_ACQUIRE)

    async def wait_s(self, key: str, limit: RateLimit) -> float:
        """Take a slot (0.0), or the seconds until one frees (nothing taken)."""
        token = secrets.token_hex(8)
        window_us = int(limit.duration_s * 1_000_000)
        wait_us = await self._script(keys=[key], args=[limit.max, window_us, token])
        return int(wait_us) / 1_000_000

    async def acquire(self, key: str, limit: RateLimit, *, what: str) -> None:
        """Take a slot, or raise `ThrottledError` with the time to wait for one."""
        wait_s = await self.wait_s(key, limit)
        if wait_s > 0:
            wait_s += random.uniform(0, min(JITTER_S, limit.duration_s / 4))  # noqa: S311
            raise ThrottledError(
                f"{what}: rate limit {limit.max} per {limit.duration_s:g} s reached; "
                f"deferred {wait_s:.1f} s",
                retry_after_s=wait_s,
            )
