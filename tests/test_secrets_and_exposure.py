"""No secret in an error message or a repr, and nothing served beyond this host by default."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mediaworker
from ai_stand_ins import GEMINI_KEY, KEYS, AiStandIn, ai_settings
from conftest import DATABASE_URL, REDIS_URL, free_port, running_worker
from mediaworker.config import Settings
from mediaworker.errors import map_error, safe_message

LEAKS = [
    ("Error 111 connecting to redis://:hunter2-pass@cache:6379/0.", "hunter2-pass"),
    ("cannot reach rediss://default:hunter2-pass@cache:6380", "hunter2-pass"),
    (f"400 INVALID_ARGUMENT for https://example.test/v1?x={GEMINI_KEY}", GEMINI_KEY),
    (f"API key not valid: {GEMINI_KEY}.", GEMINI_KEY),
]


@pytest.mark.parametrize(("text", "secret"), LEAKS, ids=["redis", "rediss-user", "url", "bare"])
def test_safe_message_masks_redis_passwords_and_google_keys(text: str, secret: str) -> None:
    assert secret not in safe_message(text)
    assert secret not in map_error(ConnectionError(text)).message


async def test_no_provider_key_is_in_the_repr_of_a_workers_context(
    settings: Settings, api: AiStandIn, tmp_path: Path
) -> None:
    pytest.importorskip("google.genai")
    configured = ai_settings(settings, api, AI_IMAGE_ENHANCER="gemini")

    async with running_worker(configured) as worker:
        context = worker.ctx["mw"]
        assert context.providers.image_enhancer.provider == "gemini"
        shown = repr(context)

    for secret in KEYS:
        assert secret not in shown


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel shows them) of TCP sockets listening on
    `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].rpartition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_a_worker_serves_metrics_on_loopback_only_by_default(tmp_path: Path) -> None:
    port = free_port()
    source = Path(mediaworker.__file__).parents[1]
    environment = {
        **os.environ,
        "PYTHONPATH": str(source),
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "WORKER_STORAGE_PATH": str(tmp_path / "storage"),
        "METRICS_PORT": str(port),
        "CPU_WORKERS": "1",
    }
    arq = Path(sys.executable).with_name("arq")
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [str(arq), "mediaworker.WorkerSettings"], env=environment, stdout=log, stderr=log
        )
    try:
        for _ in range(300):
            if listening_addresses(port) or worker.poll() is not None:
                break
            time.sleep(0.05)
        assert listening_addresses(port) == {"0100007F"}, "127.0.0.1, not every interface"
    finally:
        worker.kill()
        worker.wait(10)
