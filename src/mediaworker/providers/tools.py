"""The local tools behind the providers: espeak-ng, ffmpeg and ffprobe.

They run through `mediaworker.subprocesses.run_tool`: no shell, stdin closed, a time limit, the
process group killed on timeout or cancellation. Text to speak goes through a file, never
argv; every file lives in a scratch folder removed afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from mediaworker.errors import BadInputError
from mediaworker.processing.ffmpeg import probe_argv
from mediaworker.processing.probe import parse_probe
from mediaworker.processing.speech import encode_argv, espeak_argv
from mediaworker.scratch import make_dir
from mediaworker.subprocesses import run_tool


@dataclass(frozen=True)
class Tools:
    espeak: str
    ffmpeg: str
    ffprobe: str
    timeout_s: float


@asynccontextmanager
async def scratch() -> AsyncIterator[Path]:
    path = await asyncio.to_thread(make_dir)
    try:
        yield path
    finally:
        await asyncio.to_thread(shutil.rmtree, path, True)


async def speak(tools: Tools, text: str, *, voice: str, audio_format: str) -> tuple[bytes, float]:
    """espeak-ng's speech of `text`, encoded as `audio_format`; the bytes and the seconds."""
    async with scratch() as folder:
        text_path, wav_path = folder / "text.txt", folder / "speech.wav"
        out_path = folder / f"speech.{audio_format}"
        await asyncio.to_thread(text_path.write_text, text, "utf-8")
        argv = espeak_argv(tools.espeak, voice, str(text_path), str(wav_path))
        await run_tool(argv, timeout_s=tools.timeout_s, what="espeak-ng")
        seconds = await asyncio.to_thread(_wav_seconds, wav_path)
        argv = encode_argv(tools.ffmpeg, str(wav_path), str(out_path), audio_format)
        await run_tool(argv, timeout_s=tools.timeout_s, what="ffmpeg encode")
        return await asyncio.to_thread(out_path.read_bytes), seconds


async def duration_s(tools: Tools, data: bytes, ext: str) -> float | None:
    """The duration of encoded audio, by ffprobe; None when it cannot tell."""
    async with scratch() as folder:
        path = folder / f"audio.{ext}"
        await asyncio.to_thread(path.write_bytes, data)
        done = await run_tool(
            probe_argv(tools.ffprobe, str(path)),
            timeout_s=tools.timeout_s,
            what="ffprobe",
            check=False,
        )
    if done.returncode != 0:
        return None
    try:
        return parse_probe(done.stdout).duration_s
    except BadInputError:
        return None


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
