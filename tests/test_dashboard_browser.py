"""The dashboard in a real headless Chromium, against a real `mediaworker serve` on loopback
and a real worker: an operator signs in, sees a failed job, fixes its cause, clicks Retry
and sees it succeed, without reloading the page (htmx refreshes the sections); and opens
the AR preview of an exported poster from its media page (model-viewer fires `load`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from arq.connections import ArqRedis
from playwright.async_api import Page, expect

from browser import chromium, model_state, only_from, watch_model_events
from conftest import (
    ADMIN_TOKEN,
    TESTDATA,
    run_burst,
    running_api_server,
    running_worker,
    wait_until,
)
from mediaworker import client
from mediaworker.config import ArConfig, Settings
from mediaworker.db import jobs as jobs_db
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.queue.submit import submit_job
from mediaworker.storage import layout
from mediaworker.storage.base import Storage
from photo_fixtures import upload_photo

pytestmark = pytest.mark.slow
PHOTO = TESTDATA / "images" / "exif_orientation_3.jpg"


async def corrupt_upload(db: Pool, storage: Storage, media_id: str) -> str:
    """An image upload whose bytes are not an image (a truncated transfer, say)."""
    key = layout.original_key(media_id, ".jpg")
    stored = await storage.put(
        key, b"\xff\xd8\xff\xe0 not really a jpeg", content_type="image/jpeg"
    )
    new = media_db.NewMedia(
        media_id, media_db.MediaKind.IMAGE, key, "room.jpg", "image/jpeg", stored.size_bytes
    )
    await media_db.insert(db, new)
    return key


async def sign_in(page: Page, base: str, token: str) -> None:
    await page.goto(f"{base}/dashboard")
    await expect(page).to_have_url(f"{base}/dashboard/login")
    await page.get_by_label("Admin token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{base}/dashboard")


async def test_an_operator_retries_a_failed_job_and_sees_it_succeed(
    settings: Settings, db: Pool, redis: ArqRedis, storage: Storage, tmp_path: Path
) -> None:
    key = await corrupt_upload(db, storage, "dash-room")
    submitted = await submit_job(db, redis, "generate_thumbnails", {"media_id": "dash-room"})
    job_id = submitted.job.job_id

    async with (
        running_api_server(settings, ADMIN_TOKENS=ADMIN_TOKEN) as base,
        running_worker(settings),
        chromium() as browser,
    ):

        async def failed() -> bool:
            job = await jobs_db.get(db, job_id)
            return job is not None and job.status == "failed"

        await wait_until(failed, timeout_s=30)
        page = await (await browser.new_context()).new_page()
        await sign_in(page, base, ADMIN_TOKEN)

        row = page.locator("#failed tr", has=page.get_by_role("link", name=job_id))
        await expect(row).to_contain_text("BAD_INPUT")
        await expect(page.locator("#workers")).not_to_contain_text("No worker")
        await storage.put(key, PHOTO.read_bytes(), content_type="image/jpeg")  # the fix
        await row.get_by_role("button", name="Retry").click()

        await expect(page.locator("#flash")).to_contain_text(f"{job_id} queued again")
        await expect(row).to_have_count(0, timeout=20_000)  # the failed list refreshed itself
        succeeded = page.locator('#counts tr[data-function="generate_thumbnails"] td.succeeded')
        await expect(succeeded).to_have_text("1", timeout=20_000)
        await page.goto(f"{base}/dashboard/jobs/{job_id}")
        await expect(page.locator("#job-state")).to_have_text("succeeded")
        timeline = page.locator("ol.timeline li")
        await expect(timeline).to_have_count(2)  # the failed attempt is kept in the history
        await expect(timeline.nth(0)).to_contain_text("FAILED")
        await expect(timeline.nth(1)).to_contain_text("SUCCEEDED")

        await page.get_by_role("link", name="dash-room").click()
        thumbnails = page.locator(".outputs img")
        await expect(thumbnails.first).to_be_visible()
        assert await thumbnails.count() >= 1
        loaded = await thumbnails.evaluate_all("imgs => imgs.every(i => i.naturalWidth > 0)")
        assert loaded, "a thumbnail did not load"
        assert re.search(r"/dashboard/media/dash-room$", page.url)


async def test_the_ar_preview_of_an_exported_poster_loads_from_the_media_page(
    settings: Settings, db: Pool, redis: ArqRedis, storage: Storage
) -> None:
    design = await upload_photo(db, storage, PHOTO)
    await client.enqueue_ar_export(redis, design.id, "poster", width_m=0.5)
    await run_burst(settings.model_copy(update={"ar": ArConfig(AR_STILL_PX=128)}))

    async with (
        running_api_server(settings, ADMIN_TOKENS=ADMIN_TOKEN) as base,
        chromium() as browser,
    ):
        context = await browser.new_context()
        outside = await only_from(context, base)
        await watch_model_events(context)
        page = await context.new_page()
        await sign_in(page, base, ADMIN_TOKEN)
        await page.goto(f"{base}/dashboard/media/{design.id}")
        await page.get_by_role("link", name="poster in AR").click()
        await expect(page).to_have_url(f"{base}/dashboard/media/{design.id}/ar?product=poster")
        shown = await model_state(page)
        missing = await page.goto(f"{base}/dashboard/media/{design.id}/ar?product=mug")

    assert [e["name"] for e in shown.events] == ["load"], shown.events
    assert shown.loaded is True and shown.csp_violations == []
    assert shown.size_m[0] == pytest.approx(0.5, rel=1e-3)  # the poster at its real width
    assert outside == []  # everything from the dashboard: nothing fetched elsewhere
    assert missing is not None and missing.status == 404  # no mug was exported
