"""What the AI job tests share: the tables they clear, the stand-in fixture, an upload as a
producer writes it, a job's successful result."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pyvips
from arq.connections import ArqRedis

from ai_stand_ins import AiStandIn
from mediaworker import client
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.storage import layout
from mediaworker.storage.base import Storage


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
