"""Connecting to Redis: settings that ride out a restart, and a pool with our serializer."""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings
from arq.connections import create_pool as arq_create_pool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mediaworker.config import RedisConfig, Settings
from mediaworker.queue import keys
from mediaworker.queue.serializer import deserialize, serialize


class SafeRedisSettings(RedisSettings):
    """arq's RedisSettings, whose repr would print the password."""

    def __repr__(self) -> str:
        return f"RedisSettings(host={self.host!r}, port={self.port}, database={self.database})"


def redis_settings(config: RedisConfig) -> RedisSettings:
    """Connection settings that ride out a Redis restart of several seconds.

    Each command is retried with exponential backoff for about 15 s in all, so a worker's poll
    loop survives a restart instead of dying on the first ConnectionError.
    """
    base = RedisSettings.from_dsn(config.dsn())
    return SafeRedisSettings(
        **{
            **base.__dict__,
            "conn_timeout": 2,
            "conn_retries": 10,
            "conn_retry_delay": 1,
            "retry_on_timeout": True,
            "retry_on_error": [RedisConnectionError, RedisTimeoutError, ConnectionError],
            "retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=12),
        }
    )


async def create_pool(settings: Settings | None = None) -> ArqRedis:
    settings = settings or Settings()
    return await arq_create_pool(
        redis_settings(settings.redis),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=keys.QUEUE_NAME,
        expires_extra_ms=settings.queue.job_expires_s * 1000,
    )
