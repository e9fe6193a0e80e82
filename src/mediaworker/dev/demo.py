"""`mediaworker demo`: the whole path on one machine, with nothing configured.

Starts a private Redis and Postgres when REDIS_URL / DATABASE_URL are not set, migrates, runs a
worker in this process, ingests sample images it generates (one of them deliberately broken),
prints what it made with paths and sizes, and stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import pyvips
from arq.worker import Worker
from rich.markup import escape

from mediaworker.cli.output import console
from mediaworker.cli.services import media_view, open_services, wait_for_media
from mediaworker.config import Settings
from mediaworker.db.migrate import migrate
from mediaworker.dev.local_services import LocalServices, start_local_services
from mediaworker.ingest import ingest_file
from mediaworker.logging import configure_logging


def make_samples(folder: Path) -> list[Path]:
    """A landscape photo, a phone portrait stored sideways (EXIF 6), a PNG with alpha, a
    truncated JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "landscape.jpg", folder / "portrait_exif6.jpg", folder / "logo_alpha.png"]
    _photo(4000, 3000).jpegsave(str(paths[0]), Q=90)
    _with_orientation(_photo(3000, 2000), 6).jpegsave(str(paths[1]), Q=90)
    _with_alpha(_photo(1200, 800)).pngsave(str(paths[2]))
    truncated = folder / "truncated.jpg"
    data = paths[0].read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    return [*paths, truncated]


def _photo(width: int, height: int) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    gx, gy = x[0] / width, x[1] / height
    r = gx * 200 + 30
    g = gy * 160 + (gx * 12).sin() * 30 + 40
    b = (gx + gy) * 90 + 60
    noise = pyvips.Image.gaussnoise(width, height, sigma=18)
    return (r.bandjoin([g, b]) + noise).cast("uchar").copy(interpretation="srgb")


def _with_orientation(image: pyvips.Image, orientation: int) -> pyvips.Image:
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image


def _with_alpha(image: pyvips.Image) -> pyvips.Image:
    alpha = pyvips.Image.xyz(image.width, image.height)[0] / image.width * 255
    return image.bandjoin(alpha.cast("uchar"))


def print_outcome(view: dict[str, Any], root: Path) -> None:
    """One line per upload, then one per output with its size and full path."""
    name = escape(str(view["original_filename"]))  # the console reads markup only here
    if view["status"] != "READY":
        console.print(
            f"[bold]{name}[/bold]  [red]{view['status']} {view['error_code']}[/red]: "
            f"{escape(str(view['error_message']))}",
            soft_wrap=True,
            markup=True,
        )
        return
    console.print(
        f"[bold]{name}[/bold]  [green]READY[/green]  {view['width']}x{view['height']}  "
        f"blurhash {escape(str(view['blurhash']))}",
        soft_wrap=True,
        markup=True,
    )
    for d in view["derivatives"]:
        size = f"{d['size_bytes'] / 1024:.0f} KiB"
        path = root / d["storage_key"]
        console.print(
            f"  {d['type']:<10} {d['width']}x{d['height']:<6} {size:>8}  {path}", soft_wrap=True
        )


async def run_demo(workdir: Path, *, keep: bool = False, serve: bool = False) -> int:
    await asyncio.to_thread(_fresh_folder, workdir)
    configure_logging(os.environ.get("LOG_LEVEL", "WARNING"), os.environ.get("LOG_FORMAT", "text"))
    services = _start_services(workdir)
    try:
        os.environ.setdefault("WORKER_STORAGE_PATH", str((workdir / "storage").resolve()))
        os.environ.setdefault("LOG_FORMAT", "text")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        code = await _run(Settings(), workdir)
        if serve:
            from mediaworker.dev.showcase import keep_serving  # the `web` extra

            code = code if await keep_serving(Settings()) else 1
        return code
    finally:
        if services is not None:
            services.stop()
        if not keep:
            shutil.rmtree(workdir / "services", ignore_errors=True)


def _fresh_folder(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)


def _start_services(workdir: Path) -> LocalServices | None:
    need_redis = not (os.environ.get("REDIS_URL") or os.environ.get("REDIS_HOST"))
    need_postgres = not os.environ.get("DATABASE_URL")
    if not (need_redis or need_postgres):
        return None
    console.print("starting a private Redis and Postgres for the demo")
    services = start_local_services(
        workdir / "services", need_redis=need_redis, need_postgres=need_postgres
    )
    if need_redis:
        os.environ["REDIS_URL"] = services.redis_url
    if need_postgres:
        os.environ["DATABASE_URL"] = services.database_url
    return services


async def _run(settings: Settings, workdir: Path) -> int:
    from mediaworker.settings import worker_options

    await migrate(settings.database.dsn())
    samples = make_samples(workdir / "samples")
    worker = Worker(**worker_options(settings), handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    try:
        async with open_services(settings, storage=True) as svc:
            ids = [(await ingest_file(svc.db, svc.storage, svc.redis, p)).media.id for p in samples]
            await wait_for_media(svc.db, ids, timeout_s=120, show=True)
            views = [v for v in [await media_view(svc.db, i) for i in ids] if v]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()
    root = settings.storage.path.resolve()
    for view in views:
        print_outcome(view, root)
    console.print(f"\nall files are under {root}")
    broken_failed = views[-1]["status"] == "ERROR"
    others_ready = all(v["status"] == "READY" for v in views[:-1])
    return 0 if broken_failed and others_ready else 1
