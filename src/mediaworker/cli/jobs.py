"""`mediaworker serve | enqueue | failed | retry | cancel`: the HTTP API, and the ledger's
enqueue and operator actions from a shell (the same functions the API and dashboard call).

    mediaworker enqueue generate_thumbnails --json '{"media_id": "m1"}'
    mediaworker failed [--function F] [--json]
    mediaworker retry JOB_ID | --all-failed [--function F]
    mediaworker cancel JOB_ID

`enqueue --json PAYLOAD` takes the payload as JSON and answers in JSON; every other command
answers in JSON with `--json`, in a table without.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from mediaworker.cli.output import console, dump_json, fail
from mediaworker.cli.services import open_services
from mediaworker.config import Settings
from mediaworker.db import jobs as jobs_db
from mediaworker.db.jobs import JobStatus, LedgerJob
from mediaworker.queue import admin
from mediaworker.queue.submit import submit_job


def job_json(job: LedgerJob) -> dict[str, Any]:
    view = job.as_dict()
    view["state"] = view.pop("status")
    return view


def print_jobs(jobs: list[LedgerJob]) -> None:
    table = Table("job id", "function", "state", "attempts", "error", "updated")
    for job in jobs:
        error = f"{job.error_code}: {job.error_message}" if job.error_code else ""
        updated = f"{job.updated_at:%Y-%m-%d %H:%M:%S}"
        table.add_row(job.job_id, job.function, job.status, str(job.attempts), error, updated)
    console.print(table)


def show(args: argparse.Namespace, jobs: list[LedgerJob]) -> None:
    if args.json:
        dump_json([job_json(j) for j in jobs])
    else:
        print_jobs(jobs)


async def cmd_enqueue(args: argparse.Namespace, settings: Settings) -> int:
    args.json, text = args.json is not None, args.json or "{}"
    try:
        fields = json.loads(text)
    except ValueError as exc:
        return fail(args, f"--json is not JSON: {exc}")
    if not isinstance(fields, dict):
        return fail(args, "--json must be a JSON object: the payload's fields")
    async with open_services(settings) as svc:
        submitted = await submit_job(
            svc.db,
            svc.redis,
            args.function,
            fields,
            job_id=args.job_id,
            priority=args.priority,
            defer_s=args.defer_s,
            webhook_url=args.webhook_url,
            force=args.force,
            external=True,
        )
    if args.json:
        dump_json({**job_json(submitted.job), "created": submitted.created})
    else:
        verb = "enqueued" if submitted.created else "already known"
        console.print(f"{verb}: {submitted.job.job_id} ({submitted.job.status})")
    return 0


async def cmd_failed(args: argparse.Namespace, settings: Settings) -> int:
    async with open_services(settings) as svc:
        page = await jobs_db.list_jobs(
            svc.db, status=JobStatus.FAILED, function=args.function, limit=args.limit
        )
    show(args, page.jobs)
    return 0


async def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    if bool(args.job_id) == bool(args.all_failed):
        return fail(args, "give a JOB_ID or --all-failed")
    async with open_services(settings) as svc:
        if args.all_failed:
            done = await admin.retry_failed(svc.db, svc.redis, function=args.function)
            result: dict[str, Any] = {"retried": done.retried, "skipped": done.skipped}
        else:
            try:
                job = await admin.retry(svc.db, svc.redis, args.job_id)
            except admin.StateConflictError as exc:
                return fail(args, str(exc))
            result = {"retried": [job.job_id], "skipped": []}
    if args.json:
        dump_json(result)
    else:
        console.print(f"retried {len(result['retried'])}: {' '.join(result['retried'])}")
    return 0


async def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    async with open_services(settings) as svc:
        try:
            job = await admin.cancel(svc.db, svc.redis, args.job_id)
        except admin.StateConflictError as exc:
            return fail(args, str(exc))
    if args.json:
        dump_json(job_json(job))
    else:
        console.print(f"cancelled: {job.job_id}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from mediaworker.web.serve import serve  # the `web` extra

    serve(Settings(), host=args.host, port=args.port, workers=args.workers)
    return 0


def add_commands(sub: Any, add: Any) -> None:
    """Register the commands on the `mediaworker` parser (`add` gives a command --json)."""
    enqueue = sub.add_parser("enqueue", help="enqueue a job by name, through the ledger")
    enqueue.set_defaults(handler=cmd_enqueue)
    enqueue.add_argument("function")
    enqueue.add_argument("--json", metavar="PAYLOAD", help="the payload, a JSON object")
    enqueue.add_argument("--job-id", help="default: the job's own id rule")
    enqueue.add_argument("--priority", type=int, help="lower runs first; default: the job's")
    enqueue.add_argument("--defer-s", type=float, help="run after this many seconds")
    enqueue.add_argument("--webhook-url", help="POSTed a signed event when the job ends")
    enqueue.add_argument("--force", action="store_true", help="run again if it has ended")
    failed = add("failed", cmd_failed, "list the failed jobs, newest first")
    failed.add_argument("--function")
    failed.add_argument("--limit", type=int, default=100)
    retry = add("retry", cmd_retry, "run a failed job again with its original payload")
    retry.add_argument("job_id", nargs="?")
    retry.add_argument("--all-failed", action="store_true", help="every failed job")
    retry.add_argument("--function", help="with --all-failed: only this function's")
    add("cancel", cmd_cancel, "cancel a queued or running job").add_argument("job_id")
    serve = sub.add_parser("serve", help="run the HTTP API (API_HOST:API_PORT)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.set_defaults(handler=None)
