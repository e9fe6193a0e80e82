"""Benchmark: thumbnails through the whole worker against sharp, side by side in one run.

On generated 24-megapixel photos (6000x4000 JPEG, quality 90; the generator of
bench_thumbnails.py), in rounds that alternate between the two so that load from other
processes hits both alike:

  sharp   scripts/node/thumbnails.mjs (npm sharp, with its default settings): THUMBNAIL 150x150
          attention crop, MEDIUM 800x600 and LARGE 1920x1080 inside, from one decode, EXIF
          orientation applied, sRGB, no metadata, never enlarged, JPEG q82 progressive with
          optimised tables, written to files; as many images in flight as cores
  worker  `arq mediaworker.WorkerSettings` in its own process, with real Redis, Postgres and
          local storage: each image a media row and its original in storage, one
          generate_thumbnails job each (the same three sizes and settings, plus the blurhash,
          three derivative rows, the row READY, job_runs), all enqueued at once; timed from
          the first enqueue to the last result

Then a fresh worker's first job: a worker process is started, and once it polls the queue
(its health-check key appears) one job is enqueued; the latency is from enqueue to result.
The worker's own CPU time and its pool processes' per image show where the time goes.

Targets: the worker's images/s at least 1.11x sharp's; the first job under 0.5 s.
`--jpeg-baseline-sizes THUMBNAIL,MEDIUM,LARGE` measures the trade IMAGE_JPEG_BASELINE_SIZES
offers (baseline JPEGs from the worker, progressive ones from sharp), `--jpeg-decode-eighths`
the one IMAGE_JPEG_DECODE_EIGHTHS offers (a 3/8 decode where sharp decodes at 1/2).
Redis DB 15 is flushed; Postgres `mediaworker_bench` is created and migrated if needed
(--redis-url, --database-url to use others). Needs node and `npm ci` in scripts/node
(`./scripts/run bench` does both).

    .venv/bin/python scripts/bench_sharp.py [--images 12] [--rounds 3] [--first-jobs 3]
        [--jpeg-baseline-sizes SIZES] [--jpeg-decode-eighths]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
from arq.jobs import Job

from mediaworker import client, registry
from mediaworker.config import DatabaseConfig, RedisConfig, Settings, StorageConfig
from mediaworker.db import media as media_db
from mediaworker.db.migrate import migrate
from mediaworker.db.pool import Pool, create_db_pool
from mediaworker.queue import keys
from mediaworker.storage import layout
from mediaworker.storage.local import LocalStorage

NODE_DIR = Path(__file__).resolve().parent / "node"
QUALITY = 82
THROUGHPUT_TARGET = 1.11
FIRST_JOB_TARGET_S = 0.5
READY_TIMEOUT_S = 60.0
VERDICT = {True: "met", False: "MISSED"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=12, help="24 MP photos per round (12)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side (3)")
    parser.add_argument("--first-jobs", type=int, default=3, help="fresh workers timed (3)")
    parser.add_argument(
        "--jpeg-baseline-sizes",
        default="",
        help="the worker's IMAGE_JPEG_BASELINE_SIZES (e.g. THUMBNAIL,MEDIUM,LARGE); sharp stays"
        " progressive: measures that trade",
    )
    parser.add_argument(
        "--jpeg-decode-eighths",
        action="store_true",
        help="the worker's IMAGE_JPEG_DECODE_EIGHTHS; sharp decodes at halves: measures that trade",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/mediaworker_bench"
    )
    args = parser.parse_args()
    if not (NODE_DIR / "node_modules" / "sharp").is_dir():
        sys.exit(f"sharp is not installed: run `npm ci` in {NODE_DIR} (./scripts/run bench does)")
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-sharp-") as tmp:
        work = Path(tmp)
        photos = generate_photos(work / "in", args.images)
        print(f"generated {len(photos)} photos in {time.perf_counter() - started:.0f} s; {load()}")
        settings = bench_settings(args, work / "storage")
        await prepare_database(args.database_url)
        bench = Bench(settings, photos, work, trades(args))
        await bench.open()
        try:
            await bench.flush()
            sharp_runs, worker_runs, usage = await bench.throughput(args.rounds)
            first_jobs = [await bench.first_job() for _ in range(args.first_jobs)]
        finally:
            await bench.close()
    report(args, sharp_runs, worker_runs, usage, first_jobs)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {load()}")


# --- inputs and services -------------------------------------------------------------------


def generate_photos(folder: Path, count: int) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_thumbnails import synthetic_photo

    folder.mkdir(parents=True)
    photos = [folder / f"photo{i + 1}.jpg" for i in range(count)]
    for i, path in enumerate(photos):
        synthetic_photo(6000, 4000, seed=i + 1).jpegsave(str(path), Q=90)
    return photos


def bench_settings(args: argparse.Namespace, storage: Path) -> Settings:
    return Settings(
        redis=RedisConfig(REDIS_URL=args.redis_url),
        database=DatabaseConfig(DATABASE_URL=args.database_url),
        storage=StorageConfig(STORAGE_TYPE="local", WORKER_STORAGE_PATH=str(storage)),
    )


async def prepare_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(url)


def trades(args: argparse.Namespace) -> dict[str, str]:
    """The settings that trade quality for speed, as the worker's environment gets them."""
    return {
        "IMAGE_JPEG_BASELINE_SIZES": args.jpeg_baseline_sizes,
        "IMAGE_JPEG_DECODE_EIGHTHS": "true" if args.jpeg_decode_eighths else "false",
    }


