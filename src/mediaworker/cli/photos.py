"""`mediaworker photo` and `mediaworker inventory`: the analysis of a photo and the inventory
of a project, as the polling shape of the original deployment (`--json`) or as tables."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from rich.table import Table

from mediaworker import client
from mediaworker.cli.output import console, dump_json, fail
from mediaworker.cli.services import open_services
from mediaworker.config import Settings
from mediaworker.db import inventories as inventories_db
from mediaworker.db import photos as photos_db

AddCommand = Callable[[str, Any, str], argparse.ArgumentParser]


def register(add: AddCommand) -> None:
    photo = add("photo", cmd_photo, "show a photo's analysis: status, room, items, error")
    photo.add_argument("media_id")
    photo.add_argument("--analyze", action="store_true", help="enqueue its analysis first")
    photo.add_argument("--force", action="store_true", help="with --analyze: a new version")
    inventory = add("inventory", cmd_inventory, "show a project's moving inventory")
    inventory.add_argument("project_id")
    inventory.add_argument("--sync", action="store_true", help="enqueue its recomputation")


async def cmd_photo(args: argparse.Namespace, settings: Settings) -> int:

    async with open_services(settings) as svc:
        if args.analyze:
            await client.enqueue_photo_analysis(svc.redis, args.media_id, force=args.force)
        view = await photos_db.polling_view(svc.db, args.media_id)
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
