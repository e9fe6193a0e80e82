"""The dashboard over HTTP (the app in process, real Redis, Postgres and workers): who may see
it, which POSTs it accepts, and what its pages show. The browser test is
test_dashboard_browser.py."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from arq.connections import ArqRedis
from pydantic import SecretStr

from conftest import (
    ADMIN_TOKEN,
    PRODUCER_TOKEN,
    api_client,
    api_settings,
    run_burst,
    running_worker,
    wait_until,
)
from media_fixtures import clip
from mediaworker.config import Settings
from mediaworker.db import ai_metrics as ai_metrics_db
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import jobs as jobs_db
from mediaworker.db import media as media_db
from mediaworker.db import transcriptions as transcriptions_db
from mediaworker.db.pool import Pool
from mediaworker.events import progress
from mediaworker.ingest import ingest_file
from mediaworker.providers.base import Usage
from mediaworker.queue import ledger
from mediaworker.queue.inspect import is_queued_or_running
from mediaworker.queue.submit import submit_job
from mediaworker.settings import worker_options
from mediaworker.storage.base import Storage
from mediaworker.web.dashboard.session import COOKIE, SESSION_MAX_AGE_S, session_value
from slow_worker import extra_functions

BASIC = httpx.BasicAuth("operator", ADMIN_TOKEN)


@contextlib.asynccontextmanager
async def dashboard(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with no credentials of its own (each test passes them)."""
    async with api_client(api_settings(settings), token=None) as http:
        yield http


@pytest.fixture
async def web(settings: Settings, db: Pool, redis: ArqRedis) -> AsyncIterator[httpx.AsyncClient]:
    async with dashboard(settings) as http:
        yield http


