"""A job that does not fit its media fails before any work, and a failure never takes a READY
row to ERROR. Real worker, Redis, Postgres and local storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from arq.connections import ArqRedis

from conftest import run_burst
from media_fixtures import tone
from mediaworker import client
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.storage.base import Storage
from support import error_of, photo, upload


async def ready_upload(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, path: Path, kind: str
) -> media_db.Media:
    media = await upload(db, storage, path, kind)
    await client.enqueue_process_upload(redis, media.id)
    await run_burst(settings)
    ready = await media_db.get(db, media.id)
    assert ready is not None and ready.status == "READY", ready
    return ready


WRONG_KIND = [
    ("IMAGE", "waveform", "this job needs audio or video"),
    ("IMAGE", "video_preview", "this job needs video"),
    ("AUDIO", "thumbnails", "this job needs image"),
    ("AUDIO", "video_thumbnail", "this job needs video"),
]


@pytest.mark.parametrize(("kind", "job", "message"), WRONG_KIND)
async def test_a_job_for_another_kind_of_media_fails_at_once_and_leaves_the_row_ready(
    kind: str,
    job: str,
    message: str,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    tmp_path: Path,
) -> None:
    path = photo(tmp_path / "p.jpg", 64, 48) if kind == "IMAGE" else tone(tmp_path / "t.wav", 2)
    ready = await ready_upload(db, redis, storage, settings, path, kind)
    derivatives = await derivatives_db.list_for(db, ready.id)
    enqueue = getattr(client, f"enqueue_{job}")
    wrong = await enqueue(redis, ready.id, force=True)

    await run_burst(settings)

    error = await error_of(redis, wrong)
    assert error["code"] == "BAD_INPUT" and message in error["message"]
    assert await media_db.get(db, ready.id) == ready
    assert await derivatives_db.list_for(db, ready.id) == derivatives


async def test_a_failed_rerun_of_a_ready_upload_leaves_it_ready(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    ready = await ready_upload(db, redis, storage, settings, tone(tmp_path / "t.wav", 2), "AUDIO")
    await storage.delete(ready.storage_key)  # the original is gone: the rerun fails for good
    rerun = await client.enqueue_waveform(redis, ready.id, force=True)

    await run_burst(settings)

    assert (await error_of(redis, rerun))["code"] == "NOT_FOUND"
    after = await media_db.get(db, ready.id)
    assert after is not None and (after.status, after.error_code) == ("READY", None)
