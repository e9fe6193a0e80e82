"""The asyncpg pool, with JSON codecs so jsonb columns take and give Python values."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from mediaworker.errors import NetworkError

Pool = asyncpg.Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset between queries: nothing here changes session state, and asyncpg's default
    reset is a second round trip after every query (half the cost of tracking a job)."""


async def create_db_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    try:
        pool: Pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_keep_session,
            command_timeout=60,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise NetworkError(f"cannot connect to Postgres: {type(exc).__name__}") from exc
    return pool


def to_dict(record: Any) -> dict[str, Any]:
    return dict(record.items())