def worker_env(settings: Settings, trades: dict[str, str]) -> dict[str, str]:
    """The environment of `arq mediaworker.WorkerSettings`: our servers and storage."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
    env.update(
        REDIS_URL=settings.redis.dsn(),
        DATABASE_URL=settings.database.dsn(),
        STORAGE_TYPE="local",
        WORKER_STORAGE_PATH=str(settings.storage.path),
        **trades,
    )
    return env


# --- the bench -----------------------------------------------------------------------------


class Bench:
    def __init__(
        self, settings: Settings, photos: list[Path], work: Path, trades: dict[str, str]
    ) -> None:
        self.settings = settings
        self.trades = trades
        self.photos = photos
        self.work = work
        self.log_path = work / "worker.log"
        self.db: Pool
        self.redis: Any
        self.storage: LocalStorage

    async def open(self) -> None:
        self.db = await create_db_pool(self.settings.database.dsn(), min_size=1, max_size=4)
        self.redis = await client.create_pool(self.settings)
        self.storage = await LocalStorage.open(self.settings.storage)

    async def close(self) -> None:
        await self.flush()
        await self.redis.aclose()
        await self.db.close()
        await self.storage.close()

    async def flush(self) -> None:
        await self.redis.flushdb()
        await self.db.execute("TRUNCATE media, media_derivatives, job_runs CASCADE")

    async def upload(self, photos: Sequence[Path]) -> list[str]:
        """A media row and a stored original per photo, as an upload leaves them."""
        ids = []
        for path in photos:
            media_id = uuid.uuid4().hex
            key = layout.original_key(media_id, "jpg")
            stored = await self.storage.put_file(key, path, content_type="image/jpeg")
            new = media_db.NewMedia(
                media_id, media_db.MediaKind.IMAGE, key, path.name, "image/jpeg", stored.size_bytes
            )
            await media_db.insert(self.db, new)
            ids.append(media_id)
        return ids

    async def thumbnails(self, media_ids: Sequence[str]) -> float:
        """Enqueue one job per row, wait for every result; the seconds it took."""
        os.sync()  # the originals' writeback lands before the clock starts, not during it
        started = time.perf_counter()
        jobs = [await client.enqueue_thumbnails(self.redis, m) for m in media_ids]
        # One result polled at a time, in enqueue order (the order they finish in): polling
        # them all every 20 ms was 1,600 Redis reads a second on the worker's cores.
        results = [await wait_for(job) for job in jobs]
        seconds = time.perf_counter() - started
        failed = [r for r in results if not (isinstance(r, dict) and r.get("derivatives"))]
        if failed:
            sys.exit(f"worker jobs failed: {failed[:2]} (log: {self.log_path})")
        return seconds

    async def throughput(self, rounds: int) -> tuple[list[float], list[float], dict[str, float]]:
        worker = await self.start_worker()
        try:
            await self.thumbnails(await self.upload(self.photos[:2]))  # a warm worker
            sharp_runs, worker_runs = [], []
            before = cpu_seconds(worker)
            for round_ in range(rounds):  # who goes first alternates: load drifts
                ids = await self.upload(self.photos)
                if round_ % 2:
                    worker_runs.append(len(ids) / await self.thumbnails(ids))
                sharp_runs.append(run_sharp(self.photos, self.work / "sharp-out"))
                if not round_ % 2:
                    worker_runs.append(len(ids) / await self.thumbnails(ids))
                print(f"  worker: {worker_runs[-1]:.2f} images/s")
            after = cpu_seconds(worker)
        finally:
            await self.stop_worker(worker)
        images = rounds * len(self.photos)
        usage = {k: (after[k] - before[k]) / images * 1000 for k in after}
        return sharp_runs, worker_runs, usage

    async def first_job(self) -> tuple[float, float]:
        """From enqueue to result, and the job's own run (its job_runs row), in seconds."""
        (media_id,) = await self.upload(self.photos[:1])
        worker = await self.start_worker()
        try:
            latency = await self.thumbnails([media_id])
        finally:
            await self.stop_worker(worker)  # the worker's tracker writes its rows at the latest
        duration_ms = await self.db.fetchval(
            "SELECT duration_ms FROM job_runs WHERE job_id = $1 ORDER BY id DESC LIMIT 1",
            registry.GENERATE_THUMBNAILS.job_id_for({"media_id": media_id}),
        )
        return latency, (duration_ms or 0) / 1000

    async def start_worker(self) -> subprocess.Popen[bytes]:
        """`arq mediaworker.WorkerSettings`, returned once it polls the queue."""
        await self.redis.delete(keys.HEALTH_CHECK_KEY)
        log = self.log_path.open("ab")
        worker = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
            [sys.executable, "-m", "arq", "mediaworker.WorkerSettings"],
            env=worker_env(self.settings, self.trades),
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not await self.redis.exists(keys.HEALTH_CHECK_KEY):
            if worker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the worker did not start (log: {self.log_path})")
            await asyncio.sleep(0.01)
        return worker

    async def stop_worker(self, worker: subprocess.Popen[bytes]) -> None:
        worker.send_signal(signal.SIGINT)
        await asyncio.to_thread(worker.wait, 60)


