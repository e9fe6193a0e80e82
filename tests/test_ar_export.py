"""export_ar through a real worker: Redis, Postgres, local storage, the CPU pool.

The stored GLBs are judged by Khronos' glTF-Validator and the USDZs by every validator usd-core
registers, as in test_ar_processing.py; here they are the files the worker stored.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pydantic
import pytest
import pyvips
from arq.connections import ArqRedis

from ar_tools import gltf_reports, photo_design, quadrant_design, usd_problems
from conftest import make_settings, run_burst
from mediaworker import client
from mediaworker.config import ImageConfig, Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import job_runs
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.payloads import ArExportPayload
from mediaworker.queue import keys as queue_keys
from mediaworker.storage import layout
from mediaworker.storage.base import Storage
from mediaworker.web.ar import page_for
from support import result_of

AR_TYPES = {
    "poster": ["AR_POSTER_POSTER", "GLB_POSTER", "USDZ_POSTER"],
    "mug": ["AR_POSTER_MUG", "GLB_MUG", "USDZ_MUG"],
}
CONTENT_TYPES = {"GLB": "model/gltf-binary", "USDZ": "model/vnd.usdz+zip", "AR": "image/png"}


async def stored_media(db: Pool, storage: Storage, path: Path, kind: str) -> media_db.Media:
    """A media row of `kind` whose original is the file at `path` (no job enqueued)."""
    media_id = uuid.uuid4().hex
    key = layout.original_key(media_id, "bin")
    size = (await storage.put_file(key, path, content_type="application/octet-stream")).size_bytes
    row = media_db.NewMedia(media_id, media_db.MediaKind(kind), key, path.name, None, size)
    return await media_db.insert(db, row)


async def failure(redis: ArqRedis, db: Pool, job: Any) -> dict[str, str]:
    state = await client.job_status(redis, job.job_id)
    assert state.error is not None, state
    runs = await job_runs.list_for_job(db, job.job_id)
    assert [r["status"] for r in runs] == ["FAILED"], "a permanent error is not retried"
    return state.error


async def test_poster_and_mug_are_stored_side_by_side_and_pass_the_validators(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    design = await stored_media(db, storage, photo_design(tmp_path / "d.jpg", 1024), "IMAGE")
    poster = await client.enqueue_ar_export(redis, design.id, "poster", width_m=0.7)
    mug = await client.enqueue_ar_export(redis, design.id, "mug")
    assert (poster.job_id, mug.job_id) == (f"ar-{design.id}-poster", f"ar-{design.id}-mug")

    await run_burst(settings)

    results = {"poster": await result_of(poster), "mug": await result_of(mug)}
    assert results["poster"]["size_m"][:2] == pytest.approx([0.7, 0.7])
    assert results["mug"]["width_m"] == 0.082
    rows = await derivatives_db.list_for(db, design.id)
    assert sorted(r.type for r in rows) == sorted(AR_TYPES["poster"] + AR_TYPES["mug"])
    glbs = []
    for row in rows:
        assert row.content_type == CONTENT_TYPES[row.type.split("_")[0]]
        ext = row.storage_key.rsplit(".", 1)[1]
        assert row.storage_key == f"media/{design.id}/{design.id}-{row.type.lower()}.{ext}"
        path = tmp_path / f"{row.type}.{ext}"
        path.write_bytes(await storage.get(row.storage_key))
        assert path.stat().st_size == row.size_bytes
        if ext == "glb":
            assert row.size_bytes < 1_000_000  # from a 1024 px design
            glbs.append(path)
        elif ext == "usdz":
            assert usd_problems(path) == []
        else:
            still = pyvips.Image.new_from_file(str(path))
            assert (still.width, still.height) == (row.width, row.height) == (1024, 1024)
    for path, issues in gltf_reports(glbs).items():
        assert issues["numErrors"] == issues["numWarnings"] == 0, (path, issues["messages"])
    media = await media_db.get(db, design.id)
    assert media is not None and media.status == media_db.MediaStatus.PENDING  # untouched
    # the preview page of each product points at that product's stored files
    urls = {row.type: row.url for row in rows}
    for product in ("poster", "mug"):
        page = page_for(product, rows, "/static/model-viewer.min.js")
        assert page is not None
        suffix = product.upper()
        assert (page.glb_url, page.usdz_url, page.poster_url) == (
            urls[f"GLB_{suffix}"],
            urls[f"USDZ_{suffix}"],
            urls[f"AR_POSTER_{suffix}"],
        )


async def test_a_rerun_returns_the_stored_files_unless_forced(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    design = await stored_media(db, storage, quadrant_design(tmp_path / "q.png", 300, 200), "IMAGE")
    first = await client.enqueue_ar_export(redis, design.id, "mug", handle=False)
    await run_burst(settings)
    made = await result_of(first)
    assert made["skipped"] is False

    # within QUEUE_KEEP_RESULT_S arq answers with the kept result; after it, the job runs
    # again and finds the files
    await redis.delete(queue_keys.result_key(first.job_id))
    again = await client.enqueue_ar_export(redis, design.id, "mug")
    await run_burst(settings)
    assert (await result_of(again))["skipped"] is True

    forced = await client.enqueue_ar_export(redis, design.id, "mug", width_m=0.1, force=True)
    await run_burst(settings)
    redone = await result_of(forced)
    assert redone["skipped"] is False
    assert redone["size_m"][0] > made["size_m"][0]  # wider, and with its handle
    assert len(await derivatives_db.list_for(db, design.id)) == 3


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        ("AUDIO", "design", "this job needs image"),
        ("IMAGE", b"%PDF-1.7 not an image at all\n" * 40, "not an image"),
        ("UNKNOWN", b"", "empty"),
        ("IMAGE", "truncated", "truncated"),
    ],
)
async def test_what_is_not_an_image_ends_with_bad_input(
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    tmp_path: Path,
    kind: str,
    content: bytes | str,
    message: str,
) -> None:
    path = tmp_path / "upload"
    if content == "design":
        quadrant_design(tmp_path / "q.png", 64, 64).rename(path)
    elif content == "truncated":
        whole = photo_design(tmp_path / "p.jpg", 512).read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    media = await stored_media(db, storage, path, kind)
    job = await client.enqueue_ar_export(redis, media.id, "poster")
    await run_burst(settings)
    error = await failure(redis, db, job)
    assert error["code"] == "BAD_INPUT" and message in error["message"], error
    assert await derivatives_db.list_for(db, media.id) == []


async def test_an_image_over_the_pixel_limit_ends_with_bad_input(
    db: Pool, redis: ArqRedis, storage: Storage, tmp_path: Path
) -> None:
    limited = make_settings(tmp_path / "storage")
    limited = limited.model_copy(update={"image": ImageConfig(IMAGE_MAX_PIXELS=500_000)})
    design = await stored_media(db, storage, photo_design(tmp_path / "d.jpg", 1024), "IMAGE")
    job = await client.enqueue_ar_export(redis, design.id, "mug")
    await run_burst(limited)
    error = await failure(redis, db, job)
    assert error["code"] == "BAD_INPUT" and "MP limit" in error["message"], error


async def test_an_unknown_product_or_size_is_refused_by_the_payload_model(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(pydantic.ValidationError, match="poster"):
        ArExportPayload(media_id="abc", product="lamp")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match=r"0\.05-0\.2 m"):
        ArExportPayload(media_id="abc", product="mug", width_m=0.5)
    # a producer that skips our client: the worker refuses the payload, once
    design = await stored_media(db, storage, quadrant_design(tmp_path / "q.png", 64, 64), "IMAGE")
    job = await redis.enqueue_job(
        "export_ar", media_id=design.id, product="lamp", _job_id=f"ar-{design.id}-lamp"
    )
    assert job is not None
    await run_burst(settings)
    error = await failure(redis, db, job)
    assert error["code"] == "BAD_INPUT" and "product" in error["message"], error
