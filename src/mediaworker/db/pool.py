"""The asyncpg pool, with JSON codecs so jsonb columns take and give Python values."""

from __future__ import annotations

import json
import math
from typing import Any

import asyncpg

from mediaworker.errors import NetworkError

Pool = asyncpg.Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=to_json, decoder=json.loads, schema="pg_catalog"
        )


def to_json(value: Any) -> str:
    """JSON that Postgres takes: it refuses NUL characters (in jsonb) and NaN or Infinity (in
    both), so NUL is dropped and non-finite numbers are stored as text. The usual value goes
    through one `json.dumps`; only one carrying either is walked."""
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(storable(value), allow_nan=False)
    return json.dumps(storable(value)) if "\\u0000" in text else text


def storable(value: Any) -> Any:
    """`value` (JSON-like) without NUL characters, its NaN and Infinity as text ("nan")."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(str(k)): storable(v) for k, v in value.items()}
    return value


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
