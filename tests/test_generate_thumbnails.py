"""generate_thumbnails through the real worker: Redis, Postgres, local storage, process pool."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
import pyvips
from arq.connections import ArqRedis

from conftest import make_settings, manifest, run_burst
from mediaworker import client, registry
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import job_runs
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.functions.steps import thumbnail_task
from mediaworker.processing.image import make_thumbnails
from mediaworker.processing.pool import CpuPool
from mediaworker.queue import keys
from mediaworker.storage import layout
from mediaworker.storage.base import Storage
from support import gradient_photo, ingest


async def test_three_sizes_are_stored_and_the_row_is_ready(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, gradient_photo(tmp_path / "room.jpg", 3000, 2000))

    await run_burst(settings)

    row = await media_db.get(db, media.id)
    assert row is not None
    assert (row.status, row.width, row.height, row.error_code) == ("READY", 3000, 2000, None)
    assert row.blurhash and len(row.blurhash) >= 6
    found = {d.type: d for d in await derivatives_db.list_for(db, media.id)}
    assert (found["THUMBNAIL"].width, found["THUMBNAIL"].height) == (150, 150)
    assert (found["MEDIUM"].width, found["MEDIUM"].height) == (800, 533)
    assert (found["LARGE"].width, found["LARGE"].height) == (1620, 1080)
    for derivative in found.values():
        assert derivative.storage_key == layout.derivative_key(media.id, derivative.type, "jpg")
        stored = await storage.get(derivative.storage_key)
        assert len(stored) == derivative.size_bytes
        image = pyvips.Image.new_from_buffer(stored, "")
        assert (image.width, image.height) == (derivative.width, derivative.height)
        assert derivative.content_type == "image/jpeg"


async def test_the_job_result_lists_the_outputs(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, gradient_photo(tmp_path / "a.jpg", 640, 480))

    await run_burst(settings)

    state = await client.job_status(
        redis, registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id})
    )
    assert (state.status, state.success, state.function) == (
        "complete",
        True,
        "generate_thumbnails",
    )
    assert state.result["media_id"] == media.id
    assert state.result["skipped"] is False
    assert {d["type"] for d in state.result["derivatives"]} == {"THUMBNAIL", "MEDIUM", "LARGE"}


async def test_a_small_image_is_never_enlarged(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, gradient_photo(tmp_path / "small.jpg", 120, 90))

    await run_burst(settings)

    sizes = {d.type: (d.width, d.height) for d in await derivatives_db.list_for(db, media.id)}
    assert sizes == {"THUMBNAIL": (120, 90), "MEDIUM": (120, 90), "LARGE": (120, 90)}


async def test_exif_orientation_gives_upright_outputs(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    # A phone portrait: stored 1800x1200 landscape, EXIF says rotate 90 degrees.
    media = await ingest(
        db, storage, redis, gradient_photo(tmp_path / "p.jpg", 1800, 1200, orientation=6)
    )

    await run_burst(settings)

    row = await media_db.get(db, media.id)
    assert row is not None and (row.width, row.height) == (1200, 1800)
    sizes = {d.type: (d.width, d.height) for d in await derivatives_db.list_for(db, media.id)}
    assert sizes["MEDIUM"] == (400, 600)
    assert sizes["LARGE"] == (720, 1080)


async def test_a_second_run_does_nothing_and_force_redoes_the_work(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, gradient_photo(tmp_path / "a.jpg", 800, 600))
    await run_burst(settings)
    first = {d.type: d for d in await derivatives_db.list_for(db, media.id)}
    # The stored outputs are replaced by markers: a rerun that redoes the work overwrites them.
    for d in first.values():
        await storage.put(d.storage_key, b"marker", content_type="image/jpeg")

    # Once the kept result has expired, a rerun finds the outputs done and does nothing.
    await redis.delete(
        keys.result_key(registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id}))
    )
    again = await client.enqueue_thumbnails(redis, media.id)
    await run_burst(settings)

    info = await again.result_info()
    assert info is not None and info.success and info.result["skipped"] is True
    assert await storage.get(first["LARGE"].storage_key) == b"marker"

    forced = await client.enqueue_thumbnails(redis, media.id, force=True)
    await run_burst(settings)

    info = await forced.result_info()
    assert info is not None and info.success and info.result["skipped"] is False
    assert await storage.get(first["LARGE"].storage_key) != b"marker"
    rows = await db.fetchval("SELECT count(*) FROM media_derivatives WHERE media_id = $1", media.id)
    assert rows == 3
    runs = await job_runs.list_for_job(
        db, registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id})
    )
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]


async def test_a_rerun_while_the_result_is_kept_returns_the_existing_job(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = await ingest(db, storage, redis, gradient_photo(tmp_path / "a.jpg", 400, 300))
    await run_burst(settings)

    job = await client.enqueue_thumbnails(redis, media.id)

    assert job.job_id == registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media.id})
    assert (await job.status()).value == "complete"
    assert await redis.zcard(keys.QUEUE_NAME) == 0


async def test_missing_media_fails_with_not_found_and_is_not_retried(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    media_id = uuid.uuid4().hex
    await client.enqueue_thumbnails(redis, media_id)

    await run_burst(settings)

    state = await client.job_status(
        redis, registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media_id})
    )
    assert state.success is False
    assert state.error is not None and state.error["code"] == "NOT_FOUND"
    runs = await job_runs.list_for_job(
        db, registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media_id})
    )
    assert [(r["status"], r["error_code"]) for r in runs] == [("FAILED", "NOT_FOUND")]


async def test_an_invalid_payload_fails_at_once_with_bad_input(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await redis.enqueue_job("generate_thumbnails", _job_id="bad-1", media_id="../../etc/passwd")
    await redis.enqueue_job("generate_thumbnails", _job_id="bad-2", media_id="x", colour="red")

    await run_burst(settings)

    for job_id in ("bad-1", "bad-2"):
        state = await client.job_status(redis, job_id)
        assert state.error is not None and state.error["code"] == "BAD_INPUT", state
        runs = await job_runs.list_for_job(db, job_id)
        assert [r["status"] for r in runs] == ["FAILED"]


async def test_the_pixel_limit_is_enforced_from_the_header(
    db: Pool, redis: ArqRedis, storage: Storage, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "storage").model_copy(
        update={"image": make_settings(tmp_path).image.model_copy(update={"max_pixels": 1_000_000})}
    )
    media = await ingest(db, storage, redis, gradient_photo(tmp_path / "big.jpg", 1200, 1000))

    await run_burst(settings)

    row = await media_db.get(db, media.id)
    assert row is not None and (row.status, row.error_code) == ("ERROR", "BAD_INPUT")
    assert row.error_message is not None and "MP" in row.error_message


BROKEN = [
    "truncated.jpg",
    "bad_crc_idat.png",
    "zero_bytes.jpg",
    "text_not_image.jpg",
    "corrupt_header.png",
    "bomb_16384x16384.png",
]


@pytest.mark.parametrize("name", BROKEN)
async def test_every_broken_file_ends_in_bad_input_and_the_worker_keeps_going(
    name: str,
    testdata: Path,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    tmp_path: Path,
) -> None:
    broken = await ingest(db, storage, redis, testdata / "broken" / name)
    original = hashlib.sha256(await storage.get(broken.storage_key)).hexdigest()
    good = await ingest(db, storage, redis, gradient_photo(tmp_path / "good.jpg", 300, 200))

    await run_burst(settings)

    row = await media_db.get(db, broken.id)
    assert row is not None and (row.status, row.error_code) == ("ERROR", "BAD_INPUT")
    assert row.error_message and 10 < len(row.error_message) <= 200
    runs = await job_runs.list_for_job(
        db, registry.GENERATE_THUMBNAILS.job_id_for({"media_id": broken.id})
    )
    assert [r["status"] for r in runs] == ["FAILED"], "bad input is not retried"
    assert hashlib.sha256(await storage.get(broken.storage_key)).hexdigest() == original
    good_row = await media_db.get(db, good.id)
    assert good_row is not None and good_row.status == "READY"


@pytest.mark.parametrize("entry", manifest("image"), ids=lambda e: Path(e["path"]).name)
async def test_the_real_world_corpus_gives_upright_sized_outputs(
    entry: dict[str, object],
    testdata: Path,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
) -> None:
    expect = entry["expect"]
    assert isinstance(expect, dict)
    width = expect.get("display_width", expect["width"])
    height = expect.get("display_height", expect["height"])
    media = await ingest(db, storage, redis, testdata / str(entry["path"]))

    await run_burst(settings)

    row = await media_db.get(db, media.id)
    assert row is not None and row.status == "READY", row
    assert (row.width, row.height) == (width, height)
    for d in await derivatives_db.list_for(db, media.id):
        assert d.width is not None and d.height is not None
        assert d.width <= width and d.height <= height
        if d.type != "THUMBNAIL" and min(width, height) > 10:
            assert abs(d.width / d.height - width / height) < 0.05 * width / height
        image = pyvips.Image.new_from_buffer(await storage.get(d.storage_key), "")
        assert image.interpretation in ("srgb", "b-w") and image.format == "uchar"


LOADED_MODULES = "sorted(__import__('sys').modules)"  # eval'd in a pool process


async def test_the_pool_task_imports_nothing_beyond_what_a_warm_process_has(
    tmp_path: Path,
) -> None:
    """What the job sends to the CPU pool unpickles with the warm-up's imports alone: a size
    named by storage/layout.py's enum made a fresh process import the storage backends
    (aioboto3 among them) in its first job, 300 ms on a fresh worker's first thumbnail."""
    source = gradient_photo(tmp_path / "in.jpg", 640, 480)
    pool = CpuPool(1)
    try:
        await pool.start()
        before = set(await pool.run(eval, LOADED_MODULES))
        await pool.run(make_thumbnails, *thumbnail_task(Settings().image, source))
        after = set(await pool.run(eval, LOADED_MODULES))
    finally:
        pool.close()

    assert sorted(after - before) == []
