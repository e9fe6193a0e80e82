"""The moving-volume table (`volumes.csv` beside this module), read once.

The CSV's header comment says how every value was derived. `TABLE_VERSION` changes whenever a
row does; inventories record the version they were computed with.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

TABLE_VERSION = "2026-12-01.1"
OTHER = "other"


@dataclass(frozen=True)
class VolumeRow:
    category: str
    label: str
    group: str
    size_cm: tuple[int, int, int] | None  # length, width, height; None for "other"
    volume_m3: Decimal | None  # assembled: the bounding box
    dismantled_m3: Decimal | None
    dismountable: bool
    fragile: bool
    source: str


@functools.cache
def table() -> dict[str, VolumeRow]:
    """{category: row}, in the file's order."""
    text = resources.files(__package__).joinpath("volumes.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {row.category: row for row in map(_row, csv.DictReader(lines))}


def categories() -> list[str]:
    return list(table())


def _row(raw: dict[str, str]) -> VolumeRow:
    sizes = (raw["length_cm"], raw["width_cm"], raw["height_cm"])
    return VolumeRow(
        category=raw["category"],
        label=raw["label"],
        group=raw["group"],
        size_cm=(int(sizes[0]), int(sizes[1]), int(sizes[2])) if all(sizes) else None,
        volume_m3=Decimal(raw["volume_m3"]) if raw["volume_m3"] else None,
        dismantled_m3=Decimal(raw["dismantled_m3"]) if raw["dismantled_m3"] else None,
        dismountable=raw["dismountable"] == "true",
        fragile=raw["fragile"] == "true",
        source=raw["source"],
    )
