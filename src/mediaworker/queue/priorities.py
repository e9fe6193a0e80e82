"""Priorities inside the one arq queue: lower numbers run first, FIFO within a level.

arq runs, oldest score first, the jobs whose score is not after now. A ready job's score here
is not a time but `priority * LEVEL + seq`, with `seq` from one Redis counter: every such score
lies in the past (so the job is ready), a lower priority always sorts first, and within a level
the counter keeps enqueue order exactly (no ties between jobs enqueued in the same
millisecond). The job key's lifetime is set explicitly (QUEUE_JOB_EXPIRES_S), since arq would
derive it from the score.

A deferred job (a retry's backoff, or `defer_s` at enqueue) cannot wait in the queue at its
priority score, which is always ready. It waits at a time score (ready at `now + defer + grace`)
and in a side set of due times; every worker runs `promote_due()` twice a second, which moves
each due job back to its priority score. If no worker promotes it, the job still runs at its time
score, `PROMOTE_GRACE_S` late and without its priority. Jobs that plain arq enqueued (cron jobs,
producers calling `pool.enqueue_job`) get DEFAULT_PRIORITY within PROMOTE_EVERY_S of being due.
Limits: priorities 0..MAX_PRIORITY; the counter wraps after LEVEL (10^10) jobs, which breaks
FIFO once; a worker reads up to `queue_read_limit` ready jobs per poll, so a job enqueued at a
higher priority meanwhile waits for that batch to start (arq's default, 100 or 5 x max_jobs).
"""

from __future__ import annotations

import time
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import serialize_job

from mediaworker.queue import keys

MAX_PRIORITY = 100
DEFAULT_PRIORITY = 10
LEVEL = 10**10  # (MAX_PRIORITY + 1) * LEVEL = 1.01e12 ms: every priority score is in 2001
PROMOTE_GRACE_S = 30.0
PROMOTE_EVERY_S = 0.5
_PROMOTE_BATCH = 500


def check_priority(priority: int) -> int:
    if not 0 <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority {priority} is not in 0..{MAX_PRIORITY}")
    return priority


def priority_of(score: float | None) -> int | None:
    """The priority a queue score encodes, or None for a plain time score."""
    if score is None or score >= (MAX_PRIORITY + 1) * LEVEL:
        return None
    return int(score // LEVEL)


# arq's enqueue with our score, in one round trip: refused when the job id is taken (its job
# key or kept result exists), else the job key with its lifetime, and the job in the queue at
# its priority score, or, deferred, at its time score and in the deferred set. Scores stay
# below 10^13, within the 14 digits a Lua number keeps when Redis turns it into text.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  return 0
end
local seq = redis.call('INCR', KEYS[4]) % tonumber(ARGV[5])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if tonumber(ARGV[4]) > 0 then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6])
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[6])
  redis.call('HSET', KEYS[6], ARGV[6], ARGV[3])
else
  redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) * tonumber(ARGV[5]) + seq, ARGV[6])
end
return 1
"""


async def enqueue_at_priority(
    pool: ArqRedis,
    function: str,
    job_id: str,
    kwargs: dict[str, Any],
    *,
    priority: int,
    expires_s: float,
    defer_s: float | None = None,
) -> bool:
    """arq's enqueue_job with our score; False when the job id is taken (queued or kept)."""
    check_priority(priority)
    now_ms = int(time.time() * 1000)
    job = serialize_job(function, (), kwargs, None, now_ms, serializer=pool.job_serializer)
    time_score = now_ms + int((defer_s + PROMOTE_GRACE_S) * 1000) if defer_s else 0
    added = await pool.register_script(_ENQUEUE)(
        keys=[
            keys.ARQ_JOB_PREFIX + job_id,
            keys.result_key(job_id),
            keys.QUEUE_NAME,
            keys.PRIORITY_SEQ,
            keys.DEFERRED,
            keys.DEFERRED_PRIORITY,
        ],
        args=[
            job,
            int((expires_s + (defer_s or 0)) * 1000),
            priority,
            time_score,
            LEVEL,
            job_id,
            now_ms + int((defer_s or 0) * 1000),
        ],
    )
    return bool(added)


async def defer_retry(pool: ArqRedis, job_id: str, *, priority: int, defer_s: float) -> float:
    """Note a retry's due time; returns the deferral to give arq's `Retry` (with the grace)."""
    due_ms = int((time.time() + defer_s) * 1000)
    async with pool.pipeline(transaction=True) as pipe:
        pipe.zadd(keys.DEFERRED, {job_id: due_ms})
        pipe.hset(keys.DEFERRED_PRIORITY, job_id, str(priority))
        await pipe.execute()
    return defer_s + PROMOTE_GRACE_S


# Moves due deferred jobs back to their priority score, then gives jobs that plain arq enqueued
# at a time score (cron jobs, producers calling `enqueue_job`) the default priority once due.
# A job still marked in progress is left for the next round: arq moves a retried job to its
# time score only as it finishes.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local moved = 0
for _, id in ipairs(due) do
  if redis.call('EXISTS', ARGV[4] .. id) == 0 then
    local priority = tonumber(redis.call('HGET', KEYS[2], id) or ARGV[6])
    if redis.call('EXISTS', ARGV[5] .. id) == 1 then
      local seq = redis.call('INCR', KEYS[4]) % tonumber(ARGV[3])
      redis.call('ZADD', KEYS[3], 'XX', priority * tonumber(ARGV[3]) + seq, id)
      moved = moved + 1
    end
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
local level = tonumber(ARGV[3])
local plain = redis.call('ZRANGEBYSCORE', KEYS[3], (tonumber(ARGV[7]) + 1) * level, ARGV[1],
                         'LIMIT', 0, ARGV[2])
for _, id in ipairs(plain) do
  if redis.call('EXISTS', ARGV[4] .. id) == 0 and not redis.call('ZSCORE', KEYS[1], id) then
    local seq = redis.call('INCR', KEYS[4]) % level
    redis.call('ZADD', KEYS[3], 'XX', tonumber(ARGV[6]) * level + seq, id)
    moved = moved + 1
  end
end
return moved
"""


async def promote_due(pool: ArqRedis) -> int:
    """Move every deferred job whose time has come back to its priority; returns how many."""
    moved: int = await pool.eval(  # type: ignore[misc]
        _PROMOTE,
        4,
        keys.DEFERRED,
        keys.DEFERRED_PRIORITY,
        keys.QUEUE_NAME,
        keys.PRIORITY_SEQ,
        str(int(time.time() * 1000)),
        str(_PROMOTE_BATCH),
        str(LEVEL),
        keys.ARQ_IN_PROGRESS_PREFIX,
        keys.ARQ_JOB_PREFIX,
        str(DEFAULT_PRIORITY),
        str(MAX_PRIORITY),
    )
    return moved
