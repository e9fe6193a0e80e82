"""Benchmark: POST /v1/jobs/{function} on a real uvicorn server, against the same enqueue
made in-process (what the route does, without HTTP), in one run.

    .venv/bin/python scripts/bench_api.py [--rate 1000] [--seconds 10] [--workers 2]

The server is `mediaworker serve` in its own process (uvloop, httptools, no access log), on
127.0.0.1; no worker runs, so every request is one ledger insert and one Redis enqueue of a
new job (`generate_thumbnails`, a fresh media id each time). The load comes from this
process over keep-alive connections, written on raw asyncio streams so the client costs
little of the machine's two cores.

1. Reference: `ledger.submit()` called in this process, CONCURRENCY at a time: the cost of
   the work itself (Postgres + Redis), the ceiling HTTP can approach.
2. Throughput: as many requests as the server takes, CONNECTIONS at a time.
3. Sustained: an open loop at --rate requests/s for --seconds; each request's latency is
   counted from when it was due, not when it was sent, so a stalled server shows as latency
   (no coordinated omission).

The CPU time the server, Postgres and Redis spend per request is measured too (from /proc),
with the machine's load average: on a shared machine the wall-clock figures depend on what
else runs, and `2 cores / CPU per request` is the rate the work itself would allow.

Targets (issue 7): at least 1,000 requests/s with p95 under 50 ms on this 2-core machine; the
original deployment's SLA for enqueue was p50 < 50 ms, p95 < 80 ms. Ratios above 1 meet them.
Redis BENCH_REDIS_URL (default DB 14) and Postgres BENCH_DATABASE_URL (`mediaworker_bench`):
the jobs made here (ids `bench-api-*`) are removed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg

from mediaworker.config import DatabaseConfig, RedisConfig, Settings
from mediaworker.db.migrate import migrate
from mediaworker.db.pool import create_db_pool
from mediaworker.queue import ledger
from mediaworker.queue.connection import create_pool

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/mediaworker_bench"
)
TOKEN = uuid.uuid4().hex
FUNCTION = "generate_thumbnails"
TARGET_RATE = 1000.0
TARGET_P95_MS = 50.0
SLA_P50_MS, SLA_P95_MS = 50.0, 80.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and their children that were waited for."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def pids_of(*names: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in names:
                    found.append(int(entry.name))
    return found


def server_pids(process: subprocess.Popen[bytes]) -> list[int]:
    """The server and its worker processes (uvicorn --workers forks them)."""
    pids = [process.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == process.pid:
                    pids.append(int(entry.name))
    return pids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def server(port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "API_TOKENS": TOKEN,
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_MAX": "20",
    }
    cli = Path(sys.executable).with_name("mediaworker")
    argv = [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough of the protocol for this benchmark."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers[9:12])
        length = 0
        for line in headers.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


def body(n: int) -> bytes:
    return json.dumps({"media_id": f"bench-api-{n}-{uuid.uuid4().hex[:8]}"}).encode()


async def wait_ready(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: bench\r\n\r\n")
            line = await reader.readline()
            writer.close()
            if b" 200 " in line:
                return
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready")


async def closed_loop(port: int, total: int, connections: int) -> tuple[float, list[float]]:
    counter = iter(range(total))
    latencies: list[float] = []

    async def client() -> None:
        conn = Connection(port)
        for n in counter:
            started = time.perf_counter()
            status = await conn.post(f"/v1/jobs/{FUNCTION}", body(n))
            latencies.append(time.perf_counter() - started)
            if status != 202:
                raise SystemExit(f"unexpected status {status}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return total / (time.perf_counter() - started), latencies


async def open_loop(
    port: int, rate: float, seconds: float, connections: int
) -> tuple[float, list[float], int]:
    total = int(rate * seconds)
    start = time.perf_counter() + 0.1
    slots = iter(range(total))
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        conn = Connection(port)
        for n in slots:
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status = await conn.post(f"/v1/jobs/{FUNCTION}", body(n + 10**7))
            latencies.append(time.perf_counter() - due)
            errors += status != 202

    await asyncio.gather(*(client() for _ in range(connections)))
    return total / (time.perf_counter() - start), latencies, errors


async def reference(total: int, concurrency: int) -> tuple[float, list[float]]:
    settings = Settings(
        redis=RedisConfig(REDIS_URL=REDIS_URL), database=DatabaseConfig(DATABASE_URL=DATABASE_URL)
    )
    db = await create_db_pool(DATABASE_URL, min_size=concurrency, max_size=concurrency)
    redis = await create_pool(settings)
    counter = iter(range(total))
    latencies: list[float] = []

    async def producer() -> None:
        for n in counter:
            started = time.perf_counter()
            await ledger.submit(
                db,
                redis,
                function=FUNCTION,
                job_id=f"thumbnails-bench-api-ref-{n}",
                payload={"media_id": f"bench-api-ref-{n}", "force": False},
                priority=5,
            )
            latencies.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(concurrency)))
        return total / (time.perf_counter() - started), latencies
    finally:
        await redis.aclose()
        await db.close()


async def clean() -> None:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await conn.execute("DELETE FROM jobs WHERE payload->>'media_id' LIKE 'bench-api-%'")
    finally:
        await conn.close()
    settings = Settings(redis=RedisConfig(REDIS_URL=REDIS_URL))
    redis = await create_pool(settings)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


def line(label: str, rate: float, latencies: list[float]) -> str:
    ms = [x * 1000 for x in latencies]
    return (
        f"{label:<34} {rate:8.0f} req/s   p50 {percentile(ms, 0.5):6.1f} ms"
        f"   p95 {percentile(ms, 0.95):6.1f} ms   p99 {percentile(ms, 0.99):6.1f} ms"
    )


@contextlib.asynccontextmanager
async def prepared() -> AsyncIterator[None]:
    await migrate(DATABASE_URL)
    await clean()
    try:
        yield
    finally:
        await clean()


async def main(args: argparse.Namespace) -> None:
    async with prepared():
        ref_rate, ref_lat = await reference(args.requests, args.connections)
        print(line(f"reference: ledger.submit x{args.connections}", ref_rate, ref_lat))
        port = free_port()
        with server(port, args.workers) as process:
            await wait_ready(port)
            await closed_loop(port, 500, args.connections)  # warm up
            ours, theirs = server_pids(process), pids_of("postgres", "redis-server")
            before = cpu_seconds(ours), cpu_seconds(theirs), time.process_time()
            rate, lat = await closed_loop(port, args.requests, args.connections)
            after = cpu_seconds(ours), cpu_seconds(theirs), time.process_time()
            print(line(f"HTTP, {args.connections} connections", rate, lat))
            spent = zip(before, after, strict=True)
            per_request = [(b - a) / args.requests * 1e6 for a, b in spent]
            sustained, slat, errors = await open_loop(
                port, args.rate, args.seconds, args.connections
            )
            print(line(f"HTTP, open loop at {args.rate:.0f}/s", sustained, slat))
    ms = [x * 1000 for x in slat]
    p50, p95 = percentile(ms, 0.5), percentile(ms, 0.95)
    print(f"HTTP / reference throughput: {rate / ref_rate:.2f}")
    print(
        f"target {TARGET_RATE:.0f} req/s: ratio {rate / TARGET_RATE:.2f} (max), "
        f"{sustained / TARGET_RATE:.2f} (sustained, {errors} errors); "
        f"target p95 {TARGET_P95_MS:.0f} ms: ratio {TARGET_P95_MS / p95:.2f}; "
        f"SLA p50 {SLA_P50_MS:.0f} / p95 {SLA_P95_MS:.0f} ms: ratios "
        f"{SLA_P50_MS / p50:.2f} / {SLA_P95_MS / p95:.2f}"
    )
    work_us = per_request[0] + per_request[1]
    print(
        f"CPU per request: server {per_request[0]:.0f} us, Postgres + Redis "
        f"{per_request[1]:.0f} us, load generator {per_request[2]:.0f} us; "
        f"2 cores / (server + Postgres + Redis) = {2e6 / work_us:.0f} req/s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"median closed-loop latency {statistics.median(lat) * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=TARGET_RATE)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    asyncio.run(main(parser.parse_args()))
