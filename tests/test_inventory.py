"""sync_inventory and the inventory rules: arithmetic against hand-computed totals, one write
per change across workers, nothing written for the same inputs, a killed run changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from ai_stand_ins import ai_settings
from conftest import DATABASE_URL, REDIS_URL, make_settings, run_burst, running_worker, wait_until
from mediaworker import client, registry
from mediaworker.config import Settings
from mediaworker.db import inventories as inventories_db
from mediaworker.db import photos as photos_db
from mediaworker.db.pool import Pool
from mediaworker.payloads import RefreshInventoriesPayload
from mediaworker.photos import analysis, inventory, volumes
from mediaworker.photos.inventory import PhotoInput
from mediaworker.queue import keys
from mediaworker.queue.inspect import is_queued_or_running
from mediaworker.storage.base import Storage
from photo_fixtures import (
    analysed,
    bulk_project,
    failed,
    item,
    photo_row,
    room_jpeg,
    upload_photo,
)
from support import result_of

PROJECT = "move-42"


@pytest.fixture
async def inv_db(db: Pool) -> Pool:
    await db.execute("TRUNCATE inventories, ai_metrics")
    return db


async def seed_hand_computed(db: Pool) -> None:
    """Seven photos of one project (and a video, not counted); totals worked out by hand:

    bedroom (2 photos of one room): bed_double 1 (max of 1, 1) 1.575 + nightstand 2 (max of 2, 1)
      0.198 + wardrobe_2_door 1 1.200 + aquarium (other, estimate 0.25) 1 = 3.223 m3, 5 items
    kitchen (model + detector): refrigerator 0.722 + dining_chair 4 (max of 4, 1+1) 0.812 +
      sewing machine (other, no estimate) unknown + microwave (detector) 0.060 = 1.594, 7 items
    total 12 items, 4.817 m3, 11 of 12 with a volume (0.9167), 2 estimated (aquarium,
    microwave), 2 dismountable (bed, wardrobe); photos 7: 4 analysed, 2 not, 1 error.
    """
    for n in range(1, 8):
        await photo_row(db, PROJECT, f"m{n}")
    await photo_row(db, PROJECT, "v1", kind="VIDEO")
    await analysed(
        db,
        "m1",
        "bedroom",
        [item("bed_double"), item("nightstand", 2), item("wardrobe_2_door")],
    )
    aquarium = item("other", name="Aquarium", volume_m3=0.25)
    await analysed(db, "m2", "bedroom", [item("bed_double"), item("nightstand"), aquarium])
    sewing = item("other", name="old sewing machine")
    await analysed(db, "m3", "kitchen", [item("refrigerator"), item("dining_chair", 4), sewing])
    chairs_and_microwave = [item("dining_chair"), item("dining_chair"), item("microwave")]
    await analysed(db, "m4", "kitchen", chairs_and_microwave, method="detector")
    await failed(db, "m5")
    await analysed(db, "m6", "other", [], method="none")  # m7: never analysed


HAND_COMPUTED = {
    "total_items": 12,
    "total_volume_m3": Decimal("4.817"),
    "volume_known_share": Decimal("0.9167"),
    "items_estimated": 2,
    "items_without_volume": 1,
    "dismountable_items": 2,
    "photos_total": 7,
    "photos_analysed": 4,
    "photos_not_analysed": 2,
    "photos_error": 1,
}


async def test_the_inventory_matches_the_totals_worked_out_by_hand(
    inv_db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await seed_hand_computed(inv_db)
    job = await client.enqueue_inventory_sync(redis, PROJECT)

    await run_burst(settings)

    row = await inventories_db.get(inv_db, PROJECT)
    assert row is not None
    assert {k: row[k] for k in HAND_COMPUTED} == HAND_COMPUTED
    rooms = {r["room_type"]: r for r in row["rooms"]}
    assert (rooms["bedroom"]["items"], rooms["bedroom"]["volume_m3"]) == (5, 3.223)
    assert (rooms["kitchen"]["items"], rooms["kitchen"]["volume_m3"]) == (7, 1.594)
    assert (rooms["bedroom"]["photos"], rooms["kitchen"]["photos"]) == (2, 2)
    lines = {ln["name"]: ln for ln in rooms["kitchen"]["lines"]}
    assert lines["old sewing machine"]["volume_source"] == "unknown"
    assert lines["microwave"]["estimated"] and lines["dining chair"]["quantity"] == 4
    assert row["result"]["totalItems"] == 12 and row["result"]["totalVolume"] == 4.817
    assert "largest seen in any one photo" in row["result"]["rules"][0]
    result = await result_of(job)
    assert (result["outcome"], result["version"], result["totalItems"]) == ("written", 1, 12)


def test_the_volume_table_is_reviewable_and_consistent() -> None:
    rows = volumes.table()

    assert 60 <= len(rows) <= 100 and volumes.OTHER in rows
    for row in rows.values():
        assert row.category.isidentifier() and row.label and row.source, row
        if row.category == volumes.OTHER:
            assert row.volume_m3 is None and row.size_cm is None
            continue
        assert row.size_cm is not None and row.volume_m3 is not None
        length, width, height = row.size_cm
        box = (Decimal(length * width * height) / 1_000_000).quantize(
            Decimal("0.001"), "ROUND_HALF_UP"
        )
        assert row.volume_m3 == box, row.category
        assert row.dismantled_m3 is not None and row.dismantled_m3 <= row.volume_m3
        assert row.dismountable == (row.dismantled_m3 < row.volume_m3), row.category


def test_the_schema_sent_is_strict_and_its_categories_are_the_table() -> None:
    schema = analysis.json_schema()
    item_schema = schema["$defs"]["Item"]

    for part in (schema, item_schema):
        assert part["additionalProperties"] is False
        assert set(part["required"]) == set(part["properties"])
    assert item_schema["properties"]["category"]["enum"] == volumes.categories()
    with pytest.raises(analysis.InvalidReply, match="category"):
        analysis.parse_reply(json.dumps({**json.loads(GOOD), "items": [BAD_ITEM]}))


GOOD = json.dumps({"room_type": "office", "room_label": None, "room_confidence": 1, "items": []})
BAD_ITEM = {
    "name": "x",
    "category": "spaceship",
    "quantity": 1,
    "dismountable": False,
    "volume_m3": None,
    "confidence": 1,
}


def photo_input(media_id: str, room_type: str, items: list[Any], label: str | None = None) -> Any:
    result = {"room_type": room_type, "room_label": label, "items": items}
    return PhotoInput(media_id, "DONE", "model", room_type, json.dumps(result, sort_keys=True))


def test_the_same_inputs_give_the_same_hash_and_the_same_bytes() -> None:
    photos = [
        photo_input("a", "bedroom", [item("bed_single", 2)]),
        photo_input("b", "kitchen", [item("other", volume_m3=0.1)], label="pantry"),
    ]
    first = inventory.compute("p", photos, inventory.inputs_hash(photos))
    again = inventory.compute("p", list(photos), inventory.inputs_hash(list(photos)))

    assert first == again and first.inputs_hash == again.inputs_hash
    assert json.dumps(first.result) == json.dumps(again.result)
    assert first.rooms[1]["room_label"] == "pantry"
    changed = [photos[0], photo_input("b", "kitchen", [], label="pantry")]
    assert inventory.inputs_hash(changed) != first.inputs_hash


def test_a_room_without_items_has_no_volume_and_an_unknown_volume_is_never_zero() -> None:
    photos = [photo_input("a", "garage", [item("other", 3)])]

    made = inventory.compute("p", photos, inventory.inputs_hash(photos))

    assert (made.total_items, made.items_without_volume, made.total_volume_m3) == (3, 3, 0)
    assert made.volume_known_share == 0 and made.rooms[0]["lines"][0]["unit_volume_m3"] is None


async def test_unchanged_inputs_write_nothing_and_a_change_writes_once(
    inv_db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await seed_hand_computed(inv_db)
    await client.enqueue_inventory_sync(redis, PROJECT)
    await run_burst(settings)
    before = await inventories_db.get(inv_db, PROJECT)

    job = await client.enqueue_inventory_sync(redis, PROJECT)
    await run_burst(settings)
    assert (await result_of(job))["outcome"] == "unchanged"
    assert await inventories_db.get(inv_db, PROJECT) == before

    await analysed(inv_db, "m7", "bedroom", [item("bed_double", 2)])
    await client.enqueue_inventory_sync(redis, PROJECT)
    await run_burst(settings)
    after = await inventories_db.get(inv_db, PROJECT)
    assert after is not None and before is not None
    assert (after["version"], after["total_items"]) == (2, 13)  # bed: max(1, 1, 2) = 2
    assert after["inputs_hash"] != before["inputs_hash"]


async def test_three_workers_and_twenty_requests_make_exactly_one_write(
    inv_db: Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    await bulk_project(inv_db, PROJECT, photos=2000, items_per_photo=5)
    settings = make_settings(tmp_path / "storage", CPU_WORKERS=1)
    async with (
        running_worker(settings),
        running_worker(settings),
        running_worker(settings),
    ):
        for _ in range(20):  # 20 requests within a second, some while a run is going on
            await client.enqueue_inventory_sync(redis, PROJECT)
            await asyncio.sleep(0.05)
        await wait_until(lambda: _idle(redis), timeout_s=30)

    row = await inventories_db.get(inv_db, PROJECT)
    async with inventories_db.locked(inv_db, PROJECT) as conn:
        assert conn is not None
        final_hash = inventory.inputs_hash(await inventories_db.inputs(conn, PROJECT))
    assert row is not None and row["version"] == 1 and row["inputs_hash"] == final_hash
    assert row["photos_analysed"] == 2000


async def _idle(redis: ArqRedis) -> bool:
    job_id = registry.SYNC_INVENTORY.job_id_for({"project_id": PROJECT})
    return not await is_queued_or_running(redis, job_id)


async def test_a_second_run_while_one_holds_the_lock_is_skipped(
    inv_db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    await seed_hand_computed(inv_db)
    async with inventories_db.locked(inv_db, PROJECT) as conn:  # "another worker"
        assert conn is not None
        job = await client.enqueue_inventory_sync(redis, PROJECT)
        await run_burst(settings)

    result = await result_of(job)
    assert (result["outcome"], result["reason"]) == ("skipped", "running elsewhere")
    assert await inventories_db.get(inv_db, PROJECT) is None


async def test_the_cron_enqueues_changed_projects_once_and_skips_unchanged_ones(
    inv_db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    from mediaworker.context import Context, shutdown, startup
    from mediaworker.functions.refresh_inventories import refresh_inventories

    await seed_hand_computed(inv_db)
    ctx: dict[str, Any] = {"settings": settings, "redis": redis}
    await startup(ctx)
    try:
        mw: Context = ctx["mw"]
        first = await refresh_inventories(mw, RefreshInventoriesPayload())
        await run_burst(settings)
        second = await refresh_inventories(mw, RefreshInventoriesPayload())
    finally:
        await shutdown(ctx)

    assert first.enqueued == [PROJECT] and second.enqueued == []


async def test_the_cron_enqueues_a_photo_whose_job_was_lost_again(
    inv_db: Pool, redis: ArqRedis, settings: Settings, storage: Storage, tmp_path: Path
) -> None:
    from mediaworker.context import shutdown, startup
    from mediaworker.functions.refresh_inventories import refresh_inventories

    media = await upload_photo(inv_db, storage, room_jpeg(tmp_path / "r.jpg", 640, 480))
    await photos_db.claim(inv_db, media.id, room_type=None, force=False)  # then Redis lost it
    await inv_db.execute("UPDATE photos SET updated_at = now() - interval '1 hour'")
    ctx: dict[str, Any] = {"settings": ai_settings(settings, None), "redis": redis}
    await startup(ctx)
    try:
        found = await refresh_inventories(ctx["mw"], RefreshInventoriesPayload())
        again = await refresh_inventories(ctx["mw"], RefreshInventoriesPayload())
    finally:
        await shutdown(ctx)
    await run_burst(ai_settings(settings, None))

    assert found.requeued_photos == [media.id] and again.requeued_photos == []
    photo = await photos_db.get(inv_db, media.id)
    assert photo is not None and photo.status == "DONE"


# --- a worker killed mid-aggregation --------------------------------------------------------------


@contextlib.contextmanager
def worker_process(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process (`arq mediaworker.WorkerSettings`), killed at the end if alive."""
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "WORKER_STORAGE_PATH": str(tmp_path / "storage"),
        "CPU_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "arq", "mediaworker.WorkerSettings"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


