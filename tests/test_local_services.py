"""The throw-away Redis and PostgreSQL that `mediaworker demo` starts when nothing is configured.

Each backend (the `local` extra's embedded servers, and the system binaries) is started for
real, used through the clients the worker uses (arq's Redis pool, asyncpg), stopped, and
its processes must be gone afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pytest
from arq.connections import RedisSettings, create_pool

from mediaworker.dev.local_services import (
    LocalServices,
    _system_postgres_bindir,
    start_local_services,
)
from mediaworker.dev.processes import pid_alive

HAS_SYSTEM_BINARIES = bool(shutil.which("redis-server") and _system_postgres_bindir())

BACKENDS = [
    pytest.param(True, id="embedded"),
    pytest.param(
        False,
        id="system",
        marks=pytest.mark.skipif(
            not HAS_SYSTEM_BINARIES, reason="no system redis-server / PostgreSQL"
        ),
    ),
]


async def _use_redis(url: str) -> None:
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        await pool.set("local-services-test", b"ok")
        assert await pool.get("local-services-test") == b"ok"
    finally:
        await pool.aclose()


async def _use_postgres(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE probe (id int PRIMARY KEY, name text)")
        await conn.execute("INSERT INTO probe VALUES (1, 'thumbnail')")
        assert await conn.fetchval("SELECT name FROM probe WHERE id = 1") == "thumbnail"
        assert await conn.fetchval("SELECT current_database()") == "mediaworker"
    finally:
        await conn.close()


def _assert_gone(services: LocalServices) -> None:
    assert services.pids, "no process was recorded"
    alive = [pid for pid in services.pids if pid_alive(pid)]
    assert not alive, f"still running after stop(): {alive}"


@pytest.mark.parametrize("embedded", BACKENDS)
async def test_start_use_and_stop_both(tmp_path: Path, embedded: bool) -> None:
    services = start_local_services(tmp_path, embedded=embedded)
    try:
        assert len(services.pids) == 2
        assert all(pid_alive(pid) for pid in services.pids)
        await _use_redis(services.redis_url)
        await _use_postgres(services.database_url)
    finally:
        services.stop()
    _assert_gone(services)
    assert not (tmp_path / "redis").exists()
    assert not (tmp_path / "postgres").exists()
    services.stop()  # a second stop (as atexit would do) is harmless


async def test_only_the_services_asked_for(tmp_path: Path) -> None:
    services = start_local_services(tmp_path, need_postgres=False)
    try:
        assert services.database_url == ""
        assert len(services.pids) == 1
        await _use_redis(services.redis_url)
    finally:
        services.stop()
    _assert_gone(services)
