"""Migrations: applied once, in order, safely when several workers start at once."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from conftest import DATABASE_URL
from mediaworker.db.migrate import available_migrations, migrate

SCRATCH_DB = "mediaworker_test_migrations"


def scratch_url() -> str:
    return urlunsplit(urlsplit(DATABASE_URL)._replace(path=f"/{SCRATCH_DB}"))


async def drop_scratch() -> None:
    admin = await asyncpg.connect(urlunsplit(urlsplit(DATABASE_URL)._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_migrations_create_the_database_and_apply_once() -> None:
    await drop_scratch()
    names = [m.name for m in available_migrations()]

    first = await migrate(scratch_url())
    second = await migrate(scratch_url())

    assert first == names and names[0] == "0001_initial.sql"
    assert second == []
    conn = await asyncpg.connect(scratch_url())
    try:
        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
        versions = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert {"media", "media_derivatives", "job_runs", "schema_migrations"} <= tables
    assert versions == len(names)


async def test_workers_starting_together_apply_each_migration_once() -> None:
    await drop_scratch()
    await migrate(scratch_url())  # the database exists; now empty it of our tables
    conn = await asyncpg.connect(scratch_url())
    try:
        await conn.execute(
            "DROP TABLE media_derivatives, media, job_runs, schema_migrations CASCADE"
        )
    finally:
        await conn.close()

    results = await asyncio.gather(*(migrate(scratch_url()) for _ in range(5)))

    applied = [names for names in results if names]
    assert len(applied) == 1, results
    assert applied[0] == [m.name for m in available_migrations()]
    await drop_scratch()
