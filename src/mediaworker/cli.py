"""`mediaworker` command: migrate, worker, ingest, media, job, stats, photo, inventory, demo.

With `--json`, a command prints JSON only, for scripts; otherwise readable tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from mediaworker import cli_photos, client
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import job_runs
from mediaworker.db import media as media_db
from mediaworker.db.migrate import migrate
from mediaworker.db.pool import Pool, create_db_pool
from mediaworker.errors import MediaWorkerError, map_error
from mediaworker.ingest import ingest_file
from mediaworker.storage import open_storage
from mediaworker.storage.base import Storage

FINAL_STATUSES = {media_db.MediaStatus.READY.value, media_db.MediaStatus.ERROR.value}
console = Console()


@dataclass
class Services:
    settings: Settings
    db: Pool
    redis: ArqRedis
    store: Storage | None

    @property
    def storage(self) -> Storage:
        if self.store is None:
            raise RuntimeError("opened without storage")
        return self.store


@asynccontextmanager
async def open_services(settings: Settings, *, storage: bool = False) -> AsyncIterator[Services]:
    async with AsyncExitStack() as stack:
        db = await create_db_pool(settings.database.dsn(), min_size=1, max_size=4)
        stack.push_async_callback(db.close)
        redis = await client.create_pool(settings)
        stack.push_async_callback(redis.aclose)
        store = await open_storage(settings.storage) if storage else None
        if store is not None:
            stack.push_async_callback(store.close)
        yield Services(settings, db, redis, store)


def dump_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


async def media_view(db: Pool, media_id: str) -> dict[str, Any] | None:
    media = await media_db.get(db, media_id)
    if media is None:
        return None
    derivatives = await derivatives_db.list_for(db, media_id)
    return {**asdict(media), "derivatives": [d.model_dump() for d in derivatives]}


# --- commands ------------------------------------------------------------------------------


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = await migrate(settings.database.dsn())
    if args.json:
        dump_json({"applied": applied})
    else:
        console.print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


async def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    async with open_services(settings, storage=True) as svc:
        ids: list[str] = []
        for path in args.files:
            ingested = await ingest_file(
                svc.db,
                svc.storage,
                svc.redis,
                Path(path),
                category=args.category,
                project_id=args.project,
                analyze=args.analyze,
            )
            ids.append(ingested.media.id)
        if args.wait:
            await wait_for_media(svc.db, ids, timeout_s=args.timeout, show=not args.json)
        views = [await media_view(svc.db, media_id) for media_id in ids]
    rows = [{"id": v["id"], "file": f, **v} for v, f in zip(views, args.files, strict=True) if v]
    if args.json:
        dump_json(rows)
    else:
        print_media_table(rows)
    return 0 if all(r["status"] != "ERROR" for r in rows) else 1


async def wait_for_media(db: Pool, ids: list[str], *, timeout_s: float, show: bool) -> None:
    pending = set(ids)
    with Progress(console=console, transient=True, disable=not show or len(ids) < 2) as bar:
        task = bar.add_task("processing", total=len(ids))
        async with asyncio.timeout(timeout_s):
            while pending:
                rows = await db.fetch(
                    "SELECT id FROM media WHERE id = ANY($1::text[]) AND status = ANY($2::text[])",
                    list(pending),
                    list(FINAL_STATUSES),
                )
                pending -= {r["id"] for r in rows}
                bar.update(task, completed=len(ids) - len(pending))
                if pending:
                    await asyncio.sleep(0.1)


async def cmd_media(args: argparse.Namespace, settings: Settings) -> int:
    async with open_services(settings) as svc:
        view = await media_view(svc.db, args.media_id)
    if view is None:
        return fail(args, f"media {args.media_id} not found")
    if args.json:
        dump_json(view)
    else:
        print_media_table([view])
        print_derivatives(view["derivatives"])
    return 0


async def cmd_job(args: argparse.Namespace, settings: Settings) -> int:
    async with open_services(settings) as svc:
        state = (await client.job_status(svc.redis, args.job_id)).as_dict()
        runs = await job_runs.list_for_job(svc.db, args.job_id)
    view = {**state, "runs": runs}
    if args.json:
        dump_json(view)
        return 0
    table = Table("field", "value", title=f"job {args.job_id}")
    for key, value in state.items():
        if value is not None:
            table.add_row(key, str(value))
    console.print(table)
    runs_table = Table("attempt", "status", "error", "started", "ms", "worker", title="runs")
    for run in runs:
        error = f"{run['error_code'] or ''} {run['error_message'] or ''}".strip()
        runs_table.add_row(
            str(run["attempt"]),
            run["status"],
            error,
            str(run["started_at"]),
            str(run["duration_ms"]),
            str(run["worker"]),
        )
    console.print(runs_table)
    return 0


async def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    async with open_services(settings) as svc:
        stats = await client.queue_stats(svc.redis)
    if args.json:
        dump_json(stats.as_dict())
        return 0
    table = Table("queued", "deferred", "in progress", "completed", "failed", "retried")
    table.add_row(
        *(
            str(v)
            for v in (
                stats.queued,
                stats.deferred,
                stats.in_progress,
                stats.completed,
                stats.failed,
                stats.retried,
            )
        )
    )
    console.print(table)
    per = Table("function", "completed", "failed", "retried", title="by function")
    for function, counts in sorted(stats.by_function.items()):
        per.add_row(function, *(str(counts.get(k, 0)) for k in ("completed", "failed", "retried")))
    console.print(per)
    return 0


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from mediaworker.demo import run_demo

    return await run_demo(Path(args.workdir), keep=args.keep)


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from mediaworker.settings import WorkerSettings

    run_worker(WorkerSettings, burst=args.burst)  # type: ignore[arg-type]
    return 0


# --- output --------------------------------------------------------------------------------


def print_media_table(rows: Sequence[dict[str, Any]]) -> None:
    table = Table("id", "file", "kind", "status", "size", "WxH", "outputs / error")
    for row in rows:
        dims = f"{row['width']}x{row['height']}" if row.get("width") else ""
        if row["status"] == "ERROR":
            outcome = f"[red]{row['error_code']}[/red]: {row['error_message']}"
        else:
            outcome = ", ".join(
                f"{d['type'].lower()} {_dims(d)}{d['size_bytes'] // 1024} KiB"
                for d in row["derivatives"]
            )
        table.add_row(
            row["id"],
            str(row.get("file") or row.get("original_filename")),
            row["kind"],
            row["status"],
            _size(row.get("size_bytes")),
            dims,
            outcome,
        )
    console.print(table)


def print_derivatives(derivatives: Sequence[dict[str, Any]]) -> None:
    table = Table("type", "WxH", "size", "url")
    for d in derivatives:
        table.add_row(d["type"], _dims(d).strip(), _size(d["size_bytes"]), d["url"])
    console.print(table)


def _dims(derivative: dict[str, Any]) -> str:
    """The size and a space ("800x600 "), or "" for a derivative without one (waveform data)."""
    if derivative.get("width") is None:
        return ""
    return f"{derivative['width']}x{derivative['height']} "


def _size(size_bytes: int | None) -> str:
    if size_bytes is None:
        return ""
    return (
        f"{size_bytes / 1024:.0f} KiB"
        if size_bytes < 1024 * 1024
        else (f"{size_bytes / 1024 / 1024:.1f} MiB")
    )


def fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        dump_json({"error": message})
    else:
        console.print(f"[red]error:[/red] {message}")
    return 1


# --- parser --------------------------------------------------------------------------------

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediaworker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", help="print JSON only")
        return p

    add("migrate", cmd_migrate, "apply the database migrations (safe to run concurrently)")
    ingest = add("ingest", cmd_ingest, "store files as media rows and enqueue their jobs")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.add_argument("--wait", action="store_true", help="wait for the jobs to finish")
    ingest.add_argument("--category", help="the upload's category (AUTO_ENHANCE_CATEGORIES)")
    ingest.add_argument("--timeout", type=float, default=300, help="seconds to wait")
    ingest.add_argument("--project", help="the moving project the photos belong to")
    ingest.add_argument("--analyze", action="store_true", help="enqueue each image's analysis")
    add("media", cmd_media, "show a media row, its derivatives and error").add_argument("media_id")
    add("job", cmd_job, "show a job's status and its attempts").add_argument("job_id")
    add("stats", cmd_stats, "queue counts and totals")
    cli_photos.register(add)
    demo = add("demo", cmd_demo, "run the worker on generated samples, locally")
    demo.add_argument("--workdir", default="var/demo", help="where the demo keeps its files")
    demo.add_argument("--keep", action="store_true", help="keep the demo's files afterwards")
    worker = sub.add_parser("worker", help="run the worker: `arq mediaworker.WorkerSettings`")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(handler=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        return cmd_worker(args)
    handler: Command = args.handler
    try:
        return asyncio.run(handler(args, Settings()))
    except (MediaWorkerError, TimeoutError, OSError) as exc:
        return fail(args, map_error(exc).message)


if __name__ == "__main__":
    sys.exit(main())
