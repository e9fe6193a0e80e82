"""Shared fixtures: real Redis (a dedicated DB index, flushed per test), real Postgres (a
dedicated database, migrated once, truncated per test), local storage in a temporary folder,
and a real arq Worker run in burst mode through our WorkerSettings.

REDIS_URL and DATABASE_URL choose the servers; by default the local ones on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from arq.worker import Worker

from mediaworker import client, registry
from mediaworker.config import (
    DatabaseConfig,
    ImageConfig,
    MediaConfig,
    QueueConfig,
    RedisConfig,
    Settings,
    StorageConfig,
)
from mediaworker.db.migrate import migrate
from mediaworker.db.pool import Pool, create_db_pool
from mediaworker.settings import registered, worker_options
from mediaworker.storage import open_storage
from mediaworker.storage.base import Storage

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/mediaworker_test"
)
TESTDATA = Path(
    os.environ.get("MEDIAWORKER_TESTDATA", Path(__file__).resolve().parents[2] / "shared/testdata")
)


TEARDOWN_S = 30.0


def make_settings(storage_path: Path, **queue: Any) -> Settings:
    """Settings for a test: the test servers, local storage in `storage_path`, quick retries."""
    queue_env = {"QUEUE_BACKOFF_DELAY": 0, "QUEUE_POLL_DELAY_MS": 5, "QUEUE_CONCURRENCY": 4}
    queue_env.update(queue)
    return Settings(
        redis=RedisConfig(REDIS_URL=REDIS_URL),
        database=DatabaseConfig(DATABASE_URL=DATABASE_URL),
        storage=StorageConfig(STORAGE_TYPE="local", WORKER_STORAGE_PATH=str(storage_path)),
        queue=QueueConfig(**queue_env),
        image=ImageConfig(),
        # Transcribing every audio fixture with pocketsphinx would take minutes; the test of
        # that fan-out turns it on.
        media=MediaConfig(UPLOAD_TRANSCRIBE=False),
    )


@pytest.fixture(scope="session")
async def migrated() -> None:
    await migrate(DATABASE_URL)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "storage")


@pytest.fixture
async def db(migrated: None) -> AsyncIterator[Pool]:
    pool = await create_db_pool(DATABASE_URL, min_size=1, max_size=4)
    await pool.execute("TRUNCATE media, media_derivatives, job_runs CASCADE")
    await pool.execute("TRUNCATE jobs")  # the ledger (0007)
    yield pool
    await pool.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await client.create_pool(settings)
    await pool.flushdb()
    yield pool
    await pool.aclose()


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    store = await open_storage(settings.storage)
    yield store
    await store.close()


async def run_burst(settings: Settings, **options: Any) -> Worker:
    """Run a real worker, with our WorkerSettings, until the queue is empty.

    The cron jobs run when enqueued but not on their schedules (unless `cron_jobs` is given):
    one firing at its second (claim_tts_jobs every 10 s, requeue_webhooks at :53) was counted
    among the jobs a test ran, and a burst, which ends with the queue, cannot wait for one."""
    defaults = worker_options(settings)
    crons = [registered(job, settings) for job in registry.JOBS.values() if job.cron]
    defaults.update(functions=[*defaults["functions"], *crons], cron_jobs=[])
    kwargs = {**defaults, "burst": True, "handle_signals": False, **options}
    worker = Worker(**kwargs)
    try:
        await worker.async_run()
    finally:
        try:
            async with asyncio.timeout(TEARDOWN_S):  # as in running_worker below
                await worker.close()
        except TimeoutError:
            print(f"run_burst: shutdown took over {TEARDOWN_S} s", file=sys.stderr)
    return worker


@pytest.fixture
def testdata() -> Iterator[Path]:
    if not (TESTDATA / "manifest.json").is_file():
        pytest.skip("../shared/testdata is not present")
    yield TESTDATA


def manifest(kind: str | None = None) -> list[dict[str, Any]]:
    path = TESTDATA / "manifest.json"
    if not path.is_file():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return [e for e in entries if kind is None or e["kind"] == kind]


async def raw_redis() -> aioredis.Redis:
    return aioredis.Redis.from_url(REDIS_URL)


async def pg_connect() -> asyncpg.Connection:
    return await asyncpg.connect(DATABASE_URL)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **options: Any) -> AsyncIterator[Worker]:
    """A real worker polling in the background of this event loop until the block ends."""
    worker = Worker(**{**worker_options(settings), "handle_signals": False, **options})
    task = asyncio.create_task(worker.async_run())
    try:
        for _ in range(200):
            if "mw" in worker.ctx or task.done():
                break
            await asyncio.sleep(0.02)
        if task.done():
            task.result()
        yield worker
    finally:
        task.cancel()
        # Bounded: a worker whose shutdown does not end within TEARDOWN_S is reported on
        # stderr and left behind, so the test's own outcome stands (an open question for
        # worker shutdown, seen twice in CI under load; see README, Development).
        try:
            async with asyncio.timeout(TEARDOWN_S):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await _end_jobs(worker)
                await worker.close()
        except TimeoutError:
            print(f"running_worker: shutdown took over {TEARDOWN_S} s", file=sys.stderr)


async def _end_jobs(worker: Worker) -> None:
    """Cancel the jobs still running and wait for them, as `Worker.close()` does, but without
    passing their CancelledError on: arq's close() gathers them without `return_exceptions`,
    so a job cancelled while it stored its result made the test fail at teardown."""
    jobs = list(worker.tasks.values())
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    worker.tasks.clear()


async def wait_until(predicate: Any, *, timeout_s: float = 10, every_s: float = 0.05) -> None:
    async with asyncio.timeout(timeout_s):
        while not await predicate():  # noqa: ASYNC110 - polling a database, no event to wait on
            await asyncio.sleep(every_s)


from s3_stand_in import s3_endpoint, s3_storage_config  # noqa: E402, F401  (fixtures)
from support import ai_db, api, providers  # noqa: E402, F401  (fixtures)


async def mediaworker_cli(settings: Settings, *args: str) -> tuple[int, str]:
    """Run the `mediaworker` command on the test servers: its exit code and output."""
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "WORKER_STORAGE_PATH": str(settings.storage.path),
        "COLUMNS": "200",
    }
    cli = Path(sys.executable).with_name("mediaworker")
    process = await asyncio.create_subprocess_exec(
        str(cli), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode() + ("" if process.returncode in (0, 1) else err.decode())


# --- the HTTP API (web/) -------------------------------------------------------------------

PRODUCER_TOKEN = "producer-token-for-the-tests"  # noqa: S105 - a test token
ADMIN_TOKEN = "admin-token-for-the-tests"  # noqa: S105 - a test token


def api_settings(settings: Settings, **options: Any) -> Settings:
    from mediaworker.config import ApiConfig

    config = ApiConfig(**{"API_TOKENS": PRODUCER_TOKEN, "ADMIN_TOKENS": ADMIN_TOKEN, **options})
    return settings.model_copy(update={"api": config})


@contextlib.asynccontextmanager
async def api_client(settings: Settings, token: str | None = PRODUCER_TOKEN) -> AsyncIterator[Any]:
    """The app of `settings`, started (its lifespan), and an httpx client speaking to it."""
    import httpx

    from mediaworker.web.app import create_app

    app = create_app(settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api.test", headers=headers
        ) as http:
            yield http


@pytest.fixture
async def http_api(settings: Settings, db: Pool, redis: ArqRedis) -> AsyncIterator[Any]:
    """An API client with a producer token, on the test servers (emptied first). (`api` is
    the AI stand-ins, support.py.)"""
    async with api_client(api_settings(settings)) as http:
        yield http


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running_api_server(settings: Settings, **env: str) -> AsyncIterator[str]:
    """`mediaworker serve` in its own process on a free loopback port, on the test servers,
    ready (/readyz answers 200); yields its base URL. `env`: more settings (ADMIN_TOKENS=...)."""
    import httpx

    port = free_port()
    environment = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "WORKER_STORAGE_PATH": str(settings.storage.path),
        **env,
    }
    cli = Path(sys.executable).with_name("mediaworker")
    server = await asyncio.create_subprocess_exec(
        str(cli), "serve", "--port", str(port), env=environment, stderr=asyncio.subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:

            async def ready() -> bool:
                assert server.returncode is None, "mediaworker serve exited"
                try:
                    return (await http.get(f"{url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, timeout_s=30, every_s=0.2)
        yield url
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()