async def wait_for(job: Job) -> Any:
    return await job.result(timeout=600, poll_delay=0.02)


def run_sharp(photos: Sequence[Path], out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    command = ["node", str(NODE_DIR / "thumbnails.mjs"), str(out), str(QUALITY)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [*command, *map(str, photos)], capture_output=True, text=True, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    if done.returncode != 0:
        sys.exit(f"the sharp script failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"  sharp {result['sharp']} (libvips {result['libvips']}, {result['in_flight']} images "
        f"in flight, {result['libvips_threads']} libvips thread each): "
        f"{result['images_per_s']:.2f} images/s, CPU {cpu_ms / (len(photos) + 1):.0f} ms an image"
    )
    images_per_s: float = result["images_per_s"]
    return images_per_s


def cpu_seconds(worker: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU seconds of the worker process and of its children (the CPU pool), so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    own = _stat(worker.pid)
    children = [p for p in _children(worker.pid) if p != worker.pid]
    return {
        "worker process": (own[13] + own[14]) / ticks,
        "pool processes": sum(sum(_stat(p)[13:15]) for p in children) / ticks,
    }


def _stat(pid: int) -> list[int]:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return [0] * 20
    return [0, 0] + [int(f) if f.lstrip("-").isdigit() else 0 for f in fields]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


# --- report --------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    sharp_runs: list[float],
    worker_runs: list[float],
    usage: dict[str, float],
    first_jobs: list[tuple[float, float]],
) -> None:
    sharp, worker = statistics.median(sharp_runs), statistics.median(worker_runs)
    ratio = worker / sharp
    print(f"\n{args.images} photos of 24 MP a round, {args.rounds} rounds, {os.cpu_count()} cores")
    if args.jpeg_baseline_sizes:
        print(f"  the worker writes {args.jpeg_baseline_sizes} as baseline JPEGs; sharp does not")
    if args.jpeg_decode_eighths:
        print("  the worker decodes at eighths (3/8 here); sharp at halves (1/2)")
    print(f"  sharp, three sizes:                  {sharp:6.2f} images/s (median)")
    print(f"  worker, three sizes + blurhash:      {worker:6.2f} images/s (median)")
    print(
        f"  worker / sharp: {ratio:.2f}x (target >= {THROUGHPUT_TARGET}x: "
        f"{VERDICT[ratio >= THROUGHPUT_TARGET]})"
    )
    print(
        "  worker CPU per image: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in usage.items())
    )
    if not first_jobs:
        return
    first = statistics.median(latency for latency, _ in first_jobs)
    print(
        f"  a fresh worker's first job: {first * 1000:.0f} ms median of "
        f"{', '.join(f'{s * 1000:.0f}' for s, _ in first_jobs)} "
        f"(target < {FIRST_JOB_TARGET_S * 1000:.0f} ms: {VERDICT[first < FIRST_JOB_TARGET_S]}); "
        f"the job's own run: {', '.join(f'{d * 1000:.0f}' for _, d in first_jobs)} ms"
    )


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