@pytest.mark.slow
async def test_a_worker_killed_mid_aggregation_leaves_the_last_inventory_intact(
    inv_db: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    await bulk_project(inv_db, PROJECT, photos=10_000, items_per_photo=5)
    await client.enqueue_inventory_sync(redis, PROJECT)
    await run_burst(settings)
    before = await inventories_db.get(inv_db, PROJECT)
    await inv_db.execute("UPDATE photos SET status = 'ERROR' WHERE media_id LIKE '%-0000%'")

    with worker_process(tmp_path) as worker:
        job = await client.enqueue_inventory_sync(redis, PROJECT)
        await wait_until(lambda: _running(inv_db, redis, job.job_id), timeout_s=60, every_s=0.002)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    await wait_until(lambda: _not(_lock_held(inv_db)), timeout_s=30)

    assert await inventories_db.get(inv_db, PROJECT) == before
    await run_burst(settings)  # the job is not lost: another worker takes it over
    after = await inventories_db.get(inv_db, PROJECT)
    assert after is not None and after["version"] == 2 and after["photos_error"] == 100


async def _running(db: Pool, redis: ArqRedis, job_id: str) -> bool:
    """The run holds the project's lock, and its worker's heartbeat has already made its
    in-progress key short-lived (so another worker takes the job over soon after a kill)."""
    ttl_ms = await redis.pttl(keys.in_progress_key(job_id))
    return 0 < ttl_ms <= keys.IN_PROGRESS_TTL_S * 1000 and await _lock_held(db)


async def _lock_held(db: Pool) -> bool:
    found = await db.fetchval(
        """SELECT count(*) FROM pg_locks
           WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted""",
        inventories_db.LOCK_CLASS,
    )
    return bool(found)


async def _not(check: Any) -> bool:
    return not await check


# --- the command line ---------------------------------------------------------------------------


def mediaworker_json(settings: Settings, *args: str) -> Any:
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "WORKER_STORAGE_PATH": str(settings.storage.path),
    }
    argv = [sys.executable, "-m", "mediaworker.cli.main", *args, "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode in (0, 1), done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


async def test_ingest_with_a_project_analyses_and_the_cli_shows_photo_and_inventory(
    inv_db: Pool, redis: ArqRedis, settings: Settings, testdata: Path
) -> None:
    photo = testdata / "rooms" / "bedroom_hotel.jpg"
    [row] = await asyncio.to_thread(
        mediaworker_json, settings, "ingest", str(photo), "--project", "flat-9", "--analyze"
    )
    configured = ai_settings(settings, None)  # offline: the detector, or provider none
    async with running_worker(configured):
        await wait_until(lambda: _analysed(inv_db, row["id"]), timeout_s=60)
        await wait_until(lambda: _has_inventory(inv_db, "flat-9"), timeout_s=30)

    shown = await asyncio.to_thread(mediaworker_json, settings, "photo", row["id"])
    assert (shown["status"], shown["error_code"]) == ("DONE", None)
    assert shown["analysis"]["room_type"] in ("bedroom", "other") and shown["version"] == 1
    listed = await asyncio.to_thread(mediaworker_json, settings, "inventory", "flat-9")
    assert listed["projectId"] == "flat-9" and listed["photos"]["total"] == 1
    missing = await asyncio.to_thread(mediaworker_json, settings, "inventory", "nope")
    assert "no inventory" in missing["error"]


async def _analysed(db: Pool, media_id: str) -> bool:
    status = await db.fetchval("SELECT status FROM photos WHERE media_id = $1", media_id)
    return bool(status == "DONE")


async def _has_inventory(db: Pool, project_id: str) -> bool:
    return await inventories_db.get(db, project_id) is not None
