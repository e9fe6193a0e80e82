"""What the tests share: images and uploads as a producer makes them, the AI stand-in and
providers fixtures, the tables they clear, a job's result or error, settings changed for one
test. conftest.py registers the fixtures for every test module."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pyvips
from arq.connections import ArqRedis

from ai_stand_ins import AiStandIn, ai_settings
from mediaworker import client
from mediaworker.config import Settings
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.ingest import ingest_file
from mediaworker.processing.pool import CpuPool
from mediaworker.providers import Providers, build_providers
from mediaworker.storage import layout
from mediaworker.storage.base import Storage

# The derivatives of an audio file's waveform, and of a video's poster frame.
WAVEFORM = {"WAVEFORM_JSON", "WAVEFORM_DAT", "WAVEFORM_SVG", "WAVEFORM_PNG"}
POSTER = {"THUMBNAIL", "MEDIUM", "LARGE"}


def gradient_photo(path: Path, width: int, height: int, *, orientation: int = 1) -> Path:
    """A noisy gradient, not flat colour, so that encoders and crops do real work."""
    xyz = pyvips.Image.xyz(width, height)
    image = (xyz[0] / width * 200).bandjoin([xyz[1] / height * 200, xyz[0] * 0 + 90])
    image = (image + pyvips.Image.gaussnoise(width, height, sigma=20)).cast("uchar")
    image = image.copy(interpretation="srgb")
    if orientation != 1:
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    image.jpegsave(str(path), Q=90)
    return path


def photo(path: Path, width: int = 600, height: int = 400) -> Path:
    """A dull, low-contrast scene with detail: what enhancement is for."""
    xyz = pyvips.Image.xyz(width, height)
    base = (xyz[0] / width * 40 + 100).bandjoin([xyz[1] / height * 30 + 95, xyz[0] * 0 + 90])
    noise = pyvips.Image.gaussnoise(width, height, sigma=6)
    (base + noise).cast("uchar").copy(interpretation="srgb").jpegsave(str(path), Q=92)
    return path


@pytest.fixture
async def ai_db(db: Pool) -> Pool:
    await db.execute("TRUNCATE ai_metrics, tts_jobs")
    return db


@pytest.fixture
async def api() -> AsyncIterator[AiStandIn]:
    async with AiStandIn() as stand_in:
        yield stand_in


@asynccontextmanager
async def providers_for(settings: Settings) -> AsyncIterator[Providers]:
    """The providers `settings` choose, on a one-process CPU pool, closed afterwards."""
    cpu = CpuPool(1)
    built = build_providers(settings, cpu)
    yield built
    await built.aclose()
    cpu.close()


@pytest.fixture
async def providers(api: AiStandIn, settings: Settings) -> AsyncIterator[Providers]:
    """The providers, pointed at the AI stand-ins."""
    async with providers_for(ai_settings(settings, api)) as built:
        yield built


async def ai_metrics_rows(db: Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch("SELECT * FROM ai_metrics ORDER BY id")]


def with_settings(settings: Settings, section: str, **changes: Any) -> Settings:
    """`settings` with fields of one section changed."""
    updated = getattr(settings, section).model_copy(update=changes)
    return settings.model_copy(update={section: updated})


def probe_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return float(out.stdout)


async def ingest(db: Pool, storage: Storage, redis: ArqRedis, path: Path) -> media_db.Media:
    """An upload through the producer's path (mediaworker.ingest): its row, its job enqueued."""
    return (await ingest_file(db, storage, redis, path)).media


async def media_row(db: Pool, media_id: str) -> media_db.Media:
    found = await media_db.get(db, media_id)
    assert found is not None
    return found


async def upload(db: Pool, storage: Storage, path: Path, kind: str = "IMAGE") -> media_db.Media:
    """An upload's row and original, as a producer writes them (no job enqueued)."""
    media_id = uuid.uuid4().hex
    key = layout.original_key(media_id, path.suffix)
    stored = await storage.put_file(key, path, content_type="application/octet-stream")
    new = media_db.NewMedia(
        media_id, media_db.MediaKind(kind), key, path.name, None, stored.size_bytes
    )
    return await media_db.insert(db, new)


async def result_of(job: Any) -> dict[str, Any]:
    info = await job.result_info()
    assert info is not None and info.success, info
    result: dict[str, Any] = info.result
    return result


async def error_of(redis: ArqRedis, job: Any) -> dict[str, str]:
    """The code and message of a job that failed for good."""
    state = await client.job_status(redis, job.job_id)
    assert state.error is not None, state
    return state.error
