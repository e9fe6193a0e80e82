"""How the commands print: rich tables for people, JSON only with `--json`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def dump_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


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
