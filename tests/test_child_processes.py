"""The worker's children (ffmpeg, ffprobe, espeak-ng): no secrets in their environment, dead
with their worker after `kill -9`, and the scratch folders of a killed worker swept by the
next one. Real worker processes, real ffmpeg, a real SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from conftest import wait_until
from media_fixtures import ffmpeg_descendants, tone
from mediaworker import scratch
from mediaworker.config import Settings
from mediaworker.db.pool import Pool
from mediaworker.ingest import ingest_file
from mediaworker.storage.base import Storage
from mediaworker.subprocesses import run_tool
from worker_processes import SRC, start_worker, stop

SECRETS = {
    "OPENAI_API_KEY": "sk-never-in-a-child",
    "ANTHROPIC_API_KEY": "sk-ant-never-in-a-child",
    "AWS_SECRET_ACCESS_KEY": "never-in-a-child",
    "REDIS_PASSWORD": "never-in-a-child",
}


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def gone(pid: int) -> bool:
    """Dead: no longer in /proc, or a zombie waiting for a parent that will not reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def slow_ffmpeg(folder: Path) -> Path:
    """An ffmpeg that reads its input at real-time speed: a minute of audio takes a minute."""
    path = folder / "ffmpeg"
    path.write_text('#!/bin/sh\nexec ffmpeg -re "$@"\n')
    path.chmod(0o755)
    return path


async def test_a_child_sees_no_secret_of_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://worker:hunter2@db/media")

    done = await run_tool(["env"], timeout_s=10, what="env")

    seen = dict(line.split("=", 1) for line in done.stdout.decode().splitlines() if "=" in line)
    assert "PATH" in seen
    assert not set(seen) & {*SECRETS, "DATABASE_URL"}, seen
    assert "hunter2" not in done.stdout.decode()


async def test_a_killed_worker_takes_its_ffmpeg_along_and_the_next_worker_sweeps_its_scratch(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {
        **SECRETS,
        "WORKER_STORAGE_PATH": str(settings.storage.path),
        "FFMPEG_PATH": str(slow_ffmpeg(tmp_path)),
        "TMPDIR": str(temporary),
        "UPLOAD_TRANSCRIBE": "false",
    }
    await ingest_file(db, storage, redis, tone(tmp_path / "minute.wav", 60.0))
    first = start_worker(tmp_path, **env)
    second = None
    try:

        async def decoding() -> bool:
            return bool(ffmpeg_descendants(first.pid, names=("ffmpeg",)))

        await wait_until(decoding, timeout_s=60)
        [child] = ffmpeg_descendants(first.pid, names=("ffmpeg",))
        child_env = environ_of(child)
        left = [p for p in temporary.iterdir() if p.name.startswith("mediaworker-")]
        first.kill()
        first.wait(10)

        async def child_gone() -> bool:
            return gone(child)

        await wait_until(child_gone, timeout_s=5)
        assert left and all(p.is_dir() for p in left), "the killed worker left its scratch"

        second = start_worker(tmp_path, **env)

        async def swept() -> bool:
            return not any(p.exists() for p in left)

        await wait_until(swept, timeout_s=60)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    assert not set(child_env) & set(SECRETS), child_env
    assert all(str(first.pid) in p.name for p in left)


def test_only_the_scratch_of_dead_processes_of_this_host_is_swept(tmp_path: Path) -> None:
    made_by_exited = subprocess.check_output(
        [sys.executable, "-c", "from mediaworker import scratch; print(scratch.make_dir())"],
        env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(SRC)},
        text=True,
    )
    theirs = Path(made_by_exited.strip())
    mine = scratch.make_dir(str(tmp_path))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        alive = tmp_path / f"{scratch.prefix_of(sleeper.pid)}-x"
        alive.mkdir()
        other_host = tmp_path / f"mediaworker-00000000-{theirs.name.split('-')[2]}-1-x"
        other_host.mkdir()
        unrelated = tmp_path / "mediaworker-abc"
        unrelated.mkdir()

        removed = scratch.sweep_stale(str(tmp_path))
    finally:
        sleeper.kill()
        sleeper.wait()

    assert removed == [theirs], "the process that made it has exited"
    assert all(p.is_dir() for p in (mine, alive, other_host, unrelated))


async def test_a_child_of_a_killed_parent_dies_too() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import asyncio\n"
        "from mediaworker.subprocesses import run_tool\n"
        "asyncio.run(run_tool(['sleep', '60'], timeout_s=90, what='sleep'))\n",
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    try:

        async def started() -> bool:
            return bool(ffmpeg_descendants(parent.pid, names=("sleep",)))

        await wait_until(started, timeout_s=30)
        [child] = ffmpeg_descendants(parent.pid, names=("sleep",))
        parent.kill()
        await parent.wait()

        async def child_gone() -> bool:
            return gone(child)

        await wait_until(child_gone, timeout_s=5)
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
