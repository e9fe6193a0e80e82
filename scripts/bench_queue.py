"""Benchmark: no-op jobs through our WorkerSettings against bare arq, in one run.

    .venv/bin/python scripts/bench_queue.py [--jobs 2000] [--latency-jobs 200] [--max-jobs 10]

1. Throughput: N no-op jobs are queued with no worker running, then a burst worker (in a fresh
   process) runs until the queue is empty. Timed from the end of the worker's startup to the
   end of the burst. Rounds alternate bare / ours; the median round is reported. The worker's
   CPU time per job is shown too: both workers are CPU-bound, and it is less disturbed than
   the wall time by other load on the machine.
2. Pickup latency: a worker runs in a separate process; this process enqueues M jobs one at a
   time, 10-40 ms apart; each job returns `time.time()` at its start, read back from its
   result; latency = that start - the time just before `enqueue_job` was called.

"ours" is `worker_options(settings)` plus a no-op job registered with `tracked()`, so the
job_runs rows, heartbeat, stats counters, metrics and JSON logs all happen (the logs go to a
temporary file). "bare" is `arq.Worker(functions=[func(noop, name="noop")])` with the same
serializer, max_jobs and poll_delay (and, for latency, also arq's default poll_delay). The
bare worker's only on_startup is a hook that reads the clock.

Redis DB 14 is flushed before, between and after the phases; Postgres `mediaworker_bench` is
created and migrated if needed, and its job_runs table is emptied before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import asyncpg
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker, func

from mediaworker.config import DatabaseConfig, QueueConfig, RedisConfig, Settings, StorageConfig
from mediaworker.context import Context
from mediaworker.db.migrate import migrate
from mediaworker.payloads import Payload, Result
from mediaworker.queue import keys
from mediaworker.queue.serializer import deserialize, serialize
from mediaworker.queue.wrapper import tracked
from mediaworker.settings import worker_options

ARQ_DEFAULT_POLL_S = 0.5
WARMUP_JOBS = 5
CHILD_TIMEOUT_S = 60.0
LATENCY_TARGET_MS = 20.0
COST_TARGET_PCT = 20.0


# --- the jobs ------------------------------------------------------------------------------


class NoopPayload(Payload):
    seq: int = 0


class NoopResult(Result):
    started_at: float


async def noop(ctx: Context, payload: NoopPayload) -> NoopResult:
    return NoopResult(started_at=time.time())


async def bare_noop(ctx: dict[str, Any], **kwargs: Any) -> dict[str, float]:
    return {"started_at": time.time()}


# --- configuration, shared with the worker processes (picklable) ---------------------------


@dataclass(frozen=True)
class Bench:
    redis_url: str
    database_url: str
    max_jobs: int
    storage_path: str
    log_path: str

    def settings(self) -> Settings:
        return Settings(
            redis=RedisConfig(REDIS_URL=self.redis_url),
            database=DatabaseConfig(DATABASE_URL=self.database_url),
            storage=StorageConfig(STORAGE_TYPE="local", WORKER_STORAGE_PATH=self.storage_path),
            queue=QueueConfig(QUEUE_CONCURRENCY=self.max_jobs),
        )


@dataclass(frozen=True)
class Variant:
    label: str
    ours: bool
    poll_delay_s: float


@dataclass(frozen=True)
class Burst:
    seconds: float
    cpu_seconds: float  # of the worker process: less disturbed than `seconds` by other load
    complete: int
    failed: int
    retried: int


def worker_kwargs(bench: Bench, variant: Variant) -> dict[str, Any]:
    if variant.ours:
        options = worker_options(bench.settings())
        options["functions"] = [*options["functions"], tracked(noop, timeout_s=60)]
        options["poll_delay"] = variant.poll_delay_s
        return options
    return {
        "functions": [func(bare_noop, name="noop")],
        "redis_settings": RedisSettings.from_dsn(bench.redis_url),
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "max_jobs": bench.max_jobs,
        "poll_delay": variant.poll_delay_s,
    }


# --- worker processes ----------------------------------------------------------------------


def _to_log_file(path: str) -> None:
    """Send this process's stderr (our JSON logs, arq's logs) to the bench log file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 2)
    os.close(fd)


def burst_process(bench: Bench, variant: Variant, out: Connection) -> None:
    _to_log_file(bench.log_path)
    out.send(asyncio.run(_burst(bench, variant)))
    out.close()


