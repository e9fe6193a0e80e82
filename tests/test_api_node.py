"""The README's Node/TypeScript producer, type-checked with tsc and run with Node against a
real `mediaworker serve` on loopback, with a real worker doing the job."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from arq.connections import ArqRedis

from conftest import DATABASE_URL, PRODUCER_TOKEN, REDIS_URL, free_port, running_worker
from mediaworker.config import Settings
from mediaworker.db import jobs as jobs_db
from mediaworker.db.pool import Pool

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "tests" / "node"
TSC = NODE_DIR / "node_modules" / ".bin" / "tsc"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(r"```ts\n(// producer\.ts.*?)```", text, re.S)
    assert found, "README has no ```ts producer example"
    return found.group(1)


@pytest.fixture
def api_server(settings: Settings, db: Pool, redis: ArqRedis) -> Iterator[str]:
    """`mediaworker serve` in its own process, on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "API_TOKENS": PRODUCER_TOKEN,
        "WORKER_STORAGE_PATH": str(settings.storage.path),
    }
    cli = Path(sys.executable).with_name("mediaworker")
    server = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(10)


async def test_the_readme_producer_enqueues_and_polls_to_the_end(
    api_server: str, settings: Settings, db: Pool, tmp_path: Path
) -> None:
    if shutil.which("node") is None or not TSC.exists():
        pytest.skip("node and tests/node's packages are needed (./scripts/run installs them)")
    (tmp_path / "producer.ts").write_text(readme_example())
    (tmp_path / "package.json").write_text(json.dumps({"type": "module"}))
    code, out, err = await run(
        str(TSC), "--strict", "--target", "es2022", "--module", "es2022",
        "--moduleResolution", "node", "--types", "node",
        "--typeRoots", str(NODE_DIR / "node_modules" / "@types"),
        "--outDir", str(tmp_path), str(tmp_path / "producer.ts"),
    )  # fmt: skip
    assert code == 0, out + err
    env = {**os.environ, "MEDIAWORKER_URL": api_server, "MEDIAWORKER_TOKEN": PRODUCER_TOKEN}

    async with running_worker(settings):
        code, out, err = await run("node", str(tmp_path / "producer.js"), env=env)

    assert code == 0, err
    state, result = out.strip().split(" ", 1)
    assert state == "succeeded", out
    assert json.loads(result)["url"]
    page = await jobs_db.list_jobs(db, function="synthesize_speech")
    assert [j.status for j in page.jobs] == ["succeeded"]


async def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
