"""Poison in a payload (a NUL character, NaN, Infinity) is refused at the boundary with
BAD_INPUT, never reaches Postgres, and stops nothing else; a driver's own text never reaches a
row. Real worker, Redis and Postgres."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from arq.connections import ArqRedis

from ai_stand_ins import ai_settings
from conftest import pg_connect, run_burst
from mediaworker.config import Settings
from mediaworker.db import job_runs
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.errors import ErrorCode, map_error
from mediaworker.payloads import ReconcilePayload
from mediaworker.queue.enqueue import enqueue_job
from mediaworker.storage.base import Storage
from support import error_of, photo, upload

POISON = [
    ("generate_image", {"prompt": "a cat\x00 in a hat", "media_id": "nul-prompt"}, "NUL"),
    ("synthesize_speech", {"text": "Hello\x00world"}, "NUL"),
    ("generate_thumbnails", {"media_id": "nan-1", "weight": math.nan}, "weight"),
    ("generate_thumbnails", {"media_id": "inf-1", "force": False, "x": [math.inf]}, "x"),
]


@pytest.mark.parametrize(
    ("function", "kwargs", "named"), POISON, ids=["prompt", "text", "nan", "infinity"]
)
async def test_poison_in_a_payload_is_bad_input_and_every_run_is_still_recorded(
    function: str,
    kwargs: dict[str, Any],
    named: str,
    db: Pool,
    redis: ArqRedis,
    settings: Settings,
) -> None:
    poisoned = await redis.enqueue_job(function, _job_id="poisoned", **kwargs)
    healthy = [
        await enqueue_job(redis, "reconcile_media", f"healthy-{n}", ReconcilePayload())
        for n in range(3)
    ]

    await run_burst(ai_settings(settings, None))

    assert poisoned is not None
    error = await error_of(redis, poisoned)
    assert error["code"] == "BAD_INPUT" and named in error["message"]
    [run] = await job_runs.list_for_job(db, "poisoned")
    assert (run["status"], run["error_code"]) == ("FAILED", "BAD_INPUT")
    stored = json.dumps(run["arguments"], allow_nan=False)  # no NaN or Infinity left
    assert "\\u0000" not in stored
    for job in healthy:
        runs = await job_runs.list_for_job(db, job.job_id)
        assert [r["status"] for r in runs] == ["SUCCEEDED"], "the tracker kept writing"


async def test_a_database_refusal_reaches_the_row_as_a_code_not_as_driver_text(
    db: Pool, storage: Storage, tmp_path: Path
) -> None:
    conn = await pg_connect()
    try:
        with pytest.raises(asyncpg.PostgresError) as refused:
            await conn.fetchval("SELECT $1::text", "a\x00b")
    finally:
        await conn.close()
    assert "0x00" in str(refused.value), "the driver's own text names the byte"
    media = await upload(db, storage, photo(tmp_path / f"{uuid.uuid4().hex}.jpg", 8, 8))

    error = map_error(refused.value)
    await media_db.mark_error(db, media.id, error)

    row = await media_db.get(db, media.id)
    assert row is not None and (row.status, row.error_code) == ("ERROR", ErrorCode.BAD_INPUT)
    assert row.error_message is not None and "refused a value" in row.error_message
    assert "0x00" not in row.error_message and "invalid byte" not in row.error_message


async def test_an_error_message_with_a_nul_is_stored_without_it(
    db: Pool, storage: Storage, tmp_path: Path
) -> None:
    media = await upload(db, storage, photo(tmp_path / "n.jpg", 8, 8))

    await media_db.mark_error(db, media.id, map_error(ValueError("bad\x00 tag")))

    row = await media_db.get(db, media.id)
    assert row is not None and row.error_message == "ValueError: bad tag"


async def test_no_nul_nan_or_infinity_reaches_a_jsonb_column(db: Pool) -> None:
    poisoned = {"tag": "a\x00b", "peak": math.nan, "gain": [math.inf, -math.inf, 0.5]}

    stored = await db.fetchval("SELECT $1::jsonb", poisoned)

    assert stored == {"tag": "ab", "peak": "nan", "gain": ["inf", "-inf", 0.5]}