async def _burst(bench: Bench, variant: Variant) -> Burst:
    options = worker_kwargs(bench, variant)
    inner: Callable[[dict[str, Any]], Awaitable[None]] | None = options.get("on_startup")
    started: list[float] = []

    async def on_startup(ctx: dict[str, Any]) -> None:
        if inner is not None:
            await inner(ctx)
        started[:] = [time.perf_counter(), time.process_time()]

    worker = Worker(**{**options, "on_startup": on_startup, "burst": True, "handle_signals": False})
    try:
        await worker.async_run()
        seconds = time.perf_counter() - started[0]
        cpu_seconds = time.process_time() - started[1]
    finally:
        await worker.close()
    return Burst(
        seconds, cpu_seconds, worker.jobs_complete, worker.jobs_failed, worker.jobs_retried
    )


def serve_process(bench: Bench, variant: Variant, stop: Event) -> None:
    _to_log_file(bench.log_path)
    asyncio.run(_serve(bench, variant, stop))


async def _serve(bench: Bench, variant: Variant, stop: Event) -> None:
    worker = Worker(**{**worker_kwargs(bench, variant), "handle_signals": False})
    running = asyncio.create_task(worker.async_run())
    stopping = asyncio.create_task(asyncio.to_thread(stop.wait))
    try:
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()
        stop.set()  # lets the waiting thread end if the worker stopped first
        await stopping


# --- the producer (this process) -----------------------------------------------------------


async def enqueue_many(pool: ArqRedis, n: int) -> None:
    for first in range(0, n, 200):
        batch = range(first, min(first + 200, n))
        await asyncio.gather(*(pool.enqueue_job("noop", seq=i) for i in batch))


async def run_burst(pool: ArqRedis, bench: Bench, variant: Variant, n: int) -> Burst:
    await pool.flushdb()
    await enqueue_many(pool, n)
    spawn = mp.get_context("spawn")
    receive, send = spawn.Pipe(duplex=False)
    process = spawn.Process(target=burst_process, args=(bench, variant, send), daemon=True)
    process.start()
    send.close()
    try:
        ready = await asyncio.to_thread(receive.poll, CHILD_TIMEOUT_S)
        if not ready:
            raise RuntimeError(f"{variant.label}: burst worker gave no result; see the log")
        burst: Burst = receive.recv()
    finally:
        _stop(process)
    if burst.complete < n or burst.failed:  # a cron job may add one
        raise RuntimeError(f"{variant.label}: {burst}, expected {n} jobs complete; see the log")
    return burst


@contextlib.contextmanager
def serving(bench: Bench, variant: Variant) -> Iterator[mp.process.BaseProcess]:
    spawn = mp.get_context("spawn")
    stop = spawn.Event()
    process = spawn.Process(target=serve_process, args=(bench, variant, stop), daemon=True)
    process.start()
    try:
        yield process
    finally:
        stop.set()
        _stop(process)


def _stop(process: mp.process.BaseProcess) -> None:
    process.join(10)
    if process.is_alive():
        process.terminate()
        process.join(5)
    if process.is_alive():
        process.kill()
        process.join()


async def wait_ready(pool: ArqRedis, process: mp.process.BaseProcess, label: str) -> None:
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while not await pool.exists(keys.HEALTH_CHECK_KEY):
        if not process.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{label}: worker did not start; see the log")
        await asyncio.sleep(0.02)


async def pickup_latencies(pool: ArqRedis, n: int, rng: random.Random) -> list[float]:
    """Enqueue `n` jobs 10-40 ms apart; ms from each enqueue call to its job's start."""
    sent = []
    for i in range(n):
        await asyncio.sleep(rng.uniform(0.010, 0.040))
        enqueued_at = time.time()
        job = await pool.enqueue_job("noop", seq=i)
        if job is None:
            raise RuntimeError("enqueue_job returned None")
        sent.append((job, enqueued_at))
    latencies = []
    for job, enqueued_at in sent:
        result = await job.result(timeout=CHILD_TIMEOUT_S, poll_delay=0.01)
        latencies.append((result["started_at"] - enqueued_at) * 1000)
    return latencies


async def run_latency(
    pool: ArqRedis, bench: Bench, variant: Variant, n: int, rng: random.Random
) -> list[float]:
    await pool.flushdb()
    with serving(bench, variant) as process:
        await wait_ready(pool, process, variant.label)
        await pickup_latencies(pool, WARMUP_JOBS, rng)
        return await pickup_latencies(pool, n, rng)


