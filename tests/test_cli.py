"""The `mediaworker` command as scripts use it (--json) and as people read it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis

from conftest import mediaworker_cli as mediaworker
from conftest import running_worker
from mediaworker.config import Settings
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from support import gradient_photo

TESTDATA_BROKEN = Path(__file__).resolve().parents[2] / "shared/testdata/broken/truncated.jpg"


async def json_of(settings: Settings, *args: str) -> Any:
    code, out = await mediaworker(settings, *args, "--json")
    assert code in (0, 1), out
    return json.loads(out)


async def test_ingest_wait_json_gives_one_object_per_file_id_first(
    db: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    good = gradient_photo(tmp_path / "kitchen.jpg", 1200, 900)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good.read_bytes()[:2000])

    async with running_worker(settings):
        code, out = await mediaworker(
            settings, "ingest", str(good), str(broken), "--wait", "--json"
        )

    rows = json.loads(out)
    assert code == 1, "one file ended in ERROR"
    assert [next(iter(r)) for r in rows] == ["id", "id"]
    assert [r["status"] for r in rows] == ["READY", "ERROR"]
    assert rows[1]["error_code"] == "BAD_INPUT"
    sizes = {d["type"]: (d["width"], d["height"]) for d in rows[0]["derivatives"]}
    assert sizes == {"THUMBNAIL": (150, 150), "MEDIUM": (800, 600), "LARGE": (1200, 900)}


async def test_media_job_and_stats_describe_the_work_done(
    db: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    async with running_worker(settings):
        [row] = await json_of(
            settings, "ingest", str(gradient_photo(tmp_path / "hall.jpg", 640, 480)), "--wait"
        )

    media = await json_of(settings, "media", row["id"])
    job = await json_of(settings, "job", f"thumbnails-{row['id']}")
    stats = await json_of(settings, "stats")
    code, table = await mediaworker(settings, "media", row["id"])

    assert media["id"] == row["id"] and media["status"] == "READY"
    assert media["width"] == 640 and media["blurhash"]
    for derivative in media["derivatives"]:
        assert {"type", "storage_key", "url", "width", "height", "size_bytes"} <= set(derivative)
        assert (Path(settings.storage.path) / derivative["storage_key"]).is_file()
    assert job["status"] == "complete" and job["success"] is True
    assert [r["status"] for r in job["runs"]] == ["SUCCEEDED"]
    assert stats["completed"] >= 1 and stats["by_function"]["generate_thumbnails"]["completed"] >= 1
    assert {"queued", "deferred", "in_progress", "failed", "retried"} <= set(stats)
    assert code == 0 and row["id"] in table and "READY" in table and "THUMBNAIL" in table


async def test_an_unknown_media_id_is_reported_not_raised(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    code, out = await mediaworker(settings, "media", "nope", "--json")

    assert code == 1
    assert json.loads(out) == {"error": "media nope not found"}


async def test_migrate_is_idempotent(db: Pool, settings: Settings) -> None:
    assert await json_of(settings, "migrate") == {"applied": []}


async def test_a_file_name_and_an_error_with_rich_markup_are_printed_as_they_are(
    db: Pool, settings: Settings
) -> None:
    media_id = uuid.uuid4().hex
    new = media_db.NewMedia(
        media_id, media_db.MediaKind.IMAGE, f"media/{media_id}/o.jpg", "evil[/]name.jpg", None, 1
    )
    await media_db.insert(db, new)  # as a producer writes it: the file name is the user's
    await db.execute(
        "UPDATE media SET status = 'ERROR', error_code = 'BAD_INPUT', "
        "error_message = 'not an image: [/bold] [link=x]' WHERE id = $1",
        media_id,
    )

    code, out = await mediaworker(settings, "media", media_id)
    missing_code, missing = await mediaworker(settings, "media", "[/]nope")

    assert code == 0, out
    assert "evil[/]name.jpg" in out and "not an image: [/bold] [link=x]" in out
    assert missing_code == 1 and "media [/]nope not found" in missing
