"""Numbered SQL migrations, applied once each, in order, under an advisory lock.

Several workers starting at once all call `migrate()`: the first takes the lock and applies
what is missing; the others wait for it, then find nothing left to do. A schema that is up to
date costs one read and no DDL, so a worker connected as a DML-only role (docker-compose.yml:
the migrations run once, as the owner role, before any worker starts) starts without error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg

MIGRATIONS_PACKAGE = "mediaworker.db.migrations"
ADVISORY_LOCK_ID = 0x6D656469  # "medi"
_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


async def migrate(dsn: str) -> list[str]:
    """Apply the missing migrations; returns the names of those applied now."""
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        if not await _any_missing(conn):
            return []
        await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
        try:
            return await _apply_missing(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
    finally:
        await conn.close()


async def _any_missing(conn: asyncpg.Connection) -> bool:
    """Whether a migration is not applied yet; reads only (no lock, no DDL)."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return True
    done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return any(m.version not in done for m in available_migrations())


async def _apply_missing(conn: asyncpg.Connection) -> list[str]:
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    applied = []
    for migration in available_migrations():
        if migration.version in done:
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
        applied.append(migration.name)
    return applied


async def ensure_database(dsn: str) -> None:
    """Create the database named in `dsn` when the server has no such database yet."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not name:
        return
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            quoted = '"' + name.replace('"', '""') + '"'
            await admin.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await admin.close()
    else:
        await conn.close()