async def failed_job(db: Pool, redis: ArqRedis, settings: Settings, media_id: str) -> str:
    """A thumbnails job for a media row that does not exist: it fails with NOT_FOUND."""
    submitted = await submit_job(db, redis, "generate_thumbnails", {"media_id": media_id})
    await run_burst(settings)
    return submitted.job.job_id


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def test_without_an_admin_token_the_browser_is_sent_to_the_login_form(
    web: httpx.AsyncClient,
) -> None:
    nothing = await web.get("/dashboard")
    producer = await web.get("/dashboard", auth=httpx.BasicAuth("x", PRODUCER_TOKEN))
    bearer = await web.get("/dashboard", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    wrong = await web.get("/dashboard", auth=httpx.BasicAuth("x", ADMIN_TOKEN + "x"))
    fragment = await web.get("/dashboard/fragments/failed", headers={"HX-Request": "true"})
    admin = await web.get("/dashboard", auth=BASIC)

    for refused in (nothing, producer, bearer, wrong):
        assert (refused.status_code, refused.headers["location"]) == (303, "/dashboard/login")
    assert (fragment.status_code, fragment.headers["HX-Redirect"]) == (401, "/dashboard/login")
    assert admin.status_code == 200
    assert "Jobs by function and state" in admin.text
    assert "frame-ancestors 'none'" in admin.headers["Content-Security-Policy"]
    assert admin.headers["Cache-Control"] == "no-store"


async def test_the_login_form_sets_a_strict_cookie_that_is_not_the_token(
    web: httpx.AsyncClient,
) -> None:
    refused = await web.post("/dashboard/login", data={"token": PRODUCER_TOKEN})
    signed_in = await web.post("/dashboard/login", data={"token": ADMIN_TOKEN})
    cookie = signed_in.cookies[COOKIE]
    web.cookies.clear()  # each request below says which cookie it sends
    page = await web.get("/dashboard", headers={"Cookie": f"{COOKIE}={cookie}"})
    as_bearer = await web.get("/v1/jobs", headers={"Authorization": f"Bearer {cookie}"})
    forged_value = cookie[:-1] + ("1" if cookie.endswith("0") else "0")
    forged = await web.get("/dashboard", headers={"Cookie": f"{COOKIE}={forged_value}"})
    issued_s = int(time.time()) - SESSION_MAX_AGE_S - 1
    old_value = session_value(SecretStr(ADMIN_TOKEN), issued_s=issued_s)
    expired = await web.get("/dashboard", headers={"Cookie": f"{COOKIE}={old_value}"})

    assert refused.status_code == 401 and "not an admin token" in refused.text
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/dashboard")
    set_cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    assert "path=/dashboard" in set_cookie
    assert ADMIN_TOKEN not in cookie
    assert page.status_code == 200
    assert as_bearer.status_code == 401  # the cookie is no API credential
    assert forged.status_code == 303
    assert expired.status_code == 303  # the browser may keep it; the server does not take it

    signed_out = await web.post(
        "/dashboard/logout",
        data={"csrf": csrf_of(page)},
        headers={"Cookie": f"{COOKIE}={cookie}"},
    )
    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/dashboard/login")
    assert f'{COOKIE}=""' in signed_out.headers["set-cookie"]


async def test_a_post_needs_the_pages_csrf_token_and_must_come_from_this_site(
    web: httpx.AsyncClient, db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id = await failed_job(db, redis, settings, "gone-1")
    csrf = csrf_of(await web.get("/dashboard", auth=BASIC))
    url = f"/dashboard/jobs/{job_id}/retry"

    no_token = await web.post(url, auth=BASIC)
    wrong_token = await web.post(url, auth=BASIC, data={"csrf": "0" * 64})
    cross_site = await web.post(
        url, auth=BASIC, data={"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    other_origin = await web.post(
        url, auth=BASIC, data={"csrf": csrf}, headers={"Origin": "http://evil.test"}
    )
    opaque_origin = await web.post(url, auth=BASIC, data={"csrf": csrf}, headers={"Origin": "null"})
    login_elsewhere = await web.post(
        "/dashboard/login", data={"token": ADMIN_TOKEN}, headers={"Origin": "http://evil.test"}
    )
    for refused in (
        no_token,
        wrong_token,
        cross_site,
        other_origin,
        opaque_origin,
        login_elsewhere,
    ):
        assert refused.status_code == 403, refused.text
    still = await jobs_db.get(db, job_id)
    assert still is not None and still.status == "failed"

    from_page = await web.post(
        url,
        auth=BASIC,
        data={"csrf": csrf, "next": "/dashboard"},
        headers={"Origin": "http://api.test", "Sec-Fetch-Site": "same-origin"},
    )
    assert (from_page.status_code, from_page.headers["location"]) == (303, "/dashboard")
    retried = await jobs_db.get(db, job_id)
    assert retried is not None and retried.status == "queued"


async def test_htmx_actions_answer_with_a_message_and_refuse_what_does_not_apply(
    web: httpx.AsyncClient, db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    first = await failed_job(db, redis, settings, "gone-1")
    second = await failed_job(db, redis, settings, "gone-2")
    csrf = csrf_of(await web.get("/dashboard", auth=BASIC))
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}

    failed_list = await web.get("/dashboard/fragments/failed", auth=BASIC)
    retried = await web.post(f"/dashboard/jobs/{first}/retry", auth=BASIC, headers=htmx)
    again = await web.post(f"/dashboard/jobs/{first}/retry", auth=BASIC, headers=htmx)
    cancelled = await web.post(f"/dashboard/jobs/{first}/cancel", auth=BASIC, headers=htmx)
    all_failed = await web.post("/dashboard/retry-failed", auth=BASIC, headers=htmx)
    unknown = await web.post("/dashboard/jobs/no-such-job/retry", auth=BASIC, headers=htmx)

    assert first in failed_list.text and second in failed_list.text
    assert "NOT_FOUND" in failed_list.text
    assert f"{first} queued again" in retried.text
    assert retried.headers["HX-Trigger"] == "jobs-changed"
    assert "is queued, not failed" in again.text and "refused" in again.text
    assert f"{first} cancelled" in cancelled.text
    assert "1 failed job(s) queued again" in all_failed.text
    assert "no job" in unknown.text
    statuses = {j: (await jobs_db.get(db, j)).status for j in (first, second)}  # type: ignore[union-attr]
    assert statuses == {first: "cancelled", second: "queued"}


async def test_search_finds_jobs_by_id_function_media_id_and_payload_value(
    web: httpx.AsyncClient, db: Pool, redis: ArqRedis
) -> None:
    photo = media_db.NewMedia("photo-7", media_db.MediaKind.IMAGE, "o/photo-7.jpg", None, None, 1)
    await media_db.insert(db, photo)
    await submit_job(db, redis, "generate_thumbnails", {"media_id": "photo-7"})
    await submit_job(db, redis, "synthesize_speech", {"text": "welcome to the dashboard"})

    async def search(query: str) -> str:
        answer = await web.get("/dashboard/search", params={"q": query}, auth=BASIC)
        assert answer.status_code == 200
        return answer.text

    by_value = await search("welcome to the dashboard")
    by_media = await search("photo-7")
    by_prefix = await search("thumbnails-pho")
    by_function = await search("synthesize_speech")
    nothing = await search("no such thing")

    assert "synthesize_speech" in by_value and "thumbnails-photo-7" not in by_value
    assert 'href="/dashboard/media/photo-7"' in by_media and "thumbnails-photo-7" in by_media
    assert "thumbnails-photo-7" in by_prefix
    assert "Jobs of function" in by_function and "thumbnails-photo-7" not in by_function
    assert "No jobs." in nothing


async def test_the_media_page_shows_the_transcript_escaped_and_its_jobs(
    web: httpx.AsyncClient, db: Pool, redis: ArqRedis
) -> None:
    clip = media_db.NewMedia("clip-3", media_db.MediaKind.AUDIO, "o/clip-3.wav", "a.wav", None, 1)
    await media_db.insert(db, clip)
    await transcriptions_db.add_automatic(
        db,
        transcriptions_db.NewTranscription(
            "clip-3", "hello <script>alert(1)</script>", "en", None, 2.0, "local", "ps", None
        ),
    )
    await submit_job(db, redis, "transcribe_audio", {"media_id": "clip-3"})

    page = await web.get("/dashboard/media/clip-3", auth=BASIC)
    missing = await web.get("/dashboard/media/no-such-media", auth=BASIC)
    no_file = await web.get("/dashboard/media/clip-3/files/WAVEFORM", auth=BASIC)

    assert page.status_code == 200
    assert "hello &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert "clip-3" in page.text and "transcribe_audio" in page.text
    assert missing.status_code == 404 and "There is no media no-such-media" in missing.text
    assert no_file.status_code == 404


async def test_ai_calls_and_cost_per_day_provider_and_model(
    web: httpx.AsyncClient, db: Pool
) -> None:
    def call(provider: str, model: str, cost: str, *, ok: bool = True) -> ai_metrics_db.Call:
        usage = Usage(input_tokens=100, output_tokens=20)
        return ai_metrics_db.Call(
            provider, model, "chat", 50, ok, None if ok else "RATE_LIMIT", 0, usage,
            Decimal(cost), None,
        )  # fmt: skip

    await db.execute("TRUNCATE ai_metrics")  # the shared fixture leaves it
    for made in (
        call("openai", "gpt-4o-mini", "0.0010"),
        call("openai", "gpt-4o-mini", "0.0020", ok=False),
        call("anthropic", "claude-haiku", "0.0500"),
    ):
        await ai_metrics_db.insert(db, made)

    rows = await ai_metrics_db.cost_per_day(db, days=1)
    page = await web.get("/dashboard/ai", auth=BASIC)

    assert [(r["provider"], r["model"], r["calls"], r["failures"]) for r in rows] == [
        ("anthropic", "claude-haiku", 1, 0),
        ("openai", "gpt-4o-mini", 2, 1),
    ]
    assert rows[1]["cost_usd"] == Decimal("0.0030") and rows[1]["input_tokens"] == 200
    assert page.status_code == 200
    assert "claude-haiku" in page.text and "0.0530" in page.text  # the total


async def test_the_media_page_plays_the_preview_and_shows_the_waveform_and_poster(
    web: httpx.AsyncClient,
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    tmp_path: Path,
) -> None:
    video = await ingest_file(db, storage, redis, clip(tmp_path / "walk.mp4", 2.0))
    await run_burst(settings)
    media_id = video.media.id

    page = await web.get(f"/dashboard/media/{media_id}", auth=BASIC)
    files = f"/dashboard/media/{media_id}/files"
    preview = await web.get(f"{files}/PREVIEW", auth=BASIC)
    unauthenticated = await web.get(f"{files}/PREVIEW")
    stored = {d.type: d for d in await derivatives_db.list_for(db, media_id)}

    assert page.status_code == 200 and "READY" in page.text
    assert f'<video src="{files}/PREVIEW" controls' in page.text
    assert f'<img src="{files}/WAVEFORM_PNG"' in page.text
    assert f'<img src="{files}/THUMBNAIL"' in page.text  # the poster frame's sizes
    assert preview.headers["content-type"] == "video/mp4"
    assert preview.content == await storage.get(stored["PREVIEW"].storage_key)
    assert unauthenticated.status_code == 303


async def test_a_running_job_is_listed_and_cancelled_from_the_dashboard(
    web: httpx.AsyncClient, db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await ledger.submit(
        db, redis, function="nap", job_id="nap-long", payload={"seconds": 60}, priority=10
    )
    functions = [*worker_options(settings)["functions"], *extra_functions()]
    async with running_worker(settings, functions=functions):

        async def running() -> bool:
            job = await jobs_db.get(db, "nap-long")
            return job is not None and job.status == "running"

        await wait_until(running)
        await progress.Reporter(redis, "nap-long").report(0.4, "napping")  # as ctx.progress
        listed = await web.get("/dashboard/fragments/running", auth=BASIC)
        csrf = csrf_of(listed)
        cancelled = await web.post(
            "/dashboard/jobs/nap-long/cancel",
            auth=BASIC,
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
        job = await jobs_db.get(db, "nap-long")
        after = await web.get("/dashboard/fragments/running", auth=BASIC)

        async def aborted() -> bool:  # the worker has let go of it
            return not await is_queued_or_running(redis, "nap-long")

        await wait_until(aborted)

    assert 'data-job="nap-long"' in listed.text and ">Cancel</button>" in listed.text
    assert '<progress max="100" value="40">' in listed.text and "napping" in listed.text
    assert "nap-long cancelled" in cancelled.text
    assert job is not None and job.status == "cancelled"
    assert "Nothing running." in after.text


async def test_the_ar_preview_needs_an_admin_and_an_export(
    web: httpx.AsyncClient, db: Pool
) -> None:
    await db.execute(
        "INSERT INTO media (id, kind, status, storage_key)"
        " VALUES ('plain-1', 'IMAGE', 'READY', 'k')"
    )
    anonymous = await web.get("/dashboard/media/plain-1/ar")
    not_exported = await web.get("/dashboard/media/plain-1/ar?product=mug", auth=BASIC)
    bad_product = await web.get("/dashboard/media/plain-1/ar?product=sofa", auth=BASIC)
    media_page = await web.get("/dashboard/media/plain-1", auth=BASIC)

    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/dashboard/login")
    assert not_exported.status_code == 404 and "AR export (mug)" in not_exported.text
    assert bad_product.status_code == 422
    assert "in AR" not in media_page.text  # no link without an export
    for answer in (not_exported, media_page):  # the strict policy outside the AR page itself
        assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
