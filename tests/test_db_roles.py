"""The roles docker-compose.yml makes (deploy/postgres/init-roles.sh and roles.sql), on the real
local Postgres: the owner runs the migrations; the worker reads and writes rows in every table,
including those made after the roles, and cannot change the schema."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from conftest import DATABASE_URL
from mediaworker.db.migrate import migrate

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "postgres"
SERVER = urlsplit(DATABASE_URL)


@dataclass(frozen=True)
class Roles:
    database: str
    owner_dsn: str
    worker_dsn: str


def dsn(user: str, database: str) -> str:
    return (
        SERVER._replace(netloc=f"{user}@{SERVER.hostname}:{SERVER.port or 5432}").geturl()[
            : -len(SERVER.path)
        ]
        + f"/{database}"
    )


@pytest.fixture
async def roles() -> AsyncIterator[Roles]:
    """A fresh database and a fresh pair of roles (roles are per server: unique names)."""
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    suffix = uuid.uuid4().hex[:8]
    database = f"{SERVER.path.lstrip('/')}_roles_{suffix}"
    owner, worker = f"mw_owner_{suffix}", f"mw_worker_{suffix}"
    admin = await asyncpg.connect(DATABASE_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    env = {
        **os.environ,
        "PGHOST": SERVER.hostname or "127.0.0.1",
        "PGPORT": str(SERVER.port or 5432),
        "POSTGRES_USER": SERVER.username or "postgres",
        "POSTGRES_DB": database,
        "MEDIAWORKER_OWNER_ROLE": owner,
        "MEDIAWORKER_WORKER_ROLE": worker,
        "MEDIAWORKER_OWNER_PASSWORD": uuid.uuid4().hex,
        "MEDIAWORKER_WORKER_PASSWORD": uuid.uuid4().hex,
        "MEDIAWORKER_ROLES_SQL": str(DEPLOY / "roles.sql"),
    }
    try:
        command = ["sh", str(DEPLOY / "init-roles.sh")]
        await asyncio.to_thread(subprocess.run, command, env=env, check=True)
        yield Roles(database, dsn(owner, database), dsn(worker, database))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in (worker, owner):
            await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


async def test_the_worker_role_writes_rows_but_cannot_change_the_schema(roles: Roles) -> None:
    applied = await migrate(roles.owner_dsn)
    assert applied, "the owner ran the migrations"
    assert await migrate(roles.worker_dsn) == [], "a worker starts on a migrated schema"

    worker = await asyncpg.connect(roles.worker_dsn)
    try:
        run_id = await worker.fetchval(
            """INSERT INTO job_runs (job_id, function, status, attempt, enqueued_at)
               VALUES ('roles-1', 'nap', 'RUNNING', 1, now()) RETURNING id"""
        )
        await worker.execute("UPDATE job_runs SET status = 'SUCCEEDED' WHERE id = $1", run_id)
        assert await worker.fetchval("SELECT status FROM job_runs WHERE id = $1", run_id) == (
            "SUCCEEDED"
        )
        await worker.execute("DELETE FROM job_runs WHERE id = $1", run_id)
        for ddl in (
            "CREATE TABLE sneaky (id int)",
            "CREATE TEMP TABLE sneaky (id int)",
            "DROP TABLE job_runs",
            "ALTER TABLE media ADD COLUMN sneaky int",
            "TRUNCATE job_runs",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await worker.execute(ddl)
    finally:
        await worker.close()


async def test_a_table_the_owner_makes_later_is_open_to_the_worker(roles: Roles) -> None:
    owner = await asyncpg.connect(roles.owner_dsn)
    try:
        await owner.execute("CREATE TABLE later (id bigserial PRIMARY KEY, note text)")
    finally:
        await owner.close()
    worker = await asyncpg.connect(roles.worker_dsn)
    try:
        await worker.execute("INSERT INTO later (note) VALUES ('made after the roles')")
        assert await worker.fetchval("SELECT count(*) FROM later") == 1
    finally:
        await worker.close()
