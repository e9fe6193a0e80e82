"""`mediaworker photo` and `mediaworker inventory`: the analysis of a photo and the inventory
of a project, as the polling shape of the original deployment (`--json`) or as tables."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from mediaworker import client
from mediaworker.config import Settings
from mediaworker.db import inventories as inventories_db
from mediaworker.db import photos as photos_db
from mediaworker.db.pool import Pool

console = Console()
AddCommand = Callable[[str, Any, str], argparse.ArgumentParser]


def register(add: AddCommand) -> None:
    photo = add("photo", cmd_photo, "show a photo's analysis: status, room, items, error")
    photo.add_argument("media_id")
    photo.add_argument("--analyze", action="store_true", help="enqueue its analysis first")
    photo.add_argument("--force", action="store_true", help="with --analyze: a new version")
    inventory = add("inventory", cmd_inventory, "show a project's moving inventory")
    inventory.add_argument("project_id")
    inventory.add_argument("--sync", action="store_true", help="enqueue its recomputation")


async def photo_view(db: Pool, media_id: str) -> dict[str, Any]:
    """The polling shape: status, room_type, analysis, error_code, error_message,
    processed_at, plus provider, model and version of the current analysis."""
    photo = await photos_db.get(db, media_id)
    current = None
    if photo is not None and photo.analysis_id is not None:
        current = await photos_db.get_analysis(db, photo.analysis_id)
    return {
        "media_id": media_id,
        "status": photo.status if photo else photos_db.PhotoStatus.PENDING.value,
        "room_type": photo.room_type if photo else None,
        "analysis": current["result"] if current else None,
        "error_code": photo.error_code if photo else None,
        "error_message": photo.error_message if photo else None,
        "processed_at": photo.processed_at if photo else None,
        "provider": current["provider"] if current else None,
        "model": current["model"] if current else None,
        "version": current["version"] if current else None,
    }


async def cmd_photo(args: argparse.Namespace, settings: Settings) -> int:
    from mediaworker.cli import dump_json, open_services

    async with open_services(settings) as svc:
        if args.analyze:
            await client.enqueue_photo_analysis(svc.redis, args.media_id, force=args.force)
        view = await photo_view(svc.db, args.media_id)
    if args.json:
        dump_json(view)
        return 0 if view["status"] != "ERROR" else 1
    table = Table("field", "value", title=f"photo {args.media_id}")
    for key in ("status", "room_type", "provider", "model", "version", "error_code"):
        if view[key] is not None:
            table.add_row(key, str(view[key]))
    console.print(table)
    items = Table("item", "category", "qty", "dismountable", "confidence", title="items")
    for found in (view["analysis"] or {}).get("items", []):
        items.add_row(
            found["name"],
            found["category"],
            str(found["quantity"]),
            "yes" if found["dismountable"] else "",
            f"{found['confidence']:.2f}",
        )
    console.print(items)
    return 0 if view["status"] != "ERROR" else 1


async def cmd_inventory(args: argparse.Namespace, settings: Settings) -> int:
    from mediaworker.cli import dump_json, fail, open_services

    async with open_services(settings) as svc:
        if args.sync:
            await client.enqueue_inventory_sync(svc.redis, args.project_id)
        row = await inventories_db.get(svc.db, args.project_id)
    if row is None:
        return fail(args, f"project {args.project_id} has no inventory yet")
    if args.json:
        dump_json(row["result"])
        return 0
    table = Table("room", "photos", "items", "m3", "without volume", title=args.project_id)
    for room in row["rooms"]:
        name = room["room_type"] + (f" ({room['room_label']})" if room["room_label"] else "")
        table.add_row(
            name,
            str(room["photos"]),
            str(room["items"]),
            f"{room['volume_m3']:.3f}",
            str(room["items_without_volume"]),
        )
    table.add_row(
        "total",
        str(row["photos_total"]),
        str(row["total_items"]),
        f"{row['total_volume_m3']:.3f}",
        str(row["items_without_volume"]),
    )
    console.print(table)
    return 0