# --- report --------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def print_throughput(n: int, rounds: dict[str, list[Burst]]) -> float:
    print(f"Throughput: {n} no-op jobs queued, then a burst worker until the queue is empty")
    print(f"  {'worker':<24}{'jobs/s':>8}{'ms/job':>8}{'cpu ms/job':>12}   jobs/s by round")
    rates, cpu_ms = {}, {}
    for label, bursts in rounds.items():
        per_round = [n / b.seconds for b in bursts]
        rates[label] = statistics.median(per_round)
        cpu_ms[label] = statistics.median(b.cpu_seconds for b in bursts) / n * 1000
        shown = " ".join(f"{r:.0f}" for r in per_round)
        print(
            f"  {label:<24}{rates[label]:>8.0f}{1000 / rates[label]:>8.2f}"
            f"{cpu_ms[label]:>12.2f}   {shown}"
        )
    (bare, ours), (bare_cpu, ours_cpu) = rates.values(), cpu_ms.values()
    ratio = ours / bare
    cost = (1 - ratio) * 100
    verdict = "ok" if cost < COST_TARGET_PCT else "OVER TARGET"
    print(f"  ours/bare = {ratio:.2f}: tracking costs {cost:.1f}% of bare arq's throughput", end="")
    print(f" (target < {COST_TARGET_PCT:.0f}%: {verdict})")
    print(
        f"  tracking adds {1000 / ours - 1000 / bare:.2f} ms per job "
        f"({ours_cpu - bare_cpu:.2f} ms of worker CPU; ours/bare CPU = {ours_cpu / bare_cpu:.2f})"
    )
    print("  (jobs/s and cpu ms/job: median of the rounds; ms/job = 1000 / jobs/s)")
    return cost


def print_latency(m: int, results: list[tuple[Variant, list[float]]]) -> float:
    print(f"Pickup latency: {m} jobs enqueued one by one 10-40 ms apart (+{WARMUP_JOBS} warm-up)")
    print(f"  {'worker':<28}{'poll':>8}{'median':>10}{'p95':>10}{'max':>10}")
    for variant, values in results:
        print(
            f"  {variant.label:<28}{variant.poll_delay_s * 1000:>6.0f}ms"
            f"{statistics.median(values):>8.1f}ms{p95(values):>8.1f}ms{max(values):>8.1f}ms"
        )
    ours = statistics.median(results[-1][1])
    verdict = "ok" if ours < LATENCY_TARGET_MS else "OVER TARGET"
    print(f"  ours median {ours:.1f} ms (target < {LATENCY_TARGET_MS:.0f} ms: {verdict})")
    return ours


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    default_concurrency = QueueConfig().concurrency
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=2000, help="throughput jobs per round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per worker")
    parser.add_argument("--latency-jobs", type=int, default=200, help="pickup latency jobs")
    parser.add_argument("--max-jobs", type=int, default=default_concurrency, help="max_jobs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the enqueue intervals")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/mediaworker_bench"
    )
    return parser.parse_args()


async def empty_job_runs(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("TRUNCATE job_runs")
    finally:
        await conn.close()


async def bench_all(args: argparse.Namespace, bench: Bench) -> None:
    poll_s = bench.settings().queue.poll_delay_ms / 1000
    bare = Variant("bare arq", ours=False, poll_delay_s=poll_s)
    ours = Variant("mediaworker (tracked)", ours=True, poll_delay_s=poll_s)
    print(
        f"mediaworker queue benchmark: arq {_arq_version()}, max_jobs={bench.max_jobs}, "
        f"poll_delay={poll_s * 1000:.0f} ms, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print()
    await migrate(bench.database_url)
    await empty_job_runs(bench.database_url)
    pool = await create_pool(
        RedisSettings.from_dsn(bench.redis_url),
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    try:
        rounds: dict[str, list[Burst]] = {bare.label: [], ours.label: []}
        for _ in range(args.rounds):
            for variant in (bare, ours):
                rounds[variant.label].append(await run_burst(pool, bench, variant, args.jobs))
        print_throughput(args.jobs, rounds)
        print()
        rng = random.Random(args.seed)
        variants = (
            replace(bare, label="bare arq, arq's default poll", poll_delay_s=ARQ_DEFAULT_POLL_S),
            replace(bare, label="bare arq, our poll"),
            ours,
        )
        latency = []
        for variant in variants:
            values = await run_latency(pool, bench, variant, args.latency_jobs, rng)
            latency.append((variant, values))
        print_latency(args.latency_jobs, latency)
    finally:
        await pool.flushdb()
        await pool.aclose()
        await empty_job_runs(bench.database_url)


def _arq_version() -> str:
    from arq.version import VERSION

    return str(VERSION)


def main() -> int:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench_queue-"))
    bench = Bench(
        redis_url=args.redis_url,
        database_url=args.database_url,
        max_jobs=args.max_jobs,
        storage_path=str(scratch / "storage"),
        log_path=str(scratch / "worker.log"),
    )
    started = time.monotonic()
    try:
        asyncio.run(bench_all(args, bench))
    except RuntimeError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        _print_log_tail(Path(bench.log_path))
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n(finished in {time.monotonic() - started:.0f} s)")
    return 0


def _print_log_tail(path: Path, lines: int = 20) -> None:
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            print(f"  log: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
