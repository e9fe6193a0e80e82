"""`mediaworker demo --serve`: after the demo, the dashboard stays up on loopback with a
printed admin token, shows the demo's failure and its AR poster's preview, and Ctrl-C stops
it cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest
from arq.connections import ArqRedis

from conftest import DATABASE_URL, REDIS_URL, free_port
from mediaworker.db.pool import Pool

pytestmark = pytest.mark.slow


async def test_the_demo_keeps_the_dashboard_open_until_ctrl_c(
    db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DATABASE_URL": DATABASE_URL}
    env.update({"API_PORT": str(port), "WORKER_STORAGE_PATH": str(tmp_path / "storage")})
    env.pop("ADMIN_TOKENS", None)
    cli = Path(sys.executable).with_name("mediaworker")
    demo = await asyncio.create_subprocess_exec(
        str(cli), "demo", "--serve", "--workdir", str(tmp_path / "demo"),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert demo.stdout is not None
    printed = ""
    try:
        async with asyncio.timeout(120):
            while "Ctrl-C stops" not in printed:
                line = await demo.stdout.readline()
                assert line, f"the demo ended early:\n{printed}"
                printed += line.decode()
        token = re.search(r"admin token \(sign in with it\): (\S+)", printed)
        assert token, printed
        assert f"http://127.0.0.1:{port}/dashboard" in printed
        ar_url = re.search(r"its AR poster: (http://\S+)", printed)
        assert ar_url, printed
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            refused = await http.get("/dashboard")
            page = await http.get("/dashboard", auth=("demo", token.group(1)))
            ar_page = await http.get(ar_url.group(1), auth=("demo", token.group(1)))
        assert ar_page.status_code == 200 and "<model-viewer" in ar_page.text
        assert refused.status_code == 303
        assert page.status_code == 200
        failed = page.text[page.text.index('id="failed"') :]
        assert "BAD_INPUT" in failed[: failed.index("</section>")]  # the broken JPEG
    finally:
        if demo.returncode is None:
            demo.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest, _ = await demo.communicate()
    assert demo.returncode == 0, printed + rest.decode()
