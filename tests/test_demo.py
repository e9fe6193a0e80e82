"""`mediaworker demo` as a newcomer runs it from a fresh clone: no REDIS_URL, DATABASE_URL or
storage path set, so it starts its own Redis and Postgres; it shows the breadth offline and
every file it names exists, with the size it prints."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
UNSET = (
    "REDIS_URL", "REDIS_HOST", "DATABASE_URL", "WORKER_STORAGE_PATH",
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
)  # fmt: skip
FILE_LINE = re.compile(r"^  (\S+) +(\S*) +(\d+) KiB  (/\S+)$", re.MULTILINE)


async def run_demo(workdir: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update({"COLUMNS": "400", "NO_COLOR": "1"})  # one line per file, whatever the terminal
    cli = Path(sys.executable).with_name("mediaworker")
    demo = await asyncio.create_subprocess_exec(
        str(cli), "demo", "--workdir", str(workdir),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(300):
        out, _ = await demo.communicate()
    assert demo.returncode is not None
    return demo.returncode, out.decode()


async def test_the_demo_shows_the_breadth_offline_on_its_own_services(tmp_path: Path) -> None:
    code, printed = await run_demo(tmp_path / "demo")

    assert code == 0, printed
    assert "starting a private Redis and Postgres" in printed
    files = {kind: (int(kib), Path(path)) for kind, _, kib, path in FILE_LINE.findall(printed)}
    kinds = set(files)
    assert {"THUMBNAIL", "MEDIUM", "LARGE"} <= kinds  # the photos
    assert {"WAVEFORM_PNG", "WAVEFORM_JSON", "PREVIEW"} <= kinds  # the audio clip and video
    for kib, path in files.values():
        assert path.is_file() and path.is_relative_to(tmp_path / "demo" / "storage"), path
        assert round(path.stat().st_size / 1024) == kib, path
    lines = printed.splitlines()

    def line_of(start: str) -> str:
        found = [line for line in lines if line.startswith(start)]
        assert found, f"no line starting {start!r}:\n{printed}"
        return found[0]

    assert "ERROR BAD_INPUT" in line_of("truncated.jpg")  # the one failure
    assert "READY" in line_of("spoken.wav") and "READY" in line_of("pattern.mp4")
    assert "pocketsphinx" in line_of("transcript of spoken.wav")
    assert "DONE  local espeak-ng" in line_of("speech")
    assert "DONE  local vips-clahe-sharpen" in line_of("enhanced image")
    assert "SYNTHETIC" in line_of("generated image")  # the placeholder says what it is
    assert "DONE" in line_of("photo analysis")
    assert "from 1 photo(s)" in line_of("inventory demo-")
    ar = line_of("AR poster")
    assert "DONE" in ar or "NOT_CONFIGURED" in ar
    if "DONE" in ar:
        assert {"GLB_POSTER", "USDZ_POSTER", "AR_POSTER_POSTER"} <= kinds
    assert not (tmp_path / "demo" / "services").exists()  # its Redis and Postgres are gone
