"""Benchmark photo analysis without its provider call, and a large inventory.

  prepare    ours: processing.photo.prepare_for_analysis on a 12 MP JPEG (size and pixel
             checks from the header, shrink-on-load decode, autorotate, sRGB, flatten,
             JPEG q85 at most 1568 px): what analyze_photo does before the call
             bare: pyvips thumbnail(path, 1568) + jpegsave_buffer(Q=85), the least one can do
  job        everything analyze_photo does around the call, on a real worker context:
             claim (one upsert), download, prepare in the CPU pool, the `none` analyzer,
             the version row and DONE (Postgres at DATABASE_URL; skipped when unreachable)
  inventory  sync_inventory's work for 10,000 analysed photos with 50,000 items: the read
             (one query), the inputs hash, the Decimal sums, the write, in one transaction
             (rolled back); ref: the same read alone

Targets (issue 8): job under 150 ms for a 12 MP photo; inventory under 1 s.

    .venv/bin/python scripts/bench_photo.py [--repeats 7] [--photos 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pyvips

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mediaworker.config import Settings
from mediaworker.errors import MediaWorkerError
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.photo import prepare_for_analysis
from photo_fixtures import bulk_project, room_jpeg, upload_photo

LIMITS = ImageLimits(100 * 1024 * 1024, 100_000_000)
PROJECT = "bench-inventory"


async def amedian_ms(fn: Callable[[], Awaitable[Any]], repeats: int) -> float:
    await fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench_prepare(path: Path, repeats: int) -> None:
    def ours() -> Any:
        return prepare_for_analysis(str(path), LIMITS)

    def bare() -> bytes:
        return bytes(pyvips.Image.thumbnail(str(path), 1568).jpegsave_buffer(Q=85))

    times: dict[str, list[float]] = {"ours": [], "bare": []}
    ours(), bare()  # warm up
    for _ in range(repeats):  # interleaved, so that load from elsewhere hits both alike
        for name, fn in (("ours", ours), ("bare", bare)):
            started = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - started) * 1000)
    mine, ref = (statistics.median(times[k]) for k in ("ours", "bare"))
    print(f"prepare    12 MP JPEG: ours {mine:7.1f} ms  bare {ref:7.1f} ms  ratio {mine / ref:.2f}")


async def bench_job(path: Path, repeats: int, settings: Settings) -> None:
    from mediaworker.context import get_context, shutdown, startup
    from mediaworker.functions.analyze_photo import analyze_photo
    from mediaworker.payloads import AnalyzePhotoPayload

    ctx: dict[str, Any] = {"settings": settings, "redis": None}
    from mediaworker import client

    ctx["redis"] = await client.create_pool(settings)
    await startup(ctx)
    mw = get_context(ctx)
    try:
        media = await upload_photo(mw.db, mw.storage, path)
        payload = AnalyzePhotoPayload(media_id=media.id, force=True)
        ms = await amedian_ms(lambda: analyze_photo(mw, payload), repeats)
        print(f"job        12 MP, all but the call: {ms:7.1f} ms  (target < 150 ms)")
        await mw.db.execute("DELETE FROM media WHERE id = $1", media.id)
    finally:
        await shutdown(ctx)
        await ctx["redis"].aclose()


async def bench_inventory(settings: Settings, photos: int, repeats: int) -> None:
    from mediaworker.db import inventories as inventories_db
    from mediaworker.db.pool import create_db_pool
    from mediaworker.photos import inventory

    db = await create_db_pool(settings.database.dsn())
    await db.execute("DELETE FROM media WHERE project_id = $1", PROJECT)
    await bulk_project(db, PROJECT, photos=photos, items_per_photo=5)
    parts: dict[str, list[float]] = {"read": [], "hash": [], "sums": [], "write": []}

    async def once() -> None:
        async with db.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            marks = [time.perf_counter()]
            rows = await inventories_db.inputs(conn, PROJECT)
            marks.append(time.perf_counter())
            digest = await asyncio.to_thread(inventory.inputs_hash, rows)
            marks.append(time.perf_counter())
            made = await asyncio.to_thread(inventory.compute, PROJECT, rows, digest)
            marks.append(time.perf_counter())
            await inventories_db.write(conn, made)
            marks.append(time.perf_counter())
            await tx.rollback()
        for name, start, end in zip(parts, marks, marks[1:], strict=False):
            parts[name].append((end - start) * 1000)

    async def read_only() -> None:
        async with db.acquire() as conn:
            await inventories_db.inputs(conn, PROJECT)

    try:
        total = await amedian_ms(once, repeats)
        ref = await amedian_ms(read_only, repeats)
        split = "  ".join(f"{k} {statistics.median(v):.0f}" for k, v in parts.items())
        print(
            f"inventory  {photos} photos, {photos * 5} items: {total:7.1f} ms "
            f"(target < 1000 ms; {split} ms); the read alone {ref:.1f} ms, "
            f"ratio {total / ref:.2f}"
        )
    finally:
        await db.execute("DELETE FROM media WHERE project_id = $1", PROJECT)
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--photos", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("AI_PHOTO_ANALYZER", "local")
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("WORKER_STORAGE_PATH", str(Path(folder) / "storage"))
        os.environ.setdefault("VISION_WEIGHTS_DIR", folder)  # no weights here: provider none
        path = room_jpeg(Path(folder) / "room.jpg", 4000, 3000, orientation=6)
        bench_prepare(path, args.repeats)
        settings = Settings()
        try:
            await bench_job(path, args.repeats, settings)
            await bench_inventory(settings, args.photos, args.repeats)
        except (OSError, MediaWorkerError) as exc:
            print(f"job, inventory: skipped, Postgres or Redis not reachable ({exc})")


if __name__ == "__main__":
    asyncio.run(main())
