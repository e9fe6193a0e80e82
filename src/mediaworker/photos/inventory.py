"""A project's moving inventory from its photos' current analyses: pure and deterministic.

Rules (also stated in every result under "rules"):

1. Inputs: every image of the project, ordered by media id. DONE photos analysed by a model or
   the offline detector count as analysed; DONE with provider `none`, PENDING, PROCESSING and
   never-analysed photos as not analysed; ERROR as errors.
2. Rooms are told apart by room type and room label (lower case, trimmed; no label is its own
   room of that type).
3. Two photos of one room show the same bed: within a room, per category, the quantity is the
   largest seen in any one photo, not the sum. Items of category `other` are told apart by
   name as well.
4. The volume of one unit comes from the volume table for known categories (`table`), from
   the model's estimate otherwise (`estimate`), or is unknown (`unknown`): counted in
   items_without_volume, never as 0. Items of the offline detector, and estimates, are
   counted in items_estimated.
5. Sums in Decimal; rounding (half up) only at the end: volumes to 0.001 m3, the known share
   to 0.0001.
6. `inputs_hash`: SHA-256 of the table version, the rules version and every photo's id,
   status, method, room type and analysis (jsonb's canonical text). The same inputs give the
   same hash and the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from mediaworker.photos import volumes

RULES_VERSION = "inventory-rules-1"
RULES = (
    "quantity per room and category: the largest seen in any one photo, not the sum",
    "rooms: room type plus room label",
    "volume: table, else the model's estimate (estimated), else unknown (never 0)",
)
MILLI = Decimal("0.001")
SHARE = Decimal("0.0001")


@dataclass(frozen=True)
class PhotoInput:
    """One image of the project. `result` is its current analysis as Postgres' jsonb text,
    which is canonical (keys sorted, no spaces): equal analyses give equal text."""

    media_id: str
    status: str | None  # None: never analysed
    method: str | None  # model | detector | none
    room_type: str | None
    result: str | None

    def canonical(self) -> str:
        return "\t".join((self.media_id, *(v or "" for v in self._fields()))) + "\n"

    def _fields(self) -> tuple[str | None, ...]:
        return (self.status, self.method, self.room_type, self.result)


@dataclass
class Line:
    category: str
    name: str
    quantity: int
    unit_volume_m3: Decimal | None
    volume_source: str  # table | estimate | unknown
    estimated: bool
    dismountable: bool


@dataclass
class Room:
    room_type: str
    room_label: str | None
    photos: int = 0
    lines: dict[tuple[str, str], Line] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    project_id: str
    total_items: int
    total_volume_m3: Decimal
    volume_known_share: Decimal
    items_estimated: int
    items_without_volume: int
    dismountable_items: int
    photos_total: int
    photos_analysed: int
    photos_not_analysed: int
    photos_error: int
    rooms: list[dict[str, Any]]
    result: dict[str, Any]
    table_version: str
    inputs_hash: str


def inputs_hash(photos: Sequence[PhotoInput]) -> str:
    digest = hashlib.sha256(f"{volumes.TABLE_VERSION}\n{RULES_VERSION}\n".encode())
    digest.update("".join(p.canonical() for p in photos).encode())
    return digest.hexdigest()


def compute(project_id: str, photos: Sequence[PhotoInput], digest: str) -> Inventory:
    """The inventory of `photos` (in media id order); `digest` is their `inputs_hash`."""
    rooms: dict[tuple[str, str], Room] = {}
    counts = {"analysed": 0, "not_analysed": 0, "error": 0}
    for photo in photos:
        state = _state(photo)
        counts[state] += 1
        if state == "analysed":
            _add_photo(rooms, photo)
    room_list = [_room_json(rooms[key]) for key in sorted(rooms)]
    totals = _totals(rooms.values())
    return _inventory(project_id, digest, room_list, totals, counts, len(photos))


def _state(photo: PhotoInput) -> str:
    if photo.status == "ERROR":
        return "error"
    if photo.status == "DONE" and photo.method in ("model", "detector"):
        return "analysed"
    return "not_analysed"


def _add_photo(rooms: dict[tuple[str, str], Room], photo: PhotoInput) -> None:
    found = json.loads(photo.result or "{}")
    room_type = photo.room_type or found.get("room_type") or "other"
    label = (found.get("room_label") or "").strip().lower()
    room = rooms.setdefault((room_type, label), Room(room_type, label or None))
    room.photos += 1
    seen: dict[tuple[str, str], Line] = {}
    for item in found.get("items") or []:  # within one photo, quantities of one kind add up
        line = _line(item, estimated=photo.method == "detector")
        key = (line.category, line.name if line.category == volumes.OTHER else "")
        if key in seen:
            seen[key].quantity += line.quantity
        else:
            seen[key] = line
    for key, line in seen.items():  # across photos of the room, the largest count wins
        kept = room.lines.get(key)
        if kept is None or line.quantity > kept.quantity:
            room.lines[key] = line


def _line(item: dict[str, Any], *, estimated: bool) -> Line:
    category = str(item["category"])
    row = volumes.table().get(category)
    quantity = int(item["quantity"])
    if row is not None and row.volume_m3 is not None:
        unit, source = row.volume_m3, "table"
    elif item.get("volume_m3") is not None:
        unit, source, estimated = Decimal(str(item["volume_m3"])), "estimate", True
    else:
        unit, source = None, "unknown"
    dismountable = row.dismountable if row and category != volumes.OTHER else item["dismountable"]
    name = str(item["name"]).strip().lower()
    return Line(category, name, quantity, unit, source, estimated, bool(dismountable))


@dataclass
class _Totals:
    items: int = 0
    volume: Decimal = Decimal(0)
    with_volume: int = 0
    estimated: int = 0
    without_volume: int = 0
    dismountable: int = 0


def _totals(rooms: Any) -> _Totals:
    totals = _Totals()
    for room in rooms:
        for line in room.lines.values():
            totals.items += line.quantity
            if line.unit_volume_m3 is None:
                totals.without_volume += line.quantity
            else:
                totals.volume += line.unit_volume_m3 * line.quantity
                totals.with_volume += line.quantity
            totals.estimated += line.quantity if line.estimated else 0
            totals.dismountable += line.quantity if line.dismountable else 0
    return totals


def _room_json(room: Room) -> dict[str, Any]:
    lines = [room.lines[key] for key in sorted(room.lines)]
    volume = sum(
        (ln.unit_volume_m3 * ln.quantity for ln in lines if ln.unit_volume_m3 is not None),
        Decimal(0),
    )
    return {
        "room_type": room.room_type,
        "room_label": room.room_label,
        "photos": room.photos,
        "items": sum(ln.quantity for ln in lines),
        "volume_m3": float(volume.quantize(MILLI, ROUND_HALF_UP)),
        "items_without_volume": sum(ln.quantity for ln in lines if ln.unit_volume_m3 is None),
        "lines": [_line_json(ln) for ln in lines],
    }


def _line_json(line: Line) -> dict[str, Any]:
    unit = line.unit_volume_m3
    return {
        "category": line.category,
        "name": line.name,
        "quantity": line.quantity,
        "unit_volume_m3": None if unit is None else float(unit),
        "volume_source": line.volume_source,
        "estimated": line.estimated,
        "dismountable": line.dismountable,
    }


def _inventory(
    project_id: str,
    digest: str,
    rooms: list[dict[str, Any]],
    totals: _Totals,
    counts: dict[str, int],
    photos_total: int,
) -> Inventory:
    volume = totals.volume.quantize(MILLI, ROUND_HALF_UP)
    share = Decimal(0)
    if totals.items:
        share = (Decimal(totals.with_volume) / totals.items).quantize(SHARE, ROUND_HALF_UP)
    result = {
        "projectId": project_id,
        "totalItems": totals.items,
        "totalVolume": float(volume),
        "rooms": rooms,
        "volume_known_share": float(share),
        "items_estimated": totals.estimated,
        "items_without_volume": totals.without_volume,
        "dismountable_items": totals.dismountable,
        "photos": {"total": photos_total, **counts},
        # False while any photo is not analysed or failed, or any item has no volume: the
        # total is then a lower bound, never a count of those as 0
        "volume_complete": not (counts["not_analysed"] or counts["error"] or totals.without_volume),
        "table_version": volumes.TABLE_VERSION,
        "rules": list(RULES),
        "inputs_hash": digest,
    }
    return Inventory(
        project_id=project_id,
        total_items=totals.items,
        total_volume_m3=volume,
        volume_known_share=share,
        items_estimated=totals.estimated,
        items_without_volume=totals.without_volume,
        dismountable_items=totals.dismountable,
        photos_total=photos_total,
        photos_analysed=counts["analysed"],
        photos_not_analysed=counts["not_analysed"],
        photos_error=counts["error"],
        rooms=rooms,
        result=result,
        table_version=volumes.TABLE_VERSION,
        inputs_hash=digest,
    )
