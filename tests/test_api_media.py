"""Uploads over HTTP: streamed to storage, processed by a real worker, read back; and the
uploads the API refuses (too large, not multipart, no file) leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import httpx
from arq.connections import ArqRedis

from conftest import api_client, api_settings, run_burst
from mediaworker.config import Settings
from mediaworker.db.pool import Pool


async def test_an_uploaded_photo_is_processed_and_read_back(
    http_api: httpx.AsyncClient, db: Pool, settings: Settings, testdata: Path
) -> None:
    photo = testdata / "images" / "progressive.jpg"
    with photo.open("rb") as f:
        answer = await http_api.post(
            "/v1/media", files={"file": ("room.jpg", f, "image/jpeg")}, data={"category": "DISP"}
        )
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    media_id = accepted["media_id"]
    assert accepted["job"]["job_id"] == f"upload-{media_id}"
    assert accepted["job"]["state"] == "queued"

    await run_burst(settings)

    media = (await http_api.get(f"/v1/media/{media_id}")).json()
    assert media["status"] == "READY", media
    assert media["original_filename"] == "room.jpg" and media["category"] == "DISP"
    assert media["size_bytes"] == photo.stat().st_size
    assert {"width", "height"} <= media["facts"].keys()
    types = {d["type"] for d in media["derivatives"]}
    assert {"THUMBNAIL", "MEDIUM", "LARGE"} <= types
    assert all(d["url"] for d in media["derivatives"])
    job = (await http_api.get(f"/v1/jobs/upload-{media_id}")).json()
    assert job["state"] == "succeeded" and job["attempts"] == 1


async def test_a_corrupt_upload_ends_in_an_error_with_its_code(
    http_api: httpx.AsyncClient, settings: Settings, testdata: Path
) -> None:
    with (testdata / "broken" / "truncated.jpg").open("rb") as f:
        answer = await http_api.post("/v1/media", files={"file": ("t.jpg", f, "image/jpeg")})
    media_id = answer.json()["media_id"]

    await run_burst(settings)

    media = (await http_api.get(f"/v1/media/{media_id}")).json()
    assert media["status"] == "ERROR"
    assert media["error"]["code"] == "BAD_INPUT" and media["error"]["message"]


async def test_an_upload_over_the_limit_leaves_nothing_behind(
    settings: Settings, db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    limited = api_settings(settings, API_MAX_UPLOAD_BYTES=100_000)
    async with api_client(limited) as http:
        answer = await http.post(
            "/v1/media", files={"file": ("big.bin", b"\0" * 200_000, "application/octet-stream")}
        )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "TOO_LARGE"
    assert await db.fetchval("SELECT count(*) FROM media") == 0
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
    stored = settings.storage.path
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


async def test_uploads_that_are_not_a_file_are_refused(
    http_api: httpx.AsyncClient, db: Pool
) -> None:
    json_body = await http_api.post("/v1/media", json={"file": "abc"})
    no_file = await http_api.post("/v1/media", data={"category": "DISP"}, files={"x": ("a", b"1")})
    two_files = await http_api.post(
        "/v1/media", files=[("file", ("a.jpg", b"1")), ("file", ("b.jpg", b"2"))]
    )
    garbage = await http_api.post(
        "/v1/media",
        content=b"--zz\r\nnot a header line at all\r\n\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=zz"},
    )

    assert json_body.status_code == 415
    assert no_file.status_code == 400 and "no file" in no_file.json()["error"]["message"]
    assert two_files.status_code == 400
    assert garbage.status_code == 400
    assert await db.fetchval("SELECT count(*) FROM media") == 0


async def test_unknown_media_is_404(http_api: httpx.AsyncClient) -> None:
    assert (await http_api.get("/v1/media/nothing-here")).status_code == 404
    assert (await http_api.get("/v1/media/bad..id")).status_code == 422
