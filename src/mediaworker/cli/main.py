"""`mediaworker` command: migrate, worker, serve, ingest, enqueue, media, job, failed, retry,
cancel, stats, photo, inventory, demo.

With `--json`, a command prints JSON only, for scripts; otherwise readable tables.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from mediaworker.cli import jobs
from mediaworker.cli import photos as photo_commands
from mediaworker.cli.output import console, dump_json, fail, print_derivatives, print_media_table
from mediaworker.cli.services import media_view, open_services, wait_for_media
from mediaworker.config import Settings
from mediaworker.db import job_runs
from mediaworker.db.migrate import migrate
from mediaworker.errors import MediaWorkerError, map_error
from mediaworker.ingest import ingest_file
from mediaworker.queue import inspect

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
        state = (await inspect.job_status(svc.redis, args.job_id)).as_dict()
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
        stats = await inspect.queue_stats(svc.redis)
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
    from mediaworker.dev.demo import run_demo

    return await run_demo(Path(args.workdir), keep=args.keep, serve=args.serve)


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from mediaworker.settings import WorkerSettings

    run_worker(WorkerSettings, burst=args.burst)
    return 0


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
    photo_commands.register(add)
    demo = add("demo", cmd_demo, "run the worker on generated samples, locally")
    demo.add_argument("--workdir", default="var/demo", help="where the demo keeps its files")
    demo.add_argument("--keep", action="store_true", help="keep the demo's files afterwards")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep a worker and the dashboard on 127.0.0.1:API_PORT until Ctrl-C",
    )
    jobs.add_commands(sub, add)  # enqueue, failed, retry, cancel, serve
    worker = sub.add_parser("worker", help="run the worker: `arq mediaworker.WorkerSettings`")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(handler=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        return cmd_worker(args)
    if args.command == "serve":
        return jobs.cmd_serve(args)
    handler: Command = args.handler
    try:
        return asyncio.run(handler(args, Settings()))
    except (MediaWorkerError, TimeoutError, OSError) as exc:
        return fail(args, map_error(exc).message)


if __name__ == "__main__":
    sys.exit(main())
